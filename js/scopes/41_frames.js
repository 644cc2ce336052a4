// <iframe>: a nested window client in a realm of its own (on its own
// thread), and the proxies through which a page reaches its frame's window
// (`contentWindow`) and a frame its parent's (`parent`, `top`).
//
// Every operation on a proxy (get, set, call, ...) is sent through the
// browser to the realm that owns the object, and the caller waits for the
// answer (src/service_worker/frames.rs); while it waits, operations of the
// other realm on its own objects still run (a callback, a getter). Answers are primitives, handles
// to the owner's objects (proxies again, one per object, so identity
// holds), or promises that settle later. Arguments are primitives, the
// receiver's own objects, functions (as handles), a Request (rebuilt in
// the receiver), or plain data, which is structured-cloned. Arguments that
// hold MessagePorts are transferred together, so that a port passed both in
// a message and in its transfer list arrives as one port.
import { core } from "ext:core/mod.js";
import {
  deserializeMessage,
  deserializeTransfer,
  hostCall,
  hostCallSyncServing,
  onBrowserCommand,
  serializeMessage,
  serializeTransfer,
} from "ext:swharness/ipc/01_host.js";
import { defineElement, Element, fire, reflect, whenLoaded } from "ext:swharness/scopes/40_document.js";
import { describeRequest } from "ext:swharness/net/03_network.js";
const requestMod = core.loadExtScript("ext:deno_fetch/23_request.js");
const locationMod = core.loadExtScript("ext:deno_web/12_location.js");
const { ReadableStreamPrototype } = core.loadExtScript("ext:deno_web/06_streams.js");
const { EventTarget } = core.loadExtScript("ext:deno_web/02_event.js");

// This realm's objects that other realms hold: id -> object, object -> id.
// Id 0 is the global (the window).
const exported = new Map();
const exportedIds = new WeakMap();
let nextExport = 1;

// Other realms' objects: "client:id" -> proxy, proxy -> [client, id].
const proxies = new Map();
const proxyOf = new WeakMap();

// This window's client id (from its bootstrap).
let ownClient = null;

// Promises other realms handed out and have not settled: "client:id".
const awaiting = new Map();
let nextPromise = 1;

const WELL_KNOWN = [
  "asyncIterator", "hasInstance", "isConcatSpreadable", "iterator", "match",
  "matchAll", "replace", "search", "species", "split", "toPrimitive",
  "toStringTag", "unscopables",
];

function exportObject(obj) {
  if (obj === globalThis) return 0;
  let id = exportedIds.get(obj);
  if (id === undefined) {
    id = nextExport++;
    exported.set(id, obj);
    exportedIds.set(obj, id);
  }
  return id;
}

function encodePrimitive(v) {
  switch (typeof v) {
    case "undefined":
      return { u: 1 };
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0) ? { v } : { n: Object.is(v, -0) ? "-0" : String(v) };
    case "bigint":
      return { b: String(v) };
    case "symbol":
      throw new TypeError("swharness: a symbol cannot go to another frame");
    default:
      return { v };
  }
}

function isObject(v) {
  return (typeof v === "object" && v !== null) || typeof v === "function";
}

/** An answer for the client `to`: objects go as handles. */
function encodeResult(v, to) {
  if (!isObject(v)) return encodePrimitive(v);
  const mine = proxyOf.get(v);
  if (mine) {
    if (mine[0] === to) return { own: mine[1] };
    // A third window's object (a frame's frame): the receiver reaches it
    // through the browser as this realm does.
    return { x: mine[0], h: mine[1], f: typeof v === "function", a: Array.isArray(v) };
  }
  if (v instanceof Promise) {
    const id = nextPromise++;
    v.then(
      (value) => settle(to, id, true, value),
      (error) => settle(to, id, false, error),
    );
    return { p: id };
  }
  return { h: exportObject(v), f: typeof v === "function", a: Array.isArray(v) };
}

function settle(to, promise, ok, value) {
  let encoded;
  try {
    encoded = encodeResult(value, to);
  } catch (e) {
    [ok, encoded] = [false, encodeResult(e, to)];
  }
  hostCall("serviceWorker.frameSettle", { client: to, promise, ok, value: encoded })
    .catch(() => {});
}

/**
 * A Request as another realm can make it again: `{url, init}`, or null
 * when its body is a stream (it cannot be read here and now). In a
 * browser, frames share a thread and another realm's fetch() takes this
 * realm's Request as it is; here it gets the same request, rebuilt.
 */
function requestCopy(r) {
  const source = requestMod.toInnerRequest(r).body?.streamOrStatic;
  if (source && Object.prototype.isPrototypeOf.call(ReadableStreamPrototype, source)) return null;
  const { url, destination: _, ...init } = describeRequest(r, [...r.headers], source ? source.body : null);
  // Only a fetch event's request is a navigation; the constructor takes it
  // as "same-origin" (Fetch, the Request constructor, step 23).
  if (init.mode === "navigate") init.mode = "same-origin";
  return { url, init };
}

/** An argument for the client `to`: plain data is cloned. */
function encodeArgument(v, to) {
  if (!isObject(v) || proxyOf.has(v) || typeof v === "function" || v === globalThis) {
    return encodeResult(v, to);
  }
  if (Object.prototype.isPrototypeOf.call(requestMod.RequestPrototype, v)) {
    const copy = requestCopy(v);
    if (copy) return { rq: serializeMessage(copy) };
  }
  try {
    return { c: serializeMessage(v) };
  } catch {
    return encodeResult(v, to);
  }
}

/** The MessagePorts in `v`, and in the arrays and plain objects it holds. */
function portsIn(v, found, depth) {
  if (v instanceof MessagePort) found.add(v);
  else if (depth > 0 && isObject(v) && typeof v !== "function" && !proxyOf.has(v)) {
    const proto = Object.getPrototypeOf(v);
    if (Array.isArray(v) || proto === Object.prototype || proto === null) {
      for (const x of Object.values(v)) portsIn(x, found, depth - 1);
    }
  }
  return found;
}

/**
 * A call's arguments for the client `to`: each encoded on its own, or, when
 * they hold MessagePorts, the list cloned whole with those ports
 * transferred (a port leaves this realm, as it would with postMessage).
 */
function encodeArguments(list, to) {
  const ports = portsIn(list, new Set(), 3);
  if (ports.size > 0) {
    try {
      return { t: serializeTransfer(list, [...ports]) };
    } catch {
      // Not plain data around the ports: each argument on its own.
    }
  }
  return list.map((a) => encodeArgument(a, to));
}

function decodeArguments(args, from) {
  if (Array.isArray(args)) return args.map((a) => decode(a, from));
  return deserializeTransfer(args.t)[0];
}

function decode(e, from) {
  if ("u" in e) return undefined;
  if ("v" in e) return e.v;
  if ("n" in e) return e.n === "-0" ? -0 : Number(e.n);
  if ("b" in e) return BigInt(e.b);
  if ("c" in e) return deserializeMessage(e.c);
  if ("rq" in e) {
    const { url, init } = deserializeMessage(e.rq);
    return new requestMod.Request(url, init);
  }
  if ("own" in e) {
    if (e.own === 0) return globalThis;
    if (!exported.has(e.own)) throw new TypeError("swharness: unknown frame object");
    return exported.get(e.own);
  }
  if ("x" in e) {
    if (e.x === ownClient) return decode({ own: e.h }, from);
    return proxyFor(e.x, e.h, e.f, e.a);
  }
  if ("p" in e) {
    return new Promise((resolve, reject) => {
      awaiting.set(`${from}:${e.p}`, { resolve, reject });
    });
  }
  return proxyFor(from, e.h, e.f, e.a);
}

function encodeKey(key) {
  if (typeof key !== "symbol") return { k: String(key) };
  const name = WELL_KNOWN.find((n) => Symbol[n] === key);
  return name ? { s: name } : null;
}

function decodeKey(k) {
  return "s" in k ? Symbol[k.s] : k.k;
}

/** Runs `op` on the client `client`'s object `target`. */
function remote(client, target, op) {
  const answer = hostCallSyncServing("serviceWorker.frameOp", {
    client,
    op: { ...op, target },
  });
  const value = decode(answer.value, client);
  if (answer.threw) throw value;
  return value;
}

/** The proxy of the client `client`'s object `id` (0: its window). */
export function proxyFor(client, id, callable = false, array = false) {
  const key = `${client}:${id}`;
  const known = proxies.get(key)?.deref();
  if (known) return known;
  // A bound function has no own `prototype`, so the proxy's traps keep
  // the invariants for any object on the other side; an array's proxy is
  // an array (Array.isArray, JSON), whose `length` cannot be configured.
  const target = callable ? function () {}.bind() : array ? [] : {};
  const op = (o) => remote(client, id, o);
  const args = (list) => encodeArguments(list, client);
  const proxy = new Proxy(target, {
    get(_, k, receiver) {
      // The structured clone of a proxy is a DataCloneError (the
      // serializer refuses a branded object that is not transferred).
      if (k === core.hostObjectBrand) return "FrameProxy";
      const key = encodeKey(k);
      if (!key) return undefined;
      return op({ op: "get", key, receiver: encodeArgument(receiver, client) });
    },
    set(_, k, value) {
      const key = encodeKey(k);
      if (!key) return false;
      return op({ op: "set", key, value: encodeArgument(value, client) });
    },
    has(_, k) {
      if (k === core.hostObjectBrand) return true;
      const key = encodeKey(k);
      return key ? op({ op: "has", key }) : false;
    },
    deleteProperty(_, k) {
      const key = encodeKey(k);
      return key ? op({ op: "delete", key }) : true;
    },
    ownKeys() {
      return op({ op: "keys" });
    },
    getOwnPropertyDescriptor(_, k) {
      const key = encodeKey(k);
      if (!key || !op({ op: "hasOwn", key })) return undefined;
      const value = op({ op: "get", key, receiver: { own: id } });
      if (array && k === "length") {
        return { value, writable: true, enumerable: false, configurable: false };
      }
      return { value, writable: true, enumerable: true, configurable: true };
    },
    getPrototypeOf() {
      return op({ op: "proto" });
    },
    apply(_, thisArg, list) {
      return op({ op: "call", this: encodeArgument(thisArg, client), args: args(list) });
    },
    construct(_, list) {
      return op({ op: "construct", args: args(list) });
    },
  });
  proxies.set(key, new WeakRef(proxy));
  proxyOf.set(proxy, [client, id]);
  return proxy;
}

/** Performs another realm's operation on one of this realm's objects. */
function perform(from, op) {
  const target = op.target === 0 ? globalThis : exported.get(op.target);
  if (target === undefined) throw new TypeError("swharness: unknown frame object");
  switch (op.op) {
    case "get":
      return Reflect.get(target, decodeKey(op.key), decode(op.receiver, from));
    case "set":
      return Reflect.set(target, decodeKey(op.key), decode(op.value, from));
    case "has":
      return Reflect.has(target, decodeKey(op.key));
    case "hasOwn":
      return Object.hasOwn(target, decodeKey(op.key));
    case "delete":
      return Reflect.deleteProperty(target, decodeKey(op.key));
    case "keys":
      return Reflect.ownKeys(target).filter((k) => typeof k === "string");
    case "proto":
      return Reflect.getPrototypeOf(target);
    case "call":
      return Reflect.apply(target, decode(op.this, from), decodeArguments(op.args, from));
    case "construct":
      return Reflect.construct(target, decodeArguments(op.args, from));
    default:
      throw new TypeError(`swharness: unknown frame operation ${op.op}`);
  }
}

onBrowserCommand("frameOp", ({ from, op }) => {
  let value;
  let threw = false;
  try {
    value = perform(from, op);
  } catch (e) {
    [value, threw] = [e, true];
  }
  // The key list is data: cloned, not a handle to an array.
  if (op.op === "keys" && !threw) return { value: { c: serializeMessage(value) } };
  return { value: encodeResult(value, from), threw };
});

// The browser opening this frame waits for its load event (the <iframe>'s
// `load` follows it).
onBrowserCommand("awaitLoad", () => whenLoaded());

onBrowserCommand("frameSettled", ({ owner, promise, ok, value }) => {
  const key = `${owner}:${promise}`;
  const pending = awaiting.get(key);
  if (!pending) return;
  awaiting.delete(key);
  let v;
  try {
    v = decode(value, owner);
  } catch (e) {
    [ok, v] = [false, e];
  }
  (ok ? pending.resolve : pending.reject)(v);
});

/**
 * A frame's window before its first page has loaded: HTML's initial
 * `about:blank` document, whose Window the first same-origin page keeps.
 * A swharness frame's page runs in a realm of its own, so this stands in
 * for that Window until then: what listens here for `load` hears the
 * page's load event (`frame.contentWindow.addEventListener("load", ...)`
 * right after the frame is inserted).
 */
class InitialWindow extends EventTarget {
  get location() {
    return { href: "about:blank" };
  }
  get closed() {
    return false;
  }
}

/**
 * HTML's <iframe>: inserted with a `src`, or given one while inserted, it
 * navigates its own window client there and fires `load` once that page
 * has loaded; removed, its client goes. `contentWindow` is that window's
 * proxy (an `InitialWindow` before the first load, null once removed),
 * `contentDocument` its document's.
 */
// The iframe elements holding a frame, by the frame's client id.
const frameElements = new Map();

class HTMLIFrameElement extends Element {
  #client = null;
  #initial = null;
  #navigation = 0;
  // The frame's session history: its entries ({url, post}: a form's POST
  // stays with its entry, for a reload or a traversal), and the current.
  #entries = [];
  #index = -1;
  constructor() {
    super("iframe");
  }
  get src() {
    const v = this.getAttribute("src");
    return v === null ? "" : new URL(v, location.href).href;
  }
  set src(v) {
    this.setAttribute("src", v);
    if (this.isConnected) this.#navigate();
  }
  get contentWindow() {
    if (this.#client !== null) return proxyFor(this.#client, 0);
    if (!this.isConnected) return null;
    this.#initial ??= new InitialWindow();
    return this.#initial;
  }
  get contentDocument() {
    return this.contentWindow?.document ?? null;
  }
  // Focusing an iframe focuses its document (HTML, "focusing steps").
  focus() {
    if (this.#client === null) return;
    hostCall("serviceWorker.focus", { id: this.#client }).catch(() => {});
  }
  _connected() {
    if (this.hasAttribute("src")) this.#navigate();
  }
  _disconnected() {
    this.#navigation++;
    this.#initial = null;
    this.#close();
  }
  #close() {
    if (this.#client === null) return;
    hostCall("serviceWorker.closeFrame", { id: this.#client }).catch(() => {});
    frameElements.delete(this.#client);
    this.#client = null;
  }
  // A form submitted to this frame (its `target` names it).
  _submit(url, post) {
    if (this.isConnected) this.#navigate(url, "push", post);
  }
  // The frame navigates to `url` (its `src`, or where its window went),
  // with a form's `post` if any: `kind` "push" adds a history entry,
  // "reload" and "traverse" (to the entry `url` already is) do not.
  async #navigate(url = this.src, kind = "push", post = null) {
    const navigation = ++this.#navigation;
    this.#close();
    if (kind === "push") {
      this.#entries.length = this.#index + 1;
      this.#entries.push({ url, post });
      this.#index++;
    }
    let id;
    try {
      ({ id } = await hostCall("serviceWorker.openFrame", { url, kind, post }));
    } catch (e) {
      console.error(`The frame could not load ${url}: ${e?.message ?? e}`);
      return;
    }
    if (navigation !== this.#navigation) {
      hostCall("serviceWorker.closeFrame", { id }).catch(() => {});
      return;
    }
    this.#client = id;
    frameElements.set(id, this);
    // The window's load event comes before the element's.
    const initial = this.#initial;
    this.#initial = null;
    if (initial) fire(initial, "load");
    fire(this, "load");
  }
  // The frame's window navigated itself (location.reload(), location.href),
  // or traverses its history by `delta` entries (history.go(delta): 0 is a
  // reload; beyond either end, nothing happens).
  // A reload sends the current entry's form POST again.
  static navigateFrame(client, url, reload, delta, post) {
    const element = frameElements.get(client);
    if (!element?.isConnected) return;
    const current = element.#entries[element.#index];
    if ((delta === null || delta === undefined) && !reload) {
      element.#navigate(url, "push", post ?? null);
    } else if (reload || delta === 0) {
      element.#navigate(reload ? url : current.url, "reload", current?.post ?? null);
    } else {
      const index = element.#index + delta;
      if (index < 0 || index >= element.#entries.length) return;
      element.#index = index;
      const entry = element.#entries[index];
      element.#navigate(entry.url, "traverse", entry.post);
    }
  }
}

onBrowserCommand("frameNavigate", ({ client, url, reload, delta, post }) => {
  HTMLIFrameElement.navigateFrame(client, url, reload, delta, post);
});

reflect(HTMLIFrameElement.prototype, { name: "name" });

defineElement("iframe", HTMLIFrameElement);

/**
 * The window's `parent` and `top`: the parent window's proxy in a frame,
 * else the window itself (a frame of a frame reaches its own parent only).
 */
export function frameParent(info) {
  ownClient = info.clientId ?? null;
  return info.parentClient ? proxyFor(info.parentClient, 0) : globalThis;
}

/**
 * A window's `location`: deno_web's, whose navigations (`reload()`,
 * `assign()`, `replace()`, setting `href`) the browser carries out: a
 * frame's iframe element navigates in the parent, and a top-level window
 * is replaced by the page it navigates to.
 */
export function frameLocation(current) {
  const navigate = (url, reload) => {
    let target;
    try {
      target = new URL(String(url), current().href).href;
    } catch {
      throw new DOMException(`'${url}' is not a valid URL.`, "SyntaxError");
    }
    hostCall("serviceWorker.navigateFrame", { url: target, reload, delta: null }).catch(() => {});
  };
  const location = Object.create(Object.getPrototypeOf(current()));
  const read = (name) => ({ get: () => current()[name], enumerable: true });
  const props = {};
  for (const name of ["hash", "host", "hostname", "origin", "pathname", "port", "protocol",
                      "search", "ancestorOrigins"]) {
    props[name] = read(name);
  }
  Object.defineProperties(location, {
    ...props,
    href: { get: () => current().href, set: (url) => navigate(url, false), enumerable: true },
    assign: { value: function assign(url) { navigate(url, false); }, enumerable: true },
    replace: { value: function replace(url) { navigate(url, false); }, enumerable: true },
    reload: { value: function reload() { navigate(current().href, true); }, enumerable: true },
    toString: { value: function toString() { return current().href; }, enumerable: true },
  });
  return location;
}

/**
 * A window's `history` (HTML, the History interface), as far as swharness
 * has session history: a frame traverses the entries its iframe element
 * keeps (`go(0)` reloads); `pushState()`/`replaceState()` change the
 * document's URL and state without a navigation. A top-level window has
 * one entry, so its `go()` does nothing.
 */
export function createHistory(isFrame, current) {
  let state = null;
  let pushed = 0;
  const traverse = (delta) => {
    delta = Number(delta) | 0;
    if (!isFrame) return;
    hostCall("serviceWorker.navigateFrame", { url: "", reload: false, delta }).catch(() => {});
  };
  const update = (data, url, push, method) => {
    const copy = structuredClone(data);
    if (url !== undefined && url !== null) {
      let target;
      try {
        target = new URL(String(url), current().href);
      } catch {
        throw new DOMException(`Failed to execute '${method}' on 'History': Invalid URL`, "SecurityError");
      }
      if (target.origin !== current().origin) {
        throw new DOMException(
          `Failed to execute '${method}' on 'History': A history state object with URL '${target.href}' cannot be created in a document with origin '${current().origin}'.`,
          "SecurityError",
        );
      }
      locationMod.setLocationHref(target.href);
    }
    state = copy;
    if (push) pushed++;
  };
  class History {}
  const history = Object.create(History.prototype);
  Object.defineProperties(history, {
    length: { get: () => 1 + pushed, enumerable: true },
    state: { get: () => state, enumerable: true },
    scrollRestoration: { value: "auto", writable: true, enumerable: true },
    go: { value: function go(delta = 0) { traverse(delta); }, enumerable: true },
    back: { value: function back() { traverse(-1); }, enumerable: true },
    forward: { value: function forward() { traverse(1); }, enumerable: true },
    pushState: {
      value: function pushState(data, unused, url = undefined) { update(data, url, true, "pushState"); },
      enumerable: true,
    },
    replaceState: {
      value: function replaceState(data, unused, url = undefined) { update(data, url, false, "replaceState"); },
      enumerable: true,
    },
  });
  return history;
}

export { HTMLIFrameElement };
