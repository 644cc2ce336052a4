'use strict';

// A page's own fetch() to the network runs Fetch's CORS protocol and
// response tainting: the Origin header, the preflight, the CORS check of
// each response and redirect, "no-cors" and "same-origin" modes, and the
// filtered response (type, headers, url, redirected).
// https://fetch.spec.whatwg.org/#main-fetch

const CORS = '/background-fetch/resources/cors.py';
const REDIRECT = '/background-fetch/resources/redirect.py';

function uuid() {
  return self.crypto.randomUUID();
}

// `path` on this origin ('') or www1. of it, with query `params`.
function at(host, path, params = {}) {
  const url = new URL(path, location.href);
  url.hostname = host + url.hostname;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

// What cors.py logged under `key` (method, origin, preflight headers).
async function logOf(key) {
  const r = await fetch(at('www1.', CORS, {key, action: 'log', allow: '*'}), {cache: 'no-store'});
  return r.json();
}

promise_test(async t => {
  const key = uuid();
  const r = await fetch(at('', CORS, {key}));
  assert_equals(r.type, 'basic');
  assert_equals(await r.text(), 'cors ok');
  const log = await logOf(key);
  assert_equals(log[0].origin, null, 'a same-origin GET sends no Origin');
}, 'A same-origin response is basic');

promise_test(async t => {
  const key = uuid();
  await promise_rejects_js(t, TypeError, fetch(at('www1.', CORS, {key})));
  const log = await logOf(key);
  assert_equals(log.length, 1, 'the request was sent');
  assert_equals(log[0].origin, location.origin, 'with Origin');
}, 'A cross-origin response without Access-Control-Allow-Origin is a network error');

promise_test(async t => {
  const r = await fetch(at('www1.', CORS, {allow: location.origin}));
  assert_equals(r.type, 'cors');
  assert_equals(r.status, 200);
  assert_equals(r.headers.get('content-type'), 'text/plain', 'a safelisted header');
  assert_equals(r.headers.get('access-control-allow-origin'), null, 'not exposed');
  assert_equals(await r.text(), 'cors ok');
  await promise_rejects_js(t, TypeError, fetch(at('www1.', CORS, {allow: 'https://example.com'})),
      'another origin allowed');
}, 'A cross-origin response that allows the origin is a cors response');

promise_test(async t => {
  const r = await fetch(at('www1.', CORS, {}), {mode: 'no-cors'});
  assert_equals(r.type, 'opaque');
  assert_equals(r.status, 0);
  assert_equals(r.url, '');
  assert_equals(await r.text(), '');
  await promise_rejects_js(t, TypeError, fetch(at('www1.', CORS, {allow: '*'}), {mode: 'same-origin'}));
}, '"no-cors" gives an opaque response; "same-origin" rejects across origins');

promise_test(async t => {
  const key = uuid();
  const url = at('www1.', CORS, {key, allow: '*', methods: 'PUT', headers: 'x-test'});
  const r = await fetch(url, {method: 'PUT', body: 'data', headers: {'X-Test': '1'}});
  assert_equals(r.status, 200);
  const log = await logOf(key);
  assert_equals(log.map(e => e.method).join(','), 'OPTIONS,PUT');
  assert_equals(log[0].requestMethod, 'PUT');
  assert_equals(log[0].requestHeaders, 'x-test');

  const refused = uuid();
  await promise_rejects_js(t, TypeError, fetch(at('www1.', CORS, {key: refused, allow: '*'}),
      {method: 'PUT', body: 'data'}));
  assert_equals((await logOf(refused)).map(e => e.method).join(','), 'OPTIONS',
      'a refused preflight: the request is not sent');
}, 'A request that is not simple is preflighted');

promise_test(async t => {
  const target = at('www1.', CORS, {allow: '*'});
  const r = await fetch(at('', REDIRECT, {location: target}));
  assert_equals(r.type, 'cors');
  assert_true(r.redirected);
  assert_equals(r.url, target);
  await promise_rejects_js(t, TypeError, fetch(at('', REDIRECT, {location: at('www1.', CORS, {})})),
      'the redirect target must allow the origin');
  const manual = await fetch(at('', REDIRECT, {location: target}), {redirect: 'manual'});
  assert_equals(manual.type, 'opaqueredirect');
  assert_equals(manual.status, 0);
  await promise_rejects_js(t, TypeError, fetch(at('', REDIRECT, {location: target}), {redirect: 'error'}));
}, 'Redirects: each hop is checked; manual and error modes');

promise_test(async t => {
  // HTTP-redirect fetch, step 8: even from this origin, before any CORS.
  const target = new URL(at('www1.', CORS, {allow: '*'}));
  target.username = 'user';
  target.password = 'secret';
  await promise_rejects_js(t, TypeError, fetch(at('', REDIRECT, {location: target.href})),
      'a cors request');
  const opaque = await fetch(at('', REDIRECT, {location: target.href}), {mode: 'no-cors'});
  assert_equals(opaque.type, 'opaque', 'a no-cors request follows it');
}, 'A CORS request\'s redirect to another origin\'s URL with credentials is a network error');

promise_test(async t => {
  // www1 -> www2: the second request's Origin is "null".
  const key = uuid();
  const last = at('www2.', CORS, {key, allow: '*'});
  const r = await fetch(at('www1.', REDIRECT, {location: last, allow: '*'}));
  assert_equals(r.status, 200);
  const log = await (await fetch(at('www2.', CORS, {key, action: 'log', allow: '*'}))).json();
  assert_equals(log[0].origin, 'null');
}, 'After a redirect between two other origins, Origin is null');
