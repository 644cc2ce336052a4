// IndexedDB 3.0 cursors (section 4.8): IDBCursor and IDBCursorWithValue.
// A cursor keeps its position here; each step asks the browser for the
// next record past it (src/indexed_db/reads.rs), or takes it from what an
// earlier step read ahead.
import { core } from "ext:core/mod.js";
import { compareEncoded, decodeKey, extractKey, INVALID, NO_VALUE, onlyEncoded, toKey } from "ext:swharness/indexed_db/17_idb_keys.js";
import {
  answerLocally,
  checkActive,
  enqueue,
  IDBRequest,
  illegal,
  isIdle,
  kMode,
  writeCount,
} from "ext:swharness/indexed_db/18_idb_transaction.js";
import {
  cloneForStorage,
  err,
  readValue,
  setCursorOpener,
  storeRecord,
} from "ext:swharness/indexed_db/19_idb_stores.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const kC = Symbol("cursor state");

function openCursor(source, tx, meta, imeta, range, direction, keysOnly) {
  const Class = keysOnly ? IDBCursor : IDBCursorWithValue;
  const request = new IDBRequest(illegal, source, tx);
  const cursor = new Class(illegal, {
    source,
    tx,
    meta,
    imeta,
    range,
    direction,
    keysOnly,
    request,
    key: undefined,
    primaryKey: undefined,
    value: undefined,
    got: false,
  });
  step(cursor, {});
  return request;
}

// "Iterate a cursor": the next record past the position, from the browser.
// A cursor reads ahead once it has been continued a few times (as
// Chromium's does): later steps are answered from those rows while the
// transaction writes nothing and has no other request waiting.
const READ_AHEAD = 100;
const READ_AHEAD_BYTES = 1024 * 1024;

function step(cursor, { target, skip = 0 }) {
  const c = cursor[kC];
  const first = (rows) => {
    if (!rows.length) {
      c.key = c.primaryKey = c.value = undefined;
      c.keyValue = c.primaryKeyValue = undefined;
      return null;
    }
    const row = rows[0];
    c.key = row.key;
    c.primaryKey = row.primaryKey;
    c.keyValue = decodeKey(row.key);
    c.primaryKeyValue = decodeKey(row.primaryKey);
    c.value = c.keysOnly ? undefined : readValue(c.meta, row);
    c.got = true;
    return cursor;
  };
  const ahead = c.ahead;
  c.ahead = null;
  if (!target && skip === 0 && ahead && ahead.epoch === writeCount(c.tx) && isIdle(c.tx)) {
    const rows = ahead.rows;
    if (rows.length || ahead.end) {
      const row = rows.shift();
      c.ahead = rows.length || ahead.end ? ahead : null;
      answerLocally(c.tx, c.request, () => first(row ? [row] : []));
      return;
    }
  }
  c.steps = (c.steps ?? 0) + 1;
  const limit = c.steps > 2 ? READ_AHEAD : 1;
  const epoch = writeCount(c.tx);
  const after = c.key === undefined ? null : {
    key: c.key,
    primaryKey: c.imeta ? c.primaryKey : null,
  };
  enqueue(c.tx, {
    op: "read",
    store: c.meta.name,
    index: c.imeta?.name ?? null,
    range: c.range.toWire(),
    direction: c.direction,
    after,
    target: target ?? null,
    skip,
    limit,
    values: !c.keysOnly,
    // Large values: read ahead at most about 1 MiB of them.
    budget: limit > 1 ? READ_AHEAD_BYTES : null,
  }, {
    request: c.request,
    map: (rows) => {
      // Fewer rows than asked for is the end, unless the budget cut them.
      if (limit > 1) {
        const bytes = rows.reduce((n, r) => n + (r.value?.length ?? 0) * 0.75, 0);
        const end = rows.length < limit && bytes < READ_AHEAD_BYTES - 2 * rows.length;
        c.ahead = { rows: rows.slice(1), end, epoch };
      }
      return first(rows);
    },
  });
}

function checkCursor(c, write) {
  checkActive(c.tx);
  if (write && c.tx[kMode] === "readonly") throw err("ReadOnlyError", "The transaction is read-only.");
  if (c.meta.deleted || c.imeta?.deleted) {
    throw err("InvalidStateError", "The cursor's source has been deleted.");
  }
  if (!c.got) throw err("InvalidStateError", "The cursor is being iterated or has iterated past its end.");
  if (write && c.keysOnly) throw err("InvalidStateError", "The cursor is a key cursor.");
}

export class IDBCursor {
  constructor(key, state) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this[kC] = state;
  }
  get source() {
    return this[kC].source;
  }
  get direction() {
    return this[kC].direction;
  }
  get key() {
    return this[kC].keyValue;
  }
  get primaryKey() {
    return this[kC].primaryKeyValue;
  }
  get request() {
    return this[kC].request;
  }
  advance(count) {
    const prefix = "Failed to execute 'advance' on 'IDBCursor'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    count = webidl.converters["unsigned long"](count, prefix, "Argument 1", { enforceRange: true });
    if (count === 0) throw new TypeError(`${prefix}: A count argument with value 0 (zero) was supplied, must be greater than 0.`);
    const c = this[kC];
    checkCursor(c, false);
    c.got = false;
    step(this, { skip: count - 1 });
  }
  continue(key) {
    const c = this[kC];
    checkCursor(c, false);
    let target;
    if (key !== undefined) {
      const k = toKey(key);
      const cmp = compareEncoded(k, c.key);
      if (c.direction.startsWith("next") ? cmp <= 0 : cmp >= 0) {
        throw err("DataError", "The key is not past the cursor's position in its direction.");
      }
      target = { key: k, primaryKey: null };
    }
    c.got = false;
    step(this, { target });
  }
  continuePrimaryKey(key, primaryKey) {
    webidl.requiredArguments(arguments.length, 2, "Failed to execute 'continuePrimaryKey' on 'IDBCursor'");
    const c = this[kC];
    checkActive(c.tx);
    if (c.meta.deleted || c.imeta?.deleted) {
      throw err("InvalidStateError", "The cursor's source has been deleted.");
    }
    if (!c.imeta) throw err("InvalidAccessError", "The cursor's source is not an index.");
    if (c.direction !== "next" && c.direction !== "prev") {
      throw err("InvalidAccessError", "The cursor's direction is not 'next' or 'prev'.");
    }
    if (!c.got) throw err("InvalidStateError", "The cursor is being iterated or has iterated past its end.");
    const k = toKey(key);
    const pk = toKey(primaryKey);
    const cmp = compareEncoded(k, c.key);
    const pcmp = compareEncoded(pk, c.primaryKey);
    const behind = c.direction === "next"
      ? cmp < 0 || (cmp === 0 && pcmp <= 0)
      : cmp > 0 || (cmp === 0 && pcmp >= 0);
    if (behind) throw err("DataError", "The key is not past the cursor's position in its direction.");
    c.got = false;
    step(this, { target: { key: k, primaryKey: pk } });
  }
  update(value) {
    webidl.requiredArguments(arguments.length, 1, "Failed to execute 'update' on 'IDBCursor'");
    const c = this[kC];
    checkCursor(c, true);
    if (c.meta.keyPath !== null) {
      const { clone } = cloneForStorage(c.tx, value);
      const kp = extractKey(clone, c.meta.keyPath);
      if (kp === INVALID || kp === NO_VALUE || kp !== c.primaryKey) {
        throw err("DataError", "The new value's key does not match the cursor's primary key.");
      }
      return storeRecord(this, c.tx, c.meta, value, undefined, false);
    }
    return storeRecord(this, c.tx, c.meta, value, c.primaryKey, false);
  }
  delete() {
    const c = this[kC];
    checkCursor(c, true);
    const request = new IDBRequest(illegal, this, c.tx);
    return enqueue(c.tx, {
      op: "delete",
      store: c.meta.name,
      range: onlyEncoded(c.primaryKey).toWire(),
    }, { request, map: () => undefined });
  }
}
webidl.configureInterface(IDBCursor);

export class IDBCursorWithValue extends IDBCursor {
  get value() {
    return this[kC].value;
  }
}
webidl.configureInterface(IDBCursorWithValue);

setCursorOpener(openCursor);
