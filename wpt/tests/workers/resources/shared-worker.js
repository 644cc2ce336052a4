// Counts its connections; answers each port with what it knows.
let connections = 0;
onconnect = (e) => {
  connections++;
  const port = e.ports[0];
  const sourceIsPort = e.source === port;
  port.onmessage = (m) => {
    if (m.data === 'close') {
      close();
      return;
    }
    port.postMessage({
      data: m.data,
      connections,
      name: self.name,
      shared: self instanceof SharedWorkerGlobalScope,
      sourceIsPort,
      noPostMessage: typeof postMessage === 'undefined',
    });
  };
};
