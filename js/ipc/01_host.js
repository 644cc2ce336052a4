// The realm's link to the browser side: calls (async and sync), the
// dispatcher through which the browser calls in, errors as the platform
// throws them, and structured-clone payloads for messages.
import { core } from "ext:core/mod.js";
import {
  op_swh_base64_encode,
  op_swh_call,
  op_swh_keepalive,
  op_swh_host_sync,
  op_swh_host_sync_serving,
  op_swh_reply,
  op_swh_report_uncaught,
  op_swh_set_dispatcher,
  op_swh_transfer_adopt,
  op_swh_transfer_park,
} from "ext:core/ops";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const infra = core.loadExtScript("ext:deno_web/00_infra.js");
const { eventTargetData } = core.loadExtScript("ext:deno_web/02_event.js");

const { DOMException } = core.loadExtScript(
  "ext:deno_web/01_dom_exception.js",
);

/** The QuotaExceededError interface (a DOMException with quota/requested). */
class QuotaExceededError extends DOMException {
  #quota;
  #requested;
  constructor(message = "", options = {}) {
    super(message, "QuotaExceededError");
    const quota = options?.quota;
    const requested = options?.requested;
    if (quota !== undefined && (!Number.isFinite(quota) || quota < 0)) {
      throw new RangeError("quota must be a non-negative finite number");
    }
    if (
      requested !== undefined && (!Number.isFinite(requested) || requested < 0)
    ) {
      throw new RangeError("requested must be a non-negative finite number");
    }
    if (quota !== undefined && requested !== undefined && requested < quota) {
      throw new RangeError("requested must not be less than quota");
    }
    this.#quota = quota ?? null;
    this.#requested = requested ?? null;
  }
  get quota() {
    return this.#quota;
  }
  get requested() {
    return this.#requested;
  }
}
webidl.configureInterface(QuotaExceededError);

/** Builds the error the platform throws for a browser-side failure. */
export function makeError(err) {
  const { name, message } = err ?? {};
  switch (name) {
    case "TypeError":
      return new TypeError(message);
    case "RangeError":
      return new RangeError(message);
    case "SyntaxError":
      return new SyntaxError(message);
    case "Error":
      return new Error(message);
    case "QuotaExceededError":
      return new QuotaExceededError(message);
    default:
      return new DOMException(message, name);
  }
}

// The DOMException names Deno's extensions throw from Rust (as error
// classes "DOMExceptionNAME"; deno_crypto's, for one).
const OP_DOMEXCEPTIONS = [
  "AbortError",
  "DataError",
  "InvalidCharacterError",
  "InvalidStateError",
  "NetworkError",
  "NotSupportedError",
  "OperationError",
  "QuotaExceededError",
  "TypeMismatchError",
];

/** The text of an exception: its name, message and stack. */
export function errorText(e) {
  if (!(e instanceof Error)) return `${String(e)}`;
  const head = `${e.name}: ${e.message}`;
  const stack = String(e.stack ?? "");
  return stack.startsWith(head) ? stack : `${head}\n${stack}`.trimEnd();
}

/**
 * HTML's "report an exception": an event listener that throws is reported
 * (an `error` event on the global, then the console) and the dispatch goes
 * on. deno_web's version hands an error event that nobody canceled to
 * deno_core, which ends the current task: the rest of the dispatch, and
 * the answer the browser waits for. So the realm's last `error` listener
 * reports it to the browser and cancels it.
 */
function reportUncaught(ev) {
  if (ev.defaultPrevented) return;
  ev.preventDefault();
  if (uncaughtSink) uncaughtSink(ev);
  else op_swh_report_uncaught(errorText(ev.error ?? ev.message));
}

let uncaughtSink = null;

/**
 * Where this realm's unhandled exceptions go instead of the console: a
 * dedicated worker hands them to its owner.
 */
export function setUncaughtSink(fn) {
  uncaughtSink = fn;
}

export function installExceptionReporting() {
  globalThis.addEventListener("error", reportUncaught);
}

// Before each browser command: the reporter goes after the listeners the
// page added since, so that a page's handler that cancels the event still
// keeps it from the console. (Looked up first: moving it costs 15 us, as
// much as the rest of a command's dispatch.)
export function keepReporterLast() {
  const listeners = globalThis[eventTargetData]?.listeners?.error;
  if (listeners?.[listeners.length - 1]?.callback === reportUncaught) return;
  globalThis.removeEventListener("error", reportUncaught);
  globalThis.addEventListener("error", reportUncaught);
}

/** Lets ops throw DOMExceptions (deno_core needs a builder per class). */
export function installErrorBuilders() {
  for (const name of OP_DOMEXCEPTIONS) {
    core.registerErrorBuilder(
      `DOMException${name}`,
      (message) => makeError({ name, message }),
    );
  }
}

/** The value of a browser answer (`{ok}` or `{error}`), or its error. */
function settle(res) {
  if (res.error) throw makeError(res.error);
  return res.ok;
}

function unwrap(text) {
  return settle(JSON.parse(text));
}

// Calls waiting for their answer, which comes as a `rust:reply` command:
// commands are handled in the order the browser sent them, so an answer
// is never overtaken by a later update (as an op's result could be).
const pendingCalls = new Map();
let lastCallId = 0;
const keepAlive = { true: null, false: null };

// While calls are pending, so is an op: the engine then knows that the
// realm is waiting for something (a module's top-level await is not
// stalled). Calls that do not keep the realm alive get an unref'd op.
function ensureKeepAlive(refd) {
  if (keepAlive[refd]) return;
  const p = op_swh_keepalive(refd);
  if (!refd) core.unrefOpPromise(p);
  keepAlive[refd] = p.then(() => {
    keepAlive[refd] = null;
    for (const c of pendingCalls.values()) {
      if (!refd || c.keepsAlive) return ensureKeepAlive(refd);
    }
  });
}

function call(method, args, keepsAlive) {
  const id = ++lastCallId;
  return new Promise((resolve, reject) => {
    const sent = op_swh_call(method, JSON.stringify(args), id, keepsAlive);
    if (sent === "") {
      pendingCalls.set(id, { resolve, reject, keepsAlive });
      ensureKeepAlive(keepsAlive);
    } else if (sent === "!") {
      reject(makeError({
        name: "InvalidStateError",
        message: "the browser has shut down",
      }));
    } else {
      // Answered at once, on this thread (a shortcut, see op_swh_call).
      try {
        resolve(unwrap(sent));
      } catch (e) {
        reject(e);
      }
    }
  });
}

/** Calls the browser; the pending call keeps the realm alive. */
export function hostCall(method, args = null) {
  return call(method, args, true);
}

/**
 * Calls the browser for something that may wait indefinitely (like
 * `ready`): the pending call does not keep the realm alive.
 */
export function hostCallUnref(method, args = null) {
  return call(method, args, false);
}

export function hostCallSync(method, args = null) {
  return unwrap(op_swh_host_sync(method, JSON.stringify(args)));
}

/**
 * `hostCallSync`, during which the browser may still run commands in this
 * realm (a frame it waits for reaching back into it).
 */
export function hostCallSyncServing(method, args = null) {
  return unwrap(op_swh_host_sync_serving(method, JSON.stringify(args)));
}

const handlers = new Map();

/** Registers the handler for browser commands of `kind`. */
export function onBrowserCommand(kind, fn) {
  handlers.set(kind, fn);
}

function encodeError(e) {
  if (e instanceof DOMException) return { name: e.name, message: e.message };
  if (e instanceof Error) {
    return { name: e.name || "Error", message: String(e.message) };
  }
  return { name: "Error", message: String(e) };
}

function reply(id, value) {
  if (id === 0) return;
  let text;
  try {
    text = JSON.stringify({ ok: value === undefined ? null : value });
  } catch (e) {
    text = JSON.stringify({ error: encodeError(e) });
  }
  op_swh_reply(id, text);
}

function dispatcher(kind, payloadJson, id) {
  keepReporterLast();
  const fn = handlers.get(kind);
  if (!fn) {
    if (id !== 0) {
      op_swh_reply(
        id,
        JSON.stringify({
          error: { name: "TypeError", message: `no handler for ${kind}` },
        }),
      );
    }
    return;
  }
  let result;
  try {
    result = fn(JSON.parse(payloadJson));
  } catch (e) {
    if (id !== 0) op_swh_reply(id, JSON.stringify({ error: encodeError(e) }));
    else reportError(e);
    return;
  }
  if (result && typeof result.then === "function") {
    result.then(
      (v) => reply(id, v),
      (e) => {
        if (id !== 0) {
          op_swh_reply(id, JSON.stringify({ error: encodeError(e) }));
        }
      },
    );
  } else {
    reply(id, result);
  }
}

handlers.set("rust:reply", ({ id, result }) => {
  const pending = pendingCalls.get(id);
  if (!pending) return;
  pendingCalls.delete(id);
  try {
    pending.resolve(settle(result));
  } catch (e) {
    pending.reject(e);
  }
});

/**
 * Hands the dispatcher to the realm. Called at bootstrap, not when this
 * module is evaluated: with a startup snapshot, module evaluation happened
 * in the runtime that made the snapshot, whose op state is gone.
 */
export function installDispatcher() {
  op_swh_set_dispatcher(dispatcher);
}

/** Serializes a message as the structured clone algorithm does. */
export function serializeMessage(value) {
  let bytes;
  try {
    bytes = core.serialize(value, { forStorage: false });
  } catch (e) {
    // The engine's serializer throws TypeErrors; the structured clone
    // algorithm throws a DataCloneError.
    if (e instanceof DOMException) throw e;
    throw new DOMException(String(e?.message ?? e), "DataCloneError");
  }
  return btoaBytes(bytes);
}

/** Base64 of a byte array (for bodies and messages sent as JSON). (Not
 * deno_web's encoder: see `op_swh_base64_encode`.) */
export function btoaBytes(bytes) {
  return op_swh_base64_encode(bytes);
}

/** The bytes of a base64 text. */
export function atobBytes(text) {
  return infra.forgivingBase64Decode(text);
}

/**
 * The value of a serialized message. Blobs, Files and DOMExceptions come
 * back as themselves (deno_web's deserializers; a Blob's bytes are in the
 * store every realm shares).
 */
export function deserializeMessage(data) {
  const deserializers = core.getCloneableDeserializers();
  return core.deserialize(atobBytes(data), { forStorage: false, deserializers });
}

/**
 * A message for another realm with its transfer list (postMessage's
 * `transfer`, or `{transfer}`): `{data}`, and `transfer`, the token its
 * MessagePorts wait under until the receiving realm takes them.
 */
export function serializeTransfer(value, options) {
  const transfer = Array.isArray(options) ? options : options?.transfer ?? [];
  if (transfer.length === 0) return { data: serializeMessage(value) };
  const messagePort = core.loadExtScript("ext:deno_web/13_message_port.js");
  const { data, transferables } = messagePort.serializeJsMessageData(value, [...transfer]);
  return { data: btoaBytes(data), transfer: op_swh_transfer_park(transferables) };
}

/**
 * The value and the transferred objects (MessagePorts first) of what
 * `serializeTransfer` made; a bare string is a message without transfers.
 */
export function deserializeTransfer(message) {
  if (typeof message === "string") return [deserializeMessage(message), []];
  if (message.transfer === undefined) return [deserializeMessage(message.data), []];
  const messagePort = core.loadExtScript("ext:deno_web/13_message_port.js");
  const transferables = op_swh_transfer_adopt(message.transfer);
  return messagePort.deserializeJsMessageData({
    data: atobBytes(message.data),
    transferables,
  });
}

export { DOMException, QuotaExceededError };
