// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// get()/getIds() follow the registration's "active background fetches": an
// id is there from fetch() until the fetch completes or is aborted.
// https://wicg.github.io/background-fetch/#background-fetch-manager-get-ids

bgfTest(async (t, bgf) => {
  assert_array_equals(await bgf.getIds(), []);
  assert_equals(await bgf.get('nothing'), undefined);
  const id = bgfUniqueId('active');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}));
  assert_array_equals(await bgf.getIds(), [id], 'present while active');
  assert_equals(await bgf.get(id), registration, 'get() gives the same object');
  await promise_rejects_js(t, TypeError, bgf.fetch(id, bgfBodyUrl({size: 10})),
      'an id that is active cannot be reused');
  await bgfRelease(key);
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(await bgf.getIds(), [], 'absent once completed');
  assert_equals(await bgf.get(id), undefined, 'get() of a completed fetch');
}, 'An id is listed while its fetch runs and not once it has completed');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('in-event');
  await bgf.fetch(id, bgfBodyUrl({size: 10}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(msg.getIds, [], 'getIds() in the final event');
  assert_equals(msg.get, 'undefined', 'get(id) in the final event');
}, 'A completed fetch is no longer active during its final event');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('aborted');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}));
  assert_true(await registration.abort());
  assert_array_equals(await bgf.getIds(), [], 'absent as soon as abort() resolved');
  assert_equals(await bgf.get(id), undefined);
  await bgfMessageFor(id, 'backgroundfetchabort');
}, 'abort() removes the id at once');

bgfTest(async (t, bgf) => {
  const ids = [bgfUniqueId('many'), bgfUniqueId('many'), bgfUniqueId('many')];
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  for (const id of ids) await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}));
  const listed = await bgf.getIds();
  assert_true(Object.isFrozen(listed), 'getIds() gives a FrozenArray');
  assert_array_equals(listed.slice().sort(), ids.slice().sort());
  await bgfRelease(key);
  for (const id of ids) await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(await bgf.getIds(), []);
}, 'getIds() lists every running fetch');

bgfTest(async (t, bgf, swReg) => {
  // sw.js holds the final event of an id containing 'hold' until released:
  // the second fetch() is made while the first one's event still runs.
  const id = bgfUniqueId('reuse-hold');
  await bgf.fetch(id, bgfBodyUrl({size: 10}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.reg.result, 'success');
  t.add_cleanup(() => swReg.active && swReg.active.postMessage({type: 'release', id}));
  const again = await bgf.fetch(id, bgfBodyUrl({size: 20}));
  assert_equals(again.id, id, 'the id of a completed fetch can be used again');
  swReg.active.postMessage({type: 'release', id});
  const second = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(second.records[0].length, 20, 'by a new fetch');
  swReg.active.postMessage({type: 'release', id});
}, 'An id can be reused as soon as its fetch has completed, during its final event');
