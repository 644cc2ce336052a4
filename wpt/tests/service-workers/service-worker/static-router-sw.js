// The worker of static-router.https.window.js: routes added while it
// installs, and a fetch listener that answers what the routes leave to it.
'use strict';

self.addEventListener('install', e => {
  e.waitUntil((async () => {
    const cache = await caches.open('routes');
    await cache.put('resources/echo.py?test=cached', new Response('from the cache'));
  })());
  e.addRoutes([
    {condition: {urlPattern: 'resources/hold.py?race=*'}, source: 'race-network-and-fetch-handler'},
    {condition: {urlPattern: 'resources/echo.py?race=*'}, source: 'race-network-and-fetch-handler'},
    {condition: {urlPattern: 'resources/echo.py?test=network'}, source: 'network'},
    {condition: {urlPattern: 'resources/echo.py?test=cached'}, source: 'cache'},
    {condition: {urlPattern: 'resources/echo.py?test=missing'}, source: {cacheName: 'routes'}},
    {condition: {or: [{requestMethod: 'POST'}, {requestMode: 'no-cors'}]}, source: 'fetch-event'},
    {condition: {not: {urlPattern: 'resources/echo.py?*'}}, source: 'network'},
  ]);
});

self.addEventListener('activate', e => e.waitUntil(clients.claim()));

// Answers the page holds back until it posts {release: name}.
const held = new Map();
self.addEventListener('message', e => held.get(e.data.release)?.());

self.addEventListener('fetch', e => {
  const params = new URL(e.request.url).searchParams;
  const race = params.get('race');
  if (race === 'worker-wins') return e.respondWith(new Response('from-sw'));
  if (race === 'network-wins') {
    return e.respondWith(new Promise(resolve =>
        held.set('network-wins', () => resolve(new Response('from-sw')))));
  }
  if (race === 'fallback') return;
  const test = params.get('test');
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
