// Page-side helpers for swharness's own Background Fetch tests. Load after
// bgf-common.js. The pages drive the simulated browser through the
// `swharness` control object (no testdriver.js).
'use strict';

let bgfNextScope = 0;
let bgfNextId = 0;

// A fresh id for a background fetch, unique within the page.
function bgfUniqueId(prefix) {
  return (prefix || 'id') + '-' + (bgfNextId++);
}

// A random UUID (stash keys of resources/body.py must be UUIDs).
function bgfUuid() {
  const hex = [];
  for (let i = 0; i < 32; i++) hex.push(Math.floor(Math.random() * 16).toString(16));
  const s = hex.join('');
  return s.slice(0, 8) + '-' + s.slice(8, 12) + '-4' + s.slice(13, 16) + '-a' +
      s.slice(17, 20) + '-' + s.slice(20, 32);
}

// Messages from the service workers, kept until a test takes them, so that
// a message that arrives before the test waits for it is not lost.
const bgfInbox = [];
const bgfWaiters = [];
navigator.serviceWorker.addEventListener('message', e => {
  const data = e.data;
  const i = bgfWaiters.findIndex(w => w.pred(data));
  if (i >= 0) {
    const w = bgfWaiters.splice(i, 1)[0];
    w.resolve(data);
  } else {
    bgfInbox.push(data);
  }
});
navigator.serviceWorker.startMessages();

// The first message (already received or still to come) for which
// `pred(data)` is true; it is taken out of the inbox.
function bgfMessage(pred) {
  const i = bgfInbox.findIndex(pred);
  if (i >= 0) return Promise.resolve(bgfInbox.splice(i, 1)[0]);
  return new Promise(resolve => bgfWaiters.push({pred, resolve}));
}

// The message of `type` that the service worker sent about fetch `id`.
function bgfMessageFor(id, type) {
  return bgfMessage(m => m && m.id === id && (type === undefined || m.type === type));
}

// Sends `data` to the active worker of `swReg` and waits for its reply
// (a message with the same `id` and `type` + '-reply').
function bgfAsk(swReg, data) {
  const reply = bgfMessageFor(data.id, data.type + '-reply');
  swReg.active.postMessage(data);
  return reply;
}

function bgfWaitActivated(worker) {
  return new Promise((resolve, reject) => {
    function check() {
      if (worker.state === 'activated') {
        worker.removeEventListener('statechange', check);
        resolve();
      } else if (worker.state === 'redundant') {
        worker.removeEventListener('statechange', check);
        reject(new Error('the service worker became redundant'));
      }
    }
    worker.addEventListener('statechange', check);
    check();
  });
}

// Grants the permission, registers service_workers/`swName` with a scope of
// its own and waits until it is active. Unregistered after the test.
async function bgfRegister(t, swName) {
  await swharness.setPermission('background-fetch', 'granted');
  const page = location.pathname.split('/').pop();
  const scope = 'service_workers/scope/' + page + '/' + (bgfNextScope++);
  const old = await navigator.serviceWorker.getRegistration(scope);
  if (old) await old.unregister();
  const reg = await navigator.serviceWorker.register('service_workers/' + swName, {scope});
  t.add_cleanup(() => reg.unregister());
  await bgfWaitActivated(reg.installing || reg.waiting || reg.active);
  return reg;
}

// promise_test with an active registration: func(t, backgroundFetch, swReg).
function bgfTest(func, description, swName) {
  promise_test(async t => {
    const swReg = await bgfRegister(t, swName || 'sw.js');
    return func(t, swReg.backgroundFetch, swReg);
  }, description);
}

// Resolves once `pred(registration)` holds: now, or after a progress event.
function bgfProgressUntil(registration, pred) {
  return new Promise(resolve => {
    function check() {
      if (pred(registration)) {
        registration.removeEventListener('progress', check);
        resolve(registration);
      }
    }
    registration.addEventListener('progress', check);
    if (pred(registration)) {
      registration.removeEventListener('progress', check);
      resolve(registration);
    }
  });
}

// Resolves once `cond()` holds, checking every 20 ms: for state the page
// cannot be told about (e.g. recordsAvailable, which changes without an
// event). The test's timeout bounds it.
async function bgfEventually(cond) {
  while (!(await cond())) {
    await new Promise(resolve => step_timeout(resolve, 20));
  }
}

// The request log resources/body.py keeps for `key`.
async function bgfServerLog(key) {
  const r = await fetch(bgfBodyUrl({key, action: 'log'}), {cache: 'no-store'});
  return r.json();
}

// Lets the stalled responses of `key` go on.
async function bgfRelease(key) {
  await fetch(bgfBodyUrl({key, action: 'release'}), {cache: 'no-store'});
}

// What resources/body.py serves for `size`: {size, fnv}.
async function bgfBodyInfo(size) {
  const r = await fetch(bgfBodyUrl({size, action: 'info'}), {cache: 'no-store'});
  return r.json();
}
