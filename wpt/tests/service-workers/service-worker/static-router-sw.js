// The worker of static-router.https.window.js: routes added while it
// installs, and a fetch listener that answers what the routes leave to it.
'use strict';

self.addEventListener('install', e => {
  e.waitUntil((async () => {
    const cache = await caches.open('routes');
    await cache.put('resources/echo.py?test=cached', new Response('from the cache'));
  })());
  e.addRoutes([
    {condition: {urlPattern: 'resources/echo.py?test=network'}, source: 'network'},
    {condition: {urlPattern: 'resources/echo.py?test=cached'}, source: 'cache'},
    {condition: {urlPattern: 'resources/echo.py?test=missing'}, source: {cacheName: 'routes'}},
    {condition: {or: [{requestMethod: 'POST'}, {requestMode: 'no-cors'}]}, source: 'fetch-event'},
    {condition: {not: {urlPattern: 'resources/echo.py?*'}}, source: 'network'},
  ]);
});

self.addEventListener('activate', e => e.waitUntil(clients.claim()));

self.addEventListener('fetch', e => {
  const test = new URL(e.request.url).searchParams.get('test');
  if (test === 'late-routes') {
    // Outside the install event (here on an event the script made, once
    // installed), addRoutes() rejects.
    return e.respondWith(new InstallEvent('install')
        .addRoutes({condition: {requestMethod: 'GET'}, source: 'network'})
        .then(() => new Response('accepted'), err => new Response(err.name)));
  }
  if (test === 'bad-source') {
    return e.respondWith(new InstallEvent('install')
        .addRoutes({condition: {requestMethod: 'GET'}, source: 42})
        .then(() => new Response('accepted'), err => new Response(err.name)));
  }
  e.respondWith(new Response('from-sw'));
});
