// META: global=window,serviceworker
// META: title=IndexedDB: hostile keys get DataError, never a crash
'use strict';

// Keys an attacker (or a bug) may hand IndexedDB: each is a DataError (or,
// for an array nested deep but within our limit, a key that round-trips),
// and the transaction goes on.

function nest(depth) {
  let a = 1;
  for (let i = 0; i < depth; i++) a = [a];
  return a;
}

function depthOf(key) {
  let d = 0;
  while (Array.isArray(key)) {
    key = key[0];
    d++;
  }
  return d;
}

promise_test(async t => {
  const cyclic = [];
  cyclic.push(cyclic);
  const holes = [1, , 3];
  const detached = new Uint8Array(8);
  detached.buffer.transfer?.();
  const invalid = {
    NaN: NaN,
    'invalid date': new Date(NaN),
    'cyclic array': cyclic,
    'sparse array': holes,
    'plain object': {},
    null: null,
    undefined: undefined,
    symbol: Symbol('s'),
    '5000-deep array': nest(5000),
  };
  if (detached.buffer.detached) invalid['detached buffer'] = detached;
  for (const [label, key] of Object.entries(invalid)) {
    assert_throws_dom('DataError', () => indexedDB.cmp(key, 1), label);
  }
}, 'NaN, invalid dates, cyclic and sparse arrays, non-keys, 5000-deep arrays and detached buffers are DataErrors');

promise_test(async t => {
  const name = 'hostile-keys-' + Math.random();
  t.add_cleanup(() => {
    indexedDB.deleteDatabase(name);
  });
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('s');
  const db = await new Promise((resolve, reject) => {
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  t.add_cleanup(() => {
    db.close();
  });
  const tx = db.transaction('s', 'readwrite');
  const store = tx.objectStore('s');
  assert_throws_dom('DataError', () => store.put('v', nest(5000)));
  assert_throws_dom('DataError', () => store.put('v', NaN));
  const deep = nest(900);
  store.put('deep', deep);
  const got = await new Promise(resolve => {
    store.openCursor().onsuccess = e => resolve(e.target.result.key);
  });
  assert_equals(depthOf(got), 900, 'a 900-deep key comes back whole');
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
}, 'A deep array key round-trips; a too-deep one is a DataError and the transaction goes on');
