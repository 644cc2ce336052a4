// CacheStorage and Cache, persisted by the browser side in the state
// directory. Stored bodies stream back from disk in chunks.
// Spec: Service Workers, the Cache and CacheStorage method steps; "Query
// Cache" and "Batch Cache Operations" run on the browser side.
import { core } from "ext:core/mod.js";
import { op_swh_read_body } from "ext:core/ops";
import { btoaBytes, hostCall } from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const { Request } = core.loadExtScript("ext:deno_fetch/23_request.js");
const { Response } = core.loadExtScript("ext:deno_fetch/23_response.js");
const { ReadableStream } = core.loadExtScript("ext:deno_web/06_streams.js");

const illegal = Symbol("illegal");
/** Responses built from stored bodies remember their token. */
export const bodyTokenKey = Symbol("swharness.bodyToken");
const CHUNK = 256 * 1024;

/** Builds a Response whose body streams from a stored body. */
export function responseFromStored(meta) {
  // Fetch's "null body status": such a response has no body.
  const nullBody = [101, 103, 204, 205, 304].includes(meta.status);
  let body = null;
  if (!nullBody && meta.bodyToken) {
    let offset = 0;
    const total = meta.bodyLen ?? Infinity;
    body = new ReadableStream({
      type: "bytes",
      async pull(controller) {
        const chunk = await op_swh_read_body(meta.bodyToken, offset, CHUNK);
        if (chunk.byteLength === 0 || offset >= total) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        offset += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
  }
  const response = new Response(body, {
    status: meta.status === 0 ? 200 : meta.status,
    statusText: meta.statusText ?? "",
    headers: meta.headers ?? [],
  });
  if (meta.url) {
    try {
      Object.defineProperty(response, "url", {
        value: meta.url,
        configurable: true,
      });
    } catch { /* keep the default */ }
  }
  Object.defineProperty(response, bodyTokenKey, { value: meta.bodyToken });
  return response;
}

function toRequest(r) {
  return r instanceof Request ? r : new Request(r);
}

function headerList(h) {
  const out = [];
  for (const [k, v] of h) out.push([k, v]);
  return out;
}


export class Cache {
  #name;
  constructor(key, name) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#name = name;
  }
  async match(request, options = {}) {
    // Cache.match(request, options), step 2: matchAll(), then the first response
    // or undefined.
    const all = await this.matchAll(request, options);
    return all[0];
  }
  async matchAll(request = undefined, options = {}) {
    // Cache.matchAll(request, options): steps 1-2 (the request), 5 ("Query
    // Cache", or every entry without a request) and 5.5 (Response objects).
    // `ignoreVary` is not passed on.
    const q = request === undefined ? null : toRequest(request);
    const entries = await hostCall("cacheStorage.match", {
      cache: this.#name,
      url: q?.url ?? null,
      method: q?.method ?? null,
      ignoreSearch: !!options?.ignoreSearch,
      ignoreMethod: !!options?.ignoreMethod,
    });
    return entries.map(responseFromStored);
  }
  async add(request) {
    // Cache.add(request), steps 1-3: addAll() with one request.
    return this.addAll([request]);
  }
  async addAll(requests) {
    const reqs = [...requests].map(toRequest);
    // Cache.addAll(requests), step 4: fetch every request; a response that is not
    // ok is a TypeError (4.7). Step 6 puts them, here one put() each rather than
    // one "Batch Cache Operations".
    const responses = await Promise.all(reqs.map((r) => fetch(r)));
    for (const r of responses) {
      if (!r.ok) throw new TypeError(`Request failed with status ${r.status}`);
    }
    for (let i = 0; i < reqs.length; i++) await this.put(reqs[i], responses[i]);
  }
  async put(request, response) {
    const req = toRequest(request);
    // Cache.put(request, response), step 4: only GET (the URL scheme is not
    // checked here).
    if (req.method !== "GET") {
      throw new TypeError("Cache.put only accepts GET requests");
    }
    if (!(response instanceof Response)) {
      throw new TypeError("Cache.put needs a Response");
    }
    // Step 6: a partial response is a TypeError. (Step 7, `Vary: *`, is not
    // checked.)
    if (response.status === 206) {
      throw new TypeError("Partial responses cannot be cached");
    }
    // Step 8: a disturbed body is a TypeError.
    if (response.bodyUsed) throw new TypeError("The response body is used");
    const token = response[bodyTokenKey];
    let body = null;
    // Steps 10-11: read the body (a stored body is copied by the browser).
    if (!token) {
      body = btoaBytes(new Uint8Array(await response.arrayBuffer()));
    }
    // Step 19: "Batch Cache Operations" with one put operation.
    await hostCall("cacheStorage.put", {
      cache: this.#name,
      url: req.url,
      method: req.method,
      requestHeaders: headerList(req.headers),
      responseUrl: response.url,
      status: response.status,
      statusText: response.statusText,
      headers: headerList(response.headers),
      body,
      bodyToken: token ?? null,
    });
  }
  async delete(request, options = {}) {
    const q = toRequest(request);
    // Cache.delete(request, options): a delete operation (browser side).
    return hostCall("cacheStorage.delete", {
      cache: this.#name,
      url: q.url,
      method: q.method,
      ignoreSearch: !!options?.ignoreSearch,
      ignoreMethod: !!options?.ignoreMethod,
    });
  }
  async keys(request = undefined, options = {}) {
    const q = request === undefined ? null : toRequest(request);
    // Cache.keys(request, options), step 5.
    const list = await hostCall("cacheStorage.keys", {
      cache: this.#name,
      url: q?.url ?? null,
      method: q?.method ?? null,
      ignoreSearch: !!options?.ignoreSearch,
      ignoreMethod: !!options?.ignoreMethod,
    });
    return list.map((r) =>
      new Request(r.url, { method: r.method, headers: r.headers })
    );
  }
}
webidl.configureInterface(Cache);

export class CacheStorage {
  constructor(key) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
  }
  // CacheStorage.open(cacheName).
  async open(name) {
    await hostCall("cacheStorage.open", { cache: String(name) });
    return new Cache(illegal, String(name));
  }
  // CacheStorage.has(cacheName).
  has(name) {
    return hostCall("cacheStorage.has", { cache: String(name) });
  }
  // CacheStorage.delete(cacheName).
  delete(name) {
    return hostCall("cacheStorage.deleteCache", { cache: String(name) });
  }
  // CacheStorage.keys().
  keys() {
    return hostCall("cacheStorage.names");
  }
  async match(request, options = {}) {
    const q = toRequest(request);
    const entries = await hostCall("cacheStorage.match", {
      cache: options?.cacheName === undefined ? null : String(options.cacheName),
      url: q.url,
      method: q.method,
      ignoreSearch: !!options?.ignoreSearch,
      ignoreMethod: !!options?.ignoreMethod,
    });
    // CacheStorage.match(request, options): step 1 (the named cache only) or
    // step 2 (every cache in order, the first match).
    return entries.length ? responseFromStored(entries[0]) : undefined;
  }
}
webidl.configureInterface(CacheStorage);

export function installCaches() {
  const caches = new CacheStorage(illegal);
  Object.defineProperties(globalThis, {
    caches: { get: () => caches, enumerable: true, configurable: true },
    Cache: { value: Cache, writable: true, configurable: true },
    CacheStorage: { value: CacheStorage, writable: true, configurable: true },
  });
}
