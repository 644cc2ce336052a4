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

// "Install", steps 4-9: the job promise resolves in a task queued before the
// one that fires updatefound, so a listener added when register() or
// update() resolves still sees it (test-helpers.sub.js's wait_for_update()
// relies on this). It fires before the new worker is installed.
function updateFoundBeforeInstalled(registration) {
  let found = false;
  registration.addEventListener('updatefound', () => { found = true; }, {once: true});
  const worker = registration.installing;
  assert_not_equals(worker, null, 'the new worker is installing when the promise resolves');
  return new Promise(resolve => {
    worker.addEventListener('statechange', () => {
      if (worker.state === 'installed' || worker.state === 'redundant') resolve(found);
    });
  });
}

promise_test(async t => {
  const registration = await navigator.serviceWorker.register(SCRIPT, {scope: './found-scope/'});
  t.add_cleanup(() => registration.unregister());
  assert_true(await updateFoundBeforeInstalled(registration), 'updatefound after register()');
  const updated = await registration.update();
  assert_equals(updated, registration);
  assert_true(await updateFoundBeforeInstalled(registration), 'updatefound after update()');
}, 'register() and update() resolve before updatefound fires');

// "Update", step 8's "perform the fetch", step 22.2: when the main script is
// the same, each imported script is fetched again; a bad import script
// response (here a 404) is skipped, not a change. When another import did
// change, the new worker imports what that check fetched (its script resource
// map is the updatedResourceMap), so it fails on the 404 and update() rejects.
async function activeWorker(t, imports) {
  const query = imports.map(i => `import=${i}`).join('&');
  const scope = `resources/import-later-scope/${crypto.randomUUID()}/`;
  const registration = await navigator.serviceWorker.register(
      `resources/import-later-worker.js?${query}`, {scope});
  t.add_cleanup(() => registration.unregister());
  const worker = registration.installing;
  await new Promise(resolve => worker.addEventListener('statechange', () => {
    if (worker.state === 'activated') resolve();
  }));
  return registration;
}

promise_test(async t => {
  const registration = await activeWorker(t, [`${crypto.randomUUID()}:404`]);
  const active = registration.active;
  await registration.update();
  assert_equals(registration.installing, null, 'no new worker');
  assert_equals(registration.waiting, null);
  assert_equals(registration.active, active);
}, 'update(): an imported script that is now a 404 is not a change');

promise_test(async t => {
  const registration = await activeWorker(t, [`${crypto.randomUUID()}:404`, `${crypto.randomUUID()}:new`]);
  const active = registration.active;
  await promise_rejects_js(t, TypeError, registration.update());
  assert_equals(registration.installing, null, 'the new worker failed');
  assert_equals(registration.waiting, null);
  assert_equals(registration.active, active);
}, 'update(): a changed import installs a new worker, which fails on the import the check found gone');

promise_test(async t => {
  // Jobs run one at a time (Service Workers, "Schedule Job"): an unregister
  // waits for the update job before it, whose script fetch the server holds
  // here, and the update never brings the registration back.
  const key = crypto.randomUUID();
  const scope = `resources/unregister-during-update/${key}`;
  const registration = await navigator.serviceWorker.register(
      `resources/hold.py?script=1&key=${key}`, {scope});
  const worker = registration.installing;
  await new Promise(resolve => worker.addEventListener('statechange', () => {
    if (worker.state === 'activated') resolve();
  }));
  const order = [];
  const updated = registration.update().then(() => order.push('update'), e => order.push(`update ${e.name}`));
  const unregistered = registration.unregister().then(ok => order.push(`unregister ${ok}`));
  // Both jobs wait for the held update check: the unregister settles after
  // the update.
  await fetch(`resources/hold.py?action=release&key=${key}`);
  await Promise.all([updated, unregistered]);
  assert_array_equals(order, ['update', 'unregister true']);
  assert_equals(await navigator.serviceWorker.getRegistration(scope), undefined,
      'the registration is gone');
  assert_equals(worker.state, 'redundant');
}, 'unregister() waits for an update in progress, which does not bring the registration back');
