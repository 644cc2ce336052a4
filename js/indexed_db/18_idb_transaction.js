// IndexedDB 3.0 requests and transactions (sections 4.1, 4.9, 5).
//
// A transaction sends its requests to the browser in order, in batches
// (one batch in flight at a time): the browser runs them once the
// transaction has started, and answers with one result per request. Each
// result is then delivered as a task of its own, with the transaction
// active while its event is dispatched and until the task's microtasks
// have run (so promise wrappers such as `idb` can go on using it).
import { core } from "ext:core/mod.js";
import { op_void_async_deferred } from "ext:core/ops";
import { DOMException, hostCall, makeError } from "ext:swharness/ipc/01_host.js";
import { encodeName } from "ext:swharness/indexed_db/17_idb_keys.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const { Event, EventTarget, defineEventHandler, eventTargetData, listenerCount, setIsTrusted } = core
  .loadExtScript("ext:deno_web/02_event.js");

export const illegal = Symbol("illegal");

// Tasks ---------------------------------------------------------------------

// The task queue (`head` marks its front, so taking a task is O(1)).
let tasks = [];
let head = 0;
let scheduled = false;

function takeTask() {
  const fn = tasks[head];
  tasks[head++] = undefined;
  if (head === tasks.length) {
    tasks = [];
    head = 0;
  } else if (head > 1024 && head * 2 > tasks.length) {
    tasks = tasks.slice(head);
    head = 0;
  }
  return fn;
}

// Tasks that go before the queue (a transaction's deactivation at the end
// of the current task), in the order they were queued.
let front = [];
let frontHead = 0;

function takeFront() {
  const fn = front[frontHead];
  front[frontHead++] = undefined;
  if (frontHead === front.length) {
    front = [];
    frontHead = 0;
  }
  return fn;
}

// Runs the queued tasks, each followed by a microtask checkpoint (so a
// transaction is deactivated after its task's promise reactions, before
// anything else runs). It is called from the event loop's check phase
// (an immediate), not from a microtask, so the checkpoint runs.
function runTasks() {
  // Tasks queued meanwhile run in this same loop (no new immediate).
  while (frontHead < front.length || head < tasks.length) {
    const fn = frontHead < front.length ? takeFront() : takeTask();
    try {
      fn();
    } catch (e) {
      globalThis.reportError(e);
    }
    core.runMicrotasks();
  }
  scheduled = false;
}

/** Queues a task: it runs after the current one and its microtasks. */
export function queueTask(fn, first = false) {
  if (first) front.push(fn);
  else tasks.push(fn);
  if (scheduled) return;
  scheduled = true;
  core.queueImmediate({
    _idleNext: null,
    _idlePrev: null,
    _onImmediate: runTasks,
    _argv: undefined,
    _destroyed: false,
    [core.kRefed]: false,
    asyncId: 0,
    triggerAsyncId: 0,
  });
  // A pending op makes the event loop go round once more, and an
  // iteration that did work runs the immediates.
  op_void_async_deferred();
}

// Events --------------------------------------------------------------------

const kParent = Symbol("event parent");

// An event none of whose target's ancestors listens for its type is
// dispatched to the target alone, which then has no parent (the same
// listeners run, and deno_web's path building is skipped): its
// composedPath() is still the whole path.
const kAlone = Symbol("dispatched alone");

function ancestors(target) {
  const out = [];
  for (let p = target[kParent]?.(); p; p = p[kParent]?.()) out.push(p);
  return out;
}

// deno_web builds an event's path from `parentNode`: a request's parent is
// its transaction, a transaction's its connection ("get the parent").
export function setEventParent(proto) {
  Object.defineProperties(proto, {
    nodeType: { get: () => 0, configurable: true },
    parentNode: {
      get() {
        return this[kAlone] ? null : this[kParent]?.() ?? null;
      },
      configurable: true,
    },
    getRootNode: {
      value() {
        let n = this;
        while (n.parentNode) n = n.parentNode;
        return n;
      },
      configurable: true,
    },
  });
}

function noop() {}

// Whether a listener threw during the current dispatch: one listener on
// the global scope sees each reported exception.
let dispatching = 0;
let threwDuring = false;
let watching = false;

// Whether `obj` or one of its prototypes has `name` as a data property
// holding a function (no getter runs).
function hasMethod(obj, name) {
  for (let o = obj; o !== null; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) return typeof d.value === "function";
  }
  return false;
}

// deno_web skips a listener object whose handleEvent is not callable,
// where DOM's "inner invoke" throws a TypeError (reported, so IndexedDB
// aborts the transaction): for this dispatch, listener objects without a
// handleEvent method (a getter, say) get a function that does as DOM says.
// Returns what to put back.
function callableListeners(nodes, type) {
  const swapped = [];
  for (const node of nodes) {
    for (const listener of node[eventTargetData]?.listeners?.[type] ?? []) {
      const obj = listener.callback;
      if (obj === null || typeof obj !== "object" || hasMethod(obj, "handleEvent")) continue;
      swapped.push([listener, obj]);
      listener.callback = function handleEvent(event) {
        const h = obj.handleEvent;
        if (typeof h !== "function") throw new TypeError("The event listener's handleEvent is not callable.");
        return h.call(obj, event);
      };
    }
  }
  return swapped;
}

/**
 * Fires an event; says whether a listener threw (IndexedDB then aborts the
 * transaction) and whether the event was canceled.
 */
export function fire(target, type, { bubbles = false, cancelable = false, event } = {}) {
  const ev = event ?? new Event(type, { bubbles, cancelable });
  setIsTrusted(ev, true);
  if (!watching) {
    watching = true;
    globalThis.addEventListener("error", () => {
      if (dispatching) threwDuring = true;
    });
  }
  const outer = threwDuring;
  threwDuring = false;
  dispatching++;
  // deno_web skips the dispatch (and so the parents) when the target has
  // no listener of its own for the type.
  const up = ancestors(target);
  const alone = up.length > 0 && up.every((p) => listenerCount(p, ev.type) === 0);
  let during = true;
  if (alone) {
    const path = [target, ...up];
    Object.defineProperty(ev, "composedPath", {
      value: function composedPath() {
        return during ? path : [];
      },
      configurable: true,
    });
    target[kAlone] = true;
  } else if (ev.bubbles) {
    target.addEventListener(ev.type, noop);
  }
  const swapped = callableListeners(alone ? [target] : [target, ...up], ev.type);
  try {
    target.dispatchEvent(ev);
  } finally {
    for (const [listener, callback] of swapped) listener.callback = callback;
    during = false;
    if (alone) target[kAlone] = false;
    else if (ev.bubbles) target.removeEventListener(ev.type, noop);
    dispatching--;
  }
  const threw = threwDuring;
  threwDuring = outer;
  return { threw, canceled: ev.defaultPrevented };
}

export class IDBVersionChangeEvent extends Event {
  #oldVersion;
  #newVersion;
  constructor(type, init = {}) {
    const prefix = "Failed to construct 'IDBVersionChangeEvent'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    super(type, init);
    this.#oldVersion = webidl.converters["unsigned long long"](init?.oldVersion ?? 0, prefix);
    const nv = init?.newVersion;
    this.#newVersion = nv === null || nv === undefined
      ? null
      : webidl.converters["unsigned long long"](nv, prefix);
  }
  get oldVersion() {
    return this.#oldVersion;
  }
  get newVersion() {
    return this.#newVersion;
  }
}
webidl.configureInterface(IDBVersionChangeEvent);

/** A DOMStringList of sorted names. */
export class DOMStringList {
  #list;
  constructor(key, list) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#list = list;
    list.forEach((v, i) => Object.defineProperty(this, i, { value: v, enumerable: true }));
  }
  get length() {
    return this.#list.length;
  }
  item(i) {
    return this.#list[i >>> 0] ?? null;
  }
  contains(s) {
    return this.#list.includes(String(s));
  }
  *[Symbol.iterator]() {
    yield* this.#list;
  }
}
webidl.configureInterface(DOMStringList);

export function stringList(names) {
  return new DOMStringList(illegal, [...names].sort());
}

// Requests ------------------------------------------------------------------

export const kDone = Symbol("done");
export const kResult = Symbol("result");
export const kError = Symbol("error");
export const kSource = Symbol("source");
export const kTx = Symbol("transaction");
// A result nobody has looked at yet: made when `result` is first read.
const LAZY = Symbol("lazy result");
const kLazy = Symbol("lazy");

export class IDBRequest extends EventTarget {
  constructor(key, source = null, tx = null) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this[kDone] = false;
    this[kResult] = undefined;
    this[kError] = null;
    this[kSource] = source;
    this[kTx] = tx;
    this[kParent] = () => this[kTx];
  }
  get result() {
    if (!this[kDone]) {
      throw new DOMException("The request has not finished.", "InvalidStateError");
    }
    if (this[kResult] === LAZY) this[kResult] = this[kLazy]();
    return this[kResult];
  }
  get error() {
    if (!this[kDone]) {
      throw new DOMException("The request has not finished.", "InvalidStateError");
    }
    return this[kError];
  }
  get source() {
    return this[kSource];
  }
  get transaction() {
    return this[kTx];
  }
  get readyState() {
    return this[kDone] ? "done" : "pending";
  }
}
defineEventHandler(IDBRequest.prototype, "success");
defineEventHandler(IDBRequest.prototype, "error");
setEventParent(IDBRequest.prototype);
webidl.configureInterface(IDBRequest);

export class IDBOpenDBRequest extends IDBRequest {}
defineEventHandler(IDBOpenDBRequest.prototype, "blocked");
defineEventHandler(IDBOpenDBRequest.prototype, "upgradeneeded");
webidl.configureInterface(IDBOpenDBRequest);

// Transactions --------------------------------------------------------------

export const kDb = Symbol("db");
export const kScope = Symbol("scope");
export const kMode = Symbol("mode");
export const kState = Symbol("state");
export const kActive = Symbol("active");
export const kStores = Symbol("stores");
const kPending = Symbol("pending requests");
const kOutbox = Symbol("outbox");
const kInFlight = Symbol("in flight");
export const kId = Symbol("id");
export const kHooks = Symbol("hooks");
const kDurability = Symbol("durability");

let lastTxId = 0;
let makeStore = null;

/** The IDBObjectStore constructor (19_idb_stores.js), set once. */
export function setStoreFactory(fn) {
  makeStore = fn;
}

export class IDBTransaction extends EventTarget {
  constructor(key, db, scope, mode, durability, id) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    super();
    this[kDb] = db;
    this[kScope] = scope;
    this[kMode] = mode;
    this[kDurability] = durability;
    this[kState] = "running";
    this[kActive] = true;
    this[kError] = null;
    this[kStores] = new Map();
    this[kPending] = new Set();
    this[kOutbox] = [];
    this[kInFlight] = false;
    this[kId] = id ?? ++lastTxId;
    this[kHooks] = {};
    this[kParent] = () => this[kDb];
    // Inactive once the task that made it ends; then it may commit.
    queueTask(() => deactivate(this), true);
  }
  get objectStoreNames() {
    if (this[kMode] === "versionchange") return this[kDb].objectStoreNames;
    return stringList(this[kScope]);
  }
  get mode() {
    return this[kMode];
  }
  get durability() {
    return this[kDurability];
  }
  get db() {
    return this[kDb];
  }
  get error() {
    return this[kError];
  }
  objectStore(name) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'objectStore' on 'IDBTransaction'");
    name = webidl.converters.DOMString(name);
    if (this[kState] === "finished") {
      throw new DOMException("The transaction has finished.", "InvalidStateError");
    }
    const inScope = this[kMode] === "versionchange"
      ? this[kDb].objectStoreNames.contains(name)
      : this[kScope].includes(name);
    if (!inScope) {
      throw new DOMException(`No object store named '${name}' in this transaction.`, "NotFoundError");
    }
    const meta = this[kDb].storeMeta(name);
    let store = this[kStores].get(meta);
    if (!store) {
      store = makeStore(this, meta);
      this[kStores].set(meta, store);
    }
    return store;
  }
  commit() {
    if (this[kState] !== "running" || !this[kActive]) {
      throw new DOMException("The transaction is not active.", "InvalidStateError");
    }
    commitTx(this);
  }
  abort() {
    if (this[kState] !== "running") {
      throw new DOMException("The transaction has finished or is committing.", "InvalidStateError");
    }
    abortTx(this, null);
  }
}
defineEventHandler(IDBTransaction.prototype, "abort");
defineEventHandler(IDBTransaction.prototype, "complete");
defineEventHandler(IDBTransaction.prototype, "error");
setEventParent(IDBTransaction.prototype);
webidl.configureInterface(IDBTransaction);

export function newTransaction(db, scope, mode, durability, id) {
  return new IDBTransaction(illegal, db, scope, mode, durability, id);
}

/** An id for a transaction the browser makes (an upgrade). */
export function reserveTxId() {
  return ++lastTxId;
}

export function isActive(tx) {
  return tx[kState] === "running" && tx[kActive];
}

/** Throws TransactionInactiveError unless the transaction is active. */
export function checkActive(tx) {
  if (!isActive(tx)) {
    throw new DOMException("The transaction is not active.", "TransactionInactiveError");
  }
}

function deactivate(tx) {
  tx[kActive] = false;
  maybeCommit(tx);
}

function wire(tx) {
  return { name: encodeName(tx[kDb].name), tx: tx[kId] };
}

// "Auto-commit": no request left, and inactive.
function maybeCommit(tx) {
  if (
    tx[kState] === "running" && !tx[kActive] && !tx[kDoomed] && tx[kPending].size === 0 &&
    tx[kOutbox].length === 0 && !tx[kInFlight]
  ) {
    commitTx(tx);
  }
}

/**
 * Queues an operation for the browser. With a request, its result is
 * delivered to it (`map` turns the answer into `result`); without one,
 * `onResult` sees the answer (a failure aborts the transaction).
 */
export function enqueue(
  tx,
  op,
  { request, map = (v) => v, onResult, barrier = false, prepare, lazy = false } = {},
) {
  const item = { op, request, map, onResult, barrier, prepare, lazy };
  if (op.op !== "read" && op.op !== "count") tx[kWrites] = (tx[kWrites] ?? 0) + 1;
  if (request) {
    request[kDone] = false;
    tx[kPending].add(item);
  }
  tx[kOutbox].push(item);
  flush(tx);
  return request;
}

const kWrites = Symbol("writes");

/** How many writes the transaction has queued (a cursor's read-ahead is
 * good only while this stays the same). */
export function writeCount(tx) {
  return tx[kWrites] ?? 0;
}

/** Nothing queued, sent or waiting for its event. */
export function isIdle(tx) {
  return tx[kPending].size === 0 && tx[kOutbox].length === 0 && !tx[kInFlight];
}

/** Answers a request from what the realm already has (a cursor's
 * read-ahead), as a task of its own like any other result. */
export function answerLocally(tx, request, map) {
  const item = { op: null, request, map };
  request[kDone] = false;
  tx[kPending].add(item);
  queueTask(() => deliver(tx, item, { ok: null }));
}

/** Puts an operation before the queued ones (an index's population). */
export function enqueueFirst(tx, op) {
  tx[kOutbox].unshift({ op });
}

// The names an operation carries, as the browser takes them.
function encodeOp(op) {
  const out = { ...op };
  for (const f of ["store", "index", "name"]) {
    if (typeof out[f] === "string") out[f] = encodeName(out[f]);
  }
  if (out.indexKeys) {
    out.indexKeys = out.indexKeys.map((k) => ({ ...k, index: encodeName(k.index) }));
  }
  return out;
}

function flush(tx) {
  if (tx[kInFlight] || tx[kOutbox].length === 0 || tx[kState] === "finished") return;
  let n = tx[kOutbox].findIndex((i) => i.barrier) + 1;
  if (n === 0) n = tx[kOutbox].length;
  const batch = tx[kOutbox].splice(0, n);
  tx[kInFlight] = true;
  const failed = (e) => {
    tx[kInFlight] = false;
    queueTask(() => abortTx(tx, e));
  };
  const send = () =>
    hostCall("indexedDB.run", { ...wire(tx), ops: batch.map((i) => encodeOp(i.op)) }).then(
      (results) => {
        tx[kInFlight] = false;
        if (tx[kState] === "finished") return;
        batch.forEach((item, i) => answer(tx, item, results[i]));
        flush(tx);
        maybeCommit(tx);
      },
      failed,
    );
  const preparing = batch.filter((i) => i.prepare);
  if (preparing.length) {
    Promise.all(preparing.map((i) => i.prepare(i.op))).then(send, failed);
  } else {
    send();
  }
}

function answer(tx, item, result) {
  if (item.request) {
    queueTask(() => deliver(tx, item, result));
  } else if (result.error) {
    // An operation of the API itself failed (an index's population hit a
    // uniqueness conflict): the transaction aborts with its error, after
    // the results queued before (and it may no longer commit).
    doom(tx, makeError(result.error));
  } else if (item.onResult) {
    try {
      item.onResult(result.ok);
    } catch (e) {
      doom(tx, e);
    }
  }
}

const kDoomed = Symbol("doomed");

function doom(tx, error) {
  tx[kDoomed] = true;
  queueTask(() => abortTx(tx, error));
}

// Delivers a request's result ("fire a success event" / "fire an error
// event"); a listener that throws aborts the transaction, and so does an
// error event nobody canceled.
function deliver(tx, item, result) {
  if (tx[kState] === "finished") return;
  tx[kPending].delete(item);
  const req = item.request;
  let error = result.error ? makeError(result.error) : null;
  // A success nobody listens for (on the request, or capturing on its
  // transaction or connection) needs no event object, and a pure result
  // is made only if it is read: bulk puts skip both.
  const heard = error || listenerCount(req, "success") || listenerCount(tx, "success") ||
    listenerCount(tx[kDb], "success");
  let value;
  if (!error && !heard && item.lazy) {
    // No event is fired, so no script runs while the transaction would be
    // active: it is not activated, and no task deactivates it.
    req[kDone] = true;
    req[kResult] = LAZY;
    req[kLazy] = () => item.map(result.ok);
    req[kError] = null;
    if (tx[kState] === "committing") commitTx(tx);
    else maybeCommit(tx);
    return;
  } else if (!error) {
    try {
      value = item.map(result.ok);
    } catch (e) {
      error = e;
    }
  }
  req[kDone] = true;
  req[kResult] = error ? undefined : value;
  req[kError] = error;
  tx[kActive] = true;
  const { threw, canceled } = error
    ? fire(req, "error", { bubbles: true, cancelable: true })
    : heard
    ? fire(req, "success")
    : { threw: false, canceled: false };
  queueTask(() => deactivate(tx), true);
  // After an explicit commit(), a throwing listener no longer aborts.
  if (threw && tx[kState] !== "committing") {
    abortTx(tx, new DOMException("An event listener threw.", "AbortError"));
  } else if (error && !canceled) {
    abortTx(tx, error);
  }
  if (tx[kState] === "committing") commitTx(tx);
}

const kCommitSent = Symbol("commit sent");

// "Commit a transaction": once every request has been answered and its
// event fired (one may still abort it), the browser commits.
function commitTx(tx) {
  tx[kState] = "committing";
  if (tx[kPending].size || tx[kOutbox].length || tx[kInFlight] || tx[kCommitSent]) return;
  tx[kCommitSent] = true;
  hostCall("indexedDB.commit", wire(tx)).then(
    () =>
      queueTask(() => {
        tx[kState] = "finished";
        tx[kHooks].beforeComplete?.();
        fire(tx, "complete");
        tx[kHooks].afterComplete?.();
      }),
    (e) => queueTask(() => abortTx(tx, e, true)),
  );
}

/** "Abort a transaction", with `error` (or null for `abort()`). */
export function abortTx(tx, error, committing = false) {
  if (tx[kState] === "finished" || (tx[kCommitSent] && !committing)) return;
  tx[kState] = "finished";
  tx[kActive] = false;
  if (error) tx[kError] = error;
  hostCall("indexedDB.abort", wire(tx)).catch(() => {});
  tx[kHooks].onAbort?.();
  const pending = [...tx[kPending]];
  tx[kPending].clear();
  tx[kOutbox].length = 0;
  for (const item of pending) {
    queueTask(() => {
      const req = item.request;
      req[kDone] = true;
      req[kResult] = undefined;
      req[kError] = new DOMException("The transaction was aborted.", "AbortError");
      fire(req, "error", { bubbles: true, cancelable: true });
    });
  }
  queueTask(() => {
    tx[kHooks].beforeAbortEvent?.();
    fire(tx, "abort", { bubbles: true });
    tx[kHooks].afterAbort?.();
  });
}

/** Tells the browser of a new transaction (before any of its requests). */
export function beginTx(tx, conn) {
  hostCall("indexedDB.begin", {
    ...wire(tx),
    conn,
    mode: tx[kMode],
    scope: tx[kScope].map(encodeName),
  }).catch((e) => queueTask(() => abortTx(tx, e)));
}
