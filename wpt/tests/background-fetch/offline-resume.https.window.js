// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// Going offline pauses a background fetch; coming back online resumes it,
// with a Range request (and If-Range) when the server gave a validator, and
// the body ends up whole and exact either way.
// https://wicg.github.io/background-fetch/#complete-a-record-algorithm
//
// Resuming after the browser was killed (kill -9) and restarted cannot be
// expressed in one page: tests/bgfetch.rs covers it.

const SIZE = 200000;
const STALL = 50000;

// Starts a fetch of a body that stalls after STALL bytes, waits until some
// of it has arrived, and goes offline. Returns the registration.
async function startAndGoOffline(t, bgf, id, params) {
  t.add_cleanup(async () => {
    await swharness.setOnline(true);
    await bgfRelease(params.key);
  });
  const registration = await bgf.fetch(id, bgfBodyUrl(Object.assign(
      {size: SIZE, stall: STALL}, params)));
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  await swharness.setOnline(false);
  return registration;
}

async function checkWholeBody(msg, registration) {
  const info = await bgfBodyInfo(SIZE);
  assert_equals(msg.reg.result, 'success');
  assert_equals(msg.records.length, 1);
  assert_equals(msg.records[0].status, 200, 'the record has the status of a whole response');
  assert_equals(msg.records[0].length, SIZE, 'the body is whole');
  assert_equals(msg.records[0].fnv, info.fnv, 'the body is byte-for-byte the resource');
  assert_equals(msg.reg.downloaded, SIZE, 'downloaded counts every byte once');
  await bgfProgressUntil(registration, r => r.result !== '');
  assert_equals(registration.downloaded, SIZE, "downloaded on the page's registration");
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('offline-range');
  const key = bgfUuid();
  const seen = [];
  const registration = await startAndGoOffline(t, bgf, id, {etag: 'v1', key});
  const before = registration.downloaded;
  registration.addEventListener('progress', () => seen.push(registration.downloaded));

  assert_equals(registration.result, '', 'going offline does not fail the fetch');
  assert_array_equals(await bgf.getIds(), [id], 'the fetch is still active while offline');
  // (The page's own fetch() fails while offline: the server's log is read
  // once online; two requests there mean one before, one resume.)

  await swharness.setOnline(true);
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  await checkWholeBody(msg, registration);

  const log = await bgfServerLog(key);
  assert_equals(log.length, 2, 'one request, then one resume');
  assert_equals(log[0].range, null, 'the first request has no Range');
  const m = /^bytes=(\d+)-$/.exec(log[1].range || '');
  assert_not_equals(m, null, 'the resume has a Range header: ' + log[1].range);
  const from = Number(m[1]);
  assert_greater_than(from, 0, 'the resume starts after the bytes already stored');
  assert_less_than_equal(from, STALL, 'and not after the bytes the server sent');
  assert_greater_than_equal(from, before, 'nothing that was counted is fetched again');
  assert_equals(log[1].ifRange, '"v1"', 'If-Range carries the ETag of the first response');
  for (let i = 1; i < seen.length; i++) {
    assert_greater_than_equal(seen[i], seen[i - 1], 'downloaded never goes back');
  }
}, 'Offline pauses the fetch; online resumes it with Range and If-Range, and the body is exact');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('offline-changed');
  const key = bgfUuid();
  const registration = await startAndGoOffline(t, bgf, id, {etag: 'per-request', key});
  await swharness.setOnline(true);
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  await checkWholeBody(msg, registration);
  const log = await bgfServerLog(key);
  assert_equals(log.length, 2);
  assert_equals(log[1].ifRange, '"r1"', 'If-Range carries the first ETag');
}, 'A resource that changed while offline is fetched again whole (If-Range does not match)');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('offline-no-validator');
  const key = bgfUuid();
  const registration = await startAndGoOffline(t, bgf, id, {key});
  await swharness.setOnline(true);
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  await checkWholeBody(msg, registration);
  assert_equals((await bgfServerLog(key)).length, 2, 'the body was requested again');
}, 'Without a validator the resume fetches the body again, and it is still exact');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('offline-from-start');
  const key = bgfUuid();
  t.add_cleanup(() => swharness.setOnline(true));
  await swharness.setOnline(false);
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 5000, key}));
  assert_equals(registration.result, '', 'fetch() succeeds while offline');
  assert_array_equals(await bgf.getIds(), [id]);
  await swharness.setOnline(true);
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].length, 5000);
  assert_equals((await bgfServerLog(key)).length, 1,
                'one request: none was made while offline');
}, 'A fetch started offline waits, then downloads once online');
