// Fetches what it is sent and posts the text.
self.onmessage = (e) => fetch(e.data).then((r) => r.text()).then((t) => postMessage(t));
postMessage('ready');
