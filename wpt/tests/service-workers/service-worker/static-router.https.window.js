'use strict';

// The static routing API (InstallEvent.addRoutes): the routes a worker
// adds while it installs decide where its page's requests go before any
// fetch event.

const ECHO = new URL('resources/echo.py', location.href).href;
const url = test => `${ECHO}?test=${test}`;
const text = async (u, init) => (await fetch(u, init)).text();

promise_setup(async () => {
  const old = await navigator.serviceWorker.getRegistration('./');
  if (old) await old.unregister();
  const changed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, {once: true}));
  await navigator.serviceWorker.register('static-router-sw.js', {scope: './'});
  await changed;
});

promise_test(async () => {
  assert_equals(await text(url('network')), 'network:GET:');
}, 'A "network" route skips the fetch event');

promise_test(async () => {
  assert_equals(await text(url('cached')), 'from the cache');
}, 'A "cache" route answers from Cache Storage');

promise_test(async () => {
  assert_equals(await text(url('missing')), 'network:GET:');
}, 'A cache route that misses goes to the network');

promise_test(async () => {
  assert_equals(await text(url('post'), {method: 'POST', body: 'x'}), 'from-sw');
}, 'An "or" condition on the method routes to the fetch event');

promise_test(async () => {
  assert_equals(await text(url('anything-else')), 'from-sw', 'no route: the fetch event');
  const other = new URL('resources/not-echo.txt', location.href).href;
  const r = await fetch(other);
  assert_equals(r.status, 404, 'a "not" condition sent it to the network');
}, 'Unrouted requests get the fetch event; "not" conditions');

promise_test(async () => {
  assert_equals(await text(url('late-routes')), 'TypeError');
}, 'addRoutes() once the worker is installed rejects with a TypeError');

promise_test(async () => {
  assert_equals(await text(url('bad-source')), 'TypeError');
}, 'A route whose source is not a string or {cacheName} is a TypeError');


// race-network-and-fetch-handler: the network request and the fetch event
// start together; the first response wins. Each case holds one side back
// until the other has answered, so the order is decided, not timed.
const HOLD = new URL('resources/hold.py', location.href).href;
const hold = (race, key) => `${HOLD}?race=${race}&key=${key}`;
const release = key => fetch(`${HOLD}?action=release&key=${key}`);

promise_test(async () => {
  const key = self.crypto.randomUUID();
  // The network's answer is held: the worker's comes first.
  assert_equals(await text(hold('worker-wins', key)), 'from-sw');
  await release(key);
}, 'A race route: the fetch event answers first and wins');

promise_test(async () => {
  // The worker's answer is held until the page has the network's.
  const body = await text(`${ECHO}?race=network-wins`);
  const reg = await navigator.serviceWorker.ready;
  reg.active.postMessage({release: 'network-wins'});
  assert_equals(body, 'network:GET:');
}, 'A race route: the network answers first and wins');

promise_test(async () => {
  const key = self.crypto.randomUUID();
  // The worker does not call respondWith: the network's answer is used,
  // whenever it comes.
  const answer = text(hold('fallback', key));
  await release(key);
  assert_equals(await answer, 'network:held');
}, 'A race route: a fetch event without respondWith leaves it to the network');

promise_test(async () => {
  const registration = await navigator.serviceWorker.getRegistration('./');
  await registration.unregister();
}, 'Clean up');
