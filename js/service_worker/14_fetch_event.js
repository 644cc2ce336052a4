// Fetch interception (Service Workers spec, "Handle Fetch" and FetchEvent,
// section 4.6). In a service worker: the FetchEvent interface and the
// browser's `fetchEvent` command, which fires it and answers with the
// response that respondWith() gave (its body streamed in chunks the client
// pulls), "no response", or a network error. In a window: fetch() of a
// controlled client, which asks the browser first.
import { core } from "ext:core/mod.js";
import { op_swh_console } from "ext:core/ops";
import {
  atobBytes,
  btoaBytes,
  DOMException,
  hostCall,
  onBrowserCommand,
} from "ext:swharness/ipc/01_host.js";
import {
  dispatchTrusted,
  ExtendableEvent,
  extendLifetime,
  isDispatching,
} from "ext:swharness/service_worker/10_extendable_events.js";
import { describeRequest, isSameOriginHref } from "ext:swharness/net/03_network.js";
import { opaqueResponse } from "ext:swharness/net/04_cors.js";
import { responseFromStored } from "ext:swharness/storage/13_cache_storage.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const requestMod = core.loadExtScript("ext:deno_fetch/23_request.js");
const responseMod = core.loadExtScript("ext:deno_fetch/23_response.js");
const bodyMod = core.loadExtScript("ext:deno_fetch/22_body.js");
const { ReadableStreamPrototype } = core.loadExtScript("ext:deno_web/06_streams.js");
const { Request } = requestMod;
const { Response } = responseMod;

// A response body crosses to the client in chunks of at most this size.
const CHUNK = 1 << 20;

// Request.destination (Fetch): deno_fetch's Request has none. Requests a
// script makes have the empty destination; a fetch event's request carries
// the one the client's request had.
const kDestination = Symbol("destination");
const kReload = Symbol("reloadNavigation");
const kHistory = Symbol("historyNavigation");
if (!Object.getOwnPropertyDescriptor(Request.prototype, "destination")) {
  Object.defineProperty(Request.prototype, "destination", {
    get() {
      webidl.assertBranded(this, requestMod.RequestPrototype);
      return this[kDestination] ?? "";
    },
    enumerable: true,
    configurable: true,
  });
}

// Request.isReloadNavigation and isHistoryNavigation (Fetch): deno_fetch's
// Request has neither. A frame's reload (location.reload(), history.go(0))
// is a reload navigation, and its history.go(delta) a history navigation.
for (const [name, key] of [["isReloadNavigation", kReload], ["isHistoryNavigation", kHistory]]) {
  if (!Object.getOwnPropertyDescriptor(Request.prototype, name)) {
    Object.defineProperty(Request.prototype, name, {
      get() {
        webidl.assertBranded(this, requestMod.RequestPrototype);
        return this[key] === true;
      },
      enumerable: true,
      configurable: true,
    });
  }
}

const kFetch = Symbol("fetchEventState");

export class FetchEvent extends ExtendableEvent {
  #request;
  #preloadResponse;
  #clientId;
  #resultingClientId;
  #replacesClientId;
  #handled;
  constructor(type, eventInitDict) {
    const prefix = "Failed to construct 'FetchEvent'";
    webidl.requiredArguments(arguments.length, 2, prefix);
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    if (!(init.request instanceof Request)) {
      throw new TypeError(
        `${prefix}: required member request is undefined or not a Request.`,
      );
    }
    this.#request = init.request;
    this.#preloadResponse = init.preloadResponse ?? Promise.resolve(undefined);
    this.#clientId = String(init.clientId ?? "");
    this.#resultingClientId = String(init.resultingClientId ?? "");
    this.#replacesClientId = String(init.replacesClientId ?? "");
    this.#handled = init.handled ?? Promise.resolve(undefined);
    this[kFetch] = { entered: false, response: null };
  }
  get request() {
    return this.#request;
  }
  get preloadResponse() {
    return this.#preloadResponse;
  }
  get clientId() {
    return this.#clientId;
  }
  get resultingClientId() {
    return this.#resultingClientId;
  }
  get replacesClientId() {
    return this.#replacesClientId;
  }
  get handled() {
    return this.#handled;
  }

  // Service Workers, respondWith(r).
  respondWith(r) {
    if (!(this instanceof FetchEvent)) throw new TypeError("Illegal invocation");
    webidl.requiredArguments(
      arguments.length,
      1,
      "Failed to execute 'respondWith' on 'FetchEvent'",
    );
    const state = this[kFetch];
    // Step 2: only while the event is being dispatched.
    if (!isDispatching(this)) {
      throw new DOMException(
        "Failed to execute 'respondWith' on 'FetchEvent': The event handler is already finished.",
        "InvalidStateError",
      );
    }
    // Step 3: once.
    if (state.entered) {
      throw new DOMException(
        "Failed to execute 'respondWith' on 'FetchEvent': The event has already been responded to.",
        "InvalidStateError",
      );
    }
    const p = Promise.resolve(r);
    // Step 4: add lifetime promise r.
    extendLifetime(this, p, "respondWith");
    // Step 5: stop propagation and immediate propagation.
    this.stopImmediatePropagation();
    // Steps 6-7: the respond-with entered and wait to respond flags.
    state.entered = true;
    state.response = p;
  }
}
webidl.configureInterface(FetchEvent);

// The worker's copy of the client's request, made the way deno_fetch makes
// a server's incoming requests: an inner request with the client's values
// (already checked by the client's Request constructor), wrapped with the
// "immutable" headers guard (Handle Fetch, step 24.3.2). The constructor's
// WebIDL conversion of a RequestInit cost 44 us of the worker's 117 here.
function requestFrom(d) {
  const body = d.body === null || d.body === undefined
    ? null
    : bodyMod.extractBody(atobBytes(d.body)).body;
  const inner = requestMod.newInnerRequest(d.method, d.url, () => d.headers, body, false);
  inner.mode = d.mode;
  inner.credentialsMode = d.credentials;
  inner.cacheMode = d.cache;
  inner.redirectMode = d.redirect;
  inner.referrer = innerReferrer(d.referrer);
  inner.referrerPolicy = d.referrerPolicy;
  inner.integrity = d.integrity;
  inner.keepalive = d.keepalive;
  const request = requestMod.fromInnerRequest(inner, "immutable");
  request[kDestination] = d.destination ?? "";
  if (d.reloadNavigation === true) request[kReload] = true;
  if (d.historyNavigation === true) request[kHistory] = true;
  return request;
}

// A request's referrer as its `referrer` getter gave it, back to the inner
// value (Fetch, the Request constructor, step 15): "" is no referrer,
// "about:client" and a URL of another origin than the worker's are
// "client".
function innerReferrer(referrer) {
  if (referrer === "") return "no-referrer";
  if (referrer === "about:client" || typeof referrer !== "string") return "client";
  // The browser gives a serialized URL.
  return isSameOriginHref(referrer) ? referrer : "client";
}

// A body the worker streams to a client, by id.
const bodyStreams = new Map();
let lastStream = 0;

// Reads the next chunk (at most CHUNK bytes) of a stream's body.
async function nextChunk(entry) {
  if (!entry.pending) {
    const { value, done } = await entry.reader.read();
    if (done) return null;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError("The response body stream gave a chunk that is not a Uint8Array.");
    }
    entry.pending = value;
  }
  const chunk = entry.pending.subarray(0, CHUNK);
  entry.pending = entry.pending.byteLength > CHUNK ? entry.pending.subarray(CHUNK) : null;
  return chunk;
}

function networkError(url, why) {
  op_swh_console(
    3,
    `The FetchEvent for "${url}" resulted in a network error response: ${why}`,
  );
  return { outcome: "error", message: why };
}

// `event.preloadResponse`: the navigation preload's response, a TypeError
// if it failed, or undefined without navigation preload.
function preloadResponseOf(preload) {
  if (!preload) return Promise.resolve(undefined);
  if (preload.error !== undefined) {
    const p = Promise.reject(new TypeError(preload.error));
    p.catch(() => {});
    return p;
  }
  const nullBody = [101, 103, 204, 205, 304].includes(preload.status);
  return Promise.resolve(
    new Response(nullBody ? null : atobBytes(preload.body), {
      status: preload.status,
      statusText: preload.statusText,
      headers: preload.headers,
    }),
  );
}

// Handle Fetch, steps 21-24, in the worker: fire the event, then answer
// with what respondWith() was given.
async function onFetchEvent(init) {
  const request = requestFrom(init.request);
  let settleHandled;
  const handled = new Promise((resolve, reject) => {
    settleHandled = (ok) => ok ? resolve() : reject(
      new DOMException("The fetch was not handled.", "NetworkError"),
    );
  });
  handled.catch(() => {});
  // Handle Fetch, step 24.3.2: a cancelable event.
  const ev = new FetchEvent("fetch", {
    cancelable: true,
    preloadResponse: preloadResponseOf(init.preload),
    request,
    clientId: init.clientId,
    resultingClientId: init.resultingClientId,
    replacesClientId: init.replacesClientId,
    handled,
  });
  dispatchTrusted(globalThis, ev);
  const state = ev[kFetch];
  if (!state.entered) {
    // preventDefault() without respondWith() is a network error.
    if (ev.defaultPrevented) {
      settleHandled(false);
      return networkError(request.url, "the event was canceled.");
    }
    settleHandled(true);
    return { outcome: "fallback" };
  }
  let response;
  try {
    response = await state.response;
  } catch (e) {
    settleHandled(false);
    return networkError(request.url, `the promise was rejected${e?.message ? ` (${e.message})` : ""}.`);
  }
  const why = unusable(response, request);
  if (why) {
    settleHandled(false);
    return networkError(request.url, why);
  }
  const inner = responseMod.getInnerResponse(response);
  const described = {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    type: response.type,
    urlList: [...(inner?.urlList ?? [])].map(String),
  };
  let body = staticBody(inner?.body);
  // The body's size when it is known without reading it: a buffer's
  // length, or at most three bytes per UTF-16 unit of a string (deno_fetch
  // leaves a string body's length unset until it is encoded).
  const source = inner?.body?.source;
  const known = typeof source === "string" ? source.length * 3 : inner?.body?.length;
  // `inner.body`, not `response.body`: reading the latter turns a static
  // body into a stream, which is then read chunk by chunk.
  if (body !== null) {
    // Taken whole already.
  } else if (inner?.body && typeof known === "number" && known <= CHUNK) {
    // A body of known, small size (a string, a buffer) goes whole with
    // the answer: no round trip for its end.
    body = { chunk: btoaBytes(new Uint8Array(await response.arrayBuffer())), done: true };
  } else if (response.body !== null) {
    const entry = { reader: response.body.getReader(), pending: null };
    const first = await nextChunk(entry).catch(() => null);
    if (first === null) {
      body = { chunk: "", done: true };
    } else {
      const stream = ++lastStream;
      bodyStreams.set(stream, entry);
      body = { chunk: btoaBytes(first), done: false, stream };
    }
  }
  settleHandled(true);
  return { outcome: "response", response: described, body };
}

// A small body that is still its source (a string or bytes, not yet a
// stream), taken whole as reading it would (the body is then used), without
// the promise ticks of arrayBuffer(): `{chunk, done}`, or null.
function staticBody(b) {
  const s = b?.streamOrStatic;
  if (!s || Object.prototype.isPrototypeOf.call(ReadableStreamPrototype, s) || s.consumed) {
    return null;
  }
  if (typeof s.body !== "string" && !(s.body instanceof Uint8Array)) return null;
  const bytes = typeof s.body === "string" ? core.encode(s.body) : s.body;
  if (bytes.byteLength > CHUNK) return null;
  s.consumed = true;
  return { chunk: btoaBytes(bytes), done: true };
}

// Why the response respondWith() gave cannot be used (Handle Fetch and
// Fetch's main fetch), or null.
function unusable(response, request) {
  if (!(response instanceof Response)) {
    return "an object that was not a Response was passed to respondWith().";
  }
  if (response.type === "error") {
    return 'a Response whose "type" is "error" was passed to respondWith().';
  }
  // InnerBody.unusable(): disturbed or locked, without making a static body
  // a stream the way `response.body` would.
  if (responseMod.getInnerResponse(response)?.body?.unusable()) {
    return "a Response whose body stream is already disturbed or locked was passed to respondWith().";
  }
  if (response.type === "opaque" && request.mode !== "no-cors") {
    return `an "opaque" response was used for a request whose type is not no-cors.`;
  }
  if (response.type === "opaqueredirect" && request.redirect !== "manual") {
    return `an "opaqueredirect" type response was used for a request whose redirect mode is not "manual".`;
  }
  if (request.redirect !== "follow" && response.redirected) {
    return `a redirected response was used for a request whose redirect mode is not "follow".`;
  }
  return null;
}

/** Installs the worker's side: the browser fires fetch events through it. */
export function installFetchEvents() {
  onBrowserCommand("fetchEvent", onFetchEvent);
  onBrowserCommand("fetchBodyRead", async ({ stream }) => {
    const entry = bodyStreams.get(stream);
    if (!entry) throw new TypeError("The response body is gone.");
    let chunk;
    try {
      chunk = await nextChunk(entry);
    } catch (e) {
      bodyStreams.delete(stream);
      throw e;
    }
    if (chunk === null) {
      bodyStreams.delete(stream);
      return { chunk: "", done: true };
    }
    return { chunk: btoaBytes(chunk), done: false };
  });
  onBrowserCommand("fetchBodyCancel", ({ stream }) => {
    const entry = bodyStreams.get(stream);
    bodyStreams.delete(stream);
    entry?.reader.cancel().catch(() => {});
  });
}

// The client's side: the body the worker streams, pulled chunk by chunk.
function bodyFrom(b) {
  if (b === null) return null;
  // Whole already: a plain body, no stream to pull.
  if (b.done) return atobBytes(b.chunk);
  let first = b.chunk ? atobBytes(b.chunk) : null;
  let done = b.done;
  const id = b.stream;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      if (first) {
        const chunk = first;
        first = null;
        controller.enqueue(chunk);
        if (done) controller.close();
        return;
      }
      if (done) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const r = await hostCall("serviceWorker.fetchBodyRead", { stream: id });
      if (r.done) {
        done = true;
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(atobBytes(r.chunk));
    },
    cancel() {
      if (!done) {
        done = true;
        cancelWorkerBody(id);
      }
    },
  });
}

/** Tells the worker its streamed response body is no longer wanted. */
function cancelWorkerBody(stream) {
  hostCall("serviceWorker.fetchBodyCancel", { stream }).catch(() => {});
}

// The response the client gets: the worker's, filtered as the request's
// response tainting says (Fetch, main fetch, step 14) when the worker made
// it itself (type "default"), with the request's URL when it has none.
function responseFrom({ response: d, body }, request) {
  let type = d.type;
  if (type === "default") {
    const sameOrigin = isSameOriginHref(request.url);
    type = sameOrigin ? "basic" : request.mode === "no-cors" ? "opaque" : "cors";
  }
  if (type === "opaque" || type === "opaqueredirect") {
    if (body?.stream !== undefined) cancelWorkerBody(body.stream);
    return opaqueResponse(type, []);
  }
  // Made as deno_fetch makes a response from the network: the inner
  // response first (the constructor's WebIDL conversions cost 20 us).
  const inner = responseMod.newInnerResponse(d.status, d.statusText);
  const content = bodyFrom(body);
  if (content !== null) inner.body = bodyMod.extractBody(content).body;
  inner.type = type;
  inner.headerList = d.headers.map(([k, v]) => [k, v]);
  inner.urlList = d.urlList.length ? d.urlList : [request.url];
  const response = responseMod.fromInnerResponse(inner, "immutable");
  answered.add(response);
  return response;
}

// The responses a service worker gave (respondWith), not the network.
const answered = new WeakSet();

/** Whether a service worker's respondWith() gave `response`. */
export function fromServiceWorker(response) {
  return answered.has(response);
}

/**
 * A race-network-and-fetch-handler route: the network request and the
 * fetch event start together and the first response wins. The loser is
 * dropped: the network request is aborted, or the worker's streamed body
 * cancelled. When the first to settle has no response (a network error,
 * or a worker that did not call respondWith), the other one decides.
 */
async function raceNetwork(inner, forNetwork, described, request) {
  const abort = new AbortController();
  request.signal.addEventListener("abort", () => abort.abort(request.signal.reason), { once: true });
  const net = inner(new Request(forNetwork, { signal: abort.signal })).then(
    (response) => ({ response }),
    (error) => ({ error }),
  );
  const worker = hostCall("serviceWorker.handleFetch", { request: described, race: true }).then(
    (reply) => (reply.outcome === "response" ? { reply } : { error: new TypeError("Failed to fetch") }),
    (error) => ({ error }),
  );
  const first = await Promise.race([net.then((r) => ({ ...r, network: true })), worker]);
  if (first.network && first.response) {
    worker.then(({ reply }) => {
      if (reply?.body?.stream !== undefined) cancelWorkerBody(reply.body.stream);
    });
    return first.response;
  }
  if (!first.network && first.reply) {
    abort.abort();
    return responseFrom(first.reply, request);
  }
  const second = first.network ? await worker : await net;
  if (second.response) return second.response;
  if (second.reply) return responseFrom(second.reply, request);
  throw first.error ?? second.error;
}

/**
 * fetch() of a window: when the window has a controller, the request goes
 * to it first ("Handle Fetch"); with no response it goes to the network
 * (`inner`), as it does for an uncontrolled window.
 */
export function controlledFetch(inner, isControlled) {
  return function fetch(input, init = undefined) {
    if (!isControlled()) return inner.call(this, input, init);
    let request;
    try {
      request = new Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    // A serialized URL: its scheme is lower case, before the first colon.
    const url = request.url;
    if (!url.startsWith("http:") && !url.startsWith("https:")) return inner.call(this, request);
    return (async () => {
      if (request.signal.aborted) throw request.signal.reason;
      // The network gets the same request, body included, if the worker
      // does not answer.
      // A request without a body is not consumed here: it is its own copy.
      const forNetwork = request.body === null ? request : request.clone();
      const body = request.body === null
        ? null
        : btoaBytes(new Uint8Array(await request.arrayBuffer()));
      const described = describeRequest(request, [...request.headers], body);
      const reply = await hostCall("serviceWorker.handleFetch", { request: described });
      if (reply.outcome === "fallback") return inner.call(this, forNetwork);
      if (reply.outcome === "race") return raceNetwork(inner, forNetwork, described, request);
      // A static route to Cache Storage answered.
      if (reply.outcome === "cached") return responseFromStored(reply.meta);
      if (reply.outcome !== "response") throw new TypeError("Failed to fetch");
      return responseFrom(reply, request);
    })();
  };
}
