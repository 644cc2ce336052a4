// swharness's `swharness` control object for pages run in headless Chromium
// by `swharness wpt --browser chromium` (wpt/support/chromium-control.js;
// the runner adds it to every document before the page's own scripts).
//
// - setPermission(name, state) is Browser.setPermission over the DevTools
//   protocol: the page calls the `__swharnessCdp` binding and the runner
//   answers through `__swharnessCdpDone(id, error)`.
// - setOnline(true) resolves: the browser is online and stays so.
// - Everything else (going offline, clicking or cancelling the download UI,
//   reading it) has no equivalent in Chromium: calling it fails the subtest
//   with PRECONDITION_FAILED (testharness.js's assert_implements_optional),
//   so a comparison does not count it as a difference.
(function () {
  "use strict";
  const g = globalThis;
  if (g.swharness) return;
  const REASON = "the swharness control object's ";
  const pending = new Map();
  let nextId = 1;

  function cdp(op, args) {
    const id = nextId++;
    return new Promise(function (resolve, reject) {
      pending.set(id, { resolve: resolve, reject: reject });
      g.__swharnessCdp(JSON.stringify({ id: id, op: op, args: args }));
    });
  }

  Object.defineProperty(g, "__swharnessCdpDone", {
    value: function (id, error) {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (error === null || error === undefined) p.resolve();
      else p.reject(new Error(error));
    },
  });

  function unsupported(name) {
    return function () {
      // Thrown inside a test step, testharness.js makes this a
      // PRECONDITION_FAILED subtest.
      g.assert_implements_optional(false, REASON + name + "() runs only in swharness, not in Chromium");
    };
  }

  const control = {
    setPermission: function (name, state) {
      return cdp("setPermission", { name: String(name), state: String(state) });
    },
    setOnline: function (online) {
      if (online) return Promise.resolve();
      return unsupported("setOnline")();
    },
    clickBackgroundFetch: unsupported("clickBackgroundFetch"),
    cancelBackgroundFetch: unsupported("cancelBackgroundFetch"),
    uiState: unsupported("uiState"),
  };
  Object.defineProperty(g, "swharness", { value: Object.freeze(control), configurable: true });
})();
