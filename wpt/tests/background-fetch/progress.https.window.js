// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// progress events on the page's BackgroundFetchRegistration ("update
// background fetch instances"): downloaded only grows, the final result and
// failureReason arrive with an event, uploaded counts request bodies.
// https://wicg.github.io/background-fetch/#update-background-fetch-instance-algorithm

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('progress');
  const key = bgfUuid();
  const size = 100000;
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size, stall: 30000, key}),
      {downloadTotal: size});
  assert_equals(registration.downloadTotal, size);
  // Every progress event, from the start: a listener only while waiting
  // would miss the final event when it fires before the wait begins.
  const seen = [];
  registration.addEventListener('progress', () => seen.push({
    downloaded: registration.downloaded,
    result: registration.result,
    failureReason: registration.failureReason,
  }));
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  const partial = registration.downloaded;
  assert_less_than_equal(partial, 30000, 'only what the server sent so far is counted');
  assert_equals(registration.result, '', 'the fetch is still running');
  await bgfRelease(key);
  await bgfProgressUntil(registration, r => r.result !== '');
  assert_equals(registration.result, 'success');
  assert_equals(registration.failureReason, '');
  assert_equals(registration.downloaded, size, 'the final event carries every byte');
  for (let i = 1; i < seen.length; i++) {
    assert_greater_than_equal(seen[i].downloaded, seen[i - 1].downloaded,
        'downloaded never decreases: ' + JSON.stringify(seen));
  }
  const finals = seen.filter(s => s.result !== '');
  assert_equals(finals.length, 1, 'one progress event carries the result: ' + JSON.stringify(seen));
}, 'downloaded grows monotonically up to the body size; the result arrives in a progress event');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('progress-fail');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 10, status: 404}));
  let event = null;
  registration.addEventListener('progress', e => {
    if (registration.result !== '' && !event) {
      event = {type: e.type, isTrusted: e.isTrusted, result: registration.result,
               failureReason: registration.failureReason};
    }
  });
  await bgfProgressUntil(registration, r => r.result !== '');
  assert_not_equals(event, null, 'a progress event announced the result');
  assert_equals(event.type, 'progress');
  assert_true(event.isTrusted);
  assert_equals(event.result, 'failure');
  assert_equals(event.failureReason, 'bad-status');
}, 'A failure reaches the page as a progress event with result and failureReason');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('progress-onprogress');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 10}));
  await new Promise(resolve => {
    registration.onprogress = () => {
      if (registration.result !== '') resolve();
    };
    if (registration.result !== '') resolve();
  });
  assert_equals(registration.result, 'success');
}, 'onprogress is called for progress events');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('progress-upload');
  const key = bgfUuid();
  const body = 'x'.repeat(3000);
  const registration = await bgf.fetch(id, new Request(bgfBodyUrl({size: 10, key}),
      {method: 'POST', body}));
  assert_equals(registration.uploadTotal, body.length, 'uploadTotal is the body size');
  await bgfProgressUntil(registration, r => r.result !== '');
  assert_equals(registration.result, 'success');
  assert_equals(registration.uploaded, body.length, 'uploaded reaches uploadTotal');
  const log = await bgfServerLog(key);
  assert_equals(log.length, 1);
  assert_equals(log[0].method, 'POST');
  assert_equals(log[0].bodyLength, body.length, 'the server received the whole body');
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.reg.uploaded, body.length, 'the event registration shows it too');
  assert_equals(msg.reg.uploadTotal, body.length);
}, 'uploaded counts the request body up to uploadTotal');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('progress-same');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}));
  const again = await bgf.get(id);
  assert_equals(again, registration, 'get() gives the same object');
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  assert_equals(again.downloaded, registration.downloaded);
  await bgfRelease(key);
  await bgfProgressUntil(again, r => r.result !== '');
}, 'One registration object per fetch in a realm, updated by progress');
