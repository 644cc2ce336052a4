'use strict';

// A controlled page's XMLHttpRequest goes through its service worker, body
// included; what the worker does not answer goes to the network.

// A frame of resources/scope/page.html, controlled by xhr-sw.js; both go
// when the test ends.
async function controlledFrame(t) {
  const registration =
      await navigator.serviceWorker.register('resources/scope/xhr-sw.js', {scope: 'resources/scope/'});
  t.add_cleanup(() => registration.unregister());
  const sw = registration.installing || registration.waiting || registration.active;
  if (sw.state !== 'activated') {
    await new Promise(resolve => sw.addEventListener('statechange', () => {
      if (sw.state === 'activated') resolve();
    }));
  }
  return new Promise(resolve => {
    const f = document.createElement('iframe');
    f.src = 'resources/scope/page.html';
    f.onload = () => resolve(f);
    document.body.appendChild(f);
    t.add_cleanup(() => f.remove());
  });
}

promise_test(async t => {
  const w = (await controlledFrame(t)).contentWindow;
  assert_equals(await w.xhrText('POST', 'intercepted', 'the body'),
                '200 from the service worker: POST the body');
  assert_equals(await w.xhrText('GET', '../data.json', null),
                '200 {"word": "hi", "list": [1, 2, 3]}\n', 'not answered: the network');
  assert_equals(await w.uploadEvents('intercepted', 'up'), 'loadstart',
                'the worker answered: no upload progress (as in Chromium)');
  assert_equals(await w.uploadEvents('../echo-request.py', 'up'), 'loadstart,progress,load,loadend',
                'the body went to the network');
}, 'a controlled page\'s XMLHttpRequest goes to its service worker');

promise_test(async t => {
  const frame = await controlledFrame(t);
  // The frame's request, made and sent from here: its load listener, added
  // after send() in the same task, must be in time, as frames of one origin
  // share an event loop (here the frame runs nothing of its own until this
  // task ends).
  const xhr = new frame.contentWindow.XMLHttpRequest();
  xhr.open('POST', 'intercepted');
  xhr.send('sent by the parent');
  await new Promise(resolve => xhr.addEventListener('load', resolve));
  assert_equals(xhr.responseText, 'from the service worker: POST sent by the parent');
}, 'a frame runs none of its own work while its parent\'s task uses its objects');
