'use strict';

// Update (Service Workers, "Update", "Install", "Try Activate"): a changed
// script installs beside the active worker and waits while a client uses
// the old one; skipWaiting() activates it, the old one becomes redundant,
// and statechange fires at each step.

const SCRIPT = 'changing-worker.py';

function stateChanges(worker, until) {
  const seen = [];
  return new Promise(resolve => {
    worker.addEventListener('statechange', () => {
      seen.push(worker.state);
      if (worker.state === until) resolve(seen);
    });
  });
}

promise_test(async t => {
  const old = await navigator.serviceWorker.getRegistration('./');
  if (old) await old.unregister();
  const changed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, {once: true}));
  const registration = await navigator.serviceWorker.register(SCRIPT, {scope: './'});
  t.add_cleanup(() => registration.unregister());
  await changed;
  const first = navigator.serviceWorker.controller;
  assert_not_equals(first, null, 'the first version controls this page');
  if (first.state !== 'activated') await stateChanges(first, 'activated');

  const found = new Promise(resolve => registration.addEventListener('updatefound', resolve, {once: true}));
  await registration.update();
  await found;
  const second = registration.installing;
  assert_not_equals(second, null, 'updatefound: a new installing worker');
  assert_not_equals(second, first);
  const installed = await stateChanges(second, 'installed');
  assert_array_equals(installed, ['installed']);
  assert_equals(registration.waiting, second, 'it waits: this page uses the first version');
  assert_equals(registration.active, first);
  assert_equals(navigator.serviceWorker.controller, first);

  const redundant = stateChanges(first, 'redundant');
  const activated = stateChanges(second, 'activated');
  const controllerChanged = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, {once: true}));
  second.postMessage('skip');
  assert_array_equals(await activated, ['activating', 'activated'], 'skipWaiting() activates it');
  assert_array_equals(await redundant, ['redundant'], 'the old version becomes redundant');
  await controllerChanged;
  assert_equals(navigator.serviceWorker.controller, second, 'this page moves to the new version');
  assert_equals(registration.active, second);
  assert_equals(registration.waiting, null);
}, 'update() installs a changed script, which waits until skipWaiting()');

promise_test(async t => {
  const registration = await navigator.serviceWorker.register(SCRIPT, {scope: './unused-scope/'});
  t.add_cleanup(() => registration.unregister());
  await new Promise(resolve => {
    const w = registration.installing || registration.waiting || registration.active;
    if (w.state === 'activated') return resolve();
    w.addEventListener('statechange', () => w.state === 'activated' && resolve());
  });
  const first = registration.active;
  await registration.update();
  const second = registration.installing || registration.waiting || registration.active;
  if (second.state !== 'activated') {
    await new Promise(resolve =>
        second.addEventListener('statechange', () => second.state === 'activated' && resolve()));
  }
  assert_not_equals(second, first);
  assert_equals(registration.active, second, 'no client uses the old version: no wait');
  assert_equals(first.state, 'redundant');
}, 'A new version activates at once when no client uses the old one');
