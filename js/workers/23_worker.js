// The Worker and SharedWorker interfaces (HTML, "Workers"): the owner's
// end of a worker. The worker runs in a realm of its own
// (scopes/92_worker_scope.js); a dedicated worker's messages and
// errors go through the browser (src/workers/), a shared worker's messages
// through the MessagePort it gets in its `connect` event.
import { core } from "ext:core/mod.js";
import {
  deserializeTransfer,
  hostCall,
  onBrowserCommand,
  serializeTransfer,
} from "ext:swharness/ipc/01_host.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { EventTarget, ErrorEvent, Event, MessageEvent, defineEventHandler, setIsTrusted } =
  eventMod;
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

// The realm's running workers, by the handle the browser knows them by.
const workers = new Map();
let lastHandle = 0;

const TYPES = ["classic", "module"];

/**
 * The constructor's checks, shared by Worker and SharedWorker: the URL
 * (resolved against the realm's), its origin (Chromium refuses another
 * origin's script at once; data: URLs run with an opaque origin), the type
 * and the name. `options` is a WorkerOptions dictionary, or for a
 * SharedWorker also the name itself.
 */
function workerArguments(prefix, scriptURL, options, nameOnly) {
  const href = String(scriptURL);
  let opts = options === undefined || options === null ? {} : options;
  if (nameOnly && typeof opts !== "object" && typeof opts !== "function") {
    opts = { name: opts };
  }
  if (typeof opts !== "object" && typeof opts !== "function") {
    throw new TypeError(`${prefix}: The provided value is not of type 'WorkerOptions'.`);
  }
  const type = opts.type === undefined ? "classic" : String(opts.type);
  if (!TYPES.includes(type)) {
    throw new TypeError(
      `${prefix}: The provided value '${type}' is not a valid enum value of type WorkerType.`,
    );
  }
  const name = opts.name === undefined ? "" : String(opts.name);
  let url;
  try {
    url = new URL(href, globalThis.location.href);
  } catch {
    throw new DOMException(`${prefix}: The URL '${href}' is invalid.`, "SyntaxError");
  }
  if (url.protocol !== "data:" && url.origin !== globalThis.location.origin) {
    throw new DOMException(
      `${prefix}: Script at '${url.href}' cannot be accessed from origin '${globalThis.location.origin}'.`,
      "SecurityError",
    );
  }
  return { url: url.href, type, name };
}

export class Worker extends EventTarget {
  #handle;
  constructor(scriptURL, options = undefined) {
    super();
    const prefix = "Failed to construct 'Worker'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    const { url, type, name } = workerArguments(prefix, scriptURL, options, false);
    this.#handle = ++lastHandle;
    workers.set(this.#handle, this);
    hostCall("worker.start", { handle: this.#handle, url, type, name }).catch((e) => {
      workers.delete(this.#handle);
      fireError(this, { load: true, message: String(e?.message ?? e) });
    });
  }

  // postMessage(message, transfer) or postMessage(message, options).
  postMessage(message, transfer = undefined) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'postMessage' on 'Worker'");
    const data = serializeTransfer(message, transfer);
    if (!workers.has(this.#handle)) return;
    hostCall("worker.postMessage", { handle: this.#handle, data }).catch(() => {});
  }

  terminate() {
    if (!workers.delete(this.#handle)) return;
    hostCall("worker.terminate", { handle: this.#handle }).catch(() => {});
  }
}
for (const type of ["message", "messageerror", "error"]) {
  defineEventHandler(Worker.prototype, type);
}
webidl.configureInterface(Worker);

export class SharedWorker extends EventTarget {
  #port;
  constructor(scriptURL, options = undefined) {
    super();
    const prefix = "Failed to construct 'SharedWorker'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    const { url, type, name } = workerArguments(prefix, scriptURL, options, true);
    const channel = new MessageChannel();
    this.#port = channel.port1;
    const handle = ++lastHandle;
    workers.set(handle, this);
    // The other end goes to the worker, for its `connect` event.
    const port = serializeTransfer(null, [channel.port2]);
    hostCall("worker.connectShared", { handle, url, type, name, port }).catch((e) => {
      workers.delete(handle);
      fireError(this, { load: true, message: String(e?.message ?? e) });
    });
  }
  get port() {
    return this.#port;
  }
}
defineEventHandler(SharedWorker.prototype, "error");
webidl.configureInterface(SharedWorker);

/**
 * The owner's side of "report an error" for a worker: an ErrorEvent at the
 * Worker object (a plain `error` Event when its script did not load) and,
 * if nobody cancels it, the same error one level up, at this realm's
 * global.
 */
function fireError(worker, { load, message, filename, lineno, colno }) {
  if (load) {
    const ev = new Event("error", { cancelable: true });
    setIsTrusted(ev, true);
    worker.dispatchEvent(ev);
    return;
  }
  const init = { message, filename, lineno, colno, cancelable: true };
  const ev = new ErrorEvent("error", init);
  setIsTrusted(ev, true);
  worker.dispatchEvent(ev);
  if (ev.defaultPrevented) return;
  const up = new ErrorEvent("error", init);
  setIsTrusted(up, true);
  globalThis.dispatchEvent(up);
}

/** A message event from a serialized message, at `target`. */
export function deliverMessage(target, data) {
  let value;
  let ports;
  try {
    [value, ports] = deserializeTransfer(data);
  } catch {
    const ev = new MessageEvent("messageerror");
    setIsTrusted(ev, true);
    target.dispatchEvent(ev);
    return;
  }
  const ev = new MessageEvent("message", {
    data: value,
    ports: ports.filter((p) => p instanceof MessagePort),
  });
  setIsTrusted(ev, true);
  target.dispatchEvent(ev);
}

onBrowserCommand("workerMessage", ({ handle, data }) => {
  const worker = workers.get(handle);
  if (worker) deliverMessage(worker, data);
});

onBrowserCommand("workerError", (err) => {
  const worker = workers.get(err.handle);
  if (worker) fireError(worker, err);
});
