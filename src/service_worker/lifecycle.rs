//! Service worker registrations and their lifecycle (Service Workers spec,
//! "Register", "Update", "Install", "Activate", "Try Activate"), and the
//! machinery that starts a worker's realm on demand and dispatches
//! functional events into it.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use url::Url;

use crate::browser::{Browser, Owner};
use crate::engine::realm::{RealmKind, CMD_EVALUATE};
use crate::ipc::{HostError, HostResult, RealmId};
use crate::storage::database::Store;

pub type VersionId = u64;

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

pub struct Version {
  pub id: VersionId,
  pub scope: String,
  pub script_url: Url,
  pub source: String,
  pub state: WorkerState,
  pub realm: Option<RealmId>,
  pub skip_waiting: bool,
}

#[derive(Default)]
pub struct Registration {
  pub scope: String,
  pub installing: Option<VersionId>,
  pub waiting: Option<VersionId>,
  pub active: Option<VersionId>,
}

#[derive(Default)]
pub struct Registry {
  next_version: VersionId,
  pub regs: BTreeMap<String, Registration>,
  pub versions: HashMap<VersionId, Version>,
  ready_waiters: Vec<(Url, oneshot::Sender<HostResult>)>,
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
      }
      reg.regs.insert(
        stored.scope.clone(),
        Registration {
          scope: stored.scope,
          active: Some(id),
          ..Default::default()
        },
      );
    }
    Ok(reg)
  }

  fn new_version(&mut self, scope: &str, script_url: Url, source: String) -> VersionId {
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
      },
    );
    id
  }

  /// The registration whose scope is the longest prefix of `url`.
  pub fn match_scope(&self, url: &Url) -> Option<&Registration> {
    let s = url.as_str();
    self
      .regs
      .values()
      .filter(|r| s.starts_with(&r.scope))
      .max_by_key(|r| r.scope.len())
  }

  pub fn worker_snapshot(&self, id: Option<VersionId>) -> Value {
    match id.and_then(|id| self.versions.get(&id)) {
      Some(v) => json!({"id": v.id, "scriptURL": v.script_url.as_str(), "state": v.state}),
      None => Value::Null,
    }
  }

  pub fn snapshot(&self, scope: &str) -> Value {
    match self.regs.get(scope) {
      Some(r) => json!({
        "scope": r.scope,
        "updateViaCache": "imports",
        "installing": self.worker_snapshot(r.installing),
        "waiting": self.worker_snapshot(r.waiting),
        "active": self.worker_snapshot(r.active),
      }),
      None => Value::Null,
    }
  }

  fn newest(&self, scope: &str) -> Option<&Version> {
    let r = self.regs.get(scope)?;
    r.installing
      .or(r.waiting)
      .or(r.active)
      .and_then(|id| self.versions.get(&id))
  }
}

/// Sends the registration's current state to every realm, so that their
/// ServiceWorkerRegistration and ServiceWorker objects stay live.
pub(crate) fn broadcast_registration(browser: &Browser, scope: &str) {
  let (snapshot, realms) = browser.with_state(|s| {
    (
      s.registry.snapshot(scope),
      s.realms.keys().copied().collect::<Vec<_>>(),
    )
  });
  for realm in realms {
    browser.post(
      realm,
      "registrationUpdate",
      json!({"scope": scope, "registration": snapshot}),
    );
  }
}

fn set_state(browser: &Browser, version: VersionId, state: WorkerState) {
  let info = browser.with_state(|s| {
    let v = s.registry.versions.get_mut(&version)?;
    v.state = state;
    Some((v.scope.clone(), v.script_url.to_string()))
  });
  if let Some((scope, url)) = info {
    browser.trace(
      "lifecycle",
      json!({"worker": version, "scope": scope, "scriptURL": url, "state": state}),
    );
    broadcast_registration(browser, &scope);
  }
}

/// Validates a `register()` call as the spec's "Start Register" does.
pub(crate) fn resolve_register_args(
  client_url: &Url,
  script: &str,
  scope: Option<&str>,
) -> Result<(Url, String), HostError> {
  let script_url = client_url
    .join(script)
    .map_err(|_| HostError::type_error(format!("Invalid script URL '{script}'")))?;
  if !matches!(script_url.scheme(), "http" | "https") {
    return Err(HostError::type_error(format!(
      "The script URL '{script_url}' must be http or https"
    )));
  }
  let scope_url = match scope {
    Some(s) => client_url
      .join(s)
      .map_err(|_| HostError::type_error(format!("Invalid scope URL '{s}'")))?,
    None => script_url
      .join("./")
      .map_err(|_| HostError::type_error("Invalid scope"))?,
  };
  if script_url.origin() != client_url.origin() || scope_url.origin() != client_url.origin() {
    return Err(HostError::new(
      "SecurityError",
      "The script and scope must be same-origin with the caller",
    ));
  }
  let mut scope_url = scope_url;
  scope_url.set_fragment(None);
  let script_dir = script_url
    .join("./")
    .map(|u| u.path().to_string())
    .unwrap_or_default();
  if !scope_url.path().starts_with(&script_dir) {
    return Err(HostError::new(
      "SecurityError",
      format!(
        "The path of the provided scope ('{}') is not under the max scope allowed ('{script_dir}')",
        scope_url.path()
      ),
    ));
  }
  Ok((script_url, scope_url.to_string()))
}

/// The result of a registration job: the registration snapshot (what
/// `register()` resolves with) and a receiver for the new worker's final
/// state (activated, installed/waiting, or redundant).
pub(crate) struct JobOutcome {
  pub snapshot: Value,
  pub done: Option<oneshot::Receiver<WorkerState>>,
}

/// "Register"/"Update": fetch the script, and if it is new, install it.
pub(crate) async fn register(
  browser: &Browser,
  script_url: Url,
  scope: String,
) -> Result<JobOutcome, HostError> {
  let _job = browser.inner.start_lock.lock().await;
  let same = browser.with_state(|s| {
    s.registry
      .newest(&scope)
      .map(|v| v.script_url == script_url)
  });
  let source = browser.opts().net.fetch_script(&script_url).await?;
  if same == Some(true) {
    let unchanged = browser.with_state(|s| s.registry.newest(&scope).map(|v| v.source == source));
    if unchanged == Some(true) {
      let snapshot = browser.with_state(|s| s.registry.snapshot(&scope));
      return Ok(JobOutcome {
        snapshot,
        done: None,
      });
    }
  }
  let (version, was_new) = browser.with_state(|s| {
    let was_new = !s.registry.regs.contains_key(&scope);
    s.registry
      .regs
      .entry(scope.clone())
      .or_insert_with(|| Registration {
        scope: scope.clone(),
        ..Default::default()
      });
    (
      s.registry.new_version(&scope, script_url.clone(), source),
      was_new,
    )
  });
  browser.trace(
    "lifecycle",
    json!({"worker": version, "scope": scope, "scriptURL": script_url.as_str(), "state": "parsed"}),
  );
  // Evaluate the script once now: a script that throws fails the job.
  if let Err(e) = start_worker(browser, version).await {
    browser.with_state(|s| {
      if let Some(v) = s.registry.versions.get_mut(&version) {
        v.state = WorkerState::Redundant;
      }
      if was_new {
        s.registry.regs.remove(&scope);
      }
    });
    return Err(e);
  }
  // Install: the registration's installing worker is set and register()
  // resolves; the rest of the job continues in the background.
  let old_installing = browser.with_state(|s| {
    let r = s.registry.regs.get_mut(&scope)?;
    r.installing.replace(version)
  });
  if let Some(old) = old_installing {
    make_redundant(browser, old);
  }
  browser.with_state(|s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      v.state = WorkerState::Installing;
    }
  });
  let snapshot = browser.with_state(|s| s.registry.snapshot(&scope));
  broadcast_registration(browser, &scope);
  browser.trace(
    "lifecycle",
    json!({"worker": version, "scope": scope, "scriptURL": script_url.as_str(), "state": "installing"}),
  );
  post_to_all(browser, "updatefound", json!({"scope": scope}));
  let (tx, rx) = oneshot::channel();
  let guard = browser.busy();
  let b = browser.clone();
  tokio::spawn(async move {
    let state = install_and_activate(&b, version, &scope).await;
    let _ = tx.send(state);
    drop(guard);
  });
  Ok(JobOutcome {
    snapshot,
    done: Some(rx),
  })
}

fn post_to_all(browser: &Browser, kind: &str, payload: Value) {
  let realms: Vec<RealmId> = browser.with_state(|s| s.realms.keys().copied().collect());
  for r in realms {
    browser.post(r, kind, payload.clone());
  }
}

async fn install_and_activate(browser: &Browser, version: VersionId, scope: &str) -> WorkerState {
  let installed = dispatch_event(browser, version, "install", json!({})).await;
  let ok = matches!(&installed, Ok(v) if v["rejected"] != json!(true));
  if !ok {
    if let Err(e) = &installed {
      browser.trace("install-failed", json!({"worker": version, "error": e}));
    }
    browser.with_state(|s| {
      if let Some(r) = s.registry.regs.get_mut(scope) {
        if r.installing == Some(version) {
          r.installing = None;
        }
      }
    });
    make_redundant(browser, version);
    let empty = browser.with_state(|s| {
      let r = s.registry.regs.get(scope)?;
      (r.installing.is_none() && r.waiting.is_none() && r.active.is_none()).then_some(())
    });
    if empty.is_some() {
      browser.with_state(|s| s.registry.regs.remove(scope));
      broadcast_registration(browser, scope);
    }
    return WorkerState::Redundant;
  }
  let old_waiting = browser.with_state(|s| {
    let r = s.registry.regs.get_mut(scope)?;
    r.installing = None;
    r.waiting.replace(version)
  });
  if let Some(old) = old_waiting {
    make_redundant(browser, old);
  }
  set_state(browser, version, WorkerState::Installed);
  try_activate(browser, scope).await;
  browser.with_state(|s| {
    s.registry
      .versions
      .get(&version)
      .map(|v| v.state)
      .unwrap_or(WorkerState::Redundant)
  })
}

/// Activates the waiting worker if nothing holds it back: no active
/// worker, `skipWaiting()`, or an active worker that controls no client.
pub(crate) async fn try_activate(browser: &Browser, scope: &str) {
  let next = browser.with_state(|s| {
    let r = s.registry.regs.get(scope)?;
    let waiting = r.waiting?;
    let skip = s
      .registry
      .versions
      .get(&waiting)
      .is_some_and(|v| v.skip_waiting);
    let active_controls = r
      .active
      .is_some_and(|a| s.clients.values().any(|c| c.controller == Some(a)));
    (r.active.is_none() || skip || !active_controls).then_some(waiting)
  });
  let Some(version) = next else { return };
  let old_active = browser.with_state(|s| {
    let r = s.registry.regs.get_mut(scope)?;
    r.waiting = None;
    r.active.replace(version)
  });
  if let Some(old) = old_active {
    // Clients of the old worker now use the new one.
    let moved: Vec<RealmId> = browser.with_state(|s| {
      s.clients
        .values_mut()
        .filter(|c| c.controller == Some(old))
        .filter_map(|c| {
          c.controller = Some(version);
          c.realm
        })
        .collect()
    });
    make_redundant(browser, old);
    let worker = browser.with_state(|s| s.registry.worker_snapshot(Some(version)));
    for realm in moved {
      browser.post(realm, "controllerchange", json!({"worker": worker}));
    }
  }
  set_state(browser, version, WorkerState::Activating);
  let (script_url, source) = browser.with_state(|s| {
    let v = &s.registry.versions[&version];
    (v.script_url.to_string(), v.source.clone())
  });
  if let Err(e) = browser
    .inner
    .store
    .save_registration(scope, &script_url, &source)
  {
    eprintln!("warning: could not persist the registration {scope}: {e:#}");
  }
  let _ = dispatch_event(browser, version, "activate", json!({})).await;
  set_state(browser, version, WorkerState::Activated);
  wake_ready_waiters(browser);
  crate::background_fetch::context::on_worker_activated(browser, scope);
}

fn make_redundant(browser: &Browser, version: VersionId) {
  set_state(browser, version, WorkerState::Redundant);
  let realm = browser.with_state(|s| s.registry.versions.get_mut(&version)?.realm.take());
  if let Some(realm) = realm {
    browser.shutdown_realm(realm);
  }
}

/// Starts the worker's realm if it is not running, evaluating its script.
pub(crate) async fn start_worker(
  browser: &Browser,
  version: VersionId,
) -> Result<RealmId, HostError> {
  let info = browser.with_state(|s| {
    let v = s.registry.versions.get(&version)?;
    Some((
      v.realm,
      v.scope.clone(),
      v.script_url.clone(),
      v.source.clone(),
      v.state,
    ))
  });
  let Some((running, scope, script_url, source, state)) = info else {
    return Err(HostError::invalid_state("the service worker is gone"));
  };
  if let Some(realm) = running {
    return Ok(realm);
  }
  if state == WorkerState::Redundant {
    return Err(HostError::invalid_state("the service worker is redundant"));
  }
  // "sw", or "sw#N" while another version's worker is running too.
  let others = browser.with_state(|s| {
    s.registry
      .versions
      .values()
      .any(|v| v.id != version && v.realm.is_some())
  });
  let label = if others {
    format!("sw#{version}")
  } else {
    "sw".to_string()
  };
  let bootstrap = browser.with_state(|s| {
    json!({
      "kind": "serviceworker",
      "url": script_url.as_str(),
      "scope": scope,
      "registration": s.registry.snapshot(&scope),
      "worker": s.registry.worker_snapshot(Some(version)),
      "chromium": browser.opts().chromium,
      "secureContext": crate::net::policy::is_potentially_trustworthy(&script_url),
      "online": browser.opts().net.is_online(),
      "color": crate::browser::terminal::console_colors(),
    })
  });
  let realm = browser
    .spawn_realm(
      RealmKind::ServiceWorker,
      script_url.clone(),
      label,
      Owner::Worker(version),
      bootstrap,
    )
    .map_err(|e| HostError::new("Error", format!("could not start the worker: {e}")))?;
  browser.with_state(|s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      v.realm = Some(realm);
    }
  });
  browser.trace("worker-started", json!({"worker": version, "scope": scope}));
  let evaluated = browser
    .request(
      realm,
      CMD_EVALUATE,
      json!({"name": script_url.as_str(), "source": source}),
    )
    .await;
  if let Err(e) = evaluated {
    browser.with_state(|s| s.uncaught += 1);
    eprintln!("[{}] Uncaught {}", browser.realm_label(realm), e.message);
    browser.trace("uncaught", json!({"worker": version, "text": e.message}));
    browser.with_state(|s| {
      if let Some(v) = s.registry.versions.get_mut(&version) {
        v.realm = None;
      }
    });
    browser.shutdown_realm(realm);
    return Err(HostError::type_error(format!(
      "ServiceWorker script evaluation failed: {}",
      e.message.lines().next().unwrap_or("")
    )));
  }
  Ok(realm)
}

/// Dispatches an extendable event into the worker (starting it if needed)
/// and waits until its `waitUntil` promises settle. The handler answers
/// `{rejected: bool}` plus event-specific fields.
pub(crate) async fn dispatch_event(
  browser: &Browser,
  version: VersionId,
  event: &str,
  payload: Value,
) -> HostResult {
  let _guard = browser.busy();
  let realm = start_worker(browser, version).await?;
  browser.trace("event", json!({"worker": version, "event": event}));
  let result = browser
    .request(realm, "event", json!({"type": event, "init": payload}))
    .await;
  browser.trace(
    "event-settled",
    json!({"worker": version, "event": event, "result": match &result { Ok(v) => v.clone(), Err(e) => json!({"error": e}) }}),
  );
  result
}

/// Resolves `navigator.serviceWorker.ready` for `url` once a registration
/// matching it has an active worker.
pub(crate) fn ready(browser: &Browser, url: Url) -> oneshot::Receiver<HostResult> {
  let (tx, rx) = oneshot::channel();
  browser.with_state(|s| s.registry.ready_waiters.push((url, tx)));
  wake_ready_waiters(browser);
  rx
}

fn wake_ready_waiters(browser: &Browser) {
  browser.with_state(|s| {
    let waiters = std::mem::take(&mut s.registry.ready_waiters);
    for (url, tx) in waiters {
      let active = s
        .registry
        .match_scope(&url)
        .filter(|r| {
          r.active
            .and_then(|a| s.registry.versions.get(&a))
            .is_some_and(|v| matches!(v.state, WorkerState::Activating | WorkerState::Activated))
        })
        .map(|r| r.scope.clone());
      match active {
        Some(scope) => {
          let _ = tx.send(Ok(s.registry.snapshot(&scope)));
        }
        None => s.registry.ready_waiters.push((url, tx)),
      }
    }
  });
}

/// `registration.unregister()`: removes the registration at once; its
/// workers become redundant.
pub(crate) fn unregister(browser: &Browser, scope: &str) -> bool {
  let reg = browser.with_state(|s| s.registry.regs.remove(scope));
  let Some(reg) = reg else { return false };
  if let Err(e) = browser.inner.store.delete_registration(scope) {
    eprintln!("warning: could not delete the registration {scope}: {e:#}");
  }
  for v in [reg.installing, reg.waiting, reg.active]
    .into_iter()
    .flatten()
  {
    make_redundant(browser, v);
  }
  browser.with_state(|s| {
    for c in s.clients.values_mut() {
      if c
        .controller
        .is_some_and(|v| s.registry.versions.get(&v).is_none_or(|v| v.scope == scope))
      {
        c.controller = None;
      }
    }
  });
  crate::background_fetch::context::on_unregistered(browser, scope);
  browser.trace("unregistered", json!({"scope": scope}));
  broadcast_registration(browser, scope);
  true
}

/// `skipWaiting()` from the worker.
pub(crate) async fn skip_waiting(browser: &Browser, version: VersionId) {
  let scope = browser.with_state(|s| {
    let v = s.registry.versions.get_mut(&version)?;
    v.skip_waiting = true;
    Some(v.scope.clone())
  });
  if let Some(scope) = scope {
    let waiting = browser.with_state(|s| s.registry.regs.get(&scope).and_then(|r| r.waiting));
    if waiting == Some(version) {
      try_activate(browser, &scope).await;
    }
  }
}

/// After a realm reports idle: an idle service worker is stopped after the
/// configured timeout, as browsers do; the next event starts it again.
pub(crate) fn on_realm_idle(browser: &Browser, realm: RealmId) {
  let Some(timeout) = browser.opts().sw_idle_timeout else {
    return;
  };
  let owner = browser.with_state(|s| s.owners.get(&realm).cloned());
  let Some(Owner::Worker(version)) = owner else {
    return;
  };
  let sent = browser.with_state(|s| s.realms.get(&realm).map(|r| r.sent));
  let b = browser.clone();
  tokio::spawn(async move {
    tokio::time::sleep(timeout).await;
    let still_idle = b.with_state(|s| {
      s.realms
        .get(&realm)
        .is_some_and(|r| Some(r.sent) == sent && r.idle_at == sent)
    });
    if still_idle {
      b.with_state(|s| {
        if let Some(v) = s.registry.versions.get_mut(&version) {
          if v.realm == Some(realm) {
            v.realm = None;
          }
        }
      });
      b.trace(
        "worker-stopped",
        json!({"worker": version, "reason": "idle"}),
      );
      b.shutdown_realm(realm);
    }
  });
}

pub(crate) fn on_worker_exited(browser: &Browser, version: VersionId, realm: RealmId) {
  browser.with_state(|s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      if v.realm == Some(realm) {
        v.realm = None;
      }
    }
  });
}

/// The version a service worker realm runs.
pub(crate) fn version_of(browser: &Browser, realm: RealmId) -> Option<VersionId> {
  browser.with_state(|s| match s.owners.get(&realm) {
    Some(Owner::Worker(v)) => Some(*v),
    _ => None,
  })
}
