'use strict';

// SharedWorker: one SharedWorkerGlobalScope per URL and name, each
// connection a `connect` event with its port; the worker as a service
// worker client of type "sharedworker".

// Sends `data` on the worker's port and resolves with the answer.
function ask(worker, data) {
  return new Promise(resolve => {
    worker.port.onmessage = e => resolve(e.data);
    worker.port.postMessage(data);
  });
}

promise_test(async t => {
  const name = 'one-' + Math.random();
  const a = new SharedWorker('resources/shared-worker.js', name);
  const b = new SharedWorker('resources/shared-worker.js', {name});
  const other = new SharedWorker('resources/shared-worker.js', name + '-other');
  t.add_cleanup(() => {
    for (const w of [a, b, other]) w.port.close();
  });
  const first = await ask(a, 'a');
  assert_equals(first.data, 'a');
  assert_equals(first.name, name);
  assert_true(first.shared, 'a SharedWorkerGlobalScope');
  assert_true(first.sourceIsPort, 'the connect event\'s source is its port');
  assert_true(first.noPostMessage, 'no postMessage on the global');
  assert_equals((await ask(b, 'b')).connections, 2, 'the same worker, connected twice');
  assert_equals((await ask(other, 'c')).connections, 1, 'another name, another worker');
}, 'SharedWorkers of one URL and name share one global, which gets a connect event per port');

test(() => {
  assert_throws_dom('SyntaxError', () => new SharedWorker('https://bad host/'));
  assert_throws_dom('SecurityError', () => new SharedWorker('https://other.invalid/w.js'));
  assert_throws_js(TypeError, () => new SharedWorker('resources/shared-worker.js', {type: 'x'}));
  assert_throws_js(TypeError, () => new SharedWorker());
}, 'the SharedWorker constructor checks its arguments');

promise_test(async t => {
  const w = new SharedWorker('resources/missing-shared-worker.js');
  const e = await new Promise(resolve => w.onerror = resolve);
  assert_equals(e.constructor, Event);
  w.port.close();
}, 'a shared worker whose script does not load fires error at each SharedWorker');

promise_test(async t => {
  const registration = await navigator.serviceWorker.register(
      'resources/scope/shared-sw.js', {scope: 'resources/scope/shared'});
  t.add_cleanup(() => registration.unregister());
  const sw = registration.installing;
  await new Promise(resolve => sw.addEventListener('statechange', () => {
    if (sw.state === 'activated') resolve();
  }));
  const w = new SharedWorker('resources/scope/shared-fetch-worker.js');
  t.add_cleanup(() => w.port.close());
  assert_equals(await ask(w, 'who'), 'sharedworker', 'its fetch() went to its controller');
  const listed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('message', e => resolve(e.data), {once: true}));
  registration.active.postMessage('sharedworker');
  // The shared workers of the subtests before live on with this page.
  const list = await listed;
  assert_true(list.includes('sharedworker:none:shared-fetch-worker.js'), String(list));
  assert_true(list.every(c => c.startsWith('sharedworker:')), 'only shared workers');
}, 'a shared worker in a registration\'s scope is its client, of type "sharedworker"');
