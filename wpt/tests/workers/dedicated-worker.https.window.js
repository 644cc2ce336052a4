'use strict';

// Dedicated workers (HTML, "Workers"): `new Worker(url)` runs the script in
// a DedicatedWorkerGlobalScope of its own; messages, errors, terminate()
// and close(); importScripts and module workers; and the worker as a
// service worker client (type "worker") that its controller sees.

// The next message event at `target`'s `message`.
function nextMessage(target) {
  return new Promise(resolve => {
    target.addEventListener('message', e => resolve(e), {once: true});
  });
}

// A worker that ends with the test.
function worker(t, url, options) {
  const w = new Worker(url, options);
  t.add_cleanup(() => w.terminate());
  return w;
}

promise_test(async t => {
  const w = worker(t, 'resources/echo-worker.js', {name: 'echo'});
  w.postMessage({list: [1, 2], text: 'hi'});
  const e = await nextMessage(w);
  assert_true(e instanceof MessageEvent);
  assert_equals(e.data.data.text, 'hi');
  assert_array_equals(e.data.data.list, [1, 2]);
  assert_equals(e.data.name, 'echo');
  assert_true(e.data.dedicated, 'a DedicatedWorkerGlobalScope');
  assert_true(e.data.worker, 'a WorkerGlobalScope');
  assert_true(e.data.noDocument, 'no document');
  assert_equals(e.data.location, new URL('resources/echo-worker.js', location.href).href);
}, 'messages go both ways, structured-cloned, and the worker has its own global');

promise_test(async t => {
  const w = worker(t, 'resources/echo-worker.js');
  const channel = new MessageChannel();
  w.postMessage('ported', [channel.port2]);
  channel.port1.start();
  const e = await nextMessage(channel.port1);
  channel.port1.close();
  assert_equals(e.data, 'through the port: ported');
}, 'a MessagePort transferred to the worker reaches it');

promise_test(async t => {
  const w = worker(t, 'resources/early-worker.js');
  const first = nextMessage(w);
  w.postMessage('a');
  w.postMessage('b');
  assert_equals((await first).data, 'script ran, messages so far: 0');
  assert_equals((await nextMessage(w)).data, 'a');
  assert_equals((await nextMessage(w)).data, 'a,b');
}, 'messages sent before the script ran wait for it, in order');

promise_test(async t => {
  const w = worker(t, 'resources/error-worker.js');
  const error = new Promise(resolve => {
    w.onerror = e => {
      e.preventDefault();
      resolve(e);
    };
  });
  w.postMessage('throw');
  const e = await error;
  assert_true(e instanceof ErrorEvent);
  assert_true(e.message.includes('thrown in the worker (throw)'), e.message);
  assert_equals(e.filename, new URL('resources/error-worker.js', location.href).href);
  assert_equals(e.lineno, 10);
  assert_equals((await nextMessage(w)).data, 'after throw', 'the worker goes on');
}, 'an exception the worker leaves unhandled is an ErrorEvent at the Worker');

promise_test(async t => {
  const w = worker(t, 'resources/error-worker.js');
  let errors = 0;
  w.onerror = e => {
    errors++;
    e.preventDefault();
  };
  w.postMessage('handled');
  assert_equals((await nextMessage(w)).data, 'after handled');
  assert_equals(errors, 0, 'the worker\'s own listener canceled it');
}, 'an exception the worker\'s global cancels does not reach the Worker');

promise_test(async t => {
  const w = worker(t, 'resources/missing-worker.js');
  const e = await new Promise(resolve => w.onerror = resolve);
  assert_equals(e.constructor, Event, 'a plain Event');
  assert_equals(e.type, 'error');
}, 'a script that does not load fires a plain error Event');

test(() => {
  assert_throws_dom('SyntaxError', () => new Worker('https://bad host/'));
  assert_throws_dom('SecurityError', () => new Worker('https://other.invalid/w.js'));
  assert_throws_js(TypeError, () => new Worker('resources/echo-worker.js', {type: 'shared'}));
  assert_throws_js(TypeError, () => new Worker());
  const w = new Worker('resources/echo-worker.js');
  assert_throws_dom('DataCloneError', () => w.postMessage(() => 1));
  assert_throws_dom('DataCloneError', () => w.postMessage(Symbol('x')));
  w.terminate();
}, 'the constructor checks its arguments; a message that cannot be cloned is a DataCloneError');

promise_test(async t => {
  const w = worker(t, 'resources/import-worker.js');
  assert_equals((await nextMessage(w)).data, 'imported by importScripts');
}, 'importScripts() runs a classic script in the worker');

promise_test(async t => {
  const w = worker(t, 'resources/module-worker.js', {type: 'module'});
  assert_equals((await nextMessage(w)).data, 'module: imported by a module');
}, 'a module worker imports');

promise_test(async t => {
  const w = worker(t, 'resources/nested-worker.js');
  assert_equals((await nextMessage(w)).data, 'nested: hello from inner');
}, 'a worker starts a worker of its own');

promise_test(async t => {
  const url = URL.createObjectURL(new Blob(
    ['onmessage = e => postMessage(e.data * 2);'], {type: 'text/javascript'}));
  t.add_cleanup(() => URL.revokeObjectURL(url));
  const w = worker(t, url);
  w.postMessage(21);
  assert_equals((await nextMessage(w)).data, 42);
}, 'a worker from a blob: URL');

promise_test(async t => {
  const w = worker(t, 'resources/close-worker.js');
  const got = [];
  const two = new Promise(resolve => w.onmessage = e => {
    got.push(e.data);
    if (got.length === 2) resolve();
  });
  w.postMessage('go');
  await two;
  // A worker started now answers after the closed one's later task would
  // have posted.
  const probe = worker(t, 'resources/echo-worker.js');
  for (let i = 0; i < 3; i++) {
    probe.postMessage(i);
    await nextMessage(probe);
  }
  assert_array_equals(got, ['before close', 'after close, same task']);
}, 'close() ends the worker after its current task');

promise_test(async t => {
  const w = worker(t, 'resources/echo-worker.js');
  w.postMessage('first');
  await nextMessage(w);
  w.terminate();
  let more = false;
  w.onmessage = () => more = true;
  w.postMessage('second');
  const probe = worker(t, 'resources/echo-worker.js');
  probe.postMessage('x');
  await nextMessage(probe);
  assert_false(more, 'no message after terminate()');
}, 'terminate() ends the worker');

promise_test(async t => {
  const name = 'worker-idb-' + Math.random();
  t.add_cleanup(() => {
    indexedDB.deleteDatabase(name);
  });
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onupgradeneeded = () => open.result.createObjectStore('s').put('from the page', 'k');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  db.close();
  const w = worker(t, 'resources/idb-worker.js');
  w.postMessage(name);
  assert_equals((await nextMessage(w)).data, 'from the page');
}, 'the worker sees the page\'s IndexedDB database');

// Registers `script` for `scope` and waits for it to be active.
async function activated(t, script, scope) {
  const registration = await navigator.serviceWorker.register(script, {scope});
  t.add_cleanup(() => registration.unregister());
  const sw = registration.installing || registration.waiting || registration.active;
  if (sw.state !== 'activated') {
    await new Promise(resolve => sw.addEventListener('statechange', () => {
      if (sw.state === 'activated') resolve();
    }));
  }
  return registration;
}

// What clients.matchAll({type, includeUncontrolled: true}) finds.
async function clientsOf(registration, type) {
  const answer = nextMessage(navigator.serviceWorker);
  registration.active.postMessage(type);
  return (await answer).data;
}

promise_test(async t => {
  const registration = await activated(t, 'resources/scope/worker-sw.js', 'resources/scope/gen');
  const w = worker(t, 'resources/scope/generated-worker.js');
  assert_equals((await nextMessage(w)).data, 'generated by the service worker',
                'the worker\'s script came from its service worker');
  w.postMessage('who');
  assert_equals((await nextMessage(w)).data, 'worker none generated-worker.js',
                'its fetch() went to its controller, with its client id');
  assert_array_equals(await clientsOf(registration, 'worker'), ['worker:generated-worker.js']);
  const windows = await clientsOf(registration, 'window');
  assert_false(windows.some(c => c.startsWith('worker:')), 'no worker among the windows');
  const all = await clientsOf(registration, 'all');
  assert_equals(all[all.length - 1], 'worker:generated-worker.js', 'workers after windows');
  w.terminate();
  // terminate() is a call the browser takes before the next one.
  assert_array_equals(await clientsOf(registration, 'worker'), [], 'a terminated worker is gone');
}, 'a worker in a registration\'s scope is its client, controlled from the start');

promise_test(async t => {
  const w = worker(t, 'resources/scope/fetch-worker.js');
  assert_equals((await nextMessage(w)).data, 'ready');
  w.postMessage('who');
  const before = (await nextMessage(w)).data;
  assert_not_equals(before.split(' ')[0], 'worker', 'not intercepted before');
  await activated(t, 'resources/scope/worker-sw.js', 'resources/scope/fetch');
  w.postMessage('who');
  assert_equals((await nextMessage(w)).data, 'worker none fetch-worker.js');
}, 'clients.claim() takes a running worker, whose fetch() then goes to it');

// An iframe at `src`, loaded; removed when the test ends.
function withFrame(t, src) {
  return new Promise(resolve => {
    const frame = document.createElement('iframe');
    frame.src = src;
    frame.onload = () => resolve(frame);
    document.body.appendChild(frame);
    t.add_cleanup(() => frame.remove());
  });
}

promise_test(async t => {
  const FRAME = 'resources/scope/blob-frame.html';
  const before = await withFrame(t, FRAME);
  const first = await before.contentWindow.fetchInWorker('who');
  assert_not_equals(first.split(' ')[0], 'worker', 'not intercepted before');
  await activated(t, 'resources/scope/worker-sw.js', 'resources/scope/blob');
  assert_equals((await before.contentWindow.fetchInWorker('who')).slice(0, 12), 'worker none ',
                'claimed with its owner');
  const after = await withFrame(t, FRAME);
  assert_equals((await after.contentWindow.fetchInWorker('who')).slice(0, 12), 'worker none ',
                'controlled from the start, by its owner\'s controller');
}, 'a blob: worker is controlled as its owner is: claimed with it, or from the start');
