// EventSource (HTML, "Server-sent events"), on the realm's own fetch(), so
// that a controlled page's or worker's event stream goes through its
// service worker and through the CORS checks, as any of its requests.
// A connection stays open (and keeps the run busy) until the server ends
// it for good (a status other than 200, or another MIME type) or close()
// is called; a stream that merely ends is fetched again after the
// reconnection time, with `Last-Event-ID`.
import { core } from "ext:core/mod.js";

const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const { EventTarget, MessageEvent, Event, defineEventHandler, setIsTrusted } = core
  .loadExtScript("ext:deno_web/02_event.js");
const { getLocationHref } = core.loadExtScript("ext:deno_web/12_location.js");
const { TextDecoderStream } = core.loadExtScript("ext:deno_web/08_text_encoding.js");

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
// Chromium's default reconnection time, until the stream says `retry:`.
const DEFAULT_RETRY_MS = 3000;

function fire(target, event) {
  setIsTrusted(event, true);
  target.dispatchEvent(event);
}

class EventSource extends EventTarget {
  #url;
  #withCredentials;
  #readyState = CONNECTING;
  #abort = null;
  #retry = DEFAULT_RETRY_MS;
  #lastEventId = "";
  #timer = null;

  constructor(url, eventSourceInitDict = undefined) {
    super();
    this[webidl.brand] = webidl.brand;
    const prefix = "Failed to construct 'EventSource'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    url = webidl.converters.USVString(url, prefix, "Argument 1");
    const init = eventSourceInitDict ?? {};
    if (typeof init !== "object" && typeof init !== "function") {
      throw new TypeError(`${prefix}: Argument 2 is not an object.`);
    }
    this.#withCredentials = Boolean(init.withCredentials);
    try {
      this.#url = new URL(url, getLocationHref()).href;
    } catch {
      throw new DOMException(`${prefix}: Cannot open an EventSource to '${url}'.`, "SyntaxError");
    }
    this.#connect();
  }

  get url() {
    webidl.assertBranded(this, EventSourcePrototype);
    return this.#url;
  }
  get withCredentials() {
    webidl.assertBranded(this, EventSourcePrototype);
    return this.#withCredentials;
  }
  get readyState() {
    webidl.assertBranded(this, EventSourcePrototype);
    return this.#readyState;
  }

  close() {
    webidl.assertBranded(this, EventSourcePrototype);
    this.#readyState = CLOSED;
    clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  // Fetches the stream and reads it; on its end, reestablishes the
  // connection or fails it.
  async #connect() {
    const abort = new AbortController();
    this.#abort = abort;
    const headers = [["Accept", "text/event-stream"]];
    if (this.#lastEventId !== "") headers.push(["Last-Event-ID", this.#lastEventId]);
    let response;
    try {
      response = await globalThis.fetch(
        new Request(this.#url, {
          headers,
          mode: "cors",
          credentials: this.#withCredentials ? "include" : "same-origin",
          cache: "no-store",
          signal: abort.signal,
        }),
      );
    } catch {
      if (this.#readyState !== CLOSED) this.#reestablish();
      return;
    }
    if (this.#readyState === CLOSED) return;
    const mime = (response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (response.status !== 200 || mime !== "text/event-stream") {
      this.#fail();
      return;
    }
    this.#readyState = OPEN;
    fire(this, new Event("open"));
    const origin = new URL(response.url || this.#url).origin;
    try {
      await this.#read(response.body, origin);
    } catch {
      // A network error mid-stream: as the stream's end.
    }
    if (this.#readyState !== CLOSED) this.#reestablish();
  }

  // The event stream's interpretation: lines (CRLF, LF or CR), fields,
  // and an event dispatched at each blank line.
  async #read(body, origin) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let data = "";
    let type = "";
    let idBuffer = this.#lastEventId;
    const dispatch = () => {
      this.#lastEventId = idBuffer;
      if (data === "") {
        type = "";
        return;
      }
      if (data.endsWith("\n")) data = data.slice(0, -1);
      const event = new MessageEvent(type || "message", {
        data,
        origin,
        lastEventId: this.#lastEventId,
      });
      data = "";
      type = "";
      if (this.#readyState !== CLOSED) fire(this, event);
    };
    const line = (text) => {
      if (text === "") return dispatch();
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data += value + "\n";
      else if (field === "id") {
        if (!value.includes("\0")) idBuffer = value;
      } else if (field === "retry" && /^[0-9]+$/.test(value)) this.#retry = Number(value);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // A CR at the end may be half of a CRLF: keep it for the next chunk.
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== "\n" && c !== "\r") continue;
        if (c === "\r" && i === buffer.length - 1) break;
        line(buffer.slice(start, i));
        if (this.#readyState === CLOSED) return;
        if (c === "\r" && buffer[i + 1] === "\n") i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
    }
    // A CR kept back at the very end ends its line after all; then an
    // incomplete event is discarded (HTML: "once the end of the file is
    // reached, any pending data must be discarded").
    if (buffer.endsWith("\r")) line(buffer.slice(0, -1));
  }

  // HTML, "reestablish the connection": CONNECTING, `error`, then a new
  // fetch after the reconnection time.
  #reestablish() {
    this.#readyState = CONNECTING;
    fire(this, new Event("error"));
    if (this.#readyState === CLOSED) return;
    this.#timer = setTimeout(() => {
      if (this.#readyState === CONNECTING) this.#connect();
    }, this.#retry);
  }

  // HTML, "fail the connection": CLOSED, then `error`.
  #fail() {
    this.#readyState = CLOSED;
    fire(this, new Event("error"));
  }
}

const EventSourcePrototype = EventSource.prototype;
for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSED", CLOSED]]) {
  const desc = { value, enumerable: true, writable: false, configurable: false };
  Object.defineProperty(EventSource, name, desc);
  Object.defineProperty(EventSourcePrototype, name, desc);
}
defineEventHandler(EventSourcePrototype, "open");
defineEventHandler(EventSourcePrototype, "message");
defineEventHandler(EventSourcePrototype, "error");
webidl.configureInterface(EventSource);

export { EventSource };
