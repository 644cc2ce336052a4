// XMLHttpRequest (the XHR Standard) in windows and dedicated workers. An
// asynchronous request is the realm's own fetch(), so a controlled realm's
// request goes through its service worker; a synchronous one is answered by
// the browser (src/xhr/), which blocks the realm meanwhile.
import { core } from "ext:core/mod.js";
import { atobBytes, btoaBytes, hostCallSync } from "ext:swharness/ipc/01_host.js";
import { fromServiceWorker } from "ext:swharness/service_worker/14_fetch_event.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { EventTarget, Event, ProgressEvent, defineEventHandler, setIsTrusted } = eventMod;
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const UNSENT = 0;
const OPENED = 1;
const HEADERS_RECEIVED = 2;
const LOADING = 3;
const DONE = 4;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NORMALIZED = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const RESPONSE_TYPES = ["", "arraybuffer", "blob", "document", "json", "text"];
const illegal = Symbol("illegal");

function fire(target, type, init) {
  const ev = init ? new ProgressEvent(type, init) : new Event(type);
  setIsTrusted(ev, true);
  target.dispatchEvent(ev);
}

function progress(target, type, loaded, total) {
  fire(target, type, { lengthComputable: total !== null, loaded, total: total ?? 0 });
}

export class XMLHttpRequestEventTarget extends EventTarget {
  constructor(key) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
  }
}
for (const t of ["loadstart", "progress", "abort", "error", "load", "timeout", "loadend"]) {
  defineEventHandler(XMLHttpRequestEventTarget.prototype, t);
}
webidl.configureInterface(XMLHttpRequestEventTarget);

export class XMLHttpRequestUpload extends XMLHttpRequestEventTarget {
  constructor(key) {
    super(key);
  }
}
webidl.configureInterface(XMLHttpRequestUpload);

const inWindow = () => typeof globalThis.document === "object";

export class XMLHttpRequest extends XMLHttpRequestEventTarget {
  #state = UNSENT;
  #sendFlag = false;
  #method = "GET";
  #url = null;
  #async = true;
  #headers = [];
  #timeout = 0;
  #withCredentials = false;
  #upload = new XMLHttpRequestUpload(illegal);
  #responseType = "";
  #overrideMime = null;
  // The response: status, text, headers, URL, and the body's bytes.
  #status = 0;
  #statusText = "";
  #responseHeaders = [];
  #responseURL = "";
  #chunks = [];
  #received = 0;
  #bytes = null;
  #decoded = undefined;
  #error = false;
  #controller = null;
  #generation = 0;

  constructor() {
    super(illegal);
  }

  get readyState() {
    return this.#state;
  }
  get upload() {
    return this.#upload;
  }

  open(method, url, async = true, username = null, password = null) {
    const prefix = "Failed to execute 'open' on 'XMLHttpRequest'";
    webidl.requiredArguments(arguments.length, 2, prefix);
    method = String(method);
    if (!TOKEN.test(method)) {
      throw new DOMException(`${prefix}: '${method}' is not a valid HTTP method.`, "SyntaxError");
    }
    const upper = method.toUpperCase();
    if (["CONNECT", "TRACE", "TRACK"].includes(upper)) {
      throw new DOMException(`${prefix}: '${method}' HTTP method is unsupported.`, "SecurityError");
    }
    if (NORMALIZED.includes(upper)) method = upper;
    let parsed;
    try {
      parsed = new URL(String(url), globalThis.location.href);
    } catch {
      throw new DOMException(`${prefix}: Invalid URL`, "SyntaxError");
    }
    if (username !== null && username !== undefined) parsed.username = String(username);
    if (password !== null && password !== undefined) parsed.password = String(password);
    async = arguments.length < 3 ? true : Boolean(async);
    if (!async && inWindow() && (this.#timeout !== 0 || this.#responseType !== "")) {
      throw new DOMException(
        `${prefix}: Synchronous requests from a document must not set a timeout or a response type.`,
        "InvalidAccessError",
      );
    }
    this.#terminate();
    this.#method = method;
    this.#url = parsed.href;
    this.#async = async;
    this.#headers = [];
    this.#sendFlag = false;
    this.#resetResponse();
    if (this.#state !== OPENED) {
      this.#state = OPENED;
      fire(this, "readystatechange");
    }
  }

  setRequestHeader(name, value) {
    const prefix = "Failed to execute 'setRequestHeader' on 'XMLHttpRequest'";
    webidl.requiredArguments(arguments.length, 2, prefix);
    if (this.#state !== OPENED || this.#sendFlag) {
      throw new DOMException(`${prefix}: The object's state must be OPENED.`, "InvalidStateError");
    }
    name = String(name);
    value = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (!TOKEN.test(name)) {
      throw new DOMException(`${prefix}: '${name}' is not a valid HTTP header field name.`, "SyntaxError");
    }
    if (/[\0\r\n]/.test(value)) {
      throw new DOMException(`${prefix}: '${value}' is not a valid HTTP header field value.`, "SyntaxError");
    }
    const lower = name.toLowerCase();
    const existing = this.#headers.find(([n]) => n.toLowerCase() === lower);
    if (existing) existing[1] = `${existing[1]}, ${value}`;
    else this.#headers.push([name, value]);
  }

  get timeout() {
    return this.#timeout;
  }
  set timeout(ms) {
    if (inWindow() && !this.#async && this.#state !== UNSENT) {
      throw new DOMException(
        "Failed to set the 'timeout' property on 'XMLHttpRequest': Timeouts cannot be set for synchronous requests made from a document.",
        "InvalidAccessError",
      );
    }
    this.#timeout = webidl.converters["unsigned long"](ms);
  }

  get withCredentials() {
    return this.#withCredentials;
  }
  set withCredentials(v) {
    if ((this.#state !== UNSENT && this.#state !== OPENED) || this.#sendFlag) {
      throw new DOMException(
        "Failed to set the 'withCredentials' property on 'XMLHttpRequest': The value may only be set if the object's state is UNSENT or OPENED.",
        "InvalidStateError",
      );
    }
    this.#withCredentials = Boolean(v);
  }

  get responseType() {
    return this.#responseType;
  }
  set responseType(type) {
    type = String(type);
    if (!RESPONSE_TYPES.includes(type)) return;
    if (!inWindow() && type === "document") return;
    if (this.#state === LOADING || this.#state === DONE) {
      throw new DOMException(
        "Failed to set the 'responseType' property on 'XMLHttpRequest': The response type cannot be set if the object's state is LOADING or DONE.",
        "InvalidStateError",
      );
    }
    if (inWindow() && !this.#async && this.#state !== UNSENT) {
      throw new DOMException(
        "Failed to set the 'responseType' property on 'XMLHttpRequest': The response type cannot be changed for synchronous requests made from a document.",
        "InvalidAccessError",
      );
    }
    this.#responseType = type;
  }

  overrideMimeType(mime) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'overrideMimeType' on 'XMLHttpRequest'");
    if (this.#state === LOADING || this.#state === DONE) {
      throw new DOMException(
        "Failed to execute 'overrideMimeType' on 'XMLHttpRequest': MimeType cannot be overridden when the state is LOADING or DONE.",
        "InvalidStateError",
      );
    }
    this.#overrideMime = String(mime);
  }

  send(body = null) {
    const prefix = "Failed to execute 'send' on 'XMLHttpRequest'";
    if (this.#state !== OPENED) {
      throw new DOMException(`${prefix}: The object's state must be OPENED.`, "InvalidStateError");
    }
    if (this.#sendFlag) {
      throw new DOMException(`${prefix}: The request has already been sent.`, "InvalidStateError");
    }
    if (this.#method === "GET" || this.#method === "HEAD") body = null;
    const headers = new Headers(this.#headers);
    if (typeof body === "string" || (body !== null && typeof body !== "object")) {
      body = body === null || body === undefined ? null : String(body);
      const type = headers.get("content-type");
      if (body !== null && type === null) headers.set("content-type", "text/plain;charset=UTF-8");
    }
    if (this.#async) this.#sendAsync(body, headers);
    else this.#sendSync(body, headers);
  }

  abort() {
    this.#terminate();
    if ((this.#state === OPENED && this.#sendFlag) || this.#state === HEADERS_RECEIVED ||
        this.#state === LOADING) {
      this.#requestError("abort");
    }
    if (this.#state === DONE) {
      this.#state = UNSENT;
      this.#resetResponse();
    }
  }

  get responseURL() {
    return this.#responseURL;
  }
  get status() {
    return this.#status;
  }
  get statusText() {
    return this.#statusText;
  }

  getResponseHeader(name) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'getResponseHeader' on 'XMLHttpRequest'");
    if (this.#state < HEADERS_RECEIVED || this.#error) return null;
    const lower = String(name).toLowerCase();
    const values = this.#responseHeaders.filter(([n]) => n === lower).map(([, v]) => v);
    return values.length ? values.join(", ") : null;
  }

  getAllResponseHeaders() {
    if (this.#state < HEADERS_RECEIVED || this.#error) return "";
    const merged = new Map();
    for (const [n, v] of this.#responseHeaders) {
      merged.set(n, merged.has(n) ? `${merged.get(n)}, ${v}` : v);
    }
    return [...merged.keys()].sort().map((n) => `${n}: ${merged.get(n)}\r\n`).join("");
  }

  get responseText() {
    if (this.#responseType !== "" && this.#responseType !== "text") {
      throw new DOMException(
        "Failed to read the 'responseText' property from 'XMLHttpRequest': The value is only accessible if the object's 'responseType' is '' or 'text'.",
        "InvalidStateError",
      );
    }
    if (this.#state !== LOADING && this.#state !== DONE) return "";
    return this.#text();
  }

  get responseXML() {
    if (this.#responseType !== "" && this.#responseType !== "document") {
      throw new DOMException(
        "Failed to read the 'responseXML' property from 'XMLHttpRequest': The value is only accessible if the object's 'responseType' is '' or 'document'.",
        "InvalidStateError",
      );
    }
    // Documents from XHR are not modelled.
    return null;
  }

  get response() {
    const type = this.#responseType;
    if (type === "" || type === "text") return this.responseText;
    if (this.#state !== DONE || this.#error) return null;
    if (this.#decoded !== undefined) return this.#decoded;
    const bytes = this.#body();
    switch (type) {
      case "arraybuffer":
        this.#decoded = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        break;
      case "blob":
        this.#decoded = new Blob([bytes], { type: this.#mime() ?? "" });
        break;
      case "json":
        try {
          this.#decoded = JSON.parse(new TextDecoder().decode(bytes));
        } catch {
          this.#decoded = null;
        }
        break;
      default:
        this.#decoded = null;
    }
    return this.#decoded;
  }

  // --- the request ---

  #resetResponse() {
    this.#status = 0;
    this.#statusText = "";
    this.#responseHeaders = [];
    this.#responseURL = "";
    this.#chunks = [];
    this.#received = 0;
    this.#bytes = null;
    this.#decoded = undefined;
    this.#error = false;
  }

  #terminate() {
    this.#generation++;
    this.#controller?.abort();
    this.#controller = null;
  }

  #mime() {
    const type = this.#overrideMime ?? this.getResponseHeader("content-type");
    return type === null ? null : type;
  }

  #body() {
    if (this.#bytes === null) {
      const all = new Uint8Array(this.#received);
      let at = 0;
      for (const c of this.#chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.#bytes = all;
      this.#chunks = [all];
    }
    return this.#bytes;
  }

  #text() {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(this.#mime() ?? "")?.[1];
    let decoder;
    try {
      decoder = new TextDecoder(charset ?? "utf-8");
    } catch {
      decoder = new TextDecoder();
    }
    return decoder.decode(this.#body());
  }

  #setResponse(status, statusText, headers, url) {
    this.#status = status;
    this.#statusText = statusText;
    this.#responseHeaders = headers.map(([n, v]) => [n.toLowerCase(), v]);
    this.#responseURL = url;
  }

  // XHR, "request error steps": the request ends with `type` (abort,
  // error or timeout).
  #requestError(type) {
    this.#state = DONE;
    this.#sendFlag = false;
    this.#resetResponse();
    this.#error = true;
    fire(this, "readystatechange");
    if (this.#uploading) {
      this.#uploading = false;
      progress(this.#upload, type, 0, null);
      progress(this.#upload, "loadend", 0, null);
    }
    progress(this, type, 0, null);
    progress(this, "loadend", 0, null);
  }

  #uploading = false;

  async #sendAsync(body, headers) {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    const controller = new AbortController();
    this.#controller = controller;
    let request;
    try {
      request = new Request(this.#url, {
        method: this.#method,
        headers,
        body,
        credentials: this.#withCredentials ? "include" : "same-origin",
        mode: "cors",
        signal: controller.signal,
      });
    } catch (e) {
      this.#controller = null;
      throw e;
    }
    this.#sendFlag = true;
    this.#resetResponse();
    this.#uploading = request.body !== null;
    progress(this, "loadstart", 0, null);
    if (this.#uploading) progress(this.#upload, "loadstart", 0, null);
    if (!current() || this.#state !== OPENED || !this.#sendFlag) return;
    let timedOut = false;
    const timer = this.#timeout > 0
      ? setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.#timeout)
      : null;
    let response;
    try {
      response = await globalThis.fetch(request);
    } catch {
      clearTimeout(timer);
      if (current()) this.#requestError(timedOut ? "timeout" : "error");
      return;
    }
    if (!current()) return;
    if (this.#uploading && fromServiceWorker(response)) {
      // The worker answered: the body never went out, and, as in
      // Chromium, no upload progress is reported.
      this.#uploading = false;
    }
    if (this.#uploading) {
      // The body went with the request: its size, as progress.
      this.#uploading = false;
      const size = body === null ? 0 : bodySize(body);
      progress(this.#upload, "progress", size, size);
      progress(this.#upload, "load", size, size);
      progress(this.#upload, "loadend", size, size);
      if (!current()) return;
    }
    this.#setResponse(response.status, response.statusText, [...response.headers], response.url);
    this.#state = HEADERS_RECEIVED;
    fire(this, "readystatechange");
    if (!current() || this.#state !== HEADERS_RECEIVED) return;
    const length = Number(response.headers.get("content-length"));
    const total = Number.isFinite(length) && response.headers.has("content-length") ? length : null;
    try {
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (!current()) return;
          if (done) break;
          this.#chunks.push(value);
          this.#received += value.length;
          this.#bytes = null;
          this.#decoded = undefined;
          if (this.#state === HEADERS_RECEIVED) this.#state = LOADING;
          fire(this, "readystatechange");
          if (!current()) return;
          progress(this, "progress", this.#received, total);
          if (!current()) return;
        }
      }
    } catch {
      clearTimeout(timer);
      if (current()) this.#requestError(timedOut ? "timeout" : "error");
      return;
    }
    clearTimeout(timer);
    this.#controller = null;
    // "Handle response end-of-body".
    this.#state = DONE;
    this.#sendFlag = false;
    fire(this, "readystatechange");
    if (!current()) return;
    progress(this, "load", this.#received, total);
    progress(this, "loadend", this.#received, total);
  }

  #sendSync(body, headers) {
    let bytes = null;
    if (body !== null) {
      if (typeof body === "string") bytes = new TextEncoder().encode(body);
      else if (ArrayBuffer.isView(body)) {
        bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      } else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
      else if (body instanceof URLSearchParams) {
        bytes = new TextEncoder().encode(body.toString());
        if (!headers.has("content-type")) {
          headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
        }
      } else {
        throw new DOMException(
          "Failed to execute 'send' on 'XMLHttpRequest': a synchronous request takes a string, a URLSearchParams or bytes.",
          "NotSupportedError",
        );
      }
    }
    this.#sendFlag = true;
    this.#resetResponse();
    let answer;
    try {
      answer = hostCallSync("xhr.send", {
        method: this.#method,
        url: this.#url,
        headers: [...headers],
        body: bytes === null ? null : btoaBytes(bytes),
        timeoutMs: this.#timeout,
      });
    } catch (e) {
      this.#requestError(e?.name === "TimeoutError" ? "timeout" : "error");
      throw new DOMException(
        `Failed to execute 'send' on 'XMLHttpRequest': Failed to load '${this.#url}'.`,
        e?.name === "TimeoutError" ? "TimeoutError" : "NetworkError",
      );
    }
    this.#setResponse(answer.status, answer.statusText, answer.headers, answer.url);
    const received = atobBytes(answer.body);
    this.#chunks = [received];
    this.#received = received.length;
    this.#state = DONE;
    this.#sendFlag = false;
    fire(this, "readystatechange");
    progress(this, "load", received.length, received.length);
    progress(this, "loadend", received.length, received.length);
  }
}

for (const [name, value] of Object.entries({ UNSENT, OPENED, HEADERS_RECEIVED, LOADING, DONE })) {
  const d = { value, enumerable: true };
  Object.defineProperty(XMLHttpRequest, name, d);
  Object.defineProperty(XMLHttpRequest.prototype, name, d);
}
defineEventHandler(XMLHttpRequest.prototype, "readystatechange");
webidl.configureInterface(XMLHttpRequest);

function bodySize(body) {
  if (typeof body === "string") return new TextEncoder().encode(body).length;
  if (body instanceof Blob) return body.size;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return body.byteLength;
  if (body instanceof URLSearchParams) return new TextEncoder().encode(body.toString()).length;
  return 0;
}

/** The globals this file gives a window or a dedicated worker. */
export function xhrGlobals(value) {
  return {
    XMLHttpRequest: value(XMLHttpRequest),
    XMLHttpRequestEventTarget: value(XMLHttpRequestEventTarget),
    XMLHttpRequestUpload: value(XMLHttpRequestUpload),
  };
}
