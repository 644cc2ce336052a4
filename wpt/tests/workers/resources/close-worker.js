// close(): what it posts in the same task still goes; nothing after.
self.onmessage = (e) => {
  postMessage('before close');
  close();
  postMessage('after close, same task');
  setTimeout(() => postMessage('in a later task'), 0);
};
