// Echoes what it hears on the channel "echo", from the worker's realm.
'use strict';
const channel = new BroadcastChannel('echo');
channel.onmessage = e => {
  channel.postMessage({echo: e.data, origin: e.origin, isDate: e.data.when instanceof Date});
};
self.addEventListener('install', () => self.skipWaiting());
