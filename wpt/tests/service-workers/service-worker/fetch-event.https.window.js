'use strict';

// Fetch interception (Service Workers, "Handle Fetch"): a controlled page's
// fetch() goes to its controller's fetch event. The worker
// (fetch-event-sw.js) claims this page when it activates; each request's
// `test` parameter chooses what the worker does with it.

const ECHO = new URL('resources/echo.py', location.href).href;
const url = test => `${ECHO}?test=${test}`;

promise_setup(async () => {
  const old = await navigator.serviceWorker.getRegistration('./');
  if (old) await old.unregister();
  const changed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, {once: true}));
  await navigator.serviceWorker.register('fetch-event-sw.js', {scope: './'});
  await changed;
});

promise_test(async t => {
  assert_not_equals(navigator.serviceWorker.controller, null, 'the page is controlled');
  const r = await fetch(url('basic'));
  assert_equals(r.status, 201);
  assert_equals(r.statusText, 'Made');
  assert_equals(r.headers.get('X-From'), 'sw');
  assert_equals(r.type, 'basic', 'a same-origin response the worker made');
  assert_equals(r.url, url('basic'), 'the URL is the request\'s');
  assert_false(r.redirected);
  assert_equals(await r.text(), 'from-sw');
}, 'respondWith(new Response()) answers the page\'s fetch()');

promise_test(async t => {
  const r = await fetch(url('microtask'));
  assert_equals(await r.text(), 'in a microtask');
}, 'respondWith() in a promise callback of the listener answers');

promise_test(async t => {
  const r = await fetch(url('members'), {
    method: 'POST', body: 'the body', headers: {'X-Test': 'yes'},
  });
  const m = await r.json();
  assert_true(m.isFetchEvent, 'a FetchEvent');
  assert_equals(m.method, 'POST');
  assert_equals(m.mode, 'cors', 'fetch() makes a cors request');
  assert_equals(m.destination, '', 'fetch() has the empty destination');
  assert_equals(m.header, 'yes');
  assert_equals(m.body, 'the body', 'the request body reaches the worker');
  assert_equals(m.clientUrl, location.href, 'clients.get(clientId) is this page');
  assert_equals(m.resultingClientId, '');
  assert_equals(m.replacesClientId, '');
  assert_true(m.handledIsPromise, 'handled is a promise');
  assert_equals(m.preload, 'undefined', 'preloadResponse resolves to undefined');
}, 'The FetchEvent\'s request, clientId and other members');

promise_test(async t => {
  const r = await fetch(url('request-members'), {
    method: 'PUT', credentials: 'omit', cache: 'no-store', redirect: 'manual',
    referrerPolicy: 'no-referrer-when-downgrade', keepalive: true,
    body: 'b', integrity: '',
  });
  const m = await r.json();
  assert_equals(m.credentials, 'omit');
  assert_equals(m.cache, 'no-store');
  assert_equals(m.redirect, 'manual');
  assert_equals(m.referrer, location.href, 'the page is the referrer');
  assert_equals(m.referrerPolicy, 'no-referrer-when-downgrade');
  assert_equals(m.integrity, '');
  assert_true(m.keepalive);
  assert_true(m.headersImmutable, 'the request\'s headers are immutable (TypeError)');
  assert_false(m.signalAborted);
  assert_equals(m.cloneMethod, 'PUT', 'the request can be cloned');
  assert_false(m.isReloadNavigation, 'not a reload');
  assert_false(m.isHistoryNavigation, 'not a history traversal');
}, 'The FetchEvent\'s request keeps the page\'s credentials, cache, redirect, referrer and keepalive, with immutable headers');

promise_test(async t => {
  const r = await fetch(url('request-members'), {referrer: ''});
  assert_equals((await r.json()).referrer, '', 'no referrer stays none');
}, 'A request without a referrer reaches the worker without one');

promise_test(async t => {
  const r = await fetch(ECHO, {method: 'POST', body: 'payload'});
  assert_equals(await r.text(), 'network:POST:payload');
}, 'Without respondWith() the request, body included, goes to the network');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('reject')));
}, 'A rejected respondWith() promise is a network error');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('not-response')));
}, 'respondWith() of something that is not a Response is a network error');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('error-response')));
}, 'respondWith(Response.error()) is a network error');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('used-body')));
}, 'respondWith() of a Response whose body was used is a network error');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('locked-body')));
}, 'respondWith() of a Response whose body is locked is a network error');

promise_test(async t => {
  const r = await fetch(url('string-body'));
  assert_equals(await r.text(), '\u00e9t\u00e9 \u{1F600} '.repeat(1000));
}, 'respondWith() of a string body: the page reads every character, multi-byte ones included');

promise_test(async t => {
  await promise_rejects_js(t, TypeError, fetch(url('prevent-default')));
}, 'preventDefault() without respondWith() is a network error');

promise_test(async t => {
  const r = await fetch(url('twice'));
  assert_equals(await r.text(), 'InvalidStateError');
}, 'A second respondWith() throws InvalidStateError');

promise_test(async t => {
  const r = await fetch(url('late'));
  assert_equals(await r.text(), 'network:GET:', 'no response in time: the network');
  const last = await fetch(url('last-error'));
  assert_equals(await last.text(), 'InvalidStateError');
}, 'respondWith() after the event was dispatched throws InvalidStateError');

promise_test(async t => {
  const r = await fetch(url('untrusted'));
  assert_equals(await r.text(), 'InvalidStateError');
}, 'respondWith() on a FetchEvent the script made throws InvalidStateError');

promise_test(async t => {
  const r = await fetch(url('stream'));
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  const first = await reader.read();
  assert_equals(decoder.decode(first.value), 'first;',
      'the first chunk arrives while the worker holds the second');
  await fetch(url('release'));
  let rest = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    rest += decoder.decode(value, {stream: true});
  }
  assert_equals(rest, 'second');
}, 'A streamed body reaches the page chunk by chunk');

promise_test(async t => {
  const r = await fetch(url('big'));
  const bytes = new Uint8Array(await r.arrayBuffer());
  assert_equals(bytes.length, 3 * 1024 * 1024 + 7);
  assert_true(bytes.every(b => b === 42), 'every byte');
}, 'A body larger than one chunk arrives whole');

promise_test(async t => {
  const r = await fetch(url('passthrough'));
  assert_equals(await r.text(), 'network:GET:');
}, 'The worker\'s own fetch() is not intercepted');

promise_test(async t => {
  const r = await fetch(url('throws'));
  assert_equals(await r.text(), 'network:GET:');
}, 'A fetch listener that throws before respondWith(): the network');

promise_test(async t => {
  const registration = await navigator.serviceWorker.getRegistration('./');
  await registration.unregister();
}, 'Clean up');
