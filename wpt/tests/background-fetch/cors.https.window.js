// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
// META: timeout=long
'use strict';

// Background Fetch downloads go through Fetch, CORS included: a
// cross-origin response is only kept if the server allows the page's
// origin, and a non-simple request is preflighted first.
// https://wicg.github.io/background-fetch/#background-fetch-manager-fetch
// https://fetch.spec.whatwg.org/#http-cors-protocol

// resources/cors.py on another origin (www1.), same port.
function crossOriginUrl(params) {
  const url = new URL('resources/cors.py', location.href);
  url.hostname = 'www1.' + url.hostname;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

async function corsLog(key) {
  const r = await fetch(crossOriginUrl({key, action: 'log', allow: '*'}), {cache: 'no-store'});
  return r.json();
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-ok');
  const key = bgfUuid();
  await bgf.fetch(id, crossOriginUrl({allow: '*', key}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records.length, 1);
  assert_equals(msg.records[0].status, 200);
  assert_equals(msg.records[0].length, 'cors ok'.length);
  const log = await corsLog(key);
  assert_equals(log.length, 1, 'a simple request is not preflighted');
  assert_equals(log[0].method, 'GET');
  assert_equals(log[0].origin, location.origin, 'the request carries Origin');
}, 'A cross-origin response that allows the origin is kept');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-own-origin');
  await bgf.fetch(id, crossOriginUrl({allow: location.origin}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
}, 'Access-Control-Allow-Origin may name the origin');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-denied');
  const registration = await bgf.fetch(id, crossOriginUrl({}));
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.reg.downloaded, 0, 'nothing of the response counts');
  assert_equals(msg.records.length, 1);
  assert_equals(msg.records[0].error, 'TypeError');
  assert_equals(registration.failureReason, 'fetch-error');
}, 'A cross-origin response without Access-Control-Allow-Origin is a network error');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-wrong-origin');
  await bgf.fetch(id, crossOriginUrl({allow: 'https://elsewhere.example'}));
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError');
}, 'A response that allows another origin is a network error');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-preflight');
  const key = bgfUuid();
  const url = crossOriginUrl({allow: '*', methods: 'PUT', headers: 'x-test', key});
  await bgf.fetch(id, new Request(url, {method: 'PUT', body: 'data', headers: {'X-Test': '1'}}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
  const log = await corsLog(key);
  assert_equals(log.map(e => e.method).join(','), 'OPTIONS,PUT', 'preflight, then the request');
  assert_equals(log[0].requestMethod, 'PUT');
  assert_equals(log[0].requestHeaders, 'x-test');
  assert_equals(log[0].origin, location.origin);
}, 'A PUT with a custom header is preflighted, then sent');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-preflight-refused');
  const key = bgfUuid();
  const url = crossOriginUrl({allow: '*', methods: 'POST', key});
  await bgf.fetch(id, new Request(url, {method: 'PUT', body: 'data'}));
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError');
  const log = await corsLog(key);
  assert_equals(log.map(e => e.method).join(','), 'OPTIONS',
                'the request is not sent after a refused preflight');
}, 'A refused preflight is a network error and the request is not sent');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('cors-text-json');
  const key = bgfUuid();
  const url = crossOriginUrl({allow: '*', headers: 'content-type', key});
  await bgf.fetch(id, new Request(url, {
    method: 'POST', body: '{}', headers: {'Content-Type': 'text/json'}}));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
  const log = await corsLog(key);
  assert_equals(log.map(e => e.method).join(','), 'OPTIONS,POST');
  assert_equals(log[0].requestHeaders, 'content-type');
}, 'A POST with a non-simple Content-Type is preflighted');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('mixed');
  const secure = new URL(bgfBodyUrl({size: 10}), location.href).href;
  const insecure = secure.replace('https:', 'http:');
  await bgf.fetch(id, [secure, insecure]);
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records.length, 2);
  assert_equals(msg.records[0].status, 200, 'the https record completes');
  assert_equals(msg.records[1].error, 'TypeError', 'the http record is blocked');
}, 'Mixed content fails its record, not fetch(); the other records complete');

// resources/redirect.py, on this origin or on `host` (e.g. 'www1.').
function redirectTo(target, params = {}, host = '') {
  const url = new URL('resources/redirect.py', location.href);
  url.hostname = host + url.hostname;
  url.searchParams.set('location', target);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

// resources/cors.py on `host` ('' for this origin, 'www2.' ...).
function corsUrlOn(host, params) {
  const url = new URL(crossOriginUrl(params));
  url.hostname = host + location.hostname;
  return url.href;
}

async function logOn(host, key) {
  const r = await fetch(corsUrlOn(host, {key, action: 'log', allow: '*'}), {cache: 'no-store'});
  return r.json();
}

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-denied');
  await bgf.fetch(id, redirectTo(crossOriginUrl({})));
  const msg = await bgfMessageFor(id);
  assert_equals(msg.type, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.reg.downloaded, 0, 'nothing of the response counts');
  assert_equals(msg.records[0].error, 'TypeError');
}, 'A same-origin request redirected to another origin needs CORS there');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-allowed');
  await bgf.fetch(id, redirectTo(crossOriginUrl({allow: '*'})));
  const msg = await bgfMessageFor(id);
  assert_equals(msg.type, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
  assert_equals(msg.records[0].length, 'cors ok'.length);
}, 'A redirect to another origin that allows the page is followed');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-origin');
  const key = bgfUuid();
  await bgf.fetch(id, redirectTo(crossOriginUrl({allow: '*', key})));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
  const log = await corsLog(key);
  assert_equals(log.length, 1);
  assert_equals(log[0].origin, location.origin,
                'the cross-origin hop of a same-origin request carries Origin');
}, 'A same-origin request redirected to another origin sends Origin there');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-no-cors-headers');
  await bgf.fetch(id, redirectTo(crossOriginUrl({allow: '*'}), {}, 'www1.'));
  const msg = await bgfMessageFor(id);
  assert_equals(msg.type, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError');
}, 'A cross-origin redirect response must itself pass the CORS check');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-tainted-denied');
  const target = corsUrlOn('www2.', {allow: location.origin});
  await bgf.fetch(id, redirectTo(target, {allow: '*'}, 'www1.'));
  const msg = await bgfMessageFor(id);
  assert_equals(msg.type, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError');
}, 'After a redirect between two other origins, allowing the page origin is not enough');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-tainted-null');
  const key = bgfUuid();
  const target = corsUrlOn('www2.', {allow: 'null', key});
  await bgf.fetch(id, redirectTo(target, {allow: '*'}, 'www1.'));
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records[0].status, 200);
  assert_equals(msg.records[0].length, 'cors ok'.length);
  const log = await logOn('www2.', key);
  assert_equals(log.length, 1);
  assert_equals(log[0].origin, 'null', 'the tainted origin is serialized as null');
}, 'After a redirect between two other origins, Origin is null');

bgfTest(async (t, bgf) => {
  const key303 = bgfUuid();
  const key307 = bgfUuid();
  const id = bgfUniqueId('redirect-methods');
  await bgf.fetch(id, [
    new Request(redirectTo(corsUrlOn('', {key: key303}), {status: 303}),
                {method: 'POST', body: 'data'}),
    new Request(redirectTo(corsUrlOn('', {key: key307}), {status: 307}),
                {method: 'POST', body: 'data'}),
  ]);
  const msg = await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_equals(msg.records.length, 2);
  assert_equals((await logOn('', key303)).map(e => e.method).join(','), 'GET',
                'a 303 turns a POST into a GET');
  assert_equals((await logOn('', key307)).map(e => e.method).join(','), 'POST',
                'a 307 keeps the method and the body');
}, 'Redirects change the method as Fetch says');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('redirect-mode-error');
  const target = new URL(bgfBodyUrl({size: 10}), location.href).href;
  await bgf.fetch(id, new Request(redirectTo(target), {redirect: 'error'}));
  const msg = await bgfMessageFor(id);
  assert_equals(msg.type, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError');
}, 'A redirect of a request whose redirect mode is "error" is a network error');
