// Fetch's CORS protocol and response tainting for a realm's own fetch()
// to the network (deno_fetch has no origin: it sends what it is given and
// returns every response whole). Main fetch, HTTP fetch and HTTP-redirect
// fetch, for requests whose URL is http(s):
// - a cross-origin request in "cors" mode carries `Origin`, is preflighted
//   when it is not simple, and its response (and each redirect) must pass
//   the CORS check, or fetch() rejects with a TypeError;
// - "no-cors" gives an opaque response, "same-origin" rejects;
// - redirects are followed here (deno_fetch is asked for "manual"), so each
//   hop is checked, the method changes as Fetch says, and a redirect across
//   two other origins sends `Origin: null`;
// - the response is filtered by its tainting: basic, cors (only
//   CORS-safelisted and exposed headers) or opaque; `redirect: "manual"`
//   gives an opaque-redirect response.
// The checks themselves are `net::cors` in Rust (the ones Background Fetch
// downloads use), reached through ops.
// https://fetch.spec.whatwg.org/#main-fetch
import { core } from "ext:core/mod.js";
import {
  op_swh_cookie_header,
  op_swh_cookie_store,
  op_swh_cors_check,
  op_swh_cors_check_preflight,
  op_swh_cors_preflight,
} from "ext:core/ops";

const responseMod = core.loadExtScript("ext:deno_fetch/23_response.js");
const requestMod = core.loadExtScript("ext:deno_fetch/23_request.js");

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
// Fetch's CORS-safelisted response-header names.
const SAFELISTED_RESPONSE = new Set([
  "cache-control",
  "content-language",
  "content-length",
  "content-type",
  "expires",
  "last-modified",
  "pragma",
]);
const REQUEST_BODY_HEADERS = [
  "content-encoding",
  "content-language",
  "content-location",
  "content-type",
];

function networkError(url, why) {
  return new TypeError(`Failed to fetch ${url}: ${why}`);
}

function isHttp(url) {
  return url.protocol === "http:" || url.protocol === "https:";
}

/** `fetch` with Fetch's CORS and tainting around `inner` (deno_fetch). */
export function corsFetch(inner) {
  // A named function of one declared argument: fetch.name and fetch.length
  // stay what WebIDL gives them.
  return function fetch(input, init = undefined) {
    let request;
    try {
      request = new requestMod.Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    const origin = globalThis.location?.origin;
    const url = new URL(request.url);
    if (!origin || origin === "null" || !isHttp(url)) return inner.call(this, request);
    return corsSteps(inner, request, url, origin);
  };
}

async function corsSteps(inner, request, url, origin) {
  const credentials = request.credentials === "include";
  const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer());
  const state = {
    method: request.method,
    headers: [...request.headers],
    body,
    url,
    tainting: "basic",
    taintedOrigin: false,
  };
  const urlList = [];
  for (let redirects = 0;; redirects++) {
    urlList.push(state.url.href);
    // Main fetch, step 12: the response tainting only ever widens.
    if (state.url.origin !== origin || state.tainting !== "basic") {
      if (request.mode === "same-origin") {
        throw networkError(state.url, `it is not same-origin and the request's mode is "same-origin"`);
      }
      if (state.tainting !== "cors") {
        state.tainting = request.mode === "no-cors" ? "opaque" : "cors";
      }
    }
    const serialized = state.taintedOrigin ? "null" : origin;
    // `Cookie` is the browser's: a script's own is dropped (a forbidden
    // request-header name), the jar's goes when the credentials mode says
    // (Fetch, "HTTP-network-or-cache fetch", step 8.5: includeCredentials).
    let headers = state.headers;
    if (headers.some(([k]) => k.toLowerCase() === "cookie")) {
      headers = headers.filter(([k]) => k.toLowerCase() !== "cookie");
    }
    const withCookies = request.credentials === "include" ||
      (request.credentials === "same-origin" && state.tainting === "basic");
    const cookie = withCookies ? op_swh_cookie_header(state.url.href, globalThis.location.href) : "";
    if (cookie !== "" || state.tainting === "cors") headers = new Headers(headers);
    if (cookie !== "") headers.set("Cookie", cookie);
    if (state.tainting === "cors") {
      headers.set("Origin", serialized);
      await preflight(inner, request, state, serialized, credentials);
    }
    const response = await inner(state.url.href, {
      method: state.method,
      headers,
      body: state.body,
      redirect: "manual",
      signal: request.signal,
    });
    if (withCookies) {
      const set = response.headers.getSetCookie();
      if (set.length) op_swh_cookie_store(state.url.href, globalThis.location.href, set);
    }
    // The CORS check, of a redirect too (HTTP fetch, step 4.4).
    check(state, response, serialized, credentials);
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return filtered(response, state.tainting, urlList);
    }
    await response.body?.cancel();
    if (request.redirect === "error") {
      throw networkError(state.url, `it redirects and the request's redirect mode is "error"`);
    }
    if (request.redirect === "manual") {
      return opaqueResponse("opaqueredirect", [state.url.href]);
    }
    followRedirect(state, response.status, location, origin, redirects, request.mode);
  }
}

/** HTTP-redirect fetch, steps 3-14, on `state`. */
function followRedirect(state, status, location, origin, redirects, mode) {
  let next;
  try {
    next = new URL(location, state.url);
  } catch {
    throw networkError(state.url, `its redirect location ${JSON.stringify(location)} is not a URL`);
  }
  if (!isHttp(next)) throw networkError(state.url, `it redirects to ${next.protocol} URL`);
  if (redirects + 1 > MAX_REDIRECTS) throw networkError(state.url, "too many redirects");
  // Steps 8-9: no credentials in the URL of a CORS request's redirect to
  // another origin, nor in any redirect of a response already CORS.
  const credentialed = next.username !== "" || next.password !== "";
  if (credentialed && ((mode === "cors" && next.origin !== origin) || state.tainting === "cors")) {
    throw networkError(next, "a CORS redirect's URL includes credentials");
  }
  // Step 12: 301/302 of a POST and 303 of anything but GET/HEAD become a
  // GET without a body.
  if (
    ((status === 301 || status === 302) && state.method === "POST") ||
    (status === 303 && state.method !== "GET" && state.method !== "HEAD")
  ) {
    state.method = "GET";
    state.body = null;
    state.headers = state.headers.filter(([k]) => !REQUEST_BODY_HEADERS.includes(k.toLowerCase()));
  }
  // Step 13: no Authorization across origins.
  if (next.origin !== state.url.origin) {
    state.headers = state.headers.filter(([k]) => k.toLowerCase() !== "authorization");
  }
  // Step 10: from one other origin to another, the origin becomes opaque.
  if (next.origin !== state.url.origin && state.url.origin !== origin) {
    state.taintedOrigin = true;
  }
  state.url = next;
}

/** CORS-preflight fetch, when the request is not simple. */
async function preflight(inner, request, state, serialized, credentials) {
  const names = op_swh_cors_preflight(state.method, state.headers);
  if (names === null) return;
  const headers = {
    "Origin": serialized,
    "Access-Control-Request-Method": state.method,
  };
  if (names.length) headers["Access-Control-Request-Headers"] = names.join(",");
  let answer;
  try {
    answer = await inner(state.url.href, {
      method: "OPTIONS",
      headers,
      redirect: "manual",
      signal: request.signal,
    });
  } catch (e) {
    throw networkError(state.url, `its CORS preflight failed: ${e.message}`);
  }
  await answer.body?.cancel();
  const why = op_swh_cors_check_preflight(
    serialized,
    answer.status,
    [...answer.headers],
    state.method,
    names,
    credentials,
  );
  if (why !== "") throw networkError(state.url, `CORS preflight: ${why}`);
}

function check(state, response, serialized, credentials) {
  if (state.tainting !== "cors") return;
  const why = op_swh_cors_check(serialized, [...response.headers], credentials);
  if (why !== "") {
    response.body?.cancel().catch(() => {});
    throw networkError(state.url, `CORS: ${why}`);
  }
}

/**
 * The response, filtered as its tainting says, with its URL list. The
 * header list is filtered in place: the response's Headers object reads
 * the same list.
 */
function filtered(response, tainting, urlList) {
  if (tainting === "opaque") {
    response.body?.cancel().catch(() => {});
    return opaqueResponse("opaque", []);
  }
  const inner = responseMod.getInnerResponse(response);
  inner.urlList = urlList;
  inner.type = tainting;
  // Fetch's "forbidden response-header names" go in both; a cors response
  // keeps only the safelisted and exposed others.
  let visible = () => true;
  if (tainting === "cors") {
    const exposed = new Set(
      (response.headers.get("access-control-expose-headers") ?? "")
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
    const any = exposed.has("*") &&
      response.headers.get("access-control-allow-credentials") !== "true";
    visible = (name) => any || SAFELISTED_RESPONSE.has(name) || exposed.has(name);
  }
  const list = inner.headerList;
  for (let i = list.length - 1; i >= 0; i--) {
    const name = list[i][0].toLowerCase();
    if (name === "set-cookie" || name === "set-cookie2" || !visible(name)) list.splice(i, 1);
  }
  return response;
}

/**
 * An opaque ("opaque") or opaque-redirect ("opaqueredirect") filtered
 * response: status 0, no headers, no body.
 */
export function opaqueResponse(type, urlList) {
  const inner = responseMod.getInnerResponse(new responseMod.Response(null, { status: 200 }));
  inner.type = type;
  inner.status = 0;
  inner.statusMessage = "";
  inner.headerList = [];
  inner.urlList = urlList;
  return responseMod.fromInnerResponse(inner, "immutable");
}
