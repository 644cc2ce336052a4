// The browser's network state as a realm sees it: `navigator.onLine`, the
// `online`/`offline` events on the global, and `fetch()`, which fails
// while the browser is offline (`swharness.setOnline(false)`, `--offline`)
// as it does in a browser without a network.
// https://html.spec.whatwg.org/multipage/system-state.html#navigator.online
import { onBrowserCommand } from "ext:swharness/ipc/01_host.js";
import { core } from "ext:core/mod.js";

const { Event } = core.loadExtScript("ext:deno_web/02_event.js");

let online = true;

/** The state at the realm's start (from its bootstrap). */
export function setInitialOnline(value) {
  online = value !== false;
}

export function isOnline() {
  return online;
}

/**
 * Whether `href`, a serialized URL, is of the realm's origin. A string
 * test first: parsing a URL costs 10-20 us here, a controlled fetch asks
 * twice, and an href of the same origin nearly always starts with it.
 */
export function isSameOriginHref(href) {
  const origin = globalThis.location?.origin;
  if (!origin || origin === "null") return false;
  if (href.startsWith(origin) && href[origin.length] === "/") return true;
  try {
    return new URL(href).origin === origin;
  } catch {
    return false;
  }
}

/**
 * A Request as the browser takes it (a fetch event's request, a background
 * fetch's record): its fields, with `headers` (pairs) and `body` (base64)
 * as the caller prepares them.
 */
export function describeRequest(r, headers, body) {
  return {
    method: r.method,
    url: r.url,
    headers,
    body,
    mode: r.mode,
    credentials: r.credentials,
    cache: r.cache,
    redirect: r.redirect,
    referrer: r.referrer,
    referrerPolicy: r.referrerPolicy,
    integrity: r.integrity,
    keepalive: r.keepalive,
    destination: r.destination,
  };
}

/** `fetch` that rejects with a TypeError (a network error) while offline. */
export function offlineAwareFetch(inner) {
  // A named function of one declared argument: fetch.name and fetch.length
  // stay what WebIDL gives them.
  return function fetch(input, init = undefined) {
    if (!online) {
      return Promise.reject(
        new TypeError("Failed to fetch: the network is offline"),
      );
    }
    return inner.call(this, input, init);
  };
}

onBrowserCommand("networkState", ({ online: now }) => {
  if (now === online) return;
  online = now;
  globalThis.dispatchEvent(new Event(now ? "online" : "offline"));
});
