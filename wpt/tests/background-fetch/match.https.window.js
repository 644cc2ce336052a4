// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// BackgroundFetchRegistration.match()/matchAll() ("request matches cached
// item" with CacheQueryOptions), and the records going away once the final
// event is over.
// https://wicg.github.io/background-fetch/#background-fetch-registration-match-all

// Records a (GET, size 10), b (GET, size 20) and c (POST, size 30), all
// at resources/body.py with different queries; service_workers/sw.js runs
// the queries for ids starting with 'match-' and reports "METHOD tag" lists.
function matchRequests() {
  return [
    bgfBodyUrl({size: 10, tag: 'a'}),
    bgfBodyUrl({size: 20, tag: 'b'}),
    new Request(bgfBodyUrl({size: 30, tag: 'c'}), {method: 'POST', body: 'hello'}),
  ];
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('match');
  await bgf.fetch(id, matchRequests());
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  const q = msg.match;
  assert_equals(q['matchAll()'], 'GET a,GET b,POST c', 'all records, in request order');
  assert_equals(q['match(a)'], 'GET a');
  assert_equals(q['match(Request a)'], 'GET a');
  assert_equals(q['match(a#fragment)'], 'GET a', 'the fragment is ignored');
  assert_equals(q['match(a&x=1)'], 'undefined', 'the query must match');
  assert_equals(q['match(missing)'], 'undefined');
}, 'match() and matchAll() find records by URL');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('match');
  await bgf.fetch(id, matchRequests());
  const q = (await bgfMessageFor(id, 'backgroundfetchsuccess')).match;
  assert_equals(q['match(a&x=1, ignoreSearch)'], 'GET a', 'the first GET record of the path');
  assert_equals(q['matchAll(a&x=1, ignoreSearch)'], 'GET a,GET b',
      'every GET record of the path (not the POST one)');
}, 'ignoreSearch ignores the query');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('match');
  await bgf.fetch(id, matchRequests());
  const q = (await bgfMessageFor(id, 'backgroundfetchsuccess')).match;
  assert_equals(q['matchAll(c)'], '', 'a POST record does not match without ignoreMethod');
  assert_equals(q['matchAll(c, ignoreMethod)'], 'POST c');
  assert_equals(q['matchAll(a&x=1, ignoreSearch+ignoreMethod)'], 'GET a,GET b,POST c');
}, 'ignoreMethod lets non-GET records match');

bgfTest(async (t, bgf, swReg) => {
  const id = bgfUniqueId('records');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 3000, stall: 100, key}));
  await promise_rejects_js(t, TypeError, registration.match(), 'match() needs a request');
  assert_true(registration.recordsAvailable, 'records are available while the fetch runs');
  const records = await registration.matchAll();
  assert_equals(records.length, 1);
  assert_true(records[0] instanceof BackgroundFetchRecord);
  assert_equals(records[0].request.url, new URL(bgfBodyUrl({size: 3000, stall: 100, key}), location.href).href);
  await bgfRelease(key);
  const response = await records[0].responseReady;
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert_equals(bytes.length, 3000, 'responseReady of a record got while running gives the whole body');
  assert_equals(bgfFnv1a(bytes), (await bgfBodyInfo(3000)).fnv);
}, "The page's registration gives records while the fetch runs");

bgfTest(async (t, bgf, swReg) => {
  const id = bgfUniqueId('after');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 10}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_true(msg.reg.recordsAvailable, 'records are available during the final event');
  const after = await bgfAsk(swReg, {type: 'after', id});
  assert_false(after.recordsAvailable, 'recordsAvailable is false once the event is over');
  assert_equals(after.match, 'InvalidStateError', 'match() rejects then');
  assert_equals(after.matchAll, 'InvalidStateError', 'matchAll() rejects then');
  await bgfEventually(() => !registration.recordsAvailable);
  await promise_rejects_dom(t, 'InvalidStateError', registration.match(bgfBodyUrl({size: 10})));
  await promise_rejects_dom(t, 'InvalidStateError', registration.matchAll());
}, 'After the final event: recordsAvailable false, match() and matchAll() reject with InvalidStateError');

bgfTest(async (t, bgf, swReg) => {
  // The response varies on X-Flavor; the record's request sent "mint".
  const url = new URL(bgfBodyUrl({size: 10, vary: 'X-Flavor', tag: 'vary'}), location.href).href;
  // sw.js holds the final event of an id containing 'hold': the records
  // stay available until the page releases it.
  const id = bgfUniqueId('vary-hold');
  t.add_cleanup(() => swReg.active && swReg.active.postMessage({type: 'release', id}));
  const registration = await bgf.fetch(id, new Request(url, {headers: {'X-Flavor': 'mint'}}));
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  const query = flavor => new Request(url, {headers: {'X-Flavor': flavor}});
  assert_equals((await registration.matchAll(query('mint'))).length, 1, 'same header value');
  assert_equals((await registration.matchAll(query('lime'))).length, 0, 'another value');
  assert_equals((await registration.matchAll(url)).length, 0, 'the header missing');
  assert_equals((await registration.matchAll(query('lime'), {ignoreVary: true})).length, 1,
                'ignoreVary');
}, 'match() honours the response\'s Vary header unless ignoreVary');
