// Background Fetch (WICG): BackgroundFetchManager, BackgroundFetchRegistration,
// BackgroundFetchRecord, BackgroundFetchEvent, BackgroundFetchUpdateUIEvent.
// This layer validates arguments as WebIDL and the spec say and calls the
// browser side, which stores, schedules, downloads and fires the events.
// Step numbers are those of the Background Fetch spec (WICG/background-fetch,
// https://wicg.github.io/background-fetch/).
import { core } from "ext:core/mod.js";
import { op_swh_bad_ports } from "ext:core/ops";
import { brandCheckAccessor } from "ext:swharness/engine/02_idl.js";
import { describeRequest } from "ext:swharness/net/03_network.js";
import {
  btoaBytes,
  DOMException,
  hostCall,
  hostCallUnref,
  onBrowserCommand,
  QuotaExceededError,
} from "ext:swharness/ipc/01_host.js";
import {
  ExtendableEvent,
  extendLifetime,
  isActive,
} from "ext:swharness/service_worker/10_extendable_events.js";
import {
  extendRegistration,
  ServiceWorkerRegistration,
} from "ext:swharness/service_worker/11_service_worker.js";
import { responseFromStored } from "ext:swharness/storage/13_cache_storage.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const { Request } = core.loadExtScript("ext:deno_fetch/23_request.js");
const { setTimeout } = core.loadExtScript("ext:deno_web/02_timers.js");
const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { Event, EventTarget, defineEventHandler, setIsTrusted } = eventMod;

const illegal = Symbol("illegal");
let inServiceWorker = false;
let chromium = false;

// Fetch's "bad port" list (Chromium refuses the same), from the browser
// side, which checks redirects against it; read on first use.
let badPorts = null;
function isBadPort(port) {
  badPorts ??= new Set(op_swh_bad_ports());
  return badPorts.has(port);
}

/** The checks Chromium's renderer makes before a request is accepted. */
// (Not in the spec, which leaves these to Fetch: a network error later.)
function checkRequestUrl(request) {
  const url = new URL(request.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Failed to execute 'fetch' on 'BackgroundFetchManager': the URL scheme of '${request.url}' is not http or https.`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(
      "Failed to execute 'fetch' on 'BackgroundFetchManager': URLs with credentials are not allowed.",
    );
  }
  const port = url.port === "" ? null : Number(url.port);
  if (port !== null && isBadPort(port)) {
    throw new TypeError(
      `Failed to execute 'fetch' on 'BackgroundFetchManager': port ${port} is blocked.`,
    );
  }
  // Dangling markup: a URL whose raw form had a newline and a '<'.
  if (request._rawUrl && /[\n\r\t]/.test(request._rawUrl) && request._rawUrl.includes("<")) {
    throw new TypeError(
      "Failed to execute 'fetch' on 'BackgroundFetchManager': the URL contains dangling markup.",
    );
  }
}

function toRequest(r) {
  if (r instanceof Request) return r;
  const raw = String(r);
  const req = new Request(raw);
  Object.defineProperty(req, "_rawUrl", { value: raw });
  return req;
}

function headerList(h) {
  const out = [];
  for (const [k, v] of h) out.push([k, v]);
  return out;
}

// Fetch's forbidden request-header names: a browser's Request drops them
// (the engine's Request keeps them), so a page cannot set them on a
// download. https://fetch.spec.whatwg.org/#forbidden-request-header
const FORBIDDEN_HEADERS = new Set([
  "accept-charset", "accept-encoding", "access-control-request-headers",
  "access-control-request-method", "connection", "content-length", "cookie",
  "cookie2", "date", "dnt", "expect", "host", "keep-alive", "origin",
  "referer", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade",
  "via",
]);
const METHOD_OVERRIDES = new Set([
  "x-http-method", "x-http-method-override", "x-method-override",
]);

function isForbiddenHeader(name, value) {
  if (FORBIDDEN_HEADERS.has(name)) return true;
  if (name.startsWith("proxy-") || name.startsWith("sec-")) return true;
  return METHOD_OVERRIDES.has(name) &&
    value.split(",").some((m) => ["CONNECT", "TRACE", "TRACK"].includes(m.trim().toUpperCase()));
}

/** The headers a browser's Request would have: the forbidden ones dropped. */
function requestHeaderList(h) {
  return headerList(h).filter(([k, v]) => !isForbiddenHeader(k, v));
}

// One registration object per fetch (by uid) in this realm.
// "BackgroundFetchRegistration instances", per realm rather than per manager.
// While its records are available the object is kept live (its listeners
// still get progress, as Chromium keeps it); afterwards only while the page
// holds it (a WeakRef), so that a realm making many fetches does not grow.
const registrations = new Map();
const retired = new Map();
const forgetRetired = new FinalizationRegistry((uid) => {
  if (retired.get(uid)?.deref() === undefined) retired.delete(uid);
});

function instanceOf(uid) {
  return registrations.get(uid) ?? retired.get(uid)?.deref();
}

// A fetch whose records are no longer available gets no later update.
function retireIfDone(state, r) {
  if (state.recordsAvailable !== false) return;
  registrations.delete(state.uid);
  newestStates.delete(state.uid);
  if (r && !retired.has(state.uid)) {
    retired.set(state.uid, new WeakRef(r));
    forgetRetired.register(r, state.uid);
  }
}


export class BackgroundFetchRegistration extends EventTarget {
  #state;
  // Defaults keep the interface object's length 0, as WebIDL has it.
  constructor(key = undefined, state = undefined) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this.#state = state;
  }
  get id() {
    return this.#state.id;
  }
  get uploadTotal() {
    return this.#state.uploadTotal;
  }
  get uploaded() {
    return this.#state.uploaded;
  }
  get downloadTotal() {
    return this.#state.downloadTotal;
  }
  get downloaded() {
    return this.#state.downloaded;
  }
  get result() {
    return this.#state.result;
  }
  get failureReason() {
    return this.#state.failureReason;
  }
  get recordsAvailable() {
    return this.#state.recordsAvailable;
  }
  // abort(): its steps run on the browser side (service.rs).
  async abort() {
    return await hostCall("backgroundFetch.abort", { uid: this.#state.uid });
  }
  async match(request, options = {}) {
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to execute 'match' on 'BackgroundFetchRegistration': 1 argument required, but only 0 present.",
      );
    }
    // match(request, options), steps 1-2: matchAll(), then its first match.
    const records = await this.#records(request, options);
    return records[0];
  }
  async matchAll(request = undefined, options = {}) {
    return await this.#records(request, options);
  }
  async #records(request, options) {
    // matchAll(request, options), step 1: no records available is an
    // InvalidStateError.
    if (!this.#state.recordsAvailable) {
      throw new DOMException(
        "The records associated with this background fetch are no longer available.",
        "InvalidStateError",
      );
    }
    const q = request === undefined ? null : toRequest(request);
    // Step 3.2: the records that "request matches cached item" (browser side).
    const list = await hostCall("backgroundFetch.records", {
      uid: this.#state.uid,
      url: q ? q.url : null,
      method: q ? q.method : null,
      headers: q ? requestHeaderList(q.headers) : [],
      ignoreSearch: !!options?.ignoreSearch,
      ignoreMethod: !!options?.ignoreMethod,
      ignoreVary: !!options?.ignoreVary,
    });
    // Step 3.3: "create record objects".
    return list.map((r) => new BackgroundFetchRecord(illegal, this.#state.uid, r));
  }
  // "Update background fetch instances", steps 6.3-6.10: the records available
  // flag only ever goes off (6.3); without a change in downloaded, uploaded,
  // result or failure reason nothing happens (6.5); else the copies are set
  // (6.6-6.9) and `progress` fires (6.10). Step 6.4 is not applied: a fetch
  // whose result is set still reports progress while its records settle.
  _update(state) {
    const s = this.#state;
    const changed = s.uploaded !== state.uploaded ||
      s.downloaded !== state.downloaded || s.result !== state.result ||
      s.failureReason !== state.failureReason;
    this.#state = { ...state, recordsAvailable: s.recordsAvailable && state.recordsAvailable };
    if (changed) {
      const ev = new Event("progress");
      setIsTrusted(ev, true);
      this.dispatchEvent(ev);
    }
  }
  // "Perform a background fetch", step 8.13.2: unset the records available flag.
  _recordsUnavailable() {
    this.#state = { ...this.#state, recordsAvailable: false };
  }
  static _is(o) {
    return o !== null && typeof o === "object" && #state in o;
  }
}
defineEventHandler(BackgroundFetchRegistration.prototype, "progress");
brandCheckAccessor(
  BackgroundFetchRegistration.prototype,
  "onprogress",
  BackgroundFetchRegistration._is,
);
webidl.configureInterface(BackgroundFetchRegistration);

// The newest state seen per fetch (by sequence number), also for fetches
// this realm has no object for yet.
const newestStates = new Map();

function newest(state) {
  const seen = newestStates.get(state.uid);
  if (seen && (seen.seq ?? 0) >= (state.seq ?? 0)) return seen;
  newestStates.set(state.uid, state);
  return state;
}

// "Get a BackgroundFetchRegistration instance", steps 2-5: the instance for
// this fetch, created once.
function getRegistration(state) {
  if (!state) return undefined;
  state = newest(state);
  let r = instanceOf(state.uid);
  if (!r) {
    r = new BackgroundFetchRegistration(illegal, state);
    registrations.set(state.uid, r);
  } else {
    r._update(state);
  }
  retireIfDone(state, r);
  return r;
}

// "Update background fetch instances", step 6: a task in each environment;
// 6.1-6.2: only a realm with an instance for the fetch updates it.
onBrowserCommand("bgfetchUpdate", ({ state }) => {
  state = newest(state);
  const r = instanceOf(state.uid);
  if (r) r._update(state);
  retireIfDone(state, r);
});

export class BackgroundFetchRecord {
  #request;
  #responseReady;
  constructor(key = undefined, uid = undefined, record = undefined) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    // "Create record objects", steps 2.2-2.5: the record and its request.
    const req = record.request;
    this.#request = new Request(req.url, {
      method: req.method,
      headers: req.headers,
    });
    // Step 2.8: responseReady, with the body streamed from the stored bytes
    // (2.7); an aborted record rejects with an AbortError (2.8.3).
    this.#responseReady = record.response && record.response.complete
      ? Promise.resolve(responseFromStored(record.response))
      // A record paused offline may wait indefinitely: its promise keeps
      // nothing alive, as any pending promise in a browser.
      : hostCallUnref("backgroundFetch.recordResponse", { uid, index: record.index }).then(
        (meta) => {
          if (!meta) {
            throw new DOMException(
              "The background fetch was aborted before the response arrived.",
              "AbortError",
            );
          }
          return responseFromStored(meta);
        },
      );
    // An unobserved rejection is not an error of the page.
    this.#responseReady.catch(() => {});
  }
  get request() {
    return this.#request;
  }
  get responseReady() {
    // A promise-typed attribute rejects rather than throws (WebIDL).
    if (this === null || typeof this !== "object" || !(#responseReady in this)) {
      return Promise.reject(new TypeError("Illegal invocation"));
    }
    return this.#responseReady;
  }
}
webidl.configureInterface(BackgroundFetchRecord);

export class BackgroundFetchManager {
  #scope;
  #registration;
  constructor(key = undefined, scope = undefined, registration = undefined) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#scope = scope;
    this.#registration = registration;
  }
  async fetch(id, requests, options = {}) {
    if (arguments.length < 2) {
      throw new TypeError(
        `Failed to execute 'fetch' on 'BackgroundFetchManager': 2 arguments required, but only ${arguments.length} present.`,
      );
    }
    id = String(id);
    if (options !== undefined && options !== null && typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    // fetch(id, requests, options), step 4: one RequestInfo becomes a list;
    // step 6.1: each goes through the Request constructor.
    const list = (typeof requests === "object" && requests !== null &&
        !(requests instanceof Request) && typeof requests[Symbol.iterator] === "function")
      ? [...requests].map(toRequest)
      : [toRequest(requests)];
    // Step 5: no requests is a TypeError.
    if (list.length === 0) {
      throw new TypeError(
        "Failed to execute 'fetch' on 'BackgroundFetchManager': At least one request must be given.",
      );
    }
    for (const r of list) {
      // Step 6.2: a "no-cors" request is a TypeError.
      if (r.mode === "no-cors") {
        throw new TypeError(
          "Failed to execute 'fetch' on 'BackgroundFetchManager': Requests with mode 'no-cors' are not allowed.",
        );
      }
      checkRequestUrl(r);
    }
    // Chromium refuses two requests for the same URL (the spec allows it).
    if (chromium && new Set(list.map((r) => r.url)).size !== list.length) {
      throw new TypeError(
        "Failed to execute 'fetch' on 'BackgroundFetchManager': Duplicate requests are not allowed.",
      );
    }
    // Chromium only: not from a service worker (the spec allows it).
    if (inServiceWorker && chromium) {
      throw new DOMException(
        "background fetch is not allowed in service worker environments",
        "NotAllowedError",
      );
    }
    // WebIDL `unsigned long long` (no [EnforceRange]): -1 wraps to 2^64-1,
    // which then exceeds any quota, as in Chromium.
    // Step 8.12: downloadTotal, icons and title of the new background fetch.
    const downloadTotal = webidl.converters["unsigned long long"](
      options?.downloadTotal ?? 0,
      "Failed to execute 'fetch' on 'BackgroundFetchManager'",
      "downloadTotal",
    );
    const icons = [...(options?.icons ?? [])].map((i) => ({
      src: String(i?.src ?? ""),
      sizes: i?.sizes === undefined ? "" : String(i.sizes),
      type: i?.type === undefined ? "" : String(i.type),
      label: i?.label === undefined ? "" : String(i.label),
    }));
    const specs = [];
    for (const r of list) {
      // Step 8.8: the request bodies are read (and counted) before it resolves.
      const body = r.body ? btoaBytes(new Uint8Array(await r.arrayBuffer())) : "";
      specs.push(describeRequest(r, requestHeaderList(r.headers), body));
    }
    let state;
    try {
      // Step 8: the browser runs the edit queue's steps (see calls.rs).
      state = await hostCall("backgroundFetch.fetch", {
        scope: this.#scope,
        id,
        requests: specs,
        title: options?.title === undefined ? "" : String(options.title),
        icons,
        downloadTotal,
        active: this.#registration?.active !== null,
      });
    } catch (e) {
      // Step 8.9: a QuotaExceededError.
      if (e instanceof DOMException && e.name === "QuotaExceededError") {
        throw new QuotaExceededError(e.message);
      }
      throw e;
    }
    // The downloads begin once the task this resolves in has run (a task
    // after it): what the caller asks meanwhile, such as get(id), sees the
    // fetch active however fast its downloads are.
    setTimeout(() => hostCall("backgroundFetch.begin", { uid: state.uid }).catch(() => {}), 0);
    // Step 8.14: resolve with "get a BackgroundFetchRegistration instance".
    return getRegistration(state);
  }
  async get(id) {
    if (arguments.length < 1) {
      throw new TypeError(
        "Failed to execute 'get' on 'BackgroundFetchManager': 1 argument required, but only 0 present.",
      );
    }
    id = String(id);
    // As Chromium: an empty id is a TypeError (not in the spec).
    if (id === "") {
      throw new TypeError(
        "Failed to execute 'get' on 'BackgroundFetchManager': The provided id is empty.",
      );
    }
    // get(id), steps 2-4 (undefined when there is no such fetch, step 3).
    const state = await hostCall("backgroundFetch.get", { scope: this.#scope, id });
    return state ? getRegistration(state) : undefined;
  }
  async getIds() {
    // getIds(), step 2: a FrozenArray<DOMString>.
    const ids = await hostCall("backgroundFetch.getIds", { scope: this.#scope });
    return Object.freeze(ids);
  }
}
webidl.configureInterface(BackgroundFetchManager);

const kRegistration = Symbol("registration");

export class BackgroundFetchEvent extends ExtendableEvent {
  constructor(type, init) {
    if (arguments.length < 2) {
      throw new TypeError(
        `Failed to construct 'BackgroundFetchEvent': 2 arguments required, but only ${arguments.length} present.`,
      );
    }
    // BackgroundFetchEventInit: `registration` is required.
    if (!(init?.registration instanceof BackgroundFetchRegistration)) {
      throw new TypeError(
        "Failed to construct 'BackgroundFetchEvent': required member registration is undefined or not a BackgroundFetchRegistration.",
      );
    }
    super(type, init);
    this[kRegistration] = init.registration;
  }
  get registration() {
    if (this === null || typeof this !== "object" || !(kRegistration in this)) {
      throw new TypeError("Illegal invocation");
    }
    return this[kRegistration];
  }
}
webidl.configureInterface(BackgroundFetchEvent);

const kUpdated = Symbol("updateUICalled");

export class BackgroundFetchUpdateUIEvent extends BackgroundFetchEvent {
  constructor(type, init) {
    super(type, init);
    this[kUpdated] = false;
  }
  updateUI(options = undefined) {
    if (this === null || typeof this !== "object" || !(kUpdated in this)) {
      return Promise.reject(new TypeError("Illegal invocation"));
    }
    // updateUI(options), step 1: untrusted, no longer active, or already
    // called is an InvalidStateError (here a rejection).
    if (!this.isTrusted || !isActive(this) || this[kUpdated]) {
      return Promise.reject(
        new DOMException(
          "updateUI may only be called once, while the event is active.",
          "InvalidStateError",
        ),
      );
    }
    // Step 2: set the UI updated flag.
    this[kUpdated] = true;
    // Steps 4-6 in the browser (3: no options changes nothing); step 7 resolves.
    const p = hostCall("backgroundFetch.updateUI", {
      uid: this.registration._uid,
      title: options?.title === undefined ? null : String(options.title),
      icons: options?.icons === undefined ? null : [...options.icons].map((i) => ({
        src: String(i?.src ?? ""),
        sizes: String(i?.sizes ?? ""),
        type: String(i?.type ?? ""),
      })),
    });
    // Not in the spec: the event stays active until the UI is updated.
    extendLifetime(this, p.catch(() => {}), "updateUI");
    return p.then(() => undefined);
  }
}
webidl.configureInterface(BackgroundFetchUpdateUIEvent);

Object.defineProperty(BackgroundFetchRegistration.prototype, "_uid", {
  get() {
    return registrationUid.get(this);
  },
});
const registrationUid = new WeakMap();

/** The event the browser asked for, or null if `type` is not ours. */
// "Perform a background fetch", steps 8.10-8.12, and "fire a background fetch
// click event": BackgroundFetchUpdateUIEvent for success and fail,
// BackgroundFetchEvent for abort and click.
export function backgroundFetchEventFor(type, init) {
  const uid = init?.registration?.uid;
  if (!uid) return null;
  const registration = getRegistration(init.registration);
  registrationUid.set(registration, uid);
  switch (type) {
    case "backgroundfetchsuccess":
    case "backgroundfetchfail":
      return new BackgroundFetchUpdateUIEvent(type, { registration });
    case "backgroundfetchabort":
    case "backgroundfetchclick":
      return new BackgroundFetchEvent(type, { registration });
    default:
      return null;
  }
}

/** After the final event's lifetime ends, its records are gone. */
// "Perform a background fetch", steps 8.13.1-8.13.2 (not for a click).
export function finishBackgroundFetchEvent(ev) {
  if (ev instanceof BackgroundFetchEvent && ev.type !== "backgroundfetchclick") {
    ev.registration._recordsUnavailable();
  }
}

const managers = new WeakMap();
// Each ServiceWorkerRegistration's "background fetch manager".
extendRegistration((reg, scope) => {
  managers.set(reg, new BackgroundFetchManager(illegal, scope, reg));
});

export function installBackgroundFetch(options) {
  inServiceWorker = options.serviceWorker;
  chromium = !!options.chromium;
  Object.defineProperty(ServiceWorkerRegistration.prototype, "backgroundFetch", {
    get() {
      return managers.get(this);
    },
    enumerable: true,
    configurable: true,
  });
  brandCheckAccessor(
    ServiceWorkerRegistration.prototype,
    "backgroundFetch",
    (o) => managers.has(o),
  );
  const value = (v) => ({ value: v, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(globalThis, "QuotaExceededError", value(QuotaExceededError));
  // A service worker is always a secure context.
  if (!inServiceWorker && !options.secureContext) return;
  Object.defineProperties(globalThis, {
    BackgroundFetchManager: value(BackgroundFetchManager),
    BackgroundFetchRegistration: value(BackgroundFetchRegistration),
    BackgroundFetchRecord: value(BackgroundFetchRecord),
  });
  if (inServiceWorker) {
    Object.defineProperties(globalThis, {
      BackgroundFetchEvent: value(BackgroundFetchEvent),
      BackgroundFetchUpdateUIEvent: value(BackgroundFetchUpdateUIEvent),
    });
  }
}
