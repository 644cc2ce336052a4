// IndexedDB 3.0 keys, key paths and key ranges (sections 2.5-2.8).
//
// A key travels to the browser (src/indexed_db/) encoded as hex text of
// bytes whose order is the spec's "compare two keys": a tag per type
// (number < date < string < binary < array), then
//   number, date: the float64 bits, flipped so that bytes sort as numbers;
//   string:       each UTF-16 code unit as 01 HH HH, then 00;
//   binary:       each byte as 01 HH, then 00;
//   array:        each member's encoding, then 00.
// Lowercase hex keeps that order, so comparing two encodings as strings
// compares the keys.
import { core } from "ext:core/mod.js";
import { DOMException } from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const TAG = { number: "10", date: "20", string: "30", binary: "40", array: "50" };
const END = "00";
const f64 = new Float64Array(1);
const u8 = new Uint8Array(f64.buffer);
const HEX = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? "0" : "") + i.toString(16));

function encodeFloat(n) {
  f64[0] = n === 0 ? 0 : n; // -0 is 0
  const negative = n < 0;
  let out = "";
  // Big-endian, sign bit set for positives, all bits flipped for negatives.
  for (let i = 7; i >= 0; i--) {
    let b = u8[i];
    if (negative) b = ~b & 0xff;
    else if (i === 7) b |= 0x80;
    out += HEX[b];
  }
  return out;
}

function decodeFloat(hex, at) {
  const negative = parseInt(hex.substr(at, 2), 16) < 0x80;
  for (let i = 0; i < 8; i++) {
    let b = parseInt(hex.substr(at + (7 - i) * 2, 2), 16);
    if (negative) b = ~b & 0xff;
    else if (i === 7) b &= 0x7f;
    u8[i] = b;
  }
  return f64[0];
}

const INVALID = Symbol("invalid key");
const MAX_DEPTH = 1000;

// "Convert a value to a key" for all but arrays: the encoding, or INVALID.
function encodeScalar(input) {
  switch (typeof input) {
    case "number":
      return Number.isNaN(input) ? INVALID : TAG.number + encodeFloat(input);
    case "string": {
      let out = TAG.string;
      for (let i = 0; i < input.length; i++) {
        const c = input.charCodeAt(i);
        out += "01" + HEX[c >> 8] + HEX[c & 0xff];
      }
      return out + END;
    }
    case "object":
      break;
    default:
      return INVALID;
  }
  if (input === null) return INVALID;
  if (input instanceof Date) {
    const t = input.getTime();
    return Number.isNaN(t) ? INVALID : TAG.date + encodeFloat(t);
  }
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    let bytes;
    try {
      const buf = input instanceof ArrayBuffer ? input : input.buffer;
      if (buf.detached) return INVALID;
      bytes = input instanceof ArrayBuffer
        ? new Uint8Array(input)
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    } catch {
      return INVALID;
    }
    let out = TAG.binary;
    for (let i = 0; i < bytes.length; i++) out += "01" + HEX[bytes[i]];
    return out + END;
  }
  return INVALID;
}

/**
 * The encoding of a valid key, or INVALID: "convert a value to a key",
 * walking arrays with a stack of its own (deep arrays would overflow the
 * engine's), the arrays on the way down in `path` (a cycle is invalid).
 */
export function encodeKey(root) {
  const path = [];
  const frames = [];
  let out = "";
  let v = root;
  for (;;) {
    if (Array.isArray(v)) {
      // Deeper than this is not a key here: a DataError, not a crash.
      if (path.length >= MAX_DEPTH || path.includes(v)) return INVALID;
      path.push(v);
      frames.push({ array: v, i: 0, len: v.length });
      out += TAG.array;
    } else {
      const e = encodeScalar(v);
      if (e === INVALID) return INVALID;
      out += e;
    }
    for (;;) {
      const f = frames[frames.length - 1];
      if (!f) return out;
      if (f.i < f.len) {
        if (!Object.prototype.hasOwnProperty.call(f.array, f.i)) return INVALID;
        v = f.array[f.i++];
        break;
      }
      out += END;
      frames.pop();
      path.pop();
    }
  }
}

export { INVALID };

/** "Convert a value to a key", throwing DataError when it is not one. */
export function toKey(value, what = "The parameter") {
  const key = encodeKey(value);
  if (key === INVALID) {
    throw new DOMException(`${what} is not a valid key.`, "DataError");
  }
  return key;
}

// Decodes one key at `at`; returns [value, next position].
function decodeAt(hex, at) {
  const tag = hex.substr(at, 2);
  at += 2;
  switch (tag) {
    case TAG.number:
      return [decodeFloat(hex, at), at + 16];
    case TAG.date:
      return [new Date(decodeFloat(hex, at)), at + 16];
    case TAG.string: {
      const units = [];
      while (hex.substr(at, 2) === "01") {
        units.push(parseInt(hex.substr(at + 2, 4), 16));
        at += 6;
      }
      let s = "";
      for (let i = 0; i < units.length; i += 4096) {
        s += String.fromCharCode.apply(null, units.slice(i, i + 4096));
      }
      return [s, at + 2];
    }
    case TAG.binary: {
      const bytes = [];
      while (hex.substr(at, 2) === "01") {
        bytes.push(parseInt(hex.substr(at + 2, 2), 16));
        at += 4;
      }
      return [new Uint8Array(bytes).buffer, at + 2];
    }
    case TAG.array: {
      const out = [];
      while (hex.substr(at, 2) !== END) {
        const [v, next] = decodeAt(hex, at);
        out.push(v);
        at = next;
      }
      return [out, at + 2];
    }
    default:
      throw new DOMException("A stored key is corrupt.", "UnknownError");
  }
}

/** "Convert a key to a value". */
export function decodeKey(hex) {
  return decodeAt(hex, 0)[0];
}

/** Compares two encoded keys (-1, 0, 1). */
export function compareEncoded(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Names ---------------------------------------------------------------------

// Database, store and index names are any JS string, lone surrogates
// included, which JSON cannot carry to the browser. Such a name (and any
// that starts with U+0000) travels as U+0000 and its code units in hex.
export function encodeName(name) {
  if (name.isWellFormed() && !name.startsWith("\0")) return name;
  let out = "\0";
  for (let i = 0; i < name.length; i++) out += name.charCodeAt(i).toString(16).padStart(4, "0");
  return out;
}

export function decodeName(wire) {
  if (!wire.startsWith("\0")) return wire;
  let out = "";
  for (let i = 1; i < wire.length; i += 4) out += String.fromCharCode(parseInt(wire.substr(i, 4), 16));
  return out;
}

// Key paths (2.6) -----------------------------------------------------------

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*$/u;

function validStringPath(path) {
  return path === "" || path.split(".").every((p) => IDENTIFIER.test(p));
}

/** "Valid key path": a string path, or a non-empty array of them. */
export function isValidKeyPath(path) {
  if (typeof path === "string") return validStringPath(path);
  return Array.isArray(path) && path.length > 0 &&
    path.every((p) => typeof p === "string" && validStringPath(p));
}

// Arrays being stringified by `toDOMString`, as browsers' engines track
// them in Array.prototype.join: an array inside itself becomes "" (the
// QuickJS engine's join recurses until its stack overflows).
const joining = [];

function toDOMString(v, prefix) {
  if (!Array.isArray(v) || v.toString !== Array.prototype.toString || v.join !== Array.prototype.join) {
    return webidl.converters.DOMString(v, prefix, "keyPath");
  }
  if (joining.includes(v)) return "";
  joining.push(v);
  try {
    let out = "";
    for (let i = 0; i < v.length; i++) {
      if (i) out += ",";
      const e = v[i];
      if (e !== null && e !== undefined) out += toDOMString(e, prefix);
    }
    return out;
  } finally {
    joining.pop();
  }
}

/** The IDL conversion of a keyPath argument (a string or a sequence). */
export function convertKeyPath(path, prefix) {
  if (path === null || path === undefined) return null;
  if (typeof path !== "string" && typeof path?.[Symbol.iterator] === "function") {
    return Array.from(path, (p) => toDOMString(p, prefix));
  }
  return toDOMString(path, prefix);
}

const NO_VALUE = Symbol("no value");

function evaluateString(value, path) {
  if (path === "") return value;
  for (const id of path.split(".")) {
    if (typeof value === "string" && id === "length") {
      value = value.length;
    } else if (Array.isArray(value) && id === "length") {
      value = value.length;
    } else if (globalThis.Blob && value instanceof globalThis.Blob && (id === "size" || id === "type")) {
      value = value[id];
    } else if (globalThis.File && value instanceof globalThis.File && (id === "name" || id === "lastModified")) {
      value = value[id];
    } else if (value === null || typeof value !== "object") {
      return NO_VALUE;
    } else if (!Object.prototype.hasOwnProperty.call(value, id)) {
      return NO_VALUE;
    } else {
      value = value[id];
    }
  }
  return value;
}

/**
 * "Extract a key from a value using a key path": the encoded key, INVALID,
 * or NO_VALUE (the path leads nowhere). With `multiEntry`, an array gives
 * its valid, distinct members (as an array of encodings).
 */
export function extractKey(value, path, multiEntry = false) {
  if (Array.isArray(path)) {
    const members = [];
    for (const p of path) {
      const v = evaluateString(value, p);
      if (v === NO_VALUE) return NO_VALUE;
      members.push(v);
    }
    return encodeKey(members);
  }
  const v = evaluateString(value, path);
  if (v === NO_VALUE) return NO_VALUE;
  if (multiEntry && Array.isArray(v)) {
    const keys = new Set();
    for (let i = 0; i < v.length; i++) {
      if (!Object.prototype.hasOwnProperty.call(v, i)) continue;
      const k = encodeKey(v[i]);
      if (k !== INVALID) keys.add(k);
    }
    return [...keys];
  }
  return encodeKey(v);
}

export { NO_VALUE };

/** "Check that a key could be injected into a value". */
export function canInject(value, path) {
  const ids = path.split(".");
  for (let i = 0; i < ids.length - 1; i++) {
    if (value === null || typeof value !== "object") return false;
    if (!Object.prototype.hasOwnProperty.call(value, ids[i])) return true;
    value = value[ids[i]];
  }
  return value !== null && typeof value === "object";
}

/** "Inject a key into a value using a key path". */
export function injectKey(value, path, key) {
  const ids = path.split(".");
  for (let i = 0; i < ids.length - 1; i++) {
    if (!Object.prototype.hasOwnProperty.call(value, ids[i])) {
      Object.defineProperty(value, ids[i], {
        value: {},
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    value = value[ids[i]];
  }
  Object.defineProperty(value, ids[ids.length - 1], {
    value: key,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

// IDBKeyRange (2.8) ---------------------------------------------------------

const illegal = Symbol("illegal");
const kLower = Symbol("lower key");
const kUpper = Symbol("upper key");

export class IDBKeyRange {
  #lower;
  #upper;
  #lowerOpen;
  #upperOpen;
  constructor(key, lower, upper, lowerOpen, upperOpen) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    // Encoded bounds (undefined: unbounded) for the browser.
    this[kLower] = lower;
    this[kUpper] = upper;
    this.#lower = lower === undefined ? undefined : decodeKey(lower);
    this.#upper = upper === undefined ? undefined : decodeKey(upper);
    this.#lowerOpen = lowerOpen;
    this.#upperOpen = upperOpen;
  }
  get lower() {
    return this.#lower;
  }
  get upper() {
    return this.#upper;
  }
  get lowerOpen() {
    return this.#lowerOpen;
  }
  get upperOpen() {
    return this.#upperOpen;
  }
  /** The range as the browser takes it. */
  toWire() {
    return {
      lower: this[kLower] ?? null,
      upper: this[kUpper] ?? null,
      lowerOpen: this.#lowerOpen,
      upperOpen: this.#upperOpen,
    };
  }
  // "in": the encoded key is within the range.
  containsEncoded(k) {
    if (this[kLower] !== undefined) {
      const c = compareEncoded(this[kLower], k);
      if (c > 0 || (c === 0 && this.#lowerOpen)) return false;
    }
    if (this[kUpper] !== undefined) {
      const c = compareEncoded(this[kUpper], k);
      if (c < 0 || (c === 0 && this.#upperOpen)) return false;
    }
    return true;
  }
  includes(key) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'includes' on 'IDBKeyRange'");
    return this.containsEncoded(toKey(key));
  }
  static only(value) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'only' on 'IDBKeyRange'");
    const k = toKey(value);
    return new IDBKeyRange(illegal, k, k, false, false);
  }
  static lowerBound(lower, open = false) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'lowerBound' on 'IDBKeyRange'");
    return new IDBKeyRange(illegal, toKey(lower), undefined, !!open, true);
  }
  static upperBound(upper, open = false) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'upperBound' on 'IDBKeyRange'");
    return new IDBKeyRange(illegal, undefined, toKey(upper), true, !!open);
  }
  static bound(lower, upper, lowerOpen = false, upperOpen = false) {
    webidl.requiredArguments(arguments.length, 2, "Failed to execute 'bound' on 'IDBKeyRange'");
    const l = toKey(lower);
    const u = toKey(upper);
    const c = compareEncoded(l, u);
    if (c > 0 || (c === 0 && (lowerOpen || upperOpen))) {
      throw new DOMException("The lower key is greater than the upper key.", "DataError");
    }
    return new IDBKeyRange(illegal, l, u, !!lowerOpen, !!upperOpen);
  }
}
webidl.configureInterface(IDBKeyRange);

/** A range over one encoded key. */
export function onlyEncoded(k) {
  return new IDBKeyRange(illegal, k, k, false, false);
}

/** A range over every key at or past (or before) an encoded key. */
export function unboundedRange() {
  return new IDBKeyRange(illegal, undefined, undefined, true, true);
}

/**
 * "Convert a value to a key range": a range stays, null/undefined is every
 * key (or DataError with `nullDisallowed`), a key is a range of one.
 */
export function toRange(value, nullDisallowed = false) {
  if (value instanceof IDBKeyRange) return value;
  if (value === null || value === undefined) {
    if (nullDisallowed) {
      throw new DOMException("No key or key range specified.", "DataError");
    }
    return unboundedRange();
  }
  return onlyEncoded(toKey(value));
}
