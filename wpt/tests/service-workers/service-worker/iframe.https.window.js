'use strict';

// <iframe>: a nested window client in a realm of its own (on its own thread
// in swharness). Inserted with a src, it loads that page and fires load;
// contentWindow reaches the frame's window (and the frame's parent the
// page's) through proxies; removed, the client goes.

const FRAME = 'resources/frame-page.html';

function withFrame(t, src) {
  return new Promise(resolve => {
    const frame = document.createElement('iframe');
    frame.src = src;
    frame.onload = () => resolve(frame);
    document.body.appendChild(frame);
    t.add_cleanup(() => frame.remove());
  });
}

// Resolves once `worker` is in `state`.
function stateOf(worker, state) {
  return new Promise(resolve => {
    if (worker.state === state) return resolve();
    worker.addEventListener('statechange', () => {
      if (worker.state === state) resolve();
    });
  });
}

// Registers `script` for `scope` (unregistered when the test ends) and
// waits for its worker to activate: the registration and the worker. Each
// test has a script and scope of its own.
async function activated(t, script, scope) {
  const registration = await navigator.serviceWorker.register(script, {scope});
  t.add_cleanup(() => registration.unregister());
  const worker = registration.installing;
  await stateOf(worker, 'activated');
  return {registration, worker};
}

promise_test(async t => {
  const frame = await withFrame(t, FRAME);
  const w = frame.contentWindow;
  assert_not_equals(w, null);
  assert_equals(frame.contentWindow, w, 'one proxy per window');
  assert_equals(w.document.title, 'the frame');
  assert_equals(frame.contentDocument.title, 'the frame');
  assert_equals(w.location.href, new URL(FRAME, location.href).href);
  assert_equals(w.answer, 42);
  assert_equals(w.add(2, 3), 5);
  assert_equals(w.data.nested.word, 'hi');
  assert_equals(w.data.list.length, 3);
  assert_true(Array.isArray(w.data.list));
  assert_equals(JSON.stringify(w.data), '{"list":[1,2,3],"nested":{"word":"hi"}}');
  assert_equals(w.data, w.data, 'one proxy per object');
  assert_equals(w.parentTitle, document.title, 'the frame\'s parent is this page');
  assert_equals(w.parent, window);
  w.answer = 7;
  assert_equals(w.answer, 7, 'a write reaches the frame');
}, 'contentWindow reads, writes and calls into the frame\'s window');

promise_test(async t => {
  const frame = await withFrame(t, FRAME);
  const w = frame.contentWindow;
  assert_throws_js(w.TypeError, () => w.thrower(), 'the frame\'s own TypeError');
  assert_equals(await w.later('v'), 'v', 'a promise of the frame settles here');
  await promise_rejects_js(t, w.RangeError, w.failLater());
  assert_equals(w.callBack(x => x * 2, 21), 42, 'a function of this page called by the frame');
  const r = await w.fetch('frame-page.html');  // relative to the frame
  assert_equals(r.status, 200);
  assert_true(r instanceof w.Response, 'the frame\'s Response');
  assert_true((await r.text()).includes('the frame'));
}, 'Exceptions, promises and callbacks cross between the page and its frame');

promise_test(async t => {
  const frame = await withFrame(t, FRAME);
  const w = frame.contentWindow;
  frame.remove();
  assert_equals(frame.contentWindow, null, 'a removed iframe has no window');
  assert_throws_js(TypeError, () => w.answer, 'the frame is gone');
}, 'Removing the iframe ends its window');

promise_test(async t => {
  const frame = await withFrame(t, FRAME);
  const request = new Request('x', {
    method: 'POST', mode: 'same-origin', redirect: 'manual',
    headers: {'X-Test': 'yes'}, body: 'the body',
  });
  assert_equals(await frame.contentWindow.describe(request),
      `${new URL('x', location.href).href} POST same-origin manual yes the body`);
}, 'A Request given to the frame is a Request there, with its members and body');

promise_test(async t => {
  const frame = await withFrame(t, FRAME);
  const channel = new MessageChannel();
  const answer = new Promise(resolve => channel.port1.onmessage = e => resolve(e.data));
  frame.contentWindow.answerOn({port: channel.port2, text: 'one port:'}, [channel.port2]);
  assert_equals(await answer, 'one port: true');
  channel.port1.close();
}, 'A MessagePort given to the frame in a message and its transfer list arrives as one port');

promise_test(async t => {
  const {worker} = await activated(t, 'resources/frame-sw.js', 'resources/');
  const frame = await withFrame(t, FRAME);
  const w = frame.contentWindow;
  assert_not_equals(w.navigator.serviceWorker.controller, null, 'a frame in scope is controlled from the start');
  assert_equals(await (await w.fetch('?from-sw')).text(), 'from-sw', 'the frame\'s fetch() goes to the worker');
  const listed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('message', e => resolve(e.data), {once: true}));
  worker.postMessage('list');
  const clients = await listed;
  const mine = clients.find(c => c.url === new URL(FRAME, location.href).href);
  assert_not_equals(mine, undefined, 'matchAll() lists the frame');
  assert_equals(mine.frameType, 'nested');
}, 'A frame in a worker\'s scope is its nested client');

promise_test(async t => {
  // A scope and script of its own: the registration of the test before
  // may still be uninstalling (its frame goes in its cleanup too), and
  // register() would then give it back without installing.
  await activated(t, 'resources/frame-sw.js?referrer', 'resources/frame-page.html?referrer');
  const frame = await withFrame(t, 'resources/frame-page.html?referrer');
  const doc = frame.contentDocument;
  assert_equals(doc.body.textContent, `navigate ${location.href}`,
      'the navigation request\'s referrer is the parent page');
  assert_equals(doc.contentType, 'text/plain', 'the essence of the response\'s type');
  assert_equals(doc.characterSet, 'UTF-8');
  assert_equals(document.contentType, 'text/html', 'a page without a type is HTML');
}, 'A frame\'s navigation has its parent as referrer, and its document the response\'s type');

promise_test(async t => {
  // Two registrations whose scopes both prefix the frame's URL: the frame
  // belongs to the longer one, and the other's claim() leaves it there.
  await activated(t, 'resources/frame-sw.js?long', 'resources/frame-page.html?claim-long');
  const frame = await withFrame(t, 'resources/frame-page.html?claim-long');
  const controller = () => frame.contentWindow.navigator.serviceWorker.controller.scriptURL;
  assert_true(controller().endsWith('?long'), 'the longer scope controls the frame');
  await activated(t, 'resources/frame-sw.js?short', 'resources/frame-page.html?claim');
  assert_true(controller().endsWith('?long'), 'the shorter scope\'s claim() does not take it');
}, 'claim() takes only the clients whose longest matching scope is its registration\'s');

promise_test(async t => {
  // Service Workers, "Handle Service Worker Client Unload": the last client
  // of the active worker goes, and the waiting worker activates.
  const scope = 'resources/frame-page.html?unload';
  const {registration} = await activated(t, 'resources/frame-sw.js?v1', scope);
  const frame = await withFrame(t, scope);
  await navigator.serviceWorker.register('resources/frame-sw.js?v2', {scope});
  const next = registration.installing;
  await stateOf(next, 'installed');
  assert_equals(registration.waiting, next, 'it waits while the frame uses the active worker');
  frame.remove();
  await stateOf(next, 'activated');
  assert_equals(registration.active, next);
}, 'Removing the frame that used the active worker activates the waiting one');

promise_test(async t => {
  // HTML's "has focus steps": the focused document and the documents whose
  // frames hold it have focus; an iframe's focus() and its window's focus()
  // move it there.
  const {worker} = await activated(t, 'resources/frame-sw.js?focus',
      'resources/frame-page.html?focus');
  const a = await withFrame(t, 'resources/frame-page.html?focus-a');
  const b = await withFrame(t, 'resources/frame-page.html?focus-b');
  const focusOf = async () => {
    const listed = new Promise(resolve =>
        navigator.serviceWorker.addEventListener('message', e => resolve(e.data), {once: true}));
    worker.postMessage('list');
    const list = await listed;
    // In matchAll()'s order: the most recently focused first, then the
    // never focused in creation order.
    return list.map(c => `${new URL(c.url).search} ${c.focused}`).join(', ');
  };
  assert_equals(await focusOf(), '?focus-a false, ?focus-b false', 'in creation order');
  b.focus();
  assert_equals(await focusOf(), '?focus-b true, ?focus-a false', 'the iframe\'s focus()');
  a.contentWindow.focus();
  assert_equals(await focusOf(), '?focus-a true, ?focus-b false', 'the frame window\'s focus()');
  a.remove();
  assert_equals(await focusOf(), '?focus-b false', 'focus left with the removed frame');
}, 'A frame takes focus with its iframe\'s focus() or its window\'s focus(); matchAll() lists the most recently focused first');

promise_test(async t => {
  await activated(t, 'resources/frame-sw.js?reload', 'resources/frame-page.html?reload');
  const frame = await withFrame(t, 'resources/frame-page.html?reload');
  assert_equals(frame.contentDocument.body.textContent,
      'isReloadNavigation false, isHistoryNavigation false, cache default');
  const loaded = () => new Promise(resolve => frame.addEventListener('load', resolve, {once: true}));
  let load = loaded();
  frame.contentWindow.location.reload();
  await load;
  assert_equals(frame.contentDocument.body.textContent,
      'isReloadNavigation true, isHistoryNavigation false, cache no-cache',
      'the frame\'s reload goes through its worker as a reload navigation');
  load = loaded();
  frame.contentWindow.location.href = 'frame-page.html';
  await load;
  assert_equals(frame.contentDocument.title, 'the frame');
  assert_equals(frame.contentWindow.location.href, new URL(FRAME, location.href).href);
  assert_equals(frame.src, new URL('resources/frame-page.html?reload', location.href).href,
      'the element\'s src stays');
}, 'A frame\'s location.reload() is a reload navigation; setting its location.href navigates it');

promise_test(async t => {
  await activated(t, 'resources/frame-sw.js?history', 'resources/frame-page.html?history');
  const frame = await withFrame(t, 'resources/frame-page.html?history');
  const text = () => frame.contentDocument.body.textContent;
  const navigated = (go) => {
    const load = new Promise(resolve => frame.addEventListener('load', resolve, {once: true}));
    go();
    return load;
  };
  await navigated(() => frame.src = FRAME);
  assert_equals(frame.contentDocument.title, 'the frame');
  await navigated(() => frame.contentWindow.history.back());
  assert_equals(text(), 'isReloadNavigation false, isHistoryNavigation true, cache default',
      'back() goes to the entry before, a history navigation through the worker');
  await navigated(() => frame.contentWindow.history.go(0));
  assert_equals(text(), 'isReloadNavigation true, isHistoryNavigation false, cache no-cache',
      'go(0) reloads');
  await navigated(() => frame.contentWindow.history.forward());
  assert_equals(frame.contentDocument.title, 'the frame', 'forward() goes to the later entry');
  // Beyond the last entry, nothing happens: the frame keeps its document.
  const w = frame.contentWindow;
  w.history.go(5);
  assert_equals(frame.contentWindow, w);
}, 'A frame\'s history traverses its entries, as history navigations through its worker');

test(() => {
  assert_equals(history.length, 1);
  assert_equals(history.state, null);
  const before = location.href;
  history.pushState({n: 1}, '', '?pushed');
  assert_equals(location.search, '?pushed', 'the document\'s URL changes');
  assert_equals(history.state.n, 1);
  assert_equals(history.length, 2);
  history.replaceState({n: 2}, '', before);
  assert_equals(location.href, before);
  assert_equals(history.state.n, 2);
  assert_throws_dom('SecurityError', () => history.pushState(null, '', 'https://other.invalid/'));
  assert_throws_dom('DataCloneError', () => history.pushState(() => 1, ''));
}, 'history.pushState() and replaceState() change the document\'s URL and state, same origin only');

promise_test(async t => {
  // HTML: an inserted iframe has a window at once (its initial about:blank
  // document's), which the first same-origin page keeps: a load listener
  // added to it right away hears that page's load, before the element's.
  const frame = document.createElement('iframe');
  frame.src = FRAME;
  assert_equals(frame.contentWindow, null, 'no window before it is inserted');
  document.body.appendChild(frame);
  t.add_cleanup(() => frame.remove());
  const initial = frame.contentWindow;
  assert_not_equals(initial, null, 'a window once inserted');
  assert_equals(initial.location.href, 'about:blank');
  const order = [];
  const loaded = new Promise(resolve => {
    initial.addEventListener('load', e => {
      order.push(`window ${e.type}`);
      resolve();
    }, {once: true});
  });
  frame.addEventListener('load', () => order.push('element load'));
  await loaded;
  // The element's load follows in the same task.
  assert_array_equals(order, ['window load', 'element load']);
  assert_equals(frame.contentWindow.answer, 42, 'then the page\'s window');
}, 'An inserted iframe\'s contentWindow exists at once, and its load listeners hear the first page\'s load');

promise_test(async t => {
  // HTML's focus update steps: the window that takes focus gets `focus`,
  // the one that had it `blur`.
  const a = await withFrame(t, 'resources/frame-page.html?events-a');
  const b = await withFrame(t, 'resources/frame-page.html?events-b');
  const next = (w, type) => new Promise(resolve => w.addEventListener(type, () => resolve(type), {once: true}));
  const aFocus = next(a.contentWindow, 'focus');
  a.focus();
  assert_equals(await aFocus, 'focus');
  const aBlur = next(a.contentWindow, 'blur');
  const bFocus = next(b.contentWindow, 'focus');
  b.contentWindow.focus();
  assert_array_equals(await Promise.all([aBlur, bFocus]), ['blur', 'focus']);
}, 'A window gets focus when it takes focus, and blur when another window does');

promise_test(async t => {
  // A frame's frame: the page reaches it through its frame, and the
  // objects of one go to the other.
  const outer = await withFrame(t, FRAME);
  const doc = outer.contentWindow.document;
  const inner = doc.createElement('iframe');
  inner.src = new URL('resources/frame-page.html?inner', location.href).href;
  doc.body.appendChild(inner);
  await new Promise(resolve => inner.contentWindow.addEventListener('load', resolve, {once: true}));
  const w = inner.contentWindow;
  assert_equals(w.location.search, '?inner');
  assert_equals(w.add(20, 22), 42);
  assert_equals(w.parent, outer.contentWindow, 'its parent is the outer frame\'s window');
  assert_equals(outer.contentWindow.callBack(x => w.add(x, 1), 1), 2,
      'a function of this page, called in the outer frame, calls into the inner one');
  assert_equals(w.data.list.length, 3);
}, 'A frame\'s own frame is reachable from the page, through proxies of three realms');
