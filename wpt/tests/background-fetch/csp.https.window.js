// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
'use strict';

// The page's Content-Security-Policy applies to the fetches it starts:
// a request connect-src forbids is a network error of its record (fetch()
// itself resolves), while allowed ones go on.
// https://w3c.github.io/webappsec-csp/#should-block-request

const meta = document.createElement('meta');
meta.setAttribute('http-equiv', 'Content-Security-Policy');
meta.setAttribute('content', "connect-src 'self'");
document.head.appendChild(meta);

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('csp');
  const allowed = new URL(bgfBodyUrl({size: 10}), location.href).href;
  const other = new URL(allowed);
  other.hostname = 'www1.' + other.hostname;
  const registration = await bgf.fetch(id, [allowed, other.href]);
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].status, 200, "'self' is allowed");
  assert_equals(msg.records[1].error, 'TypeError', 'another origin is blocked');
  assert_equals(registration.failureReason, 'fetch-error');
}, "connect-src 'self' blocks another origin's record, not the fetch");

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('csp-redirect');
  // Another origin that would allow the page (CORS), reached by a redirect
  // from this origin: connect-src applies to the redirect's target too.
  const target = new URL('resources/cors.py?allow=*', location.href);
  target.hostname = 'www1.' + target.hostname;
  const start = new URL('resources/redirect.py', location.href);
  start.searchParams.set('location', target.href);
  const direct = new URL(bgfBodyUrl({size: 10}), location.href).href;
  await bgf.fetch(id, [start.href, direct]);
  const msg = await bgfMessageFor(id, 'backgroundfetchfail');
  assert_equals(msg.reg.failureReason, 'fetch-error');
  assert_equals(msg.records[0].error, 'TypeError', 'the redirect target is blocked');
  assert_equals(msg.records[1].status, 200, "'self' is allowed");
}, "connect-src applies to a redirect's target");
