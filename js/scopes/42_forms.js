// HTML forms, as far as a headless page submits them: <form> with
// `action`, `method`, `enctype`, `target` and `submit()`, and <input>
// with `name`, `value`, `type`, `checked` and `disabled`. Submitting
// navigates (HTML, "form submission algorithm"): a GET puts the entries in
// the URL's query, a POST sends them as the body, and the navigation goes
// through the service worker whose scope matches like any other. The
// target is this document's window, or an <iframe> of this document that
// the form's `target` names.
import { hostCall } from "ext:swharness/ipc/01_host.js";
import { defineElement, Element, reflect } from "ext:swharness/scopes/40_document.js";

// The element's descendants, in tree order.
function* descendants(node) {
  for (const child of node.childNodes ?? []) {
    yield child;
    yield* descendants(child);
  }
}

class HTMLInputElement extends Element {
  #value = null;
  #checked = null;
  constructor() {
    super("input");
  }
  get type() {
    return (this.getAttribute("type") ?? "text").toLowerCase();
  }
  set type(v) {
    this.setAttribute("type", v);
  }
  get value() {
    return this.#value ?? this.getAttribute("value") ?? (this.#checkable() ? "on" : "");
  }
  set value(v) {
    this.#value = String(v);
  }
  get checked() {
    return this.#checked ?? this.hasAttribute("checked");
  }
  set checked(v) {
    this.#checked = Boolean(v);
  }
  get disabled() {
    return this.hasAttribute("disabled");
  }
  set disabled(v) {
    if (v) this.setAttribute("disabled", "");
    else this.removeAttribute("disabled");
  }
  #checkable() {
    return this.type === "checkbox" || this.type === "radio";
  }
  // HTML, "constructing the entry list", for an input: its name and value,
  // or nothing (no name, disabled, an unchecked box, a button).
  _entry() {
    if (!this.name || this.disabled) return null;
    if (["submit", "reset", "button", "image", "file"].includes(this.type)) return null;
    if (this.#checkable() && !this.checked) return null;
    return [this.name, this.value];
  }
}
reflect(HTMLInputElement.prototype, { name: "name" });

class HTMLFormElement extends Element {
  constructor() {
    super("form");
  }
  get action() {
    const v = this.getAttribute("action");
    return v === null || v === "" ? location.href : new URL(v, location.href).href;
  }
  set action(v) {
    this.setAttribute("action", v);
  }
  get method() {
    return (this.getAttribute("method") ?? "").toLowerCase() === "post" ? "post" : "get";
  }
  set method(v) {
    this.setAttribute("method", v);
  }
  get enctype() {
    const v = (this.getAttribute("enctype") ?? "").toLowerCase();
    return ["multipart/form-data", "text/plain"].includes(v)
      ? v
      : "application/x-www-form-urlencoded";
  }
  set enctype(v) {
    this.setAttribute("enctype", v);
  }
  get elements() {
    return [...descendants(this)].filter((e) => e instanceof HTMLInputElement);
  }
  submit() {
    const entries = this.elements.map((e) => e._entry()).filter((e) => e !== null);
    if (this.method === "post") {
      const url = this.action;
      encode(entries, this.enctype).then((post) => this.#navigate(url, post));
      return;
    }
    const url = new URL(this.action);
    url.search = new URLSearchParams(entries).toString();
    this.#navigate(url.href, null);
  }
  // The navigation of the form's target: this document's window, or the
  // iframe it names.
  #navigate(url, post) {
    const target = this.target;
    if (target === "" || target === "_self") {
      hostCall("serviceWorker.navigateFrame", { url, reload: false, delta: null, post })
        .catch(() => {});
      return;
    }
    const frame = [...descendants(document)].find((e) =>
      e.localName === "iframe" && e.name === target
    );
    if (!frame) {
      console.warn(`swharness: the form's target '${target}' is not an iframe of this document`);
      return;
    }
    frame._submit(url, post);
  }
}
reflect(HTMLFormElement.prototype, { name: "name", target: "target" });

// The form data set as a POST's `{contentType, body}`: urlencoded,
// text/plain, or multipart/form-data (encoded by deno_fetch's FormData,
// with its boundary).
async function encode(entries, enctype) {
  if (enctype === "text/plain") {
    return { contentType: enctype, body: entries.map(([n, v]) => `${n}=${v}\r\n`).join("") };
  }
  if (enctype === "multipart/form-data") {
    const data = new FormData();
    for (const [n, v] of entries) data.append(n, v);
    const encoded = new Response(data);
    return { contentType: encoded.headers.get("content-type"), body: await encoded.text() };
  }
  return { contentType: enctype, body: new URLSearchParams(entries).toString() };
}

defineElement("form", HTMLFormElement);
defineElement("input", HTMLInputElement);

export { HTMLFormElement, HTMLInputElement };
