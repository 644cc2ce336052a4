//! The service worker registry: registrations by scope, their worker
//! versions (Service Workers spec, "service worker registration" and
//! "service worker" concepts), and what realms see of them.
//!
//! Spec: Service Workers, <https://w3c.github.io/ServiceWorker/>.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use url::Url;

use crate::features::storage::database::Store;
pub use crate::platform::browser::VersionId;
use crate::platform::ipc::{HostResult, RealmId};

/// A service worker's "state" ("parsed" is the initial one, see "Update
/// Worker State", step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
  Parsed,
  Installing,
  Installed,
  Activating,
  Activated,
  Redundant,
}

/// A version as realms see it (the reply and update form).
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInfo {
  pub id: VersionId,
  #[serde(rename = "scriptURL")]
  pub script_url: String,
  pub state: WorkerState,
}

/// A registration as realms see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationInfo {
  pub scope: String,
  pub update_via_cache: &'static str,
  pub installing: Option<WorkerInfo>,
  pub waiting: Option<WorkerInfo>,
  pub active: Option<WorkerInfo>,
}

/// A "service worker": its script url, script resource, state and "skip
/// waiting flag".
pub struct Version {
  pub id: VersionId,
  pub scope: String,
  pub script_url: Url,
  pub source: String,
  pub state: WorkerState,
  pub realm: Option<RealmId>,
  pub skip_waiting: bool,
  /// The scripts it imported while it was being installed, (URL, source)
  /// in the order first imported ("script resource map"): an installed
  /// worker imports them from here, and an update compares them.
  pub imported: Vec<(String, String)>,
  /// What the update check that made it fetched of its predecessor's
  /// imported scripts ("Update", step 8's "perform the fetch", step
  /// 22.2.3: `updatedResourceMap`), failures included: while it installs,
  /// `importScripts` takes them from here before the network.
  pub update_fetched: Vec<(String, Result<String, crate::platform::ipc::HostError>)>,
  /// Whether its "set of event types to handle" has `fetch`, once its
  /// script has run in this process (None before).
  pub handles_fetch: Option<bool>,
  /// The static routes it added while it installed.
  pub routes: super::routes::Router,
}

/// A "service worker registration": its scope url and its installing,
/// waiting and active workers.
#[derive(Default)]
pub struct Registration {
  pub scope: String,
  pub installing: Option<VersionId>,
  pub waiting: Option<VersionId>,
  pub active: Option<VersionId>,
  /// Navigation preload: on, and the `Service-Worker-Navigation-Preload`
  /// header's value (default `true`).
  pub preload: NavigationPreload,
}

/// A registration's navigation preload state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NavigationPreload {
  pub enabled: bool,
  pub header_value: String,
}

impl Default for NavigationPreload {
  fn default() -> Self {
    NavigationPreload {
      enabled: false,
      header_value: "true".into(),
    }
  }
}

/// The "registration map", keyed by scope (not by storage key and scope: a
/// scope URL already holds its origin).
#[derive(Default)]
pub struct Registry {
  next_version: VersionId,
  pub regs: BTreeMap<String, Registration>,
  pub versions: HashMap<VersionId, Version>,
  pub(super) ready_waiters: Vec<(Url, oneshot::Sender<HostResult>)>,
}

impl Registry {
  /// Loads the persisted registrations: each comes back with its active
  /// worker, not running until an event needs it.
  pub fn load(store: &Store) -> anyhow::Result<Registry> {
    let mut reg = Registry::default();
    for stored in store.registrations()? {
      let Ok(script_url) = Url::parse(&stored.script_url) else {
        continue;
      };
      let id = reg.new_version(&stored.scope, script_url, stored.script_source);
      if let Some(v) = reg.versions.get_mut(&id) {
        v.state = WorkerState::Activated;
        v.imported = stored.imported;
        v.routes = super::routes::Router::load(&stored.routes, &v.script_url);
      }
      reg.regs.insert(
        stored.scope.clone(),
        Registration {
          scope: stored.scope,
          active: Some(id),
          preload: NavigationPreload {
            enabled: stored.preload_enabled,
            header_value: stored.preload_header,
          },
          ..Default::default()
        },
      );
    }
    Ok(reg)
  }

  /// Service Workers, "Update", steps 11-12: a new service worker with the
  /// job's script url and the fetched script.
  pub(super) fn new_version(&mut self, scope: &str, script_url: Url, source: String) -> VersionId {
    self.next_version += 1;
    let id = self.next_version;
    self.versions.insert(
      id,
      Version {
        id,
        scope: scope.to_string(),
        script_url,
        source,
        state: WorkerState::Parsed,
        realm: None,
        skip_waiting: false,
        imported: Vec::new(),
        update_fetched: Vec::new(),
        handles_fetch: None,
        routes: Default::default(),
      },
    );
    id
  }

  /// The registration whose scope is the longest prefix of `url`.
  /// Service Workers, "Match Service Worker Registration", step 6: the longest
  /// scope that `url` starts with (prefix-based, as the spec notes).
  pub fn match_scope(&self, url: &Url) -> Option<&Registration> {
    let s = url.as_str();
    self
      .regs
      .values()
      .filter(|r| s.starts_with(&r.scope))
      .max_by_key(|r| r.scope.len())
  }

  /// What a realm's `ServiceWorker` object shows of a version.
  pub fn worker_info(&self, id: Option<VersionId>) -> Option<WorkerInfo> {
    let v = self.versions.get(&id?)?;
    Some(WorkerInfo {
      id: v.id,
      script_url: v.script_url.to_string(),
      state: v.state,
    })
  }

  pub fn worker_snapshot(&self, id: Option<VersionId>) -> Value {
    json!(self.worker_info(id))
  }

  /// What "getting the service worker registration object" builds in a realm.
  /// `updateViaCache` is always "imports": update via cache modes are not
  /// supported.
  /// What a realm's `ServiceWorkerRegistration` object shows (null when
  /// the registration is gone).
  pub fn snapshot(&self, scope: &str) -> Value {
    json!(self.regs.get(scope).map(|r| RegistrationInfo {
      scope: r.scope.clone(),
      update_via_cache: "imports",
      installing: self.worker_info(r.installing),
      waiting: self.worker_info(r.waiting),
      active: self.worker_info(r.active),
    }))
  }

  /// Service Workers, "Get Newest Worker", steps 3-5: the installing, else the
  /// waiting, else the active worker.
  pub(super) fn newest(&self, scope: &str) -> Option<&Version> {
    let r = self.regs.get(scope)?;
    r.installing
      .or(r.waiting)
      .or(r.active)
      .and_then(|id| self.versions.get(&id))
  }
}
