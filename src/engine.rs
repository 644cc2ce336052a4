//! Creates a JavaScript runtime for one realm: Deno's Web extensions
//! (`deno_webidl`, `deno_web`, `deno_fetch`) plus our own `swharness`
//! extension, whose modules under `js/` assemble the global scope.

use std::net::SocketAddr;
use std::sync::Arc;

use deno_core::{JsRuntime, RuntimeOptions};
use deno_fetch::dns::{Resolve, Resolving};
use deno_tls::rustls::RootCertStore;
use deno_tls::RootCertStoreProvider;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};

use crate::net::NetConfig;
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
    ops::op_swh_keepalive,
    ops::op_swh_host_sync,
    ops::op_swh_call,
    ops::op_swh_set_dispatcher,
    ops::op_swh_read_body,
    ops::op_swh_reply,
  ],
  esm_entry_point = "ext:swharness/99_main.js",
  esm = [
    dir "js",
    "00_web_globals.js",
    "01_host.js",
    "02_idl.js",
    "10_extendable_events.js",
    "11_service_worker.js",
    "12_clients.js",
    "13_cache_storage.js",
    "20_background_fetch.js",
    "30_control.js",
    "40_document.js",
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

/// Host names resolved to fixed addresses (the WPT hosts), others through
/// the system resolver.
#[derive(Debug)]
struct OverrideResolver {
  overrides: Vec<(String, SocketAddr)>,
  system: GaiResolver,
}

impl Resolve for OverrideResolver {
  fn resolve(&self, name: Name) -> Resolving {
    let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
    if let Some((_, addr)) = self.overrides.iter().find(|(h, _)| *h == host) {
      let addrs = vec![*addr].into_iter();
      return Box::pin(async move { Ok(addrs) });
    }
    let mut system = self.system.clone();
    Box::pin(async move {
      let addrs: Vec<SocketAddr> = tower_service::Service::call(&mut system, name)
        .await
        .map_err(std::io::Error::other)?
        .collect();
      Ok(addrs.into_iter())
    })
  }
}

/// The web roots plus the extra CA certificates of the network config.
struct RootStore(RootCertStore);

impl RootCertStoreProvider for RootStore {
  fn get_or_try_init(&self) -> Result<&RootCertStore, deno_error::JsErrorBox> {
    Ok(&self.0)
  }
}

fn fetch_options(net: &NetConfig) -> deno_fetch::Options {
  let mut options = deno_fetch::Options {
    user_agent: format!("swharness/{}", env!("CARGO_PKG_VERSION")),
    ..Default::default()
  };
  if !net.resolve.is_empty() {
    options.resolver = deno_fetch::dns::Resolver::custom(Arc::new(OverrideResolver {
      overrides: net
        .resolve
        .iter()
        .map(|(h, a)| (h.to_ascii_lowercase(), *a))
        .collect(),
      system: GaiResolver::new(),
    }));
  }
  if !net.extra_root_certs_pem.is_empty() {
    let mut store = deno_tls::create_default_root_cert_store();
    for pem in &net.extra_root_certs_pem {
      let mut reader = std::io::BufReader::new(pem.as_slice());
      for cert in deno_tls::rustls_pemfile::certs(&mut reader).flatten() {
        let _ = store.add(cert);
      }
    }
    options.root_cert_store_provider = Some(Arc::new(RootStore(store)));
  }
  options
}

/// Builds a runtime with every extension; the realm's own state (its host
/// channel) is put into the op state by the caller. `net` gives the realm's
/// own `fetch()` the browser's host overrides and trusted certificates.
pub fn new_runtime(
  location: Option<url::Url>,
  module_loader: Option<std::rc::Rc<dyn deno_core::ModuleLoader>>,
  net: &NetConfig,
) -> JsRuntime {
  // Both of rustls's crypto back ends are linked (through reqwest and
  // deno_tls), so rustls cannot pick one by itself.
  let _ = deno_tls::rustls::crypto::aws_lc_rs::default_provider().install_default();
  let fetch_options = fetch_options(net);
  let runtime = JsRuntime::new(RuntimeOptions {
    module_loader,
    extensions: vec![
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
    ],
    ..Default::default()
  });
  runtime.op_state().borrow_mut().put(fetch_permissions());
  runtime
}
