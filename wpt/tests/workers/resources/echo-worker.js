// Echoes each message with what the worker knows of itself; a transferred
// port gets an answer of its own.
self.onmessage = (e) => {
  if (e.ports.length) e.ports[0].postMessage('through the port: ' + e.data);
  postMessage({
    data: e.data,
    name: self.name,
    dedicated: self instanceof DedicatedWorkerGlobalScope,
    worker: self instanceof WorkerGlobalScope,
    location: location.href,
    noDocument: typeof document === 'undefined',
  });
};
