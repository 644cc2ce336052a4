// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// BackgroundFetchUpdateUIEvent.updateUI(): once per event, only while the
// event is active, only for trusted events; the new title reaches the UI.
// https://wicg.github.io/background-fetch/#background-fetch-update-ui-event-update-ui
//
// service_workers/sw.js calls updateUI({title: 'Updated <id>'}) and then
// updateUI({title: 'Again <id>'}) for ids starting with 'ui-', and holds the
// event for ids containing 'hold' until the page releases it.

async function releaseAndAskAfter(swReg, id) {
  swReg.active.postMessage({type: 'release', id});
  return bgfAsk(swReg, {type: 'after', id});
}

bgfTest(async (t, bgf, swReg) => {
  const id = bgfUniqueId('ui-hold-success');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}),
      {title: 'Initial title'});
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  assert_equals(swharness.uiState(id).title, 'Initial title', 'the UI shows the title of fetch()');
  await bgfRelease(key);

  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_true(msg.isUpdateUIEvent, 'backgroundfetchsuccess is a BackgroundFetchUpdateUIEvent');
  assert_equals(msg.ui[0], 'resolved', 'the first updateUI() resolves');
  assert_equals(msg.ui[1], 'InvalidStateError', 'a second updateUI() rejects');
  assert_equals(swharness.uiState(id).title, 'Updated ' + id,
      'the UI shows the title of the first updateUI(), not the second');

  const after = await releaseAndAskAfter(swReg, id);
  assert_equals(after.updateUI, 'InvalidStateError', 'updateUI() after the event ended rejects');
}, 'updateUI() in backgroundfetchsuccess: once, then InvalidStateError; the UI shows the title');

bgfTest(async (t, bgf, swReg) => {
  const id = bgfUniqueId('ui-hold-fail');
  await bgf.fetch(id, bgfBodyUrl({size: 10, status: 500}), {title: 'Doomed'});
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_true(msg.isUpdateUIEvent, 'backgroundfetchfail is a BackgroundFetchUpdateUIEvent');
  assert_array_equals(msg.ui, ['resolved', 'InvalidStateError']);
  assert_equals(swharness.uiState(id).title, 'Updated ' + id);
  const after = await releaseAndAskAfter(swReg, id);
  assert_equals(after.updateUI, 'InvalidStateError');
}, 'updateUI() in backgroundfetchfail: once, then InvalidStateError; the UI shows the title');

bgfTest(async (t, bgf, swReg) => {
  const id = bgfUniqueId('late');
  await bgf.fetch(id, bgfBodyUrl({size: 10}), {title: 'Kept'});
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.ui, undefined, 'no updateUI() during the event');
  const after = await bgfAsk(swReg, {type: 'after', id});
  assert_equals(after.updateUI, 'InvalidStateError',
      'the first updateUI() call rejects once the event has ended');
  assert_equals(after.untrustedUpdateUI, 'InvalidStateError',
      'updateUI() of an event the page constructed rejects');
}, 'updateUI() after the event ended, or of an untrusted event, rejects with InvalidStateError');
