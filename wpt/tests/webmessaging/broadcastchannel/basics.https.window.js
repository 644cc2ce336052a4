'use strict';

// BroadcastChannel (HTML, "Broadcasting to other browsing contexts"), in
// one realm and between a page and its service worker.

function nextMessage(channel) {
  return new Promise(resolve => channel.addEventListener('message', resolve, {once: true}));
}

promise_test(async t => {
  const a = new BroadcastChannel('same-realm');
  const b = new BroadcastChannel('same-realm');
  const other = new BroadcastChannel('another-name');
  t.add_cleanup(() => { a.close(); b.close(); other.close(); });
  let toA = 0;
  let toOther = 0;
  a.onmessage = () => toA++;
  other.onmessage = () => toOther++;
  const value = {map: new Map([[1, 'one']]), when: new Date(5)};
  const got = nextMessage(b);
  a.postMessage(value);
  const ev = await got;
  assert_true(ev instanceof MessageEvent);
  assert_equals(ev.origin, location.origin);
  assert_equals(ev.data.map.get(1), 'one', 'structured clone keeps a Map');
  assert_equals(ev.data.when.getTime(), 5, 'and a Date');
  assert_not_equals(ev.data, value, 'a copy');
  await new Promise(r => setTimeout(r, 0));
  assert_equals(toA, 0, 'the sender does not get its own message');
  assert_equals(toOther, 0, 'another name gets nothing');
}, 'A message reaches the other channels of its name, cloned');

promise_test(async t => {
  const a = new BroadcastChannel('closing');
  const b = new BroadcastChannel('closing');
  let got = 0;
  b.onmessage = () => got++;
  b.close();
  a.postMessage('after close');
  await new Promise(r => setTimeout(r, 10));
  assert_equals(got, 0, 'a closed channel gets nothing');
  a.close();
  assert_throws_dom('InvalidStateError', () => a.postMessage('x'));
  assert_equals(a.name, 'closing');
}, 'close() stops a channel; postMessage() on it throws InvalidStateError');

test(() => {
  const a = new BroadcastChannel('clone-error');
  try {
    assert_throws_dom('DataCloneError', () => a.postMessage(() => {}));
  } finally {
    a.close();
  }
}, 'A message that cannot be cloned throws DataCloneError');

promise_test(async t => {
  const old = await navigator.serviceWorker.getRegistration('./');
  if (old) await old.unregister();
  const channel = new BroadcastChannel('echo');
  t.add_cleanup(() => channel.close());
  const registration = await navigator.serviceWorker.register('echo-sw.js', {scope: './'});
  t.add_cleanup(() => registration.unregister());
  await navigator.serviceWorker.ready;
  const reply = nextMessage(channel);
  channel.postMessage({hello: 'worker', when: new Date(7)});
  const ev = await reply;
  assert_equals(ev.data.echo.hello, 'worker', 'the worker got the message');
  assert_true(ev.data.isDate, 'cloned into the worker\'s realm');
  assert_equals(ev.data.origin, location.origin, 'the worker saw this origin');
  assert_equals(ev.origin, location.origin);
}, 'A page and its service worker talk over a BroadcastChannel');
