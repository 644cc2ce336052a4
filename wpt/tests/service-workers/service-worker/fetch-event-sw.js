// The worker of fetch-event.https.window.js: what it does with a request
// is chosen by the request's `test` parameter.
'use strict';

let lastError = '';
let release;
const released = new Promise(resolve => release = resolve);

self.addEventListener('activate', e => e.waitUntil(clients.claim()));

self.addEventListener('fetch', e => {
  const url = new URL(e.request.url);
  switch (url.searchParams.get('test')) {
    case 'request-members':
      e.respondWith((() => {
        let headersImmutable = false;
        try {
          e.request.headers.set('x-more', '1');
        } catch (err) {
          headersImmutable = err instanceof TypeError;
        }
        const r = e.request;
        return Response.json({
          credentials: r.credentials, cache: r.cache, redirect: r.redirect,
          referrer: r.referrer, referrerPolicy: r.referrerPolicy,
          integrity: r.integrity, keepalive: r.keepalive,
          headersImmutable, signalAborted: r.signal.aborted,
          cloneMethod: r.clone().method,
          isReloadNavigation: r.isReloadNavigation,
          isHistoryNavigation: r.isHistoryNavigation,
        });
      })());
      break;
    case 'microtask':
      // In time: the listener's microtasks run before its dispatch ends.
      Promise.resolve().then(() => e.respondWith(new Response('in a microtask')));
      break;
    case 'basic':
      e.respondWith(new Response('from-sw',
          {status: 201, statusText: 'Made', headers: {'X-From': 'sw'}}));
      break;
    case 'members':
      e.respondWith((async () => {
        const client = await clients.get(e.clientId);
        return Response.json({
          isFetchEvent: e instanceof FetchEvent,
          method: e.request.method,
          mode: e.request.mode,
          destination: e.request.destination,
          header: e.request.headers.get('x-test'),
          body: await e.request.text(),
          clientUrl: client ? client.url : null,
          resultingClientId: e.resultingClientId,
          replacesClientId: e.replacesClientId,
          handledIsPromise: e.handled instanceof Promise,
          preload: String(await e.preloadResponse),
        });
      })());
      break;
    case 'reject':
      e.respondWith(Promise.reject(new Error('rejected on purpose')));
      break;
    case 'not-response':
      e.respondWith({body: 'not a Response'});
      break;
    case 'error-response':
      e.respondWith(Response.error());
      break;
    case 'used-body':
      e.respondWith((async () => {
        const r = new Response('used');
        await r.text();
        return r;
      })());
      break;
    case 'locked-body': {
      const r = new Response('locked');
      r.body.getReader();
      e.respondWith(r);
      break;
    }
    case 'string-body':
      // A small string body goes to the page whole, with the answer.
      e.respondWith(new Response('\u00e9t\u00e9 \u{1F600} '.repeat(1000)));
      break;
    case 'twice':
      // The first answer is given once the second call has thrown.
      e.respondWith(new Promise(resolve => setTimeout(() => resolve(new Response(lastError)), 0)));
      try {
        e.respondWith(new Response('second'));
        lastError = 'no error';
      } catch (err) {
        lastError = err.name;
      }
      break;
    case 'late':
      setTimeout(() => {
        try {
          e.respondWith(new Response('late'));
          lastError = 'no error';
        } catch (err) {
          lastError = err.name;
        }
      }, 0);
      break;
    case 'last-error':
      e.respondWith(new Response(lastError));
      break;
    case 'stream': {
      let step = 0;
      const encoder = new TextEncoder();
      e.respondWith(new Response(new ReadableStream({
        async pull(controller) {
          step++;
          if (step === 1) {
            controller.enqueue(encoder.encode('first;'));
          } else if (step === 2) {
            await released;
            controller.enqueue(encoder.encode('second'));
          } else {
            controller.close();
          }
        },
      })));
      break;
    }
    case 'release':
      release();
      e.respondWith(new Response('released'));
      break;
    case 'passthrough':
      // The worker's own fetch() goes to the network, never to itself.
      e.respondWith(fetch(url.href.replace('test=passthrough', 'test=own')));
      break;
    case 'own':
      e.respondWith(new Response('the worker intercepted its own request'));
      break;
    case 'untrusted':
      e.respondWith((() => {
        const ev = new FetchEvent('fetch', {request: e.request});
        try {
          ev.respondWith(new Response('x'));
          return new Response('no error');
        } catch (err) {
          return new Response(err.name);
        }
      })());
      break;
    case 'big':
      e.respondWith(new Response(new Uint8Array(3 * 1024 * 1024 + 7).fill(42)));
      break;
    case 'prevent-default':
      e.preventDefault();
      break;
    case 'throws':
      throw new Error('a fetch listener that throws');
  }
});
