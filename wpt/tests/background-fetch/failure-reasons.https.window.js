// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// Every BackgroundFetchFailureReason: how the fetch ends (the final event,
// its registration and records) and what the page's registration shows.
// https://wicg.github.io/background-fetch/#enumdef-backgroundfetchfailurereason

const fetchErrorRecords = [];

async function expectFailure(registration, id, reason) {
  const msg = await bgfMessageFor(id, reason === 'aborted' ?
      'backgroundfetchabort' : 'backgroundfetchfail');
  assert_equals(msg.reg.result, 'failure', 'result in the event');
  assert_equals(msg.reg.failureReason, reason, 'failureReason in the event');
  assert_true(msg.reg.recordsAvailable, 'records are available during the event');
  await bgfProgressUntil(registration, r => r.result !== '');
  assert_equals(registration.result, 'failure', "result on the page's registration");
  assert_equals(registration.failureReason, reason,
      "failureReason on the page's registration");
  return msg;
}

for (const status of [404, 500]) {
  bgfTest(async (t, bgf) => {
    const id = bgfUniqueId('bad-status');
    const registration = await bgf.fetch(id, bgfBodyUrl({size: 100, status}));
    const msg = await expectFailure(registration, id, 'bad-status');
    assert_false(msg.isUpdateUIEvent === false, 'backgroundfetchfail is a BackgroundFetchUpdateUIEvent');
    assert_equals(msg.records.length, 1);
    assert_equals(msg.records[0].error, undefined, 'responseReady resolves');
    assert_equals(msg.records[0].status, status, 'the record keeps its status');
  }, `A ${status} response fails the fetch with bad-status; its record stays readable`);
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('bad-status-mixed');
  const registration = await bgf.fetch(id, [
    bgfBodyUrl({size: 2000, tag: 'ok'}),
    bgfBodyUrl({size: 10, status: 404, tag: 'missing'}),
  ]);
  const msg = await expectFailure(registration, id, 'bad-status');
  const info = await bgfBodyInfo(2000);
  assert_equals(msg.records.length, 2);
  assert_equals(msg.records[0].status, 200);
  assert_equals(msg.records[0].length, 2000, 'the good record is complete');
  assert_equals(msg.records[0].fnv, info.fnv, 'the good record has the right bytes');
  assert_equals(msg.records[1].status, 404);
}, 'bad-status: the other records still complete and stay readable');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('fetch-error-truncated');
  const key = bgfUuid();
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 65536, truncate: 1000, key}));
  const msg = await expectFailure(registration, id, 'fetch-error');
  assert_equals(msg.records.length, 1);
  assert_not_equals(msg.records[0].error, undefined, 'responseReady rejects');
  const log = await bgfServerLog(key);
  assert_greater_than_equal(log.length, 1, 'the server saw the request');
  fetchErrorRecords.push(msg.records[0]);
}, 'A connection closed in the middle of the body fails the fetch with fetch-error');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('fetch-error-refused');
  const port = (await (await fetch('resources/free-port.py', {cache: 'no-store'})).text()).trim();
  const url = location.protocol + '//' + location.hostname + ':' + port + '/nothing-here';
  const registration = await bgf.fetch(id, url);
  const msg = await expectFailure(registration, id, 'fetch-error');
  assert_equals(msg.records.length, 1);
  assert_not_equals(msg.records[0].error, undefined, 'responseReady rejects');
  fetchErrorRecords.push(msg.records[0]);
}, 'A port nothing listens on fails the fetch with fetch-error');

// "Create record objects": a response whose result is neither empty,
// success, bad-status nor aborted may not be exposed: responseReady rejects
// with a TypeError.
promise_test(async t => {
  assert_equals(fetchErrorRecords.length, 2, 'both fetch-error subtests ran');
  for (const record of fetchErrorRecords) assert_equals(record.error, 'TypeError');
}, 'The record of a fetch-error rejects responseReady with a TypeError');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('quota');
  let error = null;
  try {
    await bgf.fetch(id, bgfBodyUrl({size: 10}), {downloadTotal: Math.pow(2, 50)});
  } catch (e) {
    error = e;
  }
  assert_not_equals(error, null, 'fetch() rejects');
  assert_true(error instanceof DOMException, 'with a DOMException');
  assert_equals(error.name, 'QuotaExceededError');
  assert_equals(error.code, 22);
  assert_array_equals(await bgf.getIds(), [], 'no fetch was started');
  assert_equals(await bgf.get(id), undefined);
}, 'fetch() whose downloadTotal exceeds the quota rejects with QuotaExceededError');

bgfTest(async (t, bgf) => {
  // -1 converts to 2^64 - 1 (unsigned long long); with a request body the
  // bytes asked for must not wrap around to a small number.
  const id = bgfUniqueId('quota-wrap');
  const request = new Request(bgfBodyUrl({size: 10}), {method: 'POST', body: 'x'});
  let error = null;
  try {
    await bgf.fetch(id, request, {downloadTotal: -1});
  } catch (e) {
    error = e;
  }
  assert_not_equals(error, null, 'fetch() rejects');
  assert_equals(error.name, 'QuotaExceededError');
  assert_array_equals(await bgf.getIds(), [], 'no fetch was started');
}, 'A downloadTotal of 2^64 - 1 with a request body exceeds the quota');

bgfTest(async (t, bgf) => {
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const big = 600 * 1024 * 1024;
  const first = await bgf.fetch(bgfUniqueId('quota-first'),
      bgfBodyUrl({size: 1000, stall: 10, key}), {downloadTotal: big});
  t.add_cleanup(() => first.abort());
  let error = null;
  try {
    await bgf.fetch(bgfUniqueId('quota-second'), bgfBodyUrl({size: 10}), {downloadTotal: big});
  } catch (e) {
    error = e;
  }
  assert_not_equals(error, null, 'the second fetch is rejected');
  assert_equals(error.name, 'QuotaExceededError');
  assert_equals(error.code, 22);
  const small = await bgf.fetch(bgfUniqueId('quota-small'), bgfBodyUrl({size: 10}),
      {downloadTotal: 1024 * 1024});
  assert_equals(small.downloadTotal, 1024 * 1024, 'a fetch that fits is accepted');
}, 'A running fetch\'s downloadTotal counts against the quota of the next fetch');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('total-exceeded');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 5000}), {downloadTotal: 1000});
  await expectFailure(registration, id, 'download-total-exceeded');
  assert_less_than_equal(registration.downloaded, 1000,
      'no more than downloadTotal bytes are counted');
}, 'A body larger than downloadTotal fails the fetch with download-total-exceeded');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('total-exceeded-sum');
  const registration = await bgf.fetch(id,
      [bgfBodyUrl({size: 600, tag: 'a'}), bgfBodyUrl({size: 600, tag: 'b'})],
      {downloadTotal: 1000});
  await expectFailure(registration, id, 'download-total-exceeded');
  assert_less_than_equal(registration.downloaded, 1000);
}, 'Records that together exceed downloadTotal fail the fetch with download-total-exceeded');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('total-exact');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 1000}), {downloadTotal: 1000});
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.reg.result, 'success');
  assert_equals(msg.reg.downloaded, 1000);
  assert_equals(msg.records[0].length, 1000);
}, 'A body exactly as large as downloadTotal succeeds');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('abort');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 4000, stall: 100, key}));
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  assert_true(await registration.abort(), 'abort() of a running fetch resolves true');
  assert_false(await registration.abort(), 'a second abort() resolves false');
  const msg = await expectFailure(registration, id, 'aborted');
  assert_true(msg.isBackgroundFetchEvent);
  assert_false(msg.isUpdateUIEvent, 'backgroundfetchabort is not a BackgroundFetchUpdateUIEvent');
  assert_equals(msg.records.length, 1);
  assert_equals(msg.records[0].error, 'AbortError',
      'the unfinished record\'s responseReady rejects with an AbortError');
}, 'abort() ends a running fetch with aborted (backgroundfetchabort)');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cancel');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 4000, stall: 100, key}));
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  await swharness.cancelBackgroundFetch(id);
  const msg = await expectFailure(registration, id, 'aborted');
  assert_false(msg.isUpdateUIEvent);
  assert_false(await registration.abort(), 'abort() after the user cancelled resolves false');
}, 'The user cancelling in the download UI ends the fetch with aborted');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('abort-late');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 10}));
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_false(await registration.abort(), 'abort() of a finished fetch resolves false');
  assert_equals(registration.failureReason, '');
}, 'abort() after the fetch succeeded resolves false and changes nothing');
