// Answers "intercepted" requests itself; the rest go to the network.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('fetch', (e) => {
  if (e.request.url.endsWith('/intercepted')) {
    e.respondWith(e.request.text().then((body) =>
      new Response('from the service worker: ' + e.request.method + ' ' + body)));
  }
});
