// The window-like global of a client realm: `window`, `self`, `location`,
// `navigator.serviceWorker`, a minimal `document`, and the `swharness`
// control object for scripts and tests.
import { core } from "ext:core/mod.js";
import { defineGlobalEventHandler } from "ext:swharness/engine/02_idl.js";
import { isOnline, setInitialOnline } from "ext:swharness/net/03_network.js";
import {
  deserializeTransfer,
  hostCall,
  onBrowserCommand,
} from "ext:swharness/ipc/01_host.js";
import {
  createContainer,
  getWorker,
  ServiceWorker,
  ServiceWorkerContainer,
  ServiceWorkerRegistration,
  NavigationPreloadManager,
} from "ext:swharness/service_worker/11_service_worker.js";
import { controlledFetch } from "ext:swharness/service_worker/14_fetch_event.js";
import { installCaches } from "ext:swharness/storage/13_cache_storage.js";
import {
  createStorageManager,
  StorageManager,
} from "ext:swharness/storage/16_storage_manager.js";
import { BroadcastChannel } from "ext:swharness/broadcast_channel/15_broadcast_channel.js";
import { indexedDBGlobals } from "ext:swharness/indexed_db/21_indexed_db.js";
import { installBackgroundFetch } from "ext:swharness/background_fetch/20_background_fetch.js";
import { createControl } from "ext:swharness/browser/30_control.js";
import {
  createDocument,
  Document,
  Element,
  HTMLMetaElement,
  HTMLScriptElement,
  Node,
  parkForModules,
  runPageScripts,
} from "ext:swharness/scopes/40_document.js";
import {
  createHistory,
  frameLocation,
  frameParent,
  HTMLIFrameElement,
} from "ext:swharness/scopes/41_frames.js";
import { HTMLFormElement, HTMLInputElement } from "ext:swharness/scopes/42_forms.js";
import { SharedWorker, Worker } from "ext:swharness/workers/23_worker.js";
import { xhrGlobals } from "ext:swharness/xhr/24_xhr.js";
import { EventSource } from "ext:swharness/net/06_event_source.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { EventTarget, MessageEvent, defineEventHandler, setIsTrusted } =
  eventMod;
const location = core.loadExtScript("ext:deno_web/12_location.js");
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

class Window extends EventTarget {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
}
webidl.configureInterface(Window);

function value(v) {
  return { value: v, writable: true, enumerable: false, configurable: true };
}
function getter(get) {
  return { get, enumerable: true, configurable: true };
}

// window.postMessage to this window (the only one there is): a message
// event in a later task.
function windowPostMessage(message, targetOrigin, transfer) {
  if (arguments.length === 0) {
    throw new TypeError("postMessage: 1 argument required, but only 0 present");
  }
  const data = structuredClone(message, Array.isArray(transfer) ? { transfer } : undefined);
  setTimeout(() => {
    const ev = new MessageEvent("message", {
      data,
      origin: globalThis.location.origin,
      source: globalThis,
    });
    setIsTrusted(ev, true);
    globalThis.dispatchEvent(ev);
  }, 0);
}

let ownLocation = null;
// A window's location navigates through the browser (41_frames.js).
function frameLocationOf() {
  ownLocation ??= frameLocation(() => location.locationDescriptor.get());
  return ownLocation;
}

export function bootstrapWindow(info) {
  location.setLocationHref(info.url);
  Object.setPrototypeOf(globalThis, Window.prototype);
  eventMod.setEventTargetData(globalThis);
  globalThis[webidl.brand] = webidl.brand;
  for (const h of ["load", "error", "message", "unhandledrejection", "online", "offline"]) {
    defineGlobalEventHandler(h);
  }
  const container = createContainer(info.controller);
  const permissions = {
    query: async (desc) => ({
      name: desc?.name,
      state: await hostCall("browser.permissionQuery", { name: String(desc?.name) }),
    }),
  };
  // Service workers, Cache Storage and Background Fetch are
  // [SecureContext]: a page that is not one does not see them.
  const secure = info.secureContext === true;
  const navigator = {
    userAgent: "swharness",
    get onLine() {
      return isOnline();
    },
    ...(secure ? { serviceWorker: container, storage: createStorageManager() } : {}),
    permissions,
  };
  const document = createDocument(info.url, info.title, info.bodyText, info.contentType);
  // A top-level page is its own parent; a frame reaches its parent's
  // window through a proxy (41_frames.js).
  const parent = frameParent(info);
  const history = createHistory(!!info.parentClient, () => location.locationDescriptor.get());
  Object.defineProperties(globalThis, {
    window: getter(() => globalThis),
    self: getter(() => globalThis),
    parent: getter(() => parent),
    top: getter(() => parent),
    // [Replaceable]: a page's `var frames = []` replaces it.
    frames: value(globalThis),
    opener: value(null),
    length: value(0),
    postMessage: value(windowPostMessage),
    // The focusing steps for this window's document (the clients'
    // `focused`; the window gets `focus` once it has it, see the
    // `windowFocus` command); blur() does nothing, as in browsers today.
    focus: value(function focus() {
      hostCall("serviceWorker.focus", { id: null }).catch(() => {});
    }),
    blur: value(function blur() {}),
    location: {
      get: frameLocationOf,
      // HTML: assigning to `window.location` sets its href.
      set(url) {
        frameLocationOf().href = url;
      },
      enumerable: true,
      configurable: true,
    },
    Location: location.locationConstructorDescriptor,
    navigator: getter(() => navigator),
    history: getter(() => history),
    document: getter(() => document),
    Window: value(Window),
    BroadcastChannel: value(BroadcastChannel),
    Worker: value(Worker),
    SharedWorker: value(SharedWorker),
    ...xhrGlobals(value),
    EventSource: value(EventSource),
    ...indexedDBGlobals(value, getter),
    Document: value(Document),
    Node: value(Node),
    Element: value(Element),
    HTMLScriptElement: value(HTMLScriptElement),
    HTMLIFrameElement: value(HTMLIFrameElement),
    HTMLFormElement: value(HTMLFormElement),
    HTMLInputElement: value(HTMLInputElement),
    HTMLMetaElement: value(HTMLMetaElement),
    swharness: value(createControl()),
  });
  if (secure) {
    // A controlled page's fetch() goes to its service worker first.
    Object.defineProperty(globalThis, "fetch", {
      value: controlledFetch(globalThis.fetch, () => container.controller !== null),
      writable: true,
      enumerable: true,
      configurable: true,
    });
    Object.defineProperties(globalThis, {
      ServiceWorker: value(ServiceWorker),
      ServiceWorkerRegistration: value(ServiceWorkerRegistration),
      NavigationPreloadManager: value(NavigationPreloadManager),
      StorageManager: value(StorageManager),
      ServiceWorkerContainer: value(ServiceWorkerContainer),
    });
    installCaches();
  }
  if (info.pageReport) {
    // A test page's results (testharnessreport.js calls this once).
    Object.defineProperty(globalThis, "__swharnessWptReport", value(
      (json) => hostCall("browser.pageReport", { json: String(json) }),
    ));
  }
  setInitialOnline(info.online);
  installBackgroundFetch({
    serviceWorker: false,
    secureContext: secure,
    chromium: info.chromium,
  });
  onBrowserCommand("message", ({ data, source, origin }) => {
    let value;
    let ports;
    try {
      [value, ports] = deserializeTransfer(data);
    } catch {
      const ev = new MessageEvent("messageerror", { origin });
      setIsTrusted(ev, true);
      container._deliver(ev);
      return;
    }
    const ev = new MessageEvent("message", {
      data: value,
      origin: origin ?? "",
      source: getWorker(source),
      ports: ports.filter((p) => p instanceof MessagePort),
    });
    setIsTrusted(ev, true);
    container._deliver(ev);
  });
  onBrowserCommand("controllerchange", ({ worker }) => {
    container._controllerChange(worker);
  });
}

// HTML's focus update steps: this window's document gained or lost focus.
onBrowserCommand("windowFocus", ({ focused }) => {
  const ev = new eventMod.Event(focused ? "focus" : "blur");
  setIsTrusted(ev, true);
  globalThis.dispatchEvent(ev);
});

// A page's classic scripts, in document order, then its load event.
onBrowserCommand("runClassicScripts", ({ steps }) => runPageScripts(steps));

// Client scripts run as module scripts (top-level await, imports); the
// browser asks for them through this command.
onBrowserCommand("runModule", async ({ url }) => {
  parkForModules();
  try {
    await import(url);
  } catch (e) {
    reportError(e);
  }
});
