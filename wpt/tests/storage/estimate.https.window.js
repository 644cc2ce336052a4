'use strict';

// StorageManager (the Storage spec): navigator.storage.estimate() counts
// what the origin stores, against its quota; persist() and persisted().

promise_test(async t => {
  assert_true(navigator.storage instanceof StorageManager);
  const before = await navigator.storage.estimate();
  assert_equals(typeof before.usage, 'number');
  assert_equals(before.quota, 1024 * 1024 * 1024, 'the default quota, 1 GiB');

  const name = 'estimate-' + Math.random();
  t.add_cleanup(() => caches.delete(name));
  const cache = await caches.open(name);
  await cache.put('/stored', new Response(new Uint8Array(5000)));
  const after = await navigator.storage.estimate();
  assert_equals(after.usage - before.usage, 5000, 'a 5000-byte body in Cache Storage counts');

  await caches.delete(name);
  const gone = await navigator.storage.estimate();
  assert_equals(gone.usage, before.usage, 'and stops counting once deleted');
}, 'estimate() counts Cache Storage against the quota');

promise_test(async t => {
  assert_false(await navigator.storage.persisted(), 'not persisted at first');
  assert_true(await navigator.storage.persist(), 'persist() is granted');
  assert_true(await navigator.storage.persisted(), 'then persisted');
}, 'persist() and persisted()');
