//! Creates a JavaScript runtime for one realm: Deno's Web extensions
//! (`deno_webidl`, `deno_web`, `deno_fetch`) plus our own `swharness`
//! extension, whose modules under `js/` assemble the global scope.

use std::sync::Arc;

use deno_core::{JsRuntime, RuntimeOptions};

use crate::ops;

deno_core::extension!(
  deno_net,
  lazy_loaded_js = [dir "js/shims", "02_tls.js"],
);

deno_core::extension!(
  swharness,
  deps = [deno_webidl, deno_web, deno_fetch],
  ops = [
    ops::op_swh_console,
    ops::op_swh_host,
    ops::op_swh_host_sync,
    ops::op_swh_set_dispatcher,
    ops::op_swh_read_body,
    ops::op_swh_reply,
  ],
  esm_entry_point = "ext:swharness/99_main.js",
  esm = [
    dir "js",
    "00_web_globals.js",
    "01_host.js",
    "10_extendable_events.js",
    "11_service_worker.js",
    "12_clients.js",
    "13_cache_storage.js",
    "20_background_fetch.js",
    "30_control.js",
    "90_service_worker_scope.js",
    "91_window_scope.js",
    "99_main.js",
  ],
);

/// Permissions for `deno_fetch`: network access is decided by the browser
/// side (our request checks), so the runtime's own checks allow everything.
fn fetch_permissions() -> deno_permissions::PermissionsContainer {
  let parser = deno_permissions::RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys);
  deno_permissions::PermissionsContainer::allow_all(Arc::new(parser))
}

fn extensions(location: Option<url::Url>) -> Vec<deno_core::Extension> {
  let fetch_options = deno_fetch::Options {
    user_agent: format!("swharness/{}", env!("CARGO_PKG_VERSION")),
    ..Default::default()
  };
  vec![
    deno_webidl::deno_webidl::init(),
    deno_web::deno_web::init(
      Arc::new(deno_web::BlobStore::default()),
      location,
      false,
      deno_web::InMemoryBroadcastChannel::default(),
    ),
    deno_net::init(),
    deno_fetch::deno_fetch::init(fetch_options),
    swharness::init(),
  ]
}

/// Builds a runtime with every extension; the realm's own state (its host
/// channel) is put into the op state by the caller.
pub fn new_runtime(
  location: Option<url::Url>,
  module_loader: Option<std::rc::Rc<dyn deno_core::ModuleLoader>>,
) -> JsRuntime {
  new_runtime_from(location, module_loader, None)
}

/// Like [`new_runtime`], starting from `snapshot` (made by
/// [`create_snapshot`]) when given.
pub fn new_runtime_from(
  location: Option<url::Url>,
  module_loader: Option<std::rc::Rc<dyn deno_core::ModuleLoader>>,
  snapshot: Option<&'static [u8]>,
) -> JsRuntime {
  let runtime = JsRuntime::new(RuntimeOptions {
    module_loader,
    extensions: extensions(location),
    startup_snapshot: snapshot,
    ..Default::default()
  });
  runtime.op_state().borrow_mut().put(fetch_permissions());
  runtime
}

/// A startup snapshot of a runtime with every extension loaded (the global
/// scope assembled up to the bootstrap), for [`new_runtime_from`].
pub fn create_snapshot() -> Box<[u8]> {
  let runtime = deno_core::JsRuntimeForSnapshot::new(RuntimeOptions {
    extensions: extensions(None),
    ..Default::default()
  });
  runtime.snapshot()
}
