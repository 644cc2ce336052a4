// IndexedDB 3.0: the factory (`indexedDB`) and connections (sections 4.2,
// 4.4). Opening, upgrading and deleting go through the browser
// (src/indexed_db/), which asks the other connections, in every realm of
// the origin, to close (`versionchange`) and tells the request when they
// do not (`blocked`).
import { core } from "ext:core/mod.js";
import { DOMException, hostCall, makeError, onBrowserCommand } from "ext:swharness/ipc/01_host.js";
import {
  compareEncoded,
  convertKeyPath,
  decodeName,
  encodeName,
  IDBKeyRange,
  isValidKeyPath,
  toKey,
} from "ext:swharness/indexed_db/17_idb_keys.js";
import {
  abortTx,
  beginTx,
  checkActive,
  DOMStringList,
  enqueue,
  fire,
  IDBOpenDBRequest,
  IDBRequest,
  IDBTransaction,
  IDBVersionChangeEvent,
  illegal,
  kDone,
  kError,
  kHooks,
  kResult,
  kState,
  kTx,
  newTransaction,
  queueTask,
  reserveTxId,
  setEventParent,
  stringList,
} from "ext:swharness/indexed_db/18_idb_transaction.js";
import { IDBIndex, IDBObjectStore, IDBRecord } from "ext:swharness/indexed_db/19_idb_stores.js";
import { IDBCursor, IDBCursorWithValue } from "ext:swharness/indexed_db/22_idb_cursors.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const { EventTarget, defineEventHandler } = core.loadExtScript("ext:deno_web/02_event.js");

const kSchema = Symbol("schema");
const kConn = Symbol("connection");
const kClosePending = Symbol("close pending");
const kUpgrade = Symbol("upgrade transaction");
const kName = Symbol("name");
const kVersion = Symbol("version");

function err(name, message) {
  return new DOMException(message, name);
}

// This realm's connections and pending open/delete requests, by id.
const connections = new Map();
const openRequests = new Map();
let lastConn = 0;
let lastRequest = 0;

function schemaFrom(stores) {
  const schema = new Map();
  for (const s of stores) {
    const indexes = new Map();
    for (const i of s.indexes) {
      const name = decodeName(i.name);
      indexes.set(name, { ...i, name, deleted: false });
    }
    const name = decodeName(s.name);
    schema.set(name, {
      name,
      keyPath: s.keyPath,
      autoIncrement: s.autoIncrement,
      indexes,
      deleted: false,
    });
  }
  return schema;
}

export class IDBDatabase extends EventTarget {
  constructor(key, name, version, stores, conn) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this[kName] = name;
    this[kVersion] = version;
    this[kSchema] = schemaFrom(stores);
    this[kConn] = conn;
    this[kClosePending] = false;
    this[kUpgrade] = null;
  }
  get name() {
    return this[kName];
  }
  get version() {
    return this[kVersion];
  }
  get objectStoreNames() {
    return stringList(this[kSchema].keys());
  }
  storeMeta(name) {
    return this[kSchema].get(name);
  }
  renameStore(meta, name) {
    this[kSchema].delete(meta.name);
    meta.name = name;
    this[kSchema].set(name, meta);
  }
  transaction(storeNames, mode = "readonly", options = {}) {
    const prefix = "Failed to execute 'transaction' on 'IDBDatabase'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    const names = typeof storeNames !== "string" && typeof storeNames?.[Symbol.iterator] === "function"
      ? Array.from(storeNames, (n) => webidl.converters.DOMString(n, prefix))
      : [webidl.converters.DOMString(storeNames, prefix)];
    mode = webidl.converters.DOMString(mode, prefix);
    if (!["readonly", "readwrite", "versionchange"].includes(mode)) {
      throw new TypeError(`${prefix}: '${mode}' is not a valid IDBTransactionMode`);
    }
    const durability = options?.durability === undefined
      ? "default"
      : webidl.converters.DOMString(options.durability, prefix);
    if (!["default", "strict", "relaxed"].includes(durability)) {
      throw new TypeError(`${prefix}: '${durability}' is not a valid IDBTransactionDurability`);
    }
    if (this[kUpgrade] && this[kUpgrade][kState] !== "finished") {
      throw err("InvalidStateError", "A version change transaction is running.");
    }
    if (this[kClosePending]) throw err("InvalidStateError", "The database connection is closing.");
    const scope = [...new Set(names)].sort();
    for (const n of scope) {
      if (!this[kSchema].has(n)) throw err("NotFoundError", `No object store named '${n}'.`);
    }
    if (scope.length === 0) throw err("InvalidAccessError", "The scope is empty.");
    if (mode === "versionchange") throw new TypeError(`${prefix}: mode must be 'readonly' or 'readwrite'`);
    const tx = newTransaction(this, scope, mode, durability);
    beginTx(tx, this[kConn]);
    return tx;
  }
  close() {
    closeConnection(this);
  }
  createObjectStore(name, options = {}) {
    const prefix = "Failed to execute 'createObjectStore' on 'IDBDatabase'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    name = webidl.converters.DOMString(name, prefix);
    const keyPath = convertKeyPath(options?.keyPath, prefix);
    const autoIncrement = !!options?.autoIncrement;
    const tx = this[kUpgrade];
    if (!tx) {
      throw err("InvalidStateError", "Object stores are created only during an upgrade.");
    }
    checkActive(tx);
    if (keyPath !== null && !isValidKeyPath(keyPath)) {
      throw err("SyntaxError", "The key path is not valid.");
    }
    if (this[kSchema].has(name)) throw err("ConstraintError", `An object store named '${name}' exists.`);
    if (autoIncrement && (keyPath === "" || Array.isArray(keyPath))) {
      throw err("InvalidAccessError", "A key generator needs a non-empty string key path or none.");
    }
    this[kSchema].set(name, { name, keyPath, autoIncrement, indexes: new Map(), deleted: false });
    enqueue(tx, { op: "createStore", name, keyPath, autoIncrement });
    return tx.objectStore(name);
  }
  deleteObjectStore(name) {
    const prefix = "Failed to execute 'deleteObjectStore' on 'IDBDatabase'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    name = webidl.converters.DOMString(name, prefix);
    const tx = this[kUpgrade];
    if (!tx) {
      throw err("InvalidStateError", "Object stores are deleted only during an upgrade.");
    }
    checkActive(tx);
    const meta = this[kSchema].get(name);
    if (!meta) throw err("NotFoundError", `No object store named '${name}'.`);
    meta.deleted = true;
    for (const i of meta.indexes.values()) i.deleted = true;
    meta.indexes = new Map();
    this[kSchema].delete(name);
    enqueue(tx, { op: "deleteStore", store: name });
  }
}
for (const h of ["abort", "close", "error", "versionchange"]) {
  defineEventHandler(IDBDatabase.prototype, h);
}
setEventParent(IDBDatabase.prototype);
webidl.configureInterface(IDBDatabase);

function closeConnection(db) {
  if (db[kClosePending]) return;
  db[kClosePending] = true;
  hostCall("indexedDB.close", { name: encodeName(db[kName]), conn: db[kConn] }).catch(() => {});
}

// Lets the browser go on to the database's next open or delete request.
function opened(db) {
  hostCall("indexedDB.opened", { name: encodeName(db[kName]), conn: db[kConn] }).catch(() => {});
}

function finishRequest(request, result, error, event) {
  request[kDone] = true;
  request[kResult] = result;
  request[kError] = error;
  if (error) return fire(request, "error", { bubbles: true, cancelable: true });
  return fire(request, "success", { event });
}

// "Upgrade a database": `upgradeneeded` with the versionchange transaction
// active; the request succeeds when it completes, fails if it aborts.
function runUpgrade(request, db, txId, oldVersion, newVersion, id) {
  const tx = newTransaction(db, [...db[kSchema].keys()].sort(), "versionchange", "default", txId);
  db[kUpgrade] = tx;
  // What an abort puts back: the stores, their names and indexes.
  const before = new Map();
  for (const meta of db[kSchema].values()) {
    before.set(meta, { name: meta.name, indexes: new Map(meta.indexes) });
  }
  const names = new Map([...before.values()].flatMap((b) => [...b.indexes.values()].map((i) => [i, i.name])));
  tx[kHooks].onAbort = () => {
    for (const meta of db[kSchema].values()) {
      if (!before.has(meta)) {
        meta.deleted = true;
        for (const i of meta.indexes.values()) i.deleted = true;
        meta.indexes = new Map();
      }
    }
    db[kSchema] = new Map();
    for (const [meta, b] of before) {
      meta.name = b.name;
      meta.deleted = false;
      for (const i of meta.indexes.values()) if (!names.has(i)) i.deleted = true;
      meta.indexes = b.indexes;
      for (const i of b.indexes.values()) {
        i.name = names.get(i);
        i.deleted = false;
      }
      db[kSchema].set(b.name, meta);
    }
    db[kVersion] = oldVersion;
    closeConnection(db);
  };
  tx[kHooks].beforeAbortEvent = () => {
    db[kUpgrade] = null;
  };
  tx[kHooks].afterAbort = () => {
    request[kTx] = null;
    finishRequest(request, undefined, err("AbortError", "The upgrade transaction was aborted."));
    openRequests.delete(id);
    opened(db);
  };
  tx[kHooks].beforeComplete = () => {
    db[kUpgrade] = null;
  };
  tx[kHooks].afterComplete = () =>
    queueTask(() => {
      openRequests.delete(id);
      request[kTx] = null;
      if (db[kClosePending]) {
        finishRequest(request, undefined, err("AbortError", "The connection was closed during the upgrade."));
      } else {
        finishRequest(request, db, null);
      }
      opened(db);
    });
  request[kTx] = tx;
  request[kDone] = true;
  request[kResult] = db;
  const event = new IDBVersionChangeEvent("upgradeneeded", { oldVersion, newVersion });
  const { threw } = fire(request, "upgradeneeded", { event });
  if (threw) abortTx(tx, err("AbortError", "An upgradeneeded listener threw."));
}

export class IDBFactory {
  constructor(key) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
  }
  open(name, version) {
    const prefix = "Failed to execute 'open' on 'IDBFactory'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    name = webidl.converters.DOMString(name, prefix);
    if (version !== undefined) {
      version = webidl.converters["unsigned long long"](version, prefix, "Argument 2", {
        enforceRange: true,
      });
      if (version === 0) throw new TypeError(`${prefix}: The version provided must not be 0.`);
    }
    const request = new IDBOpenDBRequest(illegal, null, null);
    const id = ++lastRequest;
    const conn = ++lastConn;
    const txId = reserveTxId();
    openRequests.set(id, request);
    hostCall("indexedDB.open", { name: encodeName(name), version: version ?? null, conn, tx: txId, request: id }).then(
      (r) => {
        // The connection exists from now on: a versionchange for it may
        // come before its success event has been fired (and is queued
        // after it).
        const db = new IDBDatabase(illegal, name, r.version, r.schema, conn);
        connections.set(conn, db);
        queueTask(() => {
          if (r.upgrade) {
            runUpgrade(request, db, txId, r.oldVersion, r.version, id);
          } else {
            openRequests.delete(id);
            finishRequest(request, db, null);
            opened(db);
          }
        });
      },
      (e) =>
        queueTask(() => {
          openRequests.delete(id);
          finishRequest(request, undefined, e);
        }),
    );
    return request;
  }
  deleteDatabase(name) {
    const prefix = "Failed to execute 'deleteDatabase' on 'IDBFactory'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    name = webidl.converters.DOMString(name, prefix);
    const request = new IDBOpenDBRequest(illegal, null, null);
    const id = ++lastRequest;
    openRequests.set(id, request);
    hostCall("indexedDB.deleteDatabase", { name: encodeName(name), request: id }).then(
      (oldVersion) =>
        queueTask(() => {
          openRequests.delete(id);
          const event = new IDBVersionChangeEvent("success", { oldVersion, newVersion: null });
          finishRequest(request, undefined, null, event);
        }),
      (e) =>
        queueTask(() => {
          openRequests.delete(id);
          finishRequest(request, undefined, e);
        }),
    );
    return request;
  }
  databases() {
    return hostCall("indexedDB.databases").then((list) =>
      list.map(({ name, version }) => ({ name: decodeName(name), version }))
    );
  }
  cmp(first, second) {
    webidl.requiredArguments(arguments.length, 2, "Failed to execute 'cmp' on 'IDBFactory'");
    return compareEncoded(toKey(first), toKey(second));
  }
}
webidl.configureInterface(IDBFactory);

// The browser asks this realm's connections to close for another's upgrade
// or delete; the answer lists those that are closing.
// Each event is a task, after those queued before it.
onBrowserCommand("idbVersionChange", ({ conns, oldVersion, newVersion }) =>
  new Promise((resolve) =>
    queueTask(() => {
      for (const id of conns) {
        const db = connections.get(id);
        if (!db || db[kClosePending]) continue;
        const event = new IDBVersionChangeEvent("versionchange", { oldVersion, newVersion });
        fire(db, "versionchange", { event });
      }
      // After the listeners' microtasks (an `await` then close() counts),
      // before anything else (a close() in a setTimeout does not).
      queueTask(
        () => resolve({ closed: conns.filter((id) => connections.get(id)?.[kClosePending]) }),
        true,
      );
    })
  ));

onBrowserCommand("idbBlocked", ({ request, oldVersion, newVersion }) =>
  queueTask(() => {
    const req = openRequests.get(request);
    if (!req) return;
    const event = new IDBVersionChangeEvent("blocked", { oldVersion, newVersion });
    fire(req, "blocked", { event });
  }));

/** The IndexedDB members of a global scope. */
export function indexedDBGlobals(value, getter) {
  const factory = new IDBFactory(illegal);
  return {
    indexedDB: getter(() => factory),
    IDBFactory: value(IDBFactory),
    IDBDatabase: value(IDBDatabase),
    IDBTransaction: value(IDBTransaction),
    IDBObjectStore: value(IDBObjectStore),
    IDBIndex: value(IDBIndex),
    IDBCursor: value(IDBCursor),
    IDBCursorWithValue: value(IDBCursorWithValue),
    IDBKeyRange: value(IDBKeyRange),
    IDBRecord: value(IDBRecord),
    IDBRequest: value(IDBRequest),
    IDBOpenDBRequest: value(IDBOpenDBRequest),
    IDBVersionChangeEvent: value(IDBVersionChangeEvent),
    DOMStringList: value(DOMStringList),
  };
}
