// The worker of iframe.https.window.js: answers fetches of `?from-sw` under
// its scope, and lists its clients for the page.
self.addEventListener('activate', e => e.waitUntil(clients.claim()));
self.addEventListener('fetch', e => {
  if (new URL(e.request.url).search === '?from-sw') {
    e.respondWith(new Response('from-sw'));
  }
});
self.addEventListener('message', e => {
  e.waitUntil(clients.matchAll().then(list => {
    e.source.postMessage(list.map(c => ({url: c.url, frameType: c.frameType})));
  }));
});
