// The ServiceWorkerGlobalScope: `self`, `registration`, `serviceWorker`,
// `clients`, `skipWaiting()`, `importScripts()`, `caches`, and the
// functional events the browser dispatches into it.
import { core } from "ext:core/mod.js";
import { defineGlobalEventHandler } from "ext:swharness/engine/02_idl.js";
import { isOnline, setInitialOnline } from "ext:swharness/net/03_network.js";
import {
  deserializeTransfer,
  hostCall,
  hostCallSync,
  onBrowserCommand,
} from "ext:swharness/ipc/01_host.js";
import {
  dispatchExtendable,
  ExtendableEvent,
  ExtendableMessageEvent,
  InstallEvent,
} from "ext:swharness/service_worker/10_extendable_events.js";
import {
  createContainer,
  getRegistration,
  getWorker,
  ServiceWorker,
  ServiceWorkerContainer,
  ServiceWorkerRegistration,
  NavigationPreloadManager,
} from "ext:swharness/service_worker/11_service_worker.js";
import {
  Client,
  Clients,
  createClients,
  WindowClient,
  wrapClient,
} from "ext:swharness/service_worker/12_clients.js";
import {
  FetchEvent,
  installFetchEvents,
} from "ext:swharness/service_worker/14_fetch_event.js";
import { installCaches } from "ext:swharness/storage/13_cache_storage.js";
import {
  createStorageManager,
  StorageManager,
} from "ext:swharness/storage/16_storage_manager.js";
import { BroadcastChannel } from "ext:swharness/broadcast_channel/15_broadcast_channel.js";
import { indexedDBGlobals } from "ext:swharness/indexed_db/21_indexed_db.js";
import {
  backgroundFetchEventFor,
  finishBackgroundFetchEvent,
  installBackgroundFetch,
} from "ext:swharness/background_fetch/20_background_fetch.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { EventTarget, defineEventHandler } = eventMod;
const location = core.loadExtScript("ext:deno_web/12_location.js");
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

export class WorkerGlobalScope extends EventTarget {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
}
class ServiceWorkerGlobalScope extends WorkerGlobalScope {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
}
webidl.configureInterface(ServiceWorkerGlobalScope);

const HANDLERS = [
  "install",
  "activate",
  "fetch",
  "message",
  "messageerror",
  "online",
  "offline",
  "backgroundfetchsuccess",
  "backgroundfetchfail",
  "backgroundfetchabort",
  "backgroundfetchclick",
  "error",
  "unhandledrejection",
];

function value(v) {
  return { value: v, writable: true, enumerable: false, configurable: true };
}
function getter(get) {
  return { get, enumerable: true, configurable: true };
}

export function bootstrapServiceWorker(info) {
  location.setLocationHref(info.url);
  Object.setPrototypeOf(globalThis, ServiceWorkerGlobalScope.prototype);
  eventMod.setEventTargetData(globalThis);
  globalThis[webidl.brand] = webidl.brand;
  // [Global] interfaces keep their attributes on the global object itself.
  for (const h of HANDLERS) {
    defineGlobalEventHandler(h);
  }
  const registration = getRegistration(info.registration);
  const clients = createClients();
  const navigator = {
    userAgent: "swharness",
    get onLine() {
      return isOnline();
    },
    serviceWorker: createContainer(null),
    storage: createStorageManager(),
  };
  Object.defineProperties(globalThis, {
    self: getter(() => globalThis),
    location: location.workerLocationDescriptor,
    WorkerLocation: location.workerLocationConstructorDescriptor,
    registration: getter(() => registration),
    serviceWorker: getter(() => getWorker(info.worker)),
    clients: getter(() => clients),
    navigator: getter(() => navigator),
    skipWaiting: value(() => hostCall("serviceWorker.skipWaiting")),
    importScripts: value(importScripts),
    WorkerGlobalScope: value(WorkerGlobalScope),
    ServiceWorkerGlobalScope: value(ServiceWorkerGlobalScope),
    ExtendableEvent: value(ExtendableEvent),
    InstallEvent: value(InstallEvent),
    BroadcastChannel: value(BroadcastChannel),
    ...indexedDBGlobals(value, getter),
    ExtendableMessageEvent: value(ExtendableMessageEvent),
    FetchEvent: value(FetchEvent),
    ServiceWorker: value(ServiceWorker),
    ServiceWorkerRegistration: value(ServiceWorkerRegistration),
    NavigationPreloadManager: value(NavigationPreloadManager),
    StorageManager: value(StorageManager),
    ServiceWorkerContainer: value(ServiceWorkerContainer),
    Client: value(Client),
    WindowClient: value(WindowClient),
    Clients: value(Clients),
  });
  installCaches();
  installFetchEvents();
  setInitialOnline(info.online);
  installBackgroundFetch({ serviceWorker: true, chromium: info.chromium });
  // Service Workers, the worker's "set of event types to handle", as its
  // script left it: without a fetch listener, the browser never sends it
  // a fetch event (Handle Fetch, step 16).
  onBrowserCommand("eventTypes", () => ({
    fetch: eventMod.listenerCount(globalThis, "fetch") > 0,
  }));
  onBrowserCommand("event", async ({ type, init }) => {
    const ev = createEvent(type, init);
    const result = await dispatchExtendable(globalThis, ev);
    finishBackgroundFetchEvent(ev);
    return result;
  });
}

function createEvent(type, init) {
  switch (type) {
    case "install":
      return new InstallEvent(type);
    case "activate":
      return new ExtendableEvent(type);
    case "message": {
      let data;
      let ports;
      try {
        [data, ports] = deserializeTransfer(init.data);
      } catch {
        return new ExtendableMessageEvent("messageerror", {
          origin: init.origin,
        });
      }
      const source = init.source?.client
        ? wrapClient(init.source.client)
        : getWorker(init.source?.worker);
      return new ExtendableMessageEvent("message", {
        data,
        origin: init.origin,
        source,
        ports: ports.filter((p) => p instanceof MessagePort),
      });
    }
    default: {
      const ev = backgroundFetchEventFor(type, init);
      if (ev) return ev;
      return new ExtendableEvent(type);
    }
  }
}

function importScripts(...urls) {
  const scripts = hostCallSync("serviceWorker.importScripts", { urls: urls.map(String) });
  for (const { url, source } of scripts) {
    // Each runs as a classic script of this worker: its declarations are
    // globals even when it is strict (an indirect eval would keep a strict
    // script's functions to itself).
    const [, error] = core.evalContext(source, url);
    if (error) throw error.thrown;
  }
}
