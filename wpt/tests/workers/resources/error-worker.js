// 'throw': an exception nobody handles; 'handled': one its own error
// listener cancels, then a message to say so.
let cancel = false;
self.addEventListener('error', (e) => {
  if (cancel) e.preventDefault();
});
self.onmessage = (e) => {
  cancel = e.data === 'handled';
  setTimeout(() => postMessage('after ' + e.data), 0);
  throw new Error('thrown in the worker (' + e.data + ')');
};
