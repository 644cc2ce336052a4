// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
'use strict';

// Background Fetch requests carry a Referer as Fetch works it out: the
// page by default, under the request's referrer policy (default
// strict-origin-when-cross-origin), again at each redirect.
// https://w3c.github.io/webappsec-referrer-policy/#determine-requests-referrer

// resources/cors.py on `host` ('' for this origin, 'www1.' ...), logging
// each request under `key`.
function loggingUrl(host, key) {
  const url = new URL('resources/cors.py', location.href);
  url.hostname = host + url.hostname;
  url.searchParams.set('allow', '*');
  url.searchParams.set('key', key);
  return url.href;
}

async function referers(host, key) {
  const url = new URL(loggingUrl(host, key));
  url.searchParams.set('action', 'log');
  const log = await (await fetch(url, {cache: 'no-store'})).json();
  return log.map(e => e.referer);
}

const pageUrl = location.href.split('#')[0];

bgfTest(async (t, bgf) => {
  const [same, cross] = [bgfUuid(), bgfUuid()];
  const id = bgfUniqueId('referrer-default');
  await bgf.fetch(id, [loggingUrl('', same), loggingUrl('www1.', cross)]);
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(await referers('', same), [pageUrl], 'same origin: the page URL');
  assert_array_equals(await referers('www1.', cross), [location.origin + '/'],
                      'another origin: the page origin');
}, 'By default, the page URL, or only its origin across origins');

bgfTest(async (t, bgf) => {
  const [none, empty, unsafe] = [bgfUuid(), bgfUuid(), bgfUuid()];
  const id = bgfUniqueId('referrer-policies');
  await bgf.fetch(id, [
    new Request(loggingUrl('', none), {referrerPolicy: 'no-referrer'}),
    new Request(loggingUrl('', empty), {referrer: ''}),
    new Request(loggingUrl('www1.', unsafe), {referrerPolicy: 'unsafe-url'}),
  ]);
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(await referers('', none), [null], 'no-referrer');
  assert_array_equals(await referers('', empty), [null], "referrer ''");
  assert_array_equals(await referers('www1.', unsafe), [pageUrl], 'unsafe-url');
}, "The request's referrer and referrer policy apply");

bgfTest(async (t, bgf) => {
  const key = bgfUuid();
  const id = bgfUniqueId('referrer-redirect');
  const start = new URL('resources/redirect.py', location.href);
  start.searchParams.set('location', loggingUrl('www1.', key));
  await bgf.fetch(id, start.href);
  await bgfMessageFor(id, 'backgroundfetchsuccess');
  assert_array_equals(await referers('www1.', key), [location.origin + '/']);
}, 'A redirect to another origin gets only the origin');
