// The first thing it posts says whether a message had arrived before the
// script ran (it must not have: messages wait for the script).
let got = [];
self.onmessage = (e) => {
  got.push(e.data);
  postMessage(got.join(','));
};
postMessage('script ran, messages so far: ' + got.length);
