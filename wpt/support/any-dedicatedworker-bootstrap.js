// swharness: the inline script of wpt serve's `.any.worker.html` and
// `.worker.html` wrappers, as a file (served as
// /resources/swharness/any-dedicatedworker-bootstrap.js). The worker script
// is the page's path with `.worker.html` -> `.worker.js`.
fetch_tests_from_worker(new Worker(
  location.pathname.replace(/\.worker\.html$/, '.worker.js') + location.search));
