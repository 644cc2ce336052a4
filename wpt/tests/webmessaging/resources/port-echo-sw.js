// The worker of message-port-sw.https.window.js.
self.addEventListener('message', e => {
  if (e.data.blob) {
    // Blobs and DOMExceptions cross as themselves, both ways.
    const {blob, error} = e.data;
    e.waitUntil(blob.text().then(text => e.source.postMessage({
      isBlob: blob instanceof Blob, type: blob.type, text,
      error: error instanceof DOMException ? error.name : String(error),
      back: new Blob(['back: ', text], {type: 'text/x-back'}),
    })));
    return;
  }
  const port = e.data.port;
  port.onmessage = m => {
    port.postMessage('echo ' + m.data);
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    port.postMessage(buffer, [buffer]);
  };
  const channel = new MessageChannel();
  channel.port1.onmessage = m => channel.port1.postMessage('got ' + m.data);
  e.source.postMessage('a port for you', [channel.port2]);
});
