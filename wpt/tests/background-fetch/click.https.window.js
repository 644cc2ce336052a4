// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// backgroundfetchclick: the user activating the download UI, simulated by
// swharness.clickBackgroundFetch(id) (the spec's WebDriver "background
// fetch click" command).
// https://wicg.github.io/background-fetch/#fire-a-background-fetch-click-event-algorithm

async function startStalled(t, bgf, id) {
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 2000, stall: 100, key}));
  await bgfProgressUntil(registration, r => r.downloaded > 0);
  return {registration, key};
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('click');
  const {key} = await startStalled(t, bgf, id);
  await swharness.clickBackgroundFetch(id);
  const msg = await bgfMessageFor(id, 'backgroundfetchclick');
  assert_true(msg.isBackgroundFetchEvent, 'a BackgroundFetchEvent');
  assert_false(msg.isUpdateUIEvent, 'not a BackgroundFetchUpdateUIEvent');
  assert_equals(msg.reg.id, id, 'its registration is the fetch clicked');
  assert_equals(msg.reg.result, '', 'which is still running');
  assert_true(msg.reg.recordsAvailable);
  await bgfRelease(key);
  const done = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(done.reg.result, 'success', 'the click does not change the fetch');
}, 'Clicking a running fetch fires backgroundfetchclick with its registration');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('open');
  await startStalled(t, bgf, id);
  await swharness.clickBackgroundFetch(id);
  const msg = await bgfMessageFor(id, 'backgroundfetchclick');
  assert_equals(msg.opened, new URL('resources/opened.html', location.href).href,
      'clients.openWindow() resolves with the new window');
  assert_true(msg.openedListed, 'the new window is among the clients');
}, 'clients.openWindow() is allowed in backgroundfetchclick');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('click-done');
  const registration = await bgf.fetch(id, bgfBodyUrl({size: 10}));
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  // Wait until the final event is over and the records are gone.
  await bgfEventually(() => !registration.recordsAvailable);
  await swharness.clickBackgroundFetch(id);
  const msg = await bgfMessageFor(id, 'backgroundfetchclick');
  assert_equals(msg.reg.id, id);
  assert_equals(msg.reg.result, 'success', 'the registration of the finished fetch');
}, 'Clicking the UI of a finished fetch still fires backgroundfetchclick');

bgfTest(async (t, bgf) => {
  let rejected = false;
  try {
    await swharness.clickBackgroundFetch('no-such-fetch');
  } catch (e) {
    rejected = true;
  }
  assert_true(rejected, 'clicking a fetch that does not exist fails');
}, 'Clicking an unknown id fails');
