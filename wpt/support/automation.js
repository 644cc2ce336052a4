// swharness's own testdriver vendor file (wpt/support/automation.js, served as /resources/testdriver-vendor.js
// by `swharness wpt`; not the upstream file). Implements the parts of
// test_driver_internal that swharness supports; everything else rejects with
// a clear error instead of hanging.
(function () {
  "use strict";
  const g = globalThis;
  const internal = (g.test_driver_internal = g.test_driver_internal || {});

  function unsupported(name) {
    return function () {
      return Promise.reject(new Error("testdriver: " + name + " is not supported by swharness"));
    };
  }

  internal.in_automation = true;

  // testdriver.js calls set_permission({descriptor, state}, context); older
  // versions called set_permission(descriptor, state, context).
  internal.set_permission = function (params, stateOrContext, context) {
    let descriptor = params;
    let state = stateOrContext;
    if (params && typeof params === "object" && "descriptor" in params) {
      descriptor = params.descriptor;
      state = params.state;
    }
    const name = descriptor && descriptor.name;
    if (typeof name !== "string") {
      return Promise.reject(new TypeError("testdriver: set_permission needs a descriptor with a name"));
    }
    if (!g.swharness || typeof g.swharness.setPermission !== "function") {
      return Promise.reject(new Error("testdriver: swharness.setPermission is not available in this realm"));
    }
    try {
      return Promise.resolve(g.swharness.setPermission(name, state)).then(function () {});
    } catch (e) {
      return Promise.reject(e);
    }
  };

  for (const name of [
    "click",
    "send_keys",
    "action_sequence",
    "freeze",
    "minimize_window",
    "set_window_rect",
    "get_window_rect",
    "generate_test_report",
    "delete_all_cookies",
    "get_all_cookies",
    "get_named_cookie",
    "set_user_verified",
    "add_virtual_authenticator",
    "remove_virtual_authenticator",
    "add_credential",
    "get_credentials",
    "remove_credential",
    "remove_all_credentials",
    "set_spc_transaction_mode",
    "set_storage_access",
  ]) {
    internal[name] = unsupported(name);
  }
})();
