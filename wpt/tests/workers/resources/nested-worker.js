// A worker that starts a worker of its own.
const inner = new Worker('echo-worker.js', { name: 'inner' });
inner.onmessage = (e) => postMessage('nested: ' + e.data.data + ' from ' + e.data.name);
inner.postMessage('hello');
