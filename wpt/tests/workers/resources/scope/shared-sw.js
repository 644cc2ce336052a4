// Lists the shared worker clients it sees.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('message', async (e) => {
  const all = await clients.matchAll({ type: e.data, includeUncontrolled: true });
  e.source.postMessage(all.map((c) => c.type + ':' + c.frameType + ':' + c.url.split('/').pop()));
});
self.addEventListener('fetch', (e) => {
  if (e.request.url.endsWith('/who')) {
    e.respondWith(clients.get(e.clientId).then((c) => new Response(c ? c.type : 'no client')));
  }
});
