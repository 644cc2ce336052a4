// META: global=window,dedicatedworker
'use strict';

// XMLHttpRequest in windows and dedicated workers: the state machine and
// its events, bodies and response types, headers, abort(), timeout, network
// errors, synchronous requests, and the argument checks.

const BASE = location.href.replace(/[^/]*$/, '');
const ECHO = BASE + 'resources/echo-request.py';
const HOLD = '/service-workers/service-worker/resources/hold.py';

// Sends `x` and resolves with the events it fired, in order, once loadend.
function run(x, body = null) {
  return new Promise(resolve => {
    const events = [];
    const log = e => {
      events.push(e.type === 'readystatechange' ? 'rs' + x.readyState : e.type);
      if (e.type === 'loadend') resolve(events);
    };
    for (const t of ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load',
                     'timeout', 'loadend']) {
      x.addEventListener(t, log);
    }
    x.send(body);
  });
}

promise_test(async () => {
  const x = new XMLHttpRequest();
  assert_equals(x.readyState, XMLHttpRequest.UNSENT);
  x.open('GET', 'resources/data.json');
  assert_equals(x.readyState, x.OPENED);
  const events = await run(x);
  assert_array_equals(events, ['loadstart', 'rs2', 'rs3', 'progress', 'rs4', 'load', 'loadend']);
  assert_equals(x.status, 200);
  assert_equals(x.statusText, 'OK');
  assert_equals(x.responseURL, BASE + 'resources/data.json');
  assert_equals(JSON.parse(x.responseText).word, 'hi');
  assert_equals(x.response, x.responseText);
}, 'an asynchronous GET goes through its states and events in order');

promise_test(async () => {
  const x = new XMLHttpRequest();
  x.open('POST', ECHO);
  x.setRequestHeader('X-Test', 'a');
  x.setRequestHeader('x-test', 'b');
  await run(x, 'the body');
  assert_equals(x.responseText, 'POST\ntext/plain;charset=UTF-8\na, b\nthe body');
  assert_equals(x.getResponseHeader('X-CUSTOM'), 'one, two');
  assert_equals(x.getResponseHeader('missing'), null);
  const all = x.getAllResponseHeaders();
  assert_true(all.includes('x-custom: one, two\r\n'), all);
  assert_true(all.endsWith('\r\n'));
  const names = all.split('\r\n').filter(Boolean).map(l => l.split(':')[0]);
  assert_array_equals(names, [...names].sort(), 'sorted lower-case names');
}, 'a POST sends its body and headers (a repeated header is combined); response headers');

promise_test(async () => {
  const x = new XMLHttpRequest();
  x.open('GET', 'resources/data.json');
  x.responseType = 'json';
  await run(x);
  assert_array_equals(x.response.list, [1, 2, 3]);
  assert_throws_dom('InvalidStateError', () => x.responseText);
  const b = new XMLHttpRequest();
  b.open('GET', 'resources/data.json');
  b.responseType = 'arraybuffer';
  await run(b);
  assert_true(b.response instanceof ArrayBuffer);
  assert_equals(new TextDecoder().decode(b.response).trim(), '{"word": "hi", "list": [1, 2, 3]}');
  const c = new XMLHttpRequest();
  c.open('GET', 'resources/data.json');
  c.responseType = 'blob';
  await run(c);
  assert_true(c.response instanceof Blob);
  assert_equals(JSON.parse(await c.response.text()).word, 'hi');
}, 'responseType json, arraybuffer and blob');

promise_test(async t => {
  const key = crypto.randomUUID();
  t.add_cleanup(() => fetch(`${HOLD}?key=${key}&action=release`));
  const x = new XMLHttpRequest();
  x.open('GET', `${HOLD}?key=${key}`);
  // send() fires loadstart before it returns.
  const done = run(x);
  x.abort();
  assert_array_equals(await done, ['loadstart', 'rs4', 'abort', 'loadend']);
  assert_equals(x.readyState, XMLHttpRequest.UNSENT, 'UNSENT after abort()');
  assert_equals(x.status, 0);
}, 'abort() ends the request with abort and loadend');

promise_test(async t => {
  const key = crypto.randomUUID();
  t.add_cleanup(() => fetch(`${HOLD}?key=${key}&action=release`));
  const x = new XMLHttpRequest();
  x.open('GET', `${HOLD}?key=${key}`);
  x.timeout = 50;
  assert_array_equals(await run(x), ['loadstart', 'rs4', 'timeout', 'loadend']);
  assert_equals(x.status, 0);
}, 'a request that takes longer than its timeout ends with timeout');

promise_test(async () => {
  const x = new XMLHttpRequest();
  // Port 1 is a bad port: a network error.
  x.open('GET', `${location.protocol}//${location.hostname}:1/`);
  assert_array_equals(await run(x), ['loadstart', 'rs4', 'error', 'loadend']);
  assert_equals(x.status, 0);
  assert_equals(x.responseText, '');
}, 'a network error fires error');

test(() => {
  const x = new XMLHttpRequest();
  x.open('POST', ECHO, false);
  x.setRequestHeader('X-Test', 'sync');
  let states = [];
  x.onreadystatechange = () => states.push(x.readyState);
  x.send('sync body');
  assert_array_equals(states, [4]);
  assert_equals(x.status, 200);
  assert_equals(x.responseText, 'POST\ntext/plain;charset=UTF-8\nsync\nsync body');
  const bad = new XMLHttpRequest();
  bad.open('GET', `${location.protocol}//${location.hostname}:1/`, false);
  assert_throws_dom('NetworkError', () => bad.send());
}, 'a synchronous request blocks until its answer, or throws NetworkError');

test(() => {
  const x = new XMLHttpRequest();
  assert_throws_dom('InvalidStateError', () => x.setRequestHeader('a', 'b'));
  assert_throws_dom('InvalidStateError', () => x.send());
  assert_throws_dom('SyntaxError', () => x.open('bad method', 'x'));
  assert_throws_dom('SecurityError', () => x.open('TRACE', 'x'));
  assert_throws_dom('SyntaxError', () => x.open('GET', 'https://bad host/'));
  x.open('get', ECHO);
  assert_throws_dom('SyntaxError', () => x.setRequestHeader('bad name', 'v'));
  x.send();
  assert_throws_dom('InvalidStateError', () => x.send());
  assert_throws_dom('InvalidStateError', () => x.withCredentials = true);
  assert_throws_js(TypeError, () => new XMLHttpRequestUpload());
  x.abort();
}, 'open(), setRequestHeader() and send() check their state and arguments');
