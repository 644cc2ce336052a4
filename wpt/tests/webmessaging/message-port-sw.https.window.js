'use strict';

// MessagePorts and ArrayBuffers transferred between a page and its service
// worker (each realm on its own thread in swharness): postMessage(message,
// transfer) with a MessageChannel port, both ways.

promise_test(async t => {
  const registration = await navigator.serviceWorker.register(
      'resources/port-echo-sw.js', {scope: 'resources/port-echo-scope'});
  t.add_cleanup(() => registration.unregister());
  const worker = registration.installing;

  const channel = new MessageChannel();
  const received = [];
  const two = new Promise(resolve => {
    channel.port1.onmessage = e => {
      received.push(e.data);
      if (received.length === 2) resolve();
    };
  });
  const fromWorker = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('message', resolve, {once: true}));
  worker.postMessage({port: channel.port2}, [channel.port2]);
  channel.port1.postMessage('ping');
  await two;
  assert_equals(received[0], 'echo ping', 'the worker answers on the port it was given');
  assert_array_equals(Array.from(new Uint8Array(received[1])), [1, 2, 3],
      'an ArrayBuffer transferred on that port');

  const e = await fromWorker;
  assert_equals(e.data, 'a port for you');
  assert_equals(e.ports.length, 1, 'a port the worker transferred to the page');
  const answer = new Promise(resolve => e.ports[0].onmessage = m => resolve(m.data));
  e.ports[0].postMessage('hello');
  assert_equals(await answer, 'got hello');
  channel.port1.close();
  e.ports[0].close();
}, 'MessagePorts and ArrayBuffers go between a page and its service worker');

promise_test(async t => {
  const registration = await navigator.serviceWorker.register(
      'resources/port-echo-sw.js', {scope: 'resources/blob-scope'});
  t.add_cleanup(() => registration.unregister());
  const answer = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('message', e => resolve(e.data), {once: true}));
  registration.installing.postMessage({
    blob: new Blob(['made ', 'here'], {type: 'text/x-test'}),
    error: new DOMException('no', 'AbortError'),
  });
  const got = await answer;
  assert_true(got.isBlob, 'the worker gets a Blob');
  assert_equals(got.type, 'text/x-test');
  assert_equals(got.text, 'made here', 'with its bytes');
  assert_equals(got.error, 'AbortError', 'and a DOMException');
  assert_true(got.back instanceof Blob, 'a Blob comes back');
  assert_equals(got.back.type, 'text/x-back');
  assert_equals(await got.back.text(), 'back: made here');
}, 'Blobs and DOMExceptions go between a page and its service worker');

test(() => {
  const channel = new MessageChannel();
  assert_throws_dom('DataCloneError', () => structuredClone(document.body),
      'a node is not serializable');
  assert_throws_dom('DataCloneError', () => channel.port1.postMessage({node: document.body}));
  channel.port1.close();
}, 'DOM nodes are not structured-cloneable');
