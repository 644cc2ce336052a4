// ServiceWorker, ServiceWorkerRegistration and ServiceWorkerContainer.
// The browser owns the truth; each realm keeps one object per registration
// (by scope) and per worker (by id), updated by `registrationUpdate`.
// Spec: Service Workers; step numbers are those of the method steps and of the
// algorithms named.
import { core } from "ext:core/mod.js";
import {
  hostCall,
  hostCallUnref,
  onBrowserCommand,
  serializeTransfer,
} from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { Event, EventTarget, defineEventHandler, setIsTrusted } = eventMod;

const illegal = Symbol("illegalConstructor");
const workers = new Map();
const registrations = new Map();

function fire(target, type) {
  const ev = new Event(type);
  setIsTrusted(ev, true);
  target.dispatchEvent(ev);
}

export class ServiceWorker extends EventTarget {
  #id;
  #scriptURL;
  #state;
  constructor(key, snapshot) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this.#id = snapshot.id;
    this.#scriptURL = snapshot.scriptURL;
    this.#state = snapshot.state;
  }
  get scriptURL() {
    return this.#scriptURL;
  }
  get state() {
    return this.#state;
  }
  // ServiceWorker.postMessage(message, options): serialize here; the browser
  // dispatches the message event in the worker.
  postMessage(message, options = undefined) {
    if (this.#state === "redundant") return;
    const data = serializeTransfer(message, options);
    hostCall("serviceWorker.postMessageToWorker", { workerId: this.#id, data }).catch(
      () => {},
    );
  }
  // "Update Worker State", steps 4.4-4.5: set `state`, fire `statechange`.
  _update(state) {
    if (state !== this.#state) {
      this.#state = state;
      fire(this, "statechange");
    }
  }
}
defineEventHandler(ServiceWorker.prototype, "statechange");
defineEventHandler(ServiceWorker.prototype, "error");
webidl.configureInterface(ServiceWorker);

// "Get the service worker object": one ServiceWorker per worker per realm.
export function getWorker(snapshot) {
  if (!snapshot) return null;
  let w = workers.get(snapshot.id);
  if (!w) {
    w = new ServiceWorker(illegal, snapshot);
    workers.set(snapshot.id, w);
  }
  return w;
}

const registrationExtensions = [];
/** Lets other interfaces (Background Fetch) hang attributes on registrations. */
export function extendRegistration(fn) {
  registrationExtensions.push(fn);
}

// Service Workers, NavigationPreloadManager: the registration's navigation
// preload state lives in the browser.
export class NavigationPreloadManager {
  #scope;
  constructor(key, scope) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#scope = scope;
  }
  // enable() and disable(): InvalidStateError without an active worker.
  enable() {
    return hostCall("serviceWorker.navigationPreloadSet", {
      scope: this.#scope,
      enabled: true,
    }).then(() => undefined);
  }
  disable() {
    return hostCall("serviceWorker.navigationPreloadSet", {
      scope: this.#scope,
      enabled: false,
    }).then(() => undefined);
  }
  // setHeaderValue(value): a ByteString that is a valid header value.
  async setHeaderValue(value) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'setHeaderValue' on 'NavigationPreloadManager'");
    const v = webidl.converters.ByteString(value);
    await hostCall("serviceWorker.navigationPreloadSet", {
      scope: this.#scope,
      headerValue: v,
    });
  }
  // getState(): {enabled, headerValue}.
  getState() {
    return hostCall("serviceWorker.navigationPreloadState", { scope: this.#scope });
  }
}
webidl.configureInterface(NavigationPreloadManager);

export class ServiceWorkerRegistration extends EventTarget {
  #scope;
  #navigationPreload = null;
  #installing = null;
  #waiting = null;
  #active = null;
  #updateViaCache;
  constructor(key, snapshot) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this.#scope = snapshot.scope;
    this.#updateViaCache = snapshot.updateViaCache;
    this._apply(snapshot, false);
    for (const fn of registrationExtensions) fn(this, snapshot.scope);
  }
  get scope() {
    return this.#scope;
  }
  get installing() {
    return this.#installing;
  }
  get waiting() {
    return this.#waiting;
  }
  get active() {
    return this.#active;
  }
  get updateViaCache() {
    return this.#updateViaCache;
  }
  // [SameObject] navigationPreload.
  get navigationPreload() {
    this.#navigationPreload ??= new NavigationPreloadManager(illegal, this.#scope);
    return this.#navigationPreload;
  }
  // update(): an update job for the newest worker (browser side).
  async update() {
    const snap = await hostCall("serviceWorker.update", { scope: this.#scope });
    return getRegistration(snap);
  }
  // unregister(): an unregister job (browser side).
  unregister() {
    return hostCall("serviceWorker.unregister", { scope: this.#scope });
  }
  // "Update Registration State" (the installing, waiting and active
  // attributes), then "Update Worker State" (statechange) for each worker.
  _apply(snapshot, notify) {
    // Set every attribute first, then fire statechange events.
    const slots = ["installing", "waiting", "active"];
    const next = {};
    for (const k of slots) next[k] = getWorker(snapshot?.[k]);
    this.#installing = next.installing;
    this.#waiting = next.waiting;
    this.#active = next.active;
    if (!notify) return;
    for (const k of slots) {
      if (snapshot?.[k]) next[k]._update(snapshot[k].state);
    }
  }
}
defineEventHandler(ServiceWorkerRegistration.prototype, "updatefound");
webidl.configureInterface(ServiceWorkerRegistration);

// "Get the service worker registration object": one per registration per
// realm.
export function getRegistration(snapshot) {
  if (!snapshot) return undefined;
  let r = registrations.get(snapshot.scope);
  if (!r) {
    r = new ServiceWorkerRegistration(illegal, snapshot);
    registrations.set(snapshot.scope, r);
  } else {
    r._apply(snapshot, true);
  }
  return r;
}

onBrowserCommand("registrationUpdate", ({ scope, registration, worker }) => {
  const r = registrations.get(scope);
  if (r) {
    if (registration) r._apply(registration, true);
    else r._apply({ installing: null, waiting: null, active: null }, true);
  }
  // Workers this realm knows outside of any registration object.
  for (const k of ["installing", "waiting", "active"]) {
    const snap = registration?.[k];
    if (snap && workers.has(snap.id)) workers.get(snap.id)._update(snap.state);
  }
  // The worker whose state changed, in a slot or not (a redundant one).
  if (worker && workers.has(worker.id)) workers.get(worker.id)._update(worker.state);
});

// "Install", step 9: fire `updatefound` at the registration objects.
onBrowserCommand("updatefound", ({ scope }) => {
  const r = registrations.get(scope);
  if (r) fire(r, "updatefound");
});

export class ServiceWorkerContainer extends EventTarget {
  #controller = null;
  #ready = null;
  #messages = [];
  #started = true;
  constructor(key, controllerSnapshot) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this.#controller = getWorker(controllerSnapshot);
  }
  // The controller getter: the client's active service worker, or null.
  get controller() {
    return this.#controller;
  }
  // The ready getter: steps 1-2 (one ready promise per container), 3 and 4;
  // the browser resolves it ("Activate", step 7).
  get ready() {
    if (!this.#ready) {
      this.#ready = hostCallUnref("serviceWorker.ready").then(getRegistration);
    }
    return this.#ready;
  }
  // register(scriptURL, options): steps 3-6 in the browser ("Start Register").
  async register(scriptURL, options = {}) {
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to execute 'register' on 'ServiceWorkerContainer': 1 argument required, but only 0 present.",
      );
    }
    const snap = await hostCall("serviceWorker.register", {
      scriptURL: String(scriptURL),
      scope: options?.scope === undefined ? null : String(options.scope),
    });
    return getRegistration(snap);
  }
  // getRegistration(clientURL).
  async getRegistration(clientURL = "") {
    const snap = await hostCall("serviceWorker.getRegistration", { url: String(clientURL) });
    return snap ? getRegistration(snap) : undefined;
  }
  // getRegistrations().
  async getRegistrations() {
    const snaps = await hostCall("serviceWorker.getRegistrations");
    return snaps.map(getRegistration);
  }
  // startMessages(): enable the client message queue. Differs: here it is
  // enabled from the start.
  startMessages() {
    if (this.#started) return;
    this.#started = true;
    const queued = this.#messages;
    this.#messages = [];
    for (const ev of queued) this.dispatchEvent(ev);
  }
  // "Notify Controller Change", step 2: fire `controllerchange`.
  _controllerChange(snapshot) {
    this.#controller = getWorker(snapshot);
    fire(this, "controllerchange");
  }
  _deliver(ev) {
    // Messages wait until startMessages() (implicitly called by onmessage).
    if (this.#started) this.dispatchEvent(ev);
    else this.#messages.push(ev);
  }
}
defineEventHandler(ServiceWorkerContainer.prototype, "controllerchange");
defineEventHandler(ServiceWorkerContainer.prototype, "messageerror");
Object.defineProperty(ServiceWorkerContainer.prototype, "onmessage", {
  get() {
    return this._onmessage ?? null;
  },
  // "The first time the onmessage setter steps are performed, enable this's
  // client message queue."
  set(v) {
    if (this._onmessage) this.removeEventListener("message", this._onmessage);
    this._onmessage = typeof v === "function" ? v : null;
    if (this._onmessage) this.addEventListener("message", this._onmessage);
    this.startMessages();
  },
  configurable: true,
  enumerable: true,
});
webidl.configureInterface(ServiceWorkerContainer);

export function createContainer(controllerSnapshot) {
  return new ServiceWorkerContainer(illegal, controllerSnapshot);
}

export { illegal };
