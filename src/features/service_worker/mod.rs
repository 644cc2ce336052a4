//! Service workers (the Service Workers spec), one file per role:
//! - `registry`: registrations by scope and their worker versions;
//! - `lifecycle`: the jobs (Register, Update, Install, Activate,
//!   Unregister) and `ready`;
//! - `worker`: a worker's realm, started on demand, and the events
//!   dispatched into it;
//! - `clients`: window clients, `Clients`, messages;
//! - `frames`: `<iframe>`s, nested clients reached through proxies;
//! - `fetch_event`: fetch interception ("Handle Fetch"), with `routes`
//!   (static routing) and `navigation` (pages);
//! - `calls`: what the realms ask (`serviceWorker.*`), decoded once.
//!
//! It may use the core (`browser`, `ipc`,
//! `engine`), `net` and `storage`; Background Fetch uses it to dispatch
//! its events.

mod calls;
pub mod clients;
mod fetch_event;
mod focus;
mod frames;
mod lifecycle;
pub mod navigation;
mod registry;
pub mod routes;
mod subresource_fetch;
mod worker;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::features::storage::database::Store;
use crate::platform::browser::{
  Browser, BrowserEvent, Feature, Owner, RealmCall, SubresourceFetch, SubresourceRequest,
};
use crate::platform::ipc::{HostResult, RealmId};
pub use clients::{open_client, ClientScript};
pub use lifecycle::{register, resolve_register_args, JobOutcome};
pub use registry::{NavigationPreload, Registry, VersionId, WorkerState};
pub use worker::dispatch_event;

/// What the service worker feature keeps: the registry and the clients.
pub struct SwState {
  pub registry: Registry,
  pub clients: HashMap<String, clients::Client>,
  /// Client ids in the order the clients were made (`matchAll`'s order).
  pub client_order: Vec<String>,
  /// The client whose document has focus (HTML's focused area is in it):
  /// it and the clients whose frames hold it are `focused`.
  pub focused: Option<String>,
  /// When each client last had focus (a count, for `matchAll`'s order).
  pub focus_times: HashMap<String, u64>,
  pub focus_count: u64,
  /// The realms each realm has operated on in its current task
  /// (`frames::operate`), released when that task ends.
  pub frame_holds: HashMap<
    crate::platform::ipc::RealmId,
    std::collections::HashSet<crate::platform::ipc::RealmId>,
  >,
  pub next_client_label: u64,
  /// Response bodies streaming from a worker to a client, by id.
  pub body_streams: HashMap<u64, fetch_event::BodyStream>,
  pub next_body_stream: u64,
}

/// The feature.
pub struct ServiceWorkers {
  state: Mutex<SwState>,
  db: Arc<Store>,
  /// Stop a worker after this long without events (None: never).
  idle_timeout: Option<Duration>,
  /// One registration job at a time ("job queue").
  job_lock: tokio::sync::Mutex<()>,
}

impl ServiceWorkers {
  /// Loads the persisted registrations: each comes back with its active
  /// worker, not running until an event needs it.
  pub fn open(db: Arc<Store>, idle_timeout: Option<Duration>) -> anyhow::Result<Self> {
    let registry = Registry::load(&db)?;
    Ok(ServiceWorkers {
      state: Mutex::new(SwState {
        registry,
        clients: HashMap::new(),
        client_order: Vec::new(),
        focused: None,
        focus_times: HashMap::new(),
        frame_holds: HashMap::new(),
        focus_count: 0,
        next_client_label: 1,
        body_streams: HashMap::new(),
        next_body_stream: 0,
      }),
      db,
      idle_timeout,
      job_lock: tokio::sync::Mutex::new(()),
    })
  }
}

fn context(browser: &Browser) -> &ServiceWorkers {
  browser
    .feature::<ServiceWorkers>()
    .expect("the service worker feature is always installed (features.rs)")
}

/// Runs `f` on the feature's state.
pub fn with<R>(browser: &Browser, f: impl FnOnce(&mut SwState) -> R) -> R {
  let mut guard = context(browser)
    .state
    .lock()
    .unwrap_or_else(|p| p.into_inner());
  f(&mut guard)
}

/// The active worker of the registration at `scope`.
pub fn active_version(browser: &Browser, scope: &str) -> Option<VersionId> {
  with(browser, |s| {
    s.registry.regs.get(scope).and_then(|r| r.active)
  })
}

/// The scopes of every registration.
pub fn scopes(browser: &Browser) -> Vec<String> {
  with(browser, |s| s.registry.regs.keys().cloned().collect())
}

impl Feature for ServiceWorkers {
  fn namespace(&self) -> &'static str {
    "serviceWorker"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(calls::handle(c.browser, c.realm, c.method, c.args))
  }

  fn fetch_subresource<'a>(
    &'a self,
    browser: &'a Browser,
    realm: RealmId,
    request: &'a SubresourceRequest<'a>,
  ) -> BoxFuture<'a, SubresourceFetch> {
    Box::pin(subresource_fetch::fetch_subresource(
      browser, realm, request,
    ))
  }

  fn on_event(&self, browser: &Browser, event: BrowserEvent<'_>) {
    match event {
      BrowserEvent::RealmIdle(realm) => {
        frames::release_held_by(browser, realm);
        worker::on_realm_idle(browser, realm, self.idle_timeout)
      }
      BrowserEvent::RealmYielded(realm) => frames::release_held_by(browser, realm),
      BrowserEvent::RealmExited { realm, owner } => {
        frames::release_held_by(browser, realm);
        fetch_event::forget_realm(browser, realm);
        if let Owner::Worker(version) = owner {
          worker::on_worker_exited(browser, *version, realm);
        }
      }
      _ => {}
    }
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
