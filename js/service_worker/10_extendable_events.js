// ExtendableEvent and ExtendableMessageEvent (Service Workers sections 4.4 and 4.5),
// and the dispatch of functional events whose lifetime `waitUntil` extends.
import { core } from "ext:core/mod.js";
import { DOMException, errorText, hostCall } from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const event = core.loadExtScript("ext:deno_web/02_event.js");
const { Event } = event;

const kState = Symbol("extendableState");

/** The "extend lifetime promises" bookkeeping of an ExtendableEvent. */
function stateOf(ev) {
  return ev[kState];
}

export class ExtendableEvent extends Event {
  constructor(type, init = undefined) {
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to construct 'ExtendableEvent': 1 argument required, but only 0 present.",
      );
    }
    super(type, init);
    this[kState] = { dispatching: false, pending: 0, promises: [] };
  }

  // Service Workers, waitUntil(f): "add lifetime promise" f to the event.
  waitUntil(f) {
    if (!(this instanceof ExtendableEvent)) {
      throw new TypeError("Illegal invocation");
    }
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to execute 'waitUntil' on 'ExtendableEvent': 1 argument required, but only 0 present.",
      );
    }
    extendLifetime(this, f, "waitUntil");
  }
}

/** True while the event is dispatching or has unsettled lifetime promises. */
// (The "active" definition: dispatch flag set or a pending promises count
// above zero; there is no timed out flag here.)
export function isActive(ev) {
  const s = stateOf(ev);
  return !!s && (s.dispatching || s.pending > 0);
}

// Service Workers, "add lifetime promise".
export function extendLifetime(ev, f, what) {
  const s = stateOf(ev);
  // Step 1: an untrusted event is an InvalidStateError.
  if (!ev.isTrusted) {
    throw new DOMException(
      `Failed to execute '${what}': The event handler is not trusted.`,
      "InvalidStateError",
    );
  }
  // Step 2: so is one that is no longer active.
  if (!isActive(ev)) {
    throw new DOMException(
      `Failed to execute '${what}': The event handler is already finished.`,
      "InvalidStateError",
    );
  }
  const p = Promise.resolve(f);
  // Steps 3-4: add it to the extend lifetime promises; increment the pending
  // promises count.
  s.pending++;
  s.promises.push(p);
  // Step 5: once it settles, a microtask decrements the count (5.1). Step 5.2
  // (Try Clear Registration, Try Activate) is left to the browser side.
  const done = () => queueMicrotask(() => s.pending--);
  p.then(done, done);
}

webidl.configureInterface(ExtendableEvent);

// The static routing API: a route's condition and source as the browser
// takes them (src/service_worker/routes.rs), checked for their types here.
function routerCondition(c) {
  if (c === null || typeof c !== "object") {
    throw new TypeError("A route's condition must be an object.");
  }
  const out = {};
  if (c.urlPattern !== undefined) {
    if (typeof c.urlPattern !== "string") {
      throw new TypeError("urlPattern must be a URL pattern string here.");
    }
    out.urlPattern = c.urlPattern;
  }
  for (const k of ["requestMethod", "requestMode", "requestDestination", "runningStatus"]) {
    if (c[k] !== undefined) out[k] = String(c[k]);
  }
  if (c.or !== undefined) out.or = [...c.or].map(routerCondition);
  if (c.not !== undefined) out.not = routerCondition(c.not);
  return out;
}

function routerSource(s) {
  if (typeof s === "string") return s;
  if (s !== null && typeof s === "object" && s.cacheName !== undefined) {
    return { cacheName: String(s.cacheName) };
  }
  throw new TypeError("A route's source must be a string or {cacheName}.");
}

// Service Workers, InstallEvent: addRoutes(rules) while the worker
// installs; the install waits for the routes to be stored.
export class InstallEvent extends ExtendableEvent {
  addRoutes(rules) {
    if (!(this instanceof InstallEvent)) throw new TypeError("Illegal invocation");
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to execute 'addRoutes' on 'InstallEvent': 1 argument required, but only 0 present.",
      );
    }
    let list;
    try {
      list = (Array.isArray(rules) ? rules : [rules]).map((r) => ({
        condition: routerCondition(r?.condition),
        source: routerSource(r?.source),
      }));
    } catch (e) {
      return Promise.reject(e);
    }
    const p = hostCall("serviceWorker.addRoutes", { rules: list }).then(() => undefined);
    if (isActive(this)) extendLifetime(this, p, "addRoutes");
    return p;
  }
}
webidl.configureInterface(InstallEvent);

export class ExtendableMessageEvent extends ExtendableEvent {
  #data;
  #origin;
  #lastEventId;
  #source;
  #ports;
  constructor(type, init = {}) {
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to construct 'ExtendableMessageEvent': 1 argument required, but only 0 present.",
      );
    }
    super(type, init);
    this.#data = init?.data ?? null;
    this.#origin = String(init?.origin ?? "");
    this.#lastEventId = String(init?.lastEventId ?? "");
    this.#source = init?.source ?? null;
    this.#ports = Object.freeze([...(init?.ports ?? [])]);
  }
  get data() {
    return this.#data;
  }
  get origin() {
    return this.#origin;
  }
  get lastEventId() {
    return this.#lastEventId;
  }
  get source() {
    return this.#source;
  }
  get ports() {
    return this.#ports;
  }
}

webidl.configureInterface(ExtendableMessageEvent);

/**
 * Dispatches a trusted extendable event on `target` and resolves, once all
 * its lifetime promises settle, with `{rejected}` (any rejected?).
 */
// Service Workers, "Fire Functional Event", step 6.3 (and the install and
// activate dispatch of "Install" and "Activate"): dispatch, then wait until
// the event is not active. `rejected` is "Install", step 11.3.1.4.4 (a
// rejected extend lifetime promise fails the install).
export async function dispatchExtendable(target, ev) {
  dispatchTrusted(target, ev);
  return await lifetimeSettled(ev);
}

/**
 * Dispatches `ev` as a trusted event with its dispatch flag set. The
 * microtasks its listeners queued run before the flag is unset: in HTML,
 * each listener's call ends with "clean up after running script", a
 * microtask checkpoint, and deno_web's dispatch has none (a respondWith()
 * or waitUntil() in a promise callback of the last listener is still in
 * time). Only from a browser command, with no script of the page's own
 * below it on the stack.
 */
export function dispatchTrusted(target, ev) {
  event.setIsTrusted(ev, true);
  const s = stateOf(ev);
  s.dispatching = true;
  try {
    target.dispatchEvent(ev);
    core.runMicrotasks();
  } finally {
    s.dispatching = false;
  }
}

/** Whether the event's dispatch flag is set. */
export function isDispatching(ev) {
  return !!stateOf(ev)?.dispatching;
}

/**
 * Resolves once every lifetime promise of `ev` has settled, with
 * `{rejected}` (was any rejected?) and the first rejection's `reason`.
 */
export async function lifetimeSettled(ev) {
  const s = stateOf(ev);
  let rejected = false;
  // The first rejection's reason, with its stack (why an install failed).
  let reason = null;
  // waitUntil may be called again while earlier promises are pending.
  let seen = 0;
  while (seen < s.promises.length) {
    const batch = s.promises.slice(seen);
    seen = s.promises.length;
    const results = await Promise.allSettled(batch);
    for (const r of results) {
      if (r.status !== "rejected") continue;
      rejected = true;
      reason ??= errorText(r.reason);
    }
  }
  // Let the bookkeeping microtasks run so the event is no longer active.
  await new Promise((r) => queueMicrotask(r));
  return reason === null ? { rejected } : { rejected, reason };
}

export { event as eventModule };
