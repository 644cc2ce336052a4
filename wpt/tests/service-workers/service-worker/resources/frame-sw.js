// The worker of iframe.https.window.js: answers fetches of `?from-sw` under
// its scope, a navigation to `?referrer` with its request's referrer and
// one to `?reload` with its isReloadNavigation as a text/plain page, and
// lists its clients for the page.
self.addEventListener('activate', e => e.waitUntil(clients.claim()));
self.addEventListener('fetch', e => {
  const search = new URL(e.request.url).search;
  if (search === '?from-sw') {
    e.respondWith(new Response('from-sw'));
  }
  if (search === '?reload' || search === '?history') {
    e.respondWith(new Response(
        `isReloadNavigation ${e.request.isReloadNavigation}, ` +
        `isHistoryNavigation ${e.request.isHistoryNavigation}, cache ${e.request.cache}`,
        {headers: {'Content-Type': 'text/plain'}}));
  }
  if (search === '?referrer') {
    e.respondWith(new Response(`${e.request.mode} ${e.request.referrer}`,
        {headers: {'Content-Type': 'Text/Plain; charset=utf-8'}}));
  }
});
self.addEventListener('message', e => {
  e.waitUntil(clients.matchAll().then(list => {
    e.source.postMessage(list.map(c => ({url: c.url, frameType: c.frameType, focused: c.focused})));
  }));
});
