// The DedicatedWorkerGlobalScope and SharedWorkerGlobalScope (HTML,
// "Workers"): `self`, `name`, `postMessage()` (dedicated) or `onconnect`
// (shared), `close()`, `importScripts()`, the worker's `location` and
// `navigator`, and the storage and messaging APIs a worker has. The owner's
// end is js/workers/23_worker.js; the browser's is src/workers/.
import { core } from "ext:core/mod.js";
import { op_swh_park } from "ext:core/ops";
import { defineGlobalEventHandler } from "ext:swharness/engine/02_idl.js";
import { isOnline, setInitialOnline } from "ext:swharness/net/03_network.js";
import {
  deserializeTransfer,
  hostCall,
  hostCallSync,
  keepReporterLast,
  onBrowserCommand,
  serializeTransfer,
  setUncaughtSink,
} from "ext:swharness/ipc/01_host.js";
import { controlledFetch } from "ext:swharness/service_worker/14_fetch_event.js";
import { installCaches } from "ext:swharness/storage/13_cache_storage.js";
import {
  createStorageManager,
  StorageManager,
} from "ext:swharness/storage/16_storage_manager.js";
import { BroadcastChannel } from "ext:swharness/broadcast_channel/15_broadcast_channel.js";
import { indexedDBGlobals } from "ext:swharness/indexed_db/21_indexed_db.js";
import { deliverMessage, SharedWorker, Worker } from "ext:swharness/workers/23_worker.js";
import { xhrGlobals } from "ext:swharness/xhr/24_xhr.js";
import { EventSource } from "ext:swharness/net/06_event_source.js";
import { WorkerGlobalScope } from "ext:swharness/scopes/90_service_worker_scope.js";
import {
  NavigationPreloadManager,
  ServiceWorker,
  ServiceWorkerContainer,
  ServiceWorkerRegistration,
} from "ext:swharness/service_worker/11_service_worker.js";
import { installBackgroundFetch } from "ext:swharness/background_fetch/20_background_fetch.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { MessageEvent, setIsTrusted } = eventMod;
const location = core.loadExtScript("ext:deno_web/12_location.js");
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

class DedicatedWorkerGlobalScope extends WorkerGlobalScope {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
}
webidl.configureInterface(DedicatedWorkerGlobalScope);

class SharedWorkerGlobalScope extends WorkerGlobalScope {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
}
webidl.configureInterface(SharedWorkerGlobalScope);

const COMMON_HANDLERS = ["error", "unhandledrejection", "online", "offline"];

function value(v) {
  return { value: v, writable: true, enumerable: false, configurable: true };
}
function getter(get) {
  return { get, enumerable: true, configurable: true };
}

// Messages wait until the worker's script has run (HTML, "run a worker":
// the port message queue is enabled after the script).
let started = false;
const waiting = [];
let closing = false;

export function bootstrapWorker(info) {
  const shared = info.kind === "sharedworker";
  location.setLocationHref(info.url);
  Object.setPrototypeOf(
    globalThis,
    shared ? SharedWorkerGlobalScope.prototype : DedicatedWorkerGlobalScope.prototype,
  );
  eventMod.setEventTargetData(globalThis);
  globalThis[webidl.brand] = webidl.brand;
  const handlers = shared ? ["connect"] : ["message", "messageerror"];
  for (const h of [...handlers, ...COMMON_HANDLERS]) defineGlobalEventHandler(h);
  const secure = info.secureContext === true;
  const navigator = {
    userAgent: "swharness",
    get onLine() {
      return isOnline();
    },
    ...(secure ? { storage: createStorageManager() } : {}),
  };
  Object.defineProperties(globalThis, {
    self: getter(() => globalThis),
    name: value(info.name),
    location: location.workerLocationDescriptor,
    WorkerLocation: location.workerLocationConstructorDescriptor,
    navigator: getter(() => navigator),
    ...(shared ? {} : { postMessage: value(postMessage) }),
    close: value(close),
    importScripts: value(importScripts),
    WorkerGlobalScope: value(WorkerGlobalScope),
    ...(shared
      ? { SharedWorkerGlobalScope: value(SharedWorkerGlobalScope) }
      : { DedicatedWorkerGlobalScope: value(DedicatedWorkerGlobalScope) }),
    Worker: value(Worker),
    SharedWorker: value(SharedWorker),
    ...xhrGlobals(value),
    EventSource: value(EventSource),
    BroadcastChannel: value(BroadcastChannel),
    ...indexedDBGlobals(value, getter),
  });
  if (secure) {
    // A controlled worker's fetch() goes to its service worker first.
    let controlled = info.controlled === true;
    Object.defineProperty(globalThis, "fetch", {
      value: controlledFetch(globalThis.fetch, () => controlled),
      writable: true,
      enumerable: true,
      configurable: true,
    });
    onBrowserCommand("controllerchange", ({ worker }) => {
      controlled = worker !== null && worker !== undefined;
    });
    // [SecureContext, Exposed=(Window,Worker)] interfaces (a dedicated
    // worker has no navigator.serviceWorker, as in Chromium).
    Object.defineProperties(globalThis, {
      StorageManager: value(StorageManager),
      ServiceWorker: value(ServiceWorker),
      ServiceWorkerRegistration: value(ServiceWorkerRegistration),
      ServiceWorkerContainer: value(ServiceWorkerContainer),
      NavigationPreloadManager: value(NavigationPreloadManager),
    });
    installCaches();
  }
  setInitialOnline(info.online);
  installBackgroundFetch({
    serviceWorker: false,
    secureContext: secure,
    chromium: info.chromium,
  });
  // HTML, "runtime script errors": what a dedicated worker's global leaves
  // unhandled goes to its owner's Worker object (a shared worker's, to the
  // console only).
  if (shared) return;
  setUncaughtSink((ev) => {
    hostCall("worker.error", {
      message: String(ev.message ?? ""),
      filename: String(ev.filename ?? ""),
      lineno: Number(ev.lineno) >>> 0,
      colno: Number(ev.colno) >>> 0,
      load: false,
    }).catch(() => {});
  });
}

// postMessage(message, transfer) or postMessage(message, options).
function postMessage(message, transfer = undefined) {
  webidl.requiredArguments(
    arguments.length,
    1,
    "Failed to execute 'postMessage' on 'DedicatedWorkerGlobalScope'",
  );
  const data = serializeTransfer(message, transfer);
  hostCall("worker.postMessage", { handle: null, data }).catch(() => {});
}

// close(): the worker discards its queued tasks and ends once the current
// task is over (what it posts until then still goes, as in Chromium).
function close() {
  if (closing) return;
  closing = true;
  waiting.length = 0;
  queueMicrotask(() => hostCall("worker.close").catch(() => {}));
}

function importScripts(...urls) {
  const scripts = hostCallSync("worker.importScripts", { urls: urls.map(String) });
  for (const { url, source } of scripts) {
    const [, error] = core.evalContext(source, url);
    if (error) throw error.thrown;
  }
}

function loadFailed(message) {
  hostCall("worker.error", { message, filename: "", lineno: 0, colno: 0, load: true })
    .catch(() => {});
}

// The worker's script: a classic script fetched as the worker's own
// request (its controller sees it), or a module graph.
onBrowserCommand("runWorker", async ({ url, type }) => {
  if (type === "module") {
    core.unrefOpPromise(op_swh_park());
    try {
      await import(url);
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof TypeError) loadFailed(String(e));
      else reportError(e);
    }
  } else {
    let source;
    try {
      const res = await globalThis.fetch(url);
      if (!res.ok) throw new TypeError(`HTTP status ${res.status}`);
      source = await res.text();
    } catch (e) {
      loadFailed(`Failed to load the worker script '${url}': ${e?.message ?? e}`);
      return;
    }
    // A parse error too is reported as the script's exception.
    const [, error] = core.evalContext(source, url);
    if (error) reportError(error.thrown);
  }
  started = true;
  // The script may have added error listeners: the reporter goes after them.
  keepReporterLast();
  for (const data of waiting.splice(0)) deliver(data);
});

// A message for a dedicated worker, or a connection to a shared one.
function deliver(data) {
  if (data.connect) connect(data.connect);
  else deliverMessage(globalThis, data);
}

// HTML, "SharedWorker constructor", step 12.5: a `connect` event whose
// `source` and `ports` are the worker's end of the new channel.
function connect(data) {
  let ports;
  try {
    [, ports] = deserializeTransfer(data);
  } catch {
    return;
  }
  const port = ports.find((p) => p instanceof MessagePort);
  if (!port) return;
  const ev = new MessageEvent("connect", { data: "", source: port, ports: [port] });
  setIsTrusted(ev, true);
  globalThis.dispatchEvent(ev);
}

onBrowserCommand("sharedConnect", ({ data }) => {
  if (closing) return;
  if (started) connect(data);
  else waiting.push({ connect: data });
});

onBrowserCommand("dedicatedMessage", ({ data }) => {
  if (closing) return;
  if (started) deliverMessage(globalThis, data);
  else waiting.push(data);
});
