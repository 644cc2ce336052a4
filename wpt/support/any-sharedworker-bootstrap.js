// swharness: the inline script of wpt serve's `.any.sharedworker.html`
// wrapper, as a file (served as
// /resources/swharness/any-sharedworker-bootstrap.js). The worker script is
// the page's path with `.any.sharedworker.html` -> `.any.worker.js`.
fetch_tests_from_worker(new SharedWorker(
  location.pathname.replace(/\.any\.sharedworker\.html$/, '.any.worker.js') + location.search));
