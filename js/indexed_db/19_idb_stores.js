// IndexedDB 3.0 object stores, indexes and cursors (sections 4.5-4.8).
// Each method checks its arguments and the transaction as the spec orders
// the steps, then queues one operation for the browser
// (18_idb_transaction.js). Values are structured-cloned here, and index
// keys computed here from the clone, as Chromium's renderer does.
import { core } from "ext:core/mod.js";
import { atobBytes, btoaBytes, DOMException } from "ext:swharness/ipc/01_host.js";
import {
  canInject,
  convertKeyPath,
  decodeKey,
  extractKey,
  injectKey,
  INVALID,
  isValidKeyPath,
  NO_VALUE,
  IDBKeyRange,
  toKey,
  toRange,
} from "ext:swharness/indexed_db/17_idb_keys.js";
import {
  checkActive,
  enqueue,
  enqueueFirst,
  IDBRequest,
  illegal,
  kActive,
  kDb,
  kMode,
  kState,
  setStoreFactory,
  stringList,
} from "ext:swharness/indexed_db/18_idb_transaction.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const kTx = Symbol("transaction");
const kMeta = Symbol("meta");
const kStore = Symbol("store");
const kIndexes = Symbol("indexes");

export function err(name, message) {
  return new DOMException(message, name);
}

// Deserializers that note, in order, each Blob and File a value holds (in
// `noted`), made once: the cloneable classes register at bootstrap.
let noted = [];
let notingDeserializers = null;
function noting() {
  if (notingDeserializers) return notingDeserializers;
  const defaults = core.getCloneableDeserializers();
  notingDeserializers = { __proto__: null, ...defaults };
  for (const type of ["Blob", "File"]) {
    notingDeserializers[type] = (data) => {
      const blob = defaults[type](data);
      noted.push(blob);
      return blob;
    };
  }
  return notingDeserializers;
}

// Whether serialized bytes hold no host object (Blob, File): the QuickJS
// engine writes such a value as one plain blob, tagged "V" after its
// header. Other engines' bytes are not read, so they always say no.
function plainBytes(bytes) {
  return bytes.length > 6 && bytes[2] === 0x51 && bytes[3] === 0x4a && bytes[4] === 0x53 &&
    bytes[5] === 0x56 && bytes[6] === 0x56;
}

/**
 * Structured-clones a value for storage: its bytes, a clone to read (key
 * paths are evaluated on it; with `needClone` false and no Blob in the
 * value, none is made), and the Blobs and Files it holds, whose bodies are
 * read before the put is sent.
 */
export function cloneForStorage(tx, value, needClone = true) {
  let bytes;
  // "Clone": the transaction is inactive meanwhile (getters cannot use it).
  const wasActive = tx[kActive];
  tx[kActive] = false;
  try {
    bytes = core.serialize(value, { forStorage: true });
  } catch (e) {
    if (e instanceof DOMException) throw e;
    if (e instanceof TypeError || e?.name === "Error") {
      throw err("DataCloneError", String(e.message ?? e));
    }
    throw e;
  } finally {
    tx[kActive] = wasActive;
  }
  if (!needClone && plainBytes(bytes)) return { bytes, clone: undefined, blobs: [] };
  // The clone is read for key paths, and for the Blobs and Files it holds.
  noted = [];
  const clone = core.deserialize(bytes, { forStorage: true, deserializers: noting() });
  const blobs = noted;
  noted = [];
  return { bytes, clone, blobs };
}

/** A stored value as the API returns it (its generated key put back). */
export function readValue(meta, row) {
  let deserializers;
  if (row.blobs) {
    let i = 0;
    const bodies = row.blobs;
    deserializers = {
      __proto__: null,
      ...core.getCloneableDeserializers(),
      Blob: (d) => new globalThis.Blob([atobBytes(bodies[i++])], { type: d.mimeType }),
      File: (d) =>
        new globalThis.File([atobBytes(bodies[i++])], d.name, {
          type: d.mimeType,
          lastModified: d.lastModified,
        }),
    };
  }
  const value = core.deserialize(atobBytes(row.value), { forStorage: true, deserializers });
  if (row.inject && typeof meta.keyPath === "string") {
    injectKey(value, meta.keyPath, decodeKey(row.primaryKey));
  }
  return value;
}

const PLACEHOLDER = "\u0000swharness: the generated key\u0000";
const PLACEHOLDER_KEY = toKey(PLACEHOLDER);

const kKeyPath = Symbol("keyPath");

// An array key path is one object per store or index object ([SameObject]).
function keyPathValue(self) {
  const kp = self[kMeta].keyPath;
  if (!Array.isArray(kp)) return kp;
  self[kKeyPath] ??= [...kp];
  return self[kKeyPath];
}

function toCount(count, prefix) {
  if (count === undefined) return null;
  const n = webidl.converters["unsigned long"](count, prefix, "Argument 2", { enforceRange: true });
  return n === 0 ? null : n;
}

function toDirection(direction, prefix) {
  const d = direction === undefined ? "next" : webidl.converters.DOMString(direction, prefix);
  if (!["next", "nextunique", "prev", "prevunique"].includes(d)) {
    throw new TypeError(`${prefix}: '${d}' is not a valid IDBCursorDirection`);
  }
  return d;
}

// The checks every request makes, in the spec's order.
function checkSource(tx, meta, imeta, write) {
  if (meta.deleted || imeta?.deleted) {
    throw err("InvalidStateError", "The object store or index has been deleted.");
  }
  checkActive(tx);
  if (write && tx[kMode] === "readonly") {
    throw err("ReadOnlyError", "The transaction is read-only.");
  }
}

// A read through a store or an index, as one queued operation.
function read(source, tx, meta, imeta, op, map) {
  const request = new IDBRequest(illegal, source, tx);
  // A result nobody listens for is made only if it is read (`map` makes
  // no call into script).
  return enqueue(tx, { op: "read", store: meta.name, index: imeta?.name ?? null, ...op }, {
    request,
    map,
    lazy: true,
  });
}

// get/getKey/getAll/getAllKeys/count/openCursor/openKeyCursor, shared by
// stores and indexes.
function sourceOf(self) {
  return self instanceof IDBIndex
    ? [self[kStore][kTx], self[kStore][kMeta], self[kMeta]]
    : [self[kTx], self[kMeta], null];
}

// An IDBGetAllOptions dictionary, as opposed to a key or a key range
// ("is a potentially valid key range").
function isOptions(v) {
  return v !== null && typeof v === "object" && !(v instanceof IDBKeyRange) &&
    !Array.isArray(v) && !(v instanceof Date) && !(v instanceof ArrayBuffer) &&
    !ArrayBuffer.isView(v);
}

// getAll/getAllKeys/getAllRecords: "create a request to retrieve multiple
// items".
function getAllOf(self, method, queryOrOptions, count, toItem, values, recordsOnly = false) {
  const prefix = `Failed to execute '${method}' on '${self instanceof IDBIndex ? "IDBIndex" : "IDBObjectStore"}'`;
  const [tx, meta, imeta] = sourceOf(self);
  checkSource(tx, meta, imeta);
  let range, limit, direction = "next";
  if (recordsOnly || isOptions(queryOrOptions)) {
    const o = queryOrOptions;
    limit = toCount(o.count, prefix);
    direction = toDirection(o.direction, prefix);
    range = toRange(o.query);
  } else {
    range = toRange(queryOrOptions);
    limit = toCount(count, prefix);
  }
  return read(self, tx, meta, imeta, { range: range.toWire(), limit, direction, values }, (rows) =>
    rows.map((r) => toItem(meta, r)));
}

// The cursor side (22_idb_cursors.js) registers how a cursor is opened.
let openCursor = null;
export function setCursorOpener(fn) {
  openCursor = fn;
}

export class IDBRecord {
  #key;
  #primaryKey;
  #value;
  constructor(key, k, pk, value) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#key = k;
    this.#primaryKey = pk;
    this.#value = value;
  }
  get key() {
    return this.#key;
  }
  get primaryKey() {
    return this.#primaryKey;
  }
  get value() {
    return this.#value;
  }
}
webidl.configureInterface(IDBRecord);

function getters(proto, isIndex) {
  const who = isIndex ? "IDBIndex" : "IDBObjectStore";
  const src = sourceOf;
  Object.assign(proto, {
    get(query) {
      const prefix = `Failed to execute 'get' on '${who}'`;
      webidl.requiredArguments(arguments.length, 1, prefix);
      const [tx, meta, imeta] = src(this);
      checkSource(tx, meta, imeta);
      const range = toRange(query, true);
      return read(this, tx, meta, imeta, { range: range.toWire(), limit: 1, values: true }, (rows) =>
        rows.length ? readValue(meta, rows[0]) : undefined);
    },
    getKey(query) {
      const prefix = `Failed to execute 'getKey' on '${who}'`;
      webidl.requiredArguments(arguments.length, 1, prefix);
      const [tx, meta, imeta] = src(this);
      checkSource(tx, meta, imeta);
      const range = toRange(query, true);
      return read(this, tx, meta, imeta, { range: range.toWire(), limit: 1 }, (rows) =>
        rows.length ? decodeKey(rows[0].primaryKey) : undefined);
    },
    getAll(queryOrOptions, count) {
      return getAllOf(this, "getAll", queryOrOptions, count, (meta, r) => readValue(meta, r), true);
    },
    getAllKeys(queryOrOptions, count) {
      return getAllOf(this, "getAllKeys", queryOrOptions, count, (_, r) => decodeKey(r.primaryKey), false);
    },
    getAllRecords(options) {
      return getAllOf(this, "getAllRecords", options ?? {}, undefined, (meta, r) =>
        new IDBRecord(illegal, decodeKey(r.key), decodeKey(r.primaryKey), readValue(meta, r)), true, true);
    },
    count(query) {
      const [tx, meta, imeta] = src(this);
      checkSource(tx, meta, imeta);
      const range = toRange(query);
      const request = new IDBRequest(illegal, this, tx);
      return enqueue(tx, {
        op: "count",
        store: meta.name,
        index: imeta?.name ?? null,
        range: range.toWire(),
      }, { request });
    },
    openCursor(query, direction) {
      const prefix = `Failed to execute 'openCursor' on '${who}'`;
      const [tx, meta, imeta] = src(this);
      checkSource(tx, meta, imeta);
      const range = toRange(query);
      return openCursor(this, tx, meta, imeta, range, toDirection(direction, prefix), false);
    },
    openKeyCursor(query, direction) {
      const prefix = `Failed to execute 'openKeyCursor' on '${who}'`;
      const [tx, meta, imeta] = src(this);
      checkSource(tx, meta, imeta);
      const range = toRange(query);
      return openCursor(this, tx, meta, imeta, range, toDirection(direction, prefix), true);
    },
  });
}

// "Store a record into an object store", from put/add/cursor.update.
export function storeRecord(source, tx, meta, value, key, noOverwrite) {
  let k = key === undefined ? null : key;
  const { bytes, clone, blobs } = cloneForStorage(tx, value, meta.keyPath !== null || meta.indexes.size > 0);
  if (meta.keyPath !== null) {
    const kp = extractKey(clone, meta.keyPath);
    if (kp === INVALID) {
      throw err("DataError", "Evaluating the object store's key path yielded a value that is not a valid key.");
    }
    if (kp === NO_VALUE) {
      if (!meta.autoIncrement) {
        throw err("DataError", "Evaluating the object store's key path did not yield a value.");
      }
      if (!canInject(clone, meta.keyPath)) {
        throw err("DataError", "A generated key could not be inserted into the value.");
      }
    } else {
      k = kp;
    }
  }
  // A key to be generated goes where the store's key path points: index
  // key paths that reach it see a placeholder the browser replaces.
  const generated = k === null && typeof meta.keyPath === "string" && meta.indexes.size > 0;
  if (generated) injectKey(clone, meta.keyPath, PLACEHOLDER);
  const indexKeys = [];
  for (const im of meta.indexes.values()) {
    const r = extractKey(clone, im.keyPath, im.multiEntry);
    if (r === INVALID || r === NO_VALUE) continue;
    const keys = Array.isArray(r) ? r : [r];
    if (!keys.length) continue;
    indexKeys.push(generated ? { index: im.name, keys, placeholder: PLACEHOLDER_KEY } : { index: im.name, keys });
  }
  const request = new IDBRequest(illegal, source, tx);
  return enqueue(tx, {
    op: "put",
    store: meta.name,
    key: k,
    value: btoaBytes(bytes),
    indexKeys,
    noOverwrite,
  }, {
    request,
    map: decodeKey,
    lazy: true,
    // The Blobs' bodies are read (asynchronously) before the put is sent.
    prepare: blobs.length
      ? async (op) => {
        const bodies = await Promise.all(blobs.map((b) => b.arrayBuffer()));
        op.blobs = bodies.map((ab) => btoaBytes(new Uint8Array(ab)));
      }
      : undefined,
  });
}

export class IDBObjectStore {
  constructor(key, tx, meta) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this[kTx] = tx;
    this[kMeta] = meta;
    this[kIndexes] = new Map();
  }
  get name() {
    return this[kMeta].name;
  }
  set name(value) {
    const tx = this[kTx];
    const meta = this[kMeta];
    value = webidl.converters.DOMString(value);
    if (tx[kMode] !== "versionchange") {
      throw err("InvalidStateError", "Object stores are renamed only during an upgrade.");
    }
    if (meta.deleted) throw err("InvalidStateError", "The object store has been deleted.");
    checkActive(tx);
    if (meta.name === value) return;
    if (tx[kDb].objectStoreNames.contains(value)) {
      throw err("ConstraintError", `An object store named '${value}' exists.`);
    }
    enqueue(tx, { op: "renameStore", store: meta.name, name: value });
    tx[kDb].renameStore(meta, value);
  }
  get keyPath() {
    return keyPathValue(this);
  }
  get indexNames() {
    return stringList(this[kMeta].indexes.keys());
  }
  get transaction() {
    return this[kTx];
  }
  get autoIncrement() {
    return this[kMeta].autoIncrement;
  }
  put(value, key) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'put' on 'IDBObjectStore'");
    return this.#store(value, key, false);
  }
  add(value, key) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'add' on 'IDBObjectStore'");
    return this.#store(value, key, true);
  }
  #store(value, key, noOverwrite) {
    const tx = this[kTx];
    const meta = this[kMeta];
    checkSource(tx, meta, null, true);
    if (meta.keyPath !== null && key !== undefined) {
      throw err("DataError", "The object store uses in-line keys and the key parameter was provided.");
    }
    if (meta.keyPath === null && !meta.autoIncrement && key === undefined) {
      throw err("DataError", "The object store uses out-of-line keys and has no key generator and the key parameter was not provided.");
    }
    const k = key === undefined ? undefined : toKey(key);
    return storeRecord(this, tx, meta, value, k, noOverwrite);
  }
  delete(query) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'delete' on 'IDBObjectStore'");
    const tx = this[kTx];
    checkSource(tx, this[kMeta], null, true);
    const range = toRange(query, true);
    const request = new IDBRequest(illegal, this, tx);
    return enqueue(tx, { op: "delete", store: this[kMeta].name, range: range.toWire() }, {
      request,
      map: () => undefined,
    });
  }
  clear() {
    const tx = this[kTx];
    checkSource(tx, this[kMeta], null, true);
    const request = new IDBRequest(illegal, this, tx);
    return enqueue(tx, { op: "clear", store: this[kMeta].name }, { request, map: () => undefined });
  }
  index(name) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'index' on 'IDBObjectStore'");
    name = webidl.converters.DOMString(name);
    const meta = this[kMeta];
    if (meta.deleted || this[kTx][kState] === "finished") {
      throw err("InvalidStateError", "The object store has been deleted or its transaction has finished.");
    }
    const imeta = meta.indexes.get(name);
    if (!imeta) throw err("NotFoundError", `No index named '${name}'.`);
    let index = this[kIndexes].get(imeta);
    if (!index) {
      index = new IDBIndex(illegal, this, imeta);
      this[kIndexes].set(imeta, index);
    }
    return index;
  }
  createIndex(name, keyPath, options = {}) {
    const prefix = "Failed to execute 'createIndex' on 'IDBObjectStore'";
    webidl.requiredArguments(arguments.length, 2, prefix);
    name = webidl.converters.DOMString(name, prefix);
    keyPath = convertKeyPath(keyPath, prefix);
    const unique = !!options?.unique;
    const multiEntry = !!options?.multiEntry;
    const tx = this[kTx];
    const meta = this[kMeta];
    if (tx[kMode] !== "versionchange") {
      throw err("InvalidStateError", "Indexes are created only during an upgrade.");
    }
    if (meta.deleted) throw err("InvalidStateError", "The object store has been deleted.");
    checkActive(tx);
    if (meta.indexes.has(name)) throw err("ConstraintError", `An index named '${name}' exists.`);
    if (!isValidKeyPath(keyPath)) throw err("SyntaxError", "The key path is not valid.");
    if (multiEntry && Array.isArray(keyPath)) {
      throw err("InvalidAccessError", "A multiEntry index cannot have an array key path.");
    }
    const imeta = { name, keyPath, unique, multiEntry, deleted: false };
    meta.indexes.set(name, imeta);
    enqueue(tx, { op: "createIndex", store: meta.name, name, keyPath, unique, multiEntry });
    // The index gets the records already stored: read them, then fill it
    // before anything queued after it.
    const storeName = meta.name;
    enqueue(tx, { op: "read", store: storeName, index: null, range: {}, values: true }, {
      barrier: true,
      onResult: (rows) => {
        const entries = [];
        for (const row of rows) {
          const r = extractKey(readValue(meta, row), keyPath, multiEntry);
          if (r === INVALID || r === NO_VALUE) continue;
          for (const k of Array.isArray(r) ? r : [r]) entries.push([k, row.primaryKey]);
        }
        enqueueFirst(tx, { op: "populate", store: storeName, index: name, entries });
      },
    });
    return this.index(name);
  }
  deleteIndex(name) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'deleteIndex' on 'IDBObjectStore'");
    name = webidl.converters.DOMString(name);
    const tx = this[kTx];
    const meta = this[kMeta];
    if (tx[kMode] !== "versionchange") {
      throw err("InvalidStateError", "Indexes are deleted only during an upgrade.");
    }
    if (meta.deleted) throw err("InvalidStateError", "The object store has been deleted.");
    checkActive(tx);
    const imeta = meta.indexes.get(name);
    if (!imeta) throw err("NotFoundError", `No index named '${name}'.`);
    imeta.deleted = true;
    meta.indexes.delete(name);
    enqueue(tx, { op: "deleteIndex", store: meta.name, index: name });
  }
}
getters(IDBObjectStore.prototype, false);
webidl.configureInterface(IDBObjectStore);
setStoreFactory((tx, meta) => new IDBObjectStore(illegal, tx, meta));

export class IDBIndex {
  constructor(key, store, imeta) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this[kStore] = store;
    this[kMeta] = imeta;
  }
  get name() {
    return this[kMeta].name;
  }
  set name(value) {
    value = webidl.converters.DOMString(value);
    const store = this[kStore];
    const tx = store[kTx];
    const imeta = this[kMeta];
    if (tx[kMode] !== "versionchange") {
      throw err("InvalidStateError", "Indexes are renamed only during an upgrade.");
    }
    if (imeta.deleted || store[kMeta].deleted) {
      throw err("InvalidStateError", "The index has been deleted.");
    }
    checkActive(tx);
    if (imeta.name === value) return;
    const indexes = store[kMeta].indexes;
    if (indexes.has(value)) throw err("ConstraintError", `An index named '${value}' exists.`);
    enqueue(tx, { op: "renameIndex", store: store[kMeta].name, index: imeta.name, name: value });
    indexes.delete(imeta.name);
    imeta.name = value;
    indexes.set(value, imeta);
  }
  get objectStore() {
    return this[kStore];
  }
  get keyPath() {
    return keyPathValue(this);
  }
  get multiEntry() {
    return this[kMeta].multiEntry;
  }
  get unique() {
    return this[kMeta].unique;
  }
}
getters(IDBIndex.prototype, true);
webidl.configureInterface(IDBIndex);

