// META: script=resources/bgf-common.js
// META: script=resources/bgf-helpers.js
'use strict';

// BackgroundFetchManager.fetch()/get() argument conversion and checks, as
// WebIDL and the spec's steps have them (upstream covers some of this; CI
// runs only these).
// https://wicg.github.io/background-fetch/#background-fetch-manager-fetch

bgfTest(async (t, bgf) => {
  const url = bgfBodyUrl({size: 10});
  const cases = [[12, 12], ['34', 34], [5.9, 5], [NaN, 0], [Infinity, 0], [undefined, 0]];
  for (const [given, want] of cases) {
    const registration = await bgf.fetch(bgfUniqueId('dt'), url, {downloadTotal: given});
    assert_equals(registration.downloadTotal, want, `downloadTotal ${String(given)}`);
    await registration.abort();
  }
  // unsigned long long wraps: -1 is 2^64 - 1, more than any quota.
  await promise_rejects_quotaexceedederror(
      t, bgf.fetch(bgfUniqueId('dt'), url, {downloadTotal: -1}), null, null);
}, 'downloadTotal is converted as a WebIDL unsigned long long');

bgfTest(async (t, bgf) => {
  const ok = bgfBodyUrl({size: 10});
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId(), []), 'no requests');
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId(), 'https://user:pw@example.com/'),
                           'credentials in the URL');
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId(), new Request(ok, {mode: 'no-cors'})),
                           'no-cors');
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId(), 'https://example.com:25/'),
                           'a blocked port');
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId(), 'data:text/plain,x'),
                           'a non-http(s) scheme');
  await promise_rejects_js(t, TypeError, bgf.fetch(bgfUniqueId()), 'one argument');
}, 'fetch() rejects bad requests with a TypeError');

bgfTest(async (t, bgf) => {
  const id = bgfUniqueId('dup');
  const key = bgfUuid();
  t.add_cleanup(() => bgfRelease(key));
  // Stalls after 100 bytes until released: active for as long as needed.
  const url = bgfBodyUrl({size: 2000, stall: 100, key});
  const first = await bgf.fetch(id, url);
  await promise_rejects_js(t, TypeError, bgf.fetch(id, url), 'the id is in use');
  assert_true(await first.abort());
  // Aborted: the id is free again.
  const again = await bgf.fetch(id, bgfBodyUrl({size: 10}));
  assert_equals(again.id, id);
}, 'An id is held by an active fetch only');

bgfTest(async (t, bgf) => {
  await promise_rejects_js(t, TypeError, bgf.get(), 'no argument');
  await promise_rejects_js(t, TypeError, bgf.get(''), 'the empty id');
  assert_equals(await bgf.get('no-such-id'), undefined);
}, 'get() checks its argument and resolves undefined for an unknown id');
