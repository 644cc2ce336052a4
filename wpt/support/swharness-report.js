// swharness's own test report file (wpt/support/swharness-report.js, served as /resources/testharnessreport.js
// by `swharness wpt`; not the upstream file).
//
// When testharness.js completes, calls
//   globalThis.__swharnessWptReport(json)
// with a JSON string:
//   {"status": <harness status code>, "message": str|null, "stack": str|null,
//    "tests": [{"name": str, "status": <test status code>, "message": str|null,
//               "stack": str|null}]}
// Codes are testharness.js's: harness OK=0 ERROR=1 TIMEOUT=2
// PRECONDITION_FAILED=3; test PASS=0 FAIL=1 TIMEOUT=2 NOTRUN=3
// PRECONDITION_FAILED=4. The runner maps them to names.
//
// The runner owns the timeout (explicit_timeout): at the deadline it calls
// globalThis.__swharnessWptTimeout(), which makes testharness.js time out the
// remaining tests and complete, so the report still arrives.
(function () {
  "use strict";
  const g = globalThis;
  let reported = false;

  setup({ explicit_timeout: true, output: false, debug: false });

  function str(v) {
    return v === undefined || v === null ? null : String(v);
  }

  add_completion_callback(function (tests, harnessStatus) {
    if (reported) return;
    reported = true;
    const payload = {
      status: harnessStatus.status,
      message: str(harnessStatus.message),
      stack: str(harnessStatus.stack),
      tests: tests.map(function (t) {
        return { name: String(t.name), status: t.status, message: str(t.message), stack: str(t.stack) };
      }),
    };
    const json = JSON.stringify(payload);
    if (typeof g.__swharnessWptReport === "function") {
      g.__swharnessWptReport(json);
    } else if (typeof console !== "undefined") {
      console.log("__SWHARNESS_WPT_REPORT__ " + json);
    }
  });

  g.__swharnessWptTimeout = function () {
    if (typeof g.timeout === "function") g.timeout();
  };
})();
