// META: script=resources/bgf-common.js
'use strict';

// swharness.setOnline() is the browser's network going away and coming
// back: the page sees navigator.onLine change, the offline and online
// events, and its own fetch() failing while offline.
// https://html.spec.whatwg.org/multipage/system-state.html#navigator.online

function nextEvent(type) {
  return new Promise(resolve => window.addEventListener(type, resolve, {once: true}));
}

promise_test(async t => {
  t.add_cleanup(() => swharness.setOnline(true));
  assert_true(navigator.onLine, 'online at the start');
  const resource = new URL('resources/body.py?size=10', location.href).href;

  const offline = nextEvent('offline');
  let handler = 0;
  window.onoffline = () => handler++;
  await swharness.setOnline(false);
  const ev = await offline;
  assert_equals(ev.type, 'offline');
  assert_equals(handler, 1, 'window.onoffline ran');
  assert_false(navigator.onLine, 'navigator.onLine while offline');
  await promise_rejects_js(t, TypeError, fetch(resource), 'fetch() while offline');

  const online = nextEvent('online');
  await swharness.setOnline(true);
  await online;
  assert_true(navigator.onLine, 'navigator.onLine once online');
  const r = await fetch(resource);
  assert_equals(r.status, 200, 'fetch() works again');
  assert_equals(handler, 1, 'going online is not an offline event');
}, 'Offline and back: navigator.onLine, the events, and fetch()');

promise_test(async t => {
  let events = 0;
  const count = () => events++;
  window.addEventListener('offline', count);
  window.addEventListener('online', count);
  t.add_cleanup(() => {
    window.removeEventListener('offline', count);
    window.removeEventListener('online', count);
  });
  await swharness.setOnline(true);
  await swharness.setOnline(true);
  assert_equals(events, 0, 'setting the state it already has fires nothing');
}, 'No event without a change');
