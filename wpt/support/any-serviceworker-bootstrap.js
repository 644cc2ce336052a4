// swharness: the inline script of wpt serve's `.any.serviceworker.html`
// wrapper, as a file (served as
// /resources/swharness/any-serviceworker-bootstrap.js). The worker script is
// the page's path with `.any.serviceworker.html` -> `.any.worker.js`.
(async function() {
  const scope = 'does/not/exist';
  const worker = location.pathname.replace(/\.any\.serviceworker\.html$/, '.any.worker.js') +
    location.search;
  let reg = await navigator.serviceWorker.getRegistration(scope);
  if (reg) await reg.unregister();
  reg = await navigator.serviceWorker.register(worker, {scope});
  fetch_tests_from_worker(reg.installing);
})();
