// The small part of the DOM a client realm offers: a document with head and
// body, elements that can be created, appended and looked up, and the two
// elements with behaviour: <script> (classic scripts, run in insertion
// order, then `load` or `error`) and <meta http-equiv> (a page's CSP).
// Classic scripts also run through `runClassicScripts`, the way a page's
// own <script> tags would.
import { core } from "ext:core/mod.js";
import { op_swh_document_cookie, op_swh_park } from "ext:core/ops";
import { hostCall } from "ext:swharness/ipc/01_host.js";

const eventMod = core.loadExtScript("ext:deno_web/02_event.js");
const { Event, EventTarget, defineEventHandler, setIsTrusted } = eventMod;

function fire(target, type) {
  const ev = new Event(type);
  setIsTrusted(ev, true);
  target.dispatchEvent(ev);
}

// HTML's `document.currentScript`: the <script> element whose classic
// script is running, null otherwise (and for module scripts).
let currentScript = null;

/**
 * Runs a classic script's source (for `element`, if any: it is
 * `document.currentScript` meanwhile); an exception is reported on the
 * global.
 */
export function runClassicScript(source, name, element = null) {
  const outer = currentScript;
  currentScript = element;
  let error;
  try {
    [, error] = core.evalContext(source, name);
  } finally {
    currentScript = outer;
  }
  if (error) {
    reportError(error.thrown);
    return false;
  }
  return true;
}

/** Fetches and runs a classic script; false if it could not be fetched. */
export async function loadClassicScript(url, element = null) {
  let source;
  try {
    source = await hostCall("browser.fetchScript", { url });
  } catch (e) {
    console.error(`Failed to load script ${url}: ${e?.message ?? e}`);
    return false;
  }
  runClassicScript(source, url, element);
  return true;
}

class Node extends EventTarget {
  constructor() {
    super();
    this.parentNode = null;
    this.childNodes = [];
  }
  get firstChild() {
    return this.childNodes[0] ?? null;
  }
  get lastChild() {
    return this.childNodes[this.childNodes.length - 1] ?? null;
  }
  getRootNode() {
    let n = this;
    while (n.parentNode) n = n.parentNode;
    return n;
  }
  get isConnected() {
    return this.getRootNode() === document;
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join("");
  }
  set textContent(text) {
    for (const c of this.childNodes) c.parentNode = null;
    this.childNodes = [];
    if (text !== "" && text != null) this.appendChild(new Text(String(text)));
  }
  appendChild(child) {
    return this.insertBefore(child, null);
  }
  insertBefore(child, ref) {
    if (!(child instanceof Node)) {
      throw new TypeError("Failed to execute 'appendChild': not a Node");
    }
    if (child.parentNode) child.parentNode.removeChild(child);
    const i = ref ? this.childNodes.indexOf(ref) : -1;
    if (i < 0) this.childNodes.push(child);
    else this.childNodes.splice(i, 0, child);
    child.parentNode = this;
    if (child.isConnected) {
      for (const el of descendants(child)) el._connected?.();
    }
    return child;
  }
  removeChild(child) {
    const i = this.childNodes.indexOf(child);
    if (i < 0) throw new DOMException("Not a child", "NotFoundError");
    const connected = child.isConnected;
    this.childNodes.splice(i, 1);
    child.parentNode = null;
    if (connected) {
      for (const el of descendants(child)) el._disconnected?.();
    }
    return child;
  }
  // Focus is not modelled: a page has one focused window (see the
  // clients' `focused`), and its elements do not take focus.
  focus() {}
  blur() {}
  contains(other) {
    for (let n = other; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  remove() {
    this.parentNode?.removeChild(this);
  }
}

// Nodes are platform objects that are not [Serializable]: the structured
// clone of one (postMessage, IndexedDB) is a DataCloneError, as the
// serializer makes of any object with this brand that is not transferred.
Object.defineProperty(Node.prototype, core.hostObjectBrand, { value: "Node" });

class Text extends Node {
  constructor(data = "") {
    super();
    this.data = String(data);
    this.nodeType = 3;
  }
  get textContent() {
    return this.data;
  }
  set textContent(text) {
    this.data = String(text);
  }
}

function* descendants(node) {
  if (node instanceof Element) yield node;
  for (const c of node.childNodes) yield* descendants(c);
}

class Element extends Node {
  #attributes = new Map();
  constructor(tagName) {
    super();
    this.localName = tagName.toLowerCase();
    this.nodeType = 1;
    this.style = {};
  }
  get tagName() {
    return this.localName.toUpperCase();
  }
  get children() {
    return this.childNodes.filter((c) => c instanceof Element);
  }
  getAttribute(name) {
    return this.#attributes.get(String(name).toLowerCase()) ?? null;
  }
  setAttribute(name, value) {
    this.#attributes.set(String(name).toLowerCase(), String(value));
  }
  hasAttribute(name) {
    return this.#attributes.has(String(name).toLowerCase());
  }
  removeAttribute(name) {
    this.#attributes.delete(String(name).toLowerCase());
  }
  getElementsByTagName(name) {
    const want = String(name).toLowerCase();
    return [...descendants(this)].filter((e) =>
      e !== this && (want === "*" || e.localName === want)
    );
  }
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
  querySelectorAll(selector) {
    const s = String(selector).trim();
    const all = [...descendants(this)].filter((e) => e !== this);
    if (s.startsWith("#")) return all.filter((e) => e.id === s.slice(1));
    if (/^[a-z][a-z0-9-]*$/i.test(s)) {
      return all.filter((e) => e.localName === s.toLowerCase());
    }
    throw new DOMException(
      `swharness: unsupported selector '${s}'`,
      "SyntaxError",
    );
  }
}
for (const h of ["load", "error"]) defineEventHandler(Element.prototype, h);

/** IDL attributes that reflect content attributes (property: attribute). */
function reflect(proto, map) {
  for (const [prop, attr] of Object.entries(map)) {
    Object.defineProperty(proto, prop, {
      get() {
        return this.getAttribute(attr) ?? "";
      },
      set(v) {
        this.setAttribute(attr, v);
      },
      enumerable: true,
      configurable: true,
    });
  }
}
reflect(Element.prototype, { id: "id", className: "class" });

// Dynamically inserted scripts with async=false run in insertion order.
// (Created on first use: a startup snapshot cannot hold a promise.)
let scriptQueue = null;

class HTMLScriptElement extends Element {
  #started = false;
  constructor() {
    super("script");
    this.async = true;
  }
  get src() {
    const v = this.getAttribute("src");
    return v === null ? "" : new URL(v, location.href).href;
  }
  set src(v) {
    this.setAttribute("src", v);
  }
  get text() {
    return this.textContent;
  }
  set text(v) {
    this.textContent = v;
  }
  // Already run, or run by the parser (`parserScript`).
  _started() {
    this.#started = true;
  }
  _connected() {
    if (this.#started) return;
    this.#started = true;
    if (!this.hasAttribute("src")) {
      runClassicScript(this.text, location.href, this);
      return;
    }
    const url = this.src;
    const run = async () => {
      const ok = await loadClassicScript(url, this);
      fire(this, ok ? "load" : "error");
    };
    scriptQueue = (scriptQueue ?? Promise.resolve()).then(run);
  }
}

class HTMLMetaElement extends Element {
  constructor() {
    super("meta");
  }
  _connected() {
    if (this.httpEquiv.toLowerCase() === "content-security-policy") {
      // Enforced by the browser side from now on, for this client.
      hostCall("serviceWorker.setContentSecurityPolicy", { policy: this.content });
    }
  }
}

reflect(HTMLMetaElement.prototype, { httpEquiv: "http-equiv", content: "content" });

const elementClasses = {
  script: HTMLScriptElement,
  meta: HTMLMetaElement,
};

/** Makes `createElement(tag)` create a `Class` (elements of other files). */
export function defineElement(tag, Class) {
  elementClasses[tag] = Class;
}

const kContentType = Symbol("contentType");

function isHttpUrl(url) {
  return String(url).startsWith("http:") || String(url).startsWith("https:");
}

class Document extends Node {
  constructor(url) {
    super();
    this.URL = url;
    this.readyState = "loading";
    this.nodeType = 9;
    this.documentElement = new Element("html");
    this.head = new Element("head");
    this.body = new Element("body");
    this.childNodes.push(this.documentElement);
    this.documentElement.parentNode = this;
    this.documentElement.appendChild(this.head);
    this.documentElement.appendChild(this.body);
  }
  get location() {
    return globalThis.location;
  }
  // The essence of the response's MIME type; pages are decoded as UTF-8.
  get contentType() {
    return this[kContentType] ?? "text/html";
  }
  get characterSet() {
    return "UTF-8";
  }
  get charset() {
    return "UTF-8";
  }
  get inputEncoding() {
    return "UTF-8";
  }
  get currentScript() {
    return currentScript;
  }
  // HTML, document.cookie: the browser's cookies for the document's URL
  // that scripts may see (not HttpOnly); setting it sets one cookie. A
  // document whose URL is not http(s) has none.
  get cookie() {
    return isHttpUrl(this.URL) ? op_swh_document_cookie(this.URL, null) : "";
  }
  set cookie(v) {
    if (isHttpUrl(this.URL)) op_swh_document_cookie(this.URL, String(v));
  }
  get defaultView() {
    return globalThis;
  }
  // HTML: the title element's text, with ASCII whitespace stripped and
  // collapsed; setting it makes one in <head> if there is none (so
  // testharness.js, which reads the <title> element, names its tests).
  get title() {
    const t = this.getElementsByTagName("title")[0];
    return t ? t.textContent.replace(/[\t\n\f\r ]+/g, " ").trim() : "";
  }
  set title(v) {
    let t = this.getElementsByTagName("title")[0];
    if (!t) {
      t = this.createElement("title");
      this.head.appendChild(t);
    }
    t.textContent = String(v);
  }
  createElement(name) {
    const tag = String(name).toLowerCase();
    const Class = elementClasses[tag];
    return Class ? new Class() : new Element(tag);
  }
  createTextNode(data) {
    return new Text(data);
  }
  getElementById(id) {
    return this.documentElement.querySelector("#" + id);
  }
  getElementsByTagName(name) {
    return this.documentElement.getElementsByTagName(name);
  }
  querySelector(s) {
    return this.documentElement.querySelector(s);
  }
  querySelectorAll(s) {
    return this.documentElement.querySelectorAll(s);
  }
}

let document;

/** Creates the realm's document. */
export function createDocument(url, title, bodyText = "", contentType = "text/html") {
  document = new Document(url);
  document[kContentType] = contentType;
  if (title) document.title = title;
  if (bodyText) document.body.appendChild(new Text(bodyText));
  return document;
}

/**
 * Runs a page's scripts in order (`{url}` or `{source, name}` steps), then
 * finishes loading: DOMContentLoaded on the document, load on the window.
 */
export async function runPageScripts(steps) {
  // Classic scripts run as the parser meets them; module scripts are
  // deferred: they run after parsing, in document order.
  for (const step of steps) {
    if (step.module) continue;
    const element = parserScript(step);
    if (step.url) await loadClassicScript(step.url, element);
    else runClassicScript(step.source, step.name ?? location.href, element);
  }
  for (const step of steps) {
    if (step.module) await runModuleScript(step);
  }
  if (scriptQueue) await scriptQueue;
  document.readyState = "interactive";
  fire(document, "DOMContentLoaded");
  document.readyState = "complete";
  fire(globalThis, "load");
  loaded = true;
  for (const resolve of loadWaiters.splice(0)) resolve();
}

// Whether the window has fired `load`, and who waits for it.
let loaded = false;
const loadWaiters = [];

/** Resolves once the page has fired its `load` event. */
export function whenLoaded() {
  return loaded ? Promise.resolve() : new Promise((r) => loadWaiters.push(r));
}

// The <script> element the parser inserted for a step, in <body> (our
// document does not keep where the page had it); it does not run again.
function parserScript(step) {
  const element = new HTMLScriptElement();
  element._started();
  if (step.url) element.setAttribute("src", step.url);
  else element.textContent = step.source;
  document.body.appendChild(element);
  return element;
}

// See op_swh_park: a module's top-level await may wait for the browser (a
// message, an event), which is not an op the engine sees pending.
let parked = false;
export function parkForModules() {
  if (!parked) {
    parked = true;
    core.unrefOpPromise(op_swh_park());
  }
}

// A module script of the page (`<script type=module>`): an external one by
// its URL, an inline one as a data: URL (so its relative imports do not
// resolve against the page, a difference from HTML).
async function runModuleScript(step) {
  const url = step.url ??
    `data:text/javascript,${encodeURIComponent(step.source)}`;
  parkForModules();
  try {
    await import(url);
  } catch (e) {
    reportError(e);
  }
}

export { Document, Element, fire, HTMLMetaElement, HTMLScriptElement, Node, reflect, Text };
