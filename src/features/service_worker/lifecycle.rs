//! The service worker jobs (Service Workers spec, "Register", "Update",
//! "Install", "Activate", "Try Activate", "Unregister") and
//! `navigator.serviceWorker.ready`. Jobs run one at a time.
//!
//! Spec: Service Workers, Appendix A. Step numbers below are those of the
//! algorithm named in the function's doc comment.

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use url::Url;

use super::registry::{Registration, VersionId, WorkerState};
use super::worker::{dispatch_event, start_worker};
use crate::platform::browser::{Browser, BrowserEvent};
use crate::platform::ipc::{Command, HostError, HostResult, RealmId};

/// A registration's new state, for its ServiceWorkerRegistration and
/// ServiceWorker objects in every realm.
#[derive(Serialize)]
struct RegistrationUpdate<'a> {
  scope: &'a str,
  registration: Value,
  /// The worker whose state changed, even when it is in no slot any more
  /// (a redundant one): its ServiceWorker objects fire statechange.
  #[serde(skip_serializing_if = "Option::is_none")]
  worker: Option<super::registry::WorkerInfo>,
}

impl Command for RegistrationUpdate<'_> {
  const KIND: &'static str = "registrationUpdate";
}

/// `updatefound` on the registration objects of `scope`.
#[derive(Serialize)]
struct UpdateFound<'a> {
  scope: &'a str,
}

impl Command for UpdateFound<'_> {
  const KIND: &'static str = "updatefound";
}

/// `controllerchange` in a client: its new controller.
#[derive(Serialize)]
pub(super) struct ControllerChange {
  pub worker: Value,
}

impl Command for ControllerChange {
  const KIND: &'static str = "controllerchange";
}

/// Sends the registration's current state to every realm, so that their
/// ServiceWorkerRegistration and ServiceWorker objects stay live.
/// (Service Workers, "Update Registration State": the tasks that set the
/// installing, waiting and active attributes of every registration object.)
pub(super) fn broadcast_registration(browser: &Browser, scope: &str) {
  broadcast_change(browser, scope, None);
}

/// The registration's state, with the worker whose state just changed.
fn broadcast_change(browser: &Browser, scope: &str, worker: Option<VersionId>) {
  let (registration, worker) = super::with(browser, |s| {
    (
      s.registry.snapshot(scope),
      worker.and_then(|w| s.registry.worker_info(Some(w))),
    )
  });
  browser.broadcast(&RegistrationUpdate {
    scope,
    registration,
    worker,
  });
}

/// Service Workers, "Update Worker State", steps 2-4 (step 4's tasks set
/// `state` and fire `statechange` in each realm).
fn set_state(browser: &Browser, version: VersionId, state: WorkerState) {
  let info = super::with(browser, |s| {
    let v = s.registry.versions.get_mut(&version)?;
    v.state = state;
    Some((v.scope.clone(), v.script_url.to_string()))
  });
  if let Some((scope, url)) = info {
    browser.trace(
      "lifecycle",
      json!({"worker": version, "scope": scope, "scriptURL": url, "state": state}),
    );
    broadcast_change(browser, &scope, Some(version));
  }
}

/// Validates a `register()` call as the spec's "Start Register" does.
/// `register(scriptURL, options)`, steps 3 and 5 (parse against the API base
/// URL), and "Start Register": steps 1 (failure), 3 (script scheme), 5-6 (the
/// default scope "./"), 7 (no fragment). "Register", steps 2-3 (same origin),
/// and the path check of "Update" are made here too, before any job runs.
pub fn resolve_register_args(
  client_url: &Url,
  script: &str,
  scope: Option<&str>,
) -> Result<(Url, String), HostError> {
  // "Start Register", step 1: a script URL that does not parse is a TypeError.
  let script_url = client_url
    .join(script)
    .map_err(|_| HostError::type_error(format!("Invalid script URL '{script}'")))?;
  // Step 3: the script URL must be http(s).
  if !matches!(script_url.scheme(), "http" | "https") {
    return Err(HostError::type_error(format!(
      "The script URL '{script_url}' must be http or https"
    )));
  }
  // Steps 5-6: the scope defaults to "./" resolved against the script URL.
  let scope_url = match scope {
    Some(s) => client_url
      .join(s)
      .map_err(|_| HostError::type_error(format!("Invalid scope URL '{s}'")))?,
    None => script_url
      .join("./")
      .map_err(|_| HostError::type_error("Invalid scope"))?,
  };
  // "Register", steps 2-3: script and scope are same origin with the
  // referrer, else a SecurityError.
  if script_url.origin() != client_url.origin() || scope_url.origin() != client_url.origin() {
    return Err(HostError::new(
      "SecurityError",
      "The script and scope must be same-origin with the caller",
    ));
  }
  let mut scope_url = scope_url;
  // "Start Register", step 7.
  scope_url.set_fragment(None);
  let script_dir = script_url
    .join("./")
    .map(|u| u.path().to_string())
    .unwrap_or_default();
  // "Update", steps 13 and 16 of "perform the fetch": the scope must start
  // with the max scope (the script's directory; `Service-Worker-Allowed` is
  // not supported), else a SecurityError.
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
pub struct JobOutcome {
  pub snapshot: Value,
  /// The new worker's final state, and why it failed to install if it did.
  pub done: Option<oneshot::Receiver<(WorkerState, Option<String>)>>,
}

/// NavigationPreloadManager's enable(), disable() and setHeaderValue():
/// the registration must have an active worker (InvalidStateError), and a
/// header value must be a valid one (TypeError). The state is kept with
/// the registration.
pub fn set_navigation_preload(
  browser: &Browser,
  scope: &str,
  enabled: Option<bool>,
  header_value: Option<String>,
) -> HostResult {
  if let Some(v) = &header_value {
    if v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) || v.trim() != v {
      return Err(HostError::type_error(format!(
        "The string provided ('{v}') is not a valid HTTP header field value."
      )));
    }
  }
  let state = super::with(browser, |s| {
    let r = s
      .registry
      .regs
      .get_mut(scope)
      .ok_or_else(|| HostError::invalid_state("The registration is gone"))?;
    if r.active.is_none() {
      return Err(HostError::invalid_state(
        "The registration does not have an active worker.",
      ));
    }
    if let Some(e) = enabled {
      r.preload.enabled = e;
    }
    if let Some(v) = header_value {
      r.preload.header_value = v;
    }
    Ok(r.preload.clone())
  })?;
  if let Err(e) =
    super::context(browser)
      .db
      .save_navigation_preload(scope, state.enabled, &state.header_value)
  {
    eprintln!("warning: could not persist the navigation preload of {scope}: {e:#}");
  }
  Ok(Value::Null)
}

/// Service Workers, "Soft Update": an update check of the registration at
/// `scope` (after a navigation it controlled, say), run in the background;
/// a failure is traced, not thrown.
pub fn soft_update(browser: &Browser, scope: &str) {
  if super::with(browser, |s| s.registry.newest(scope).is_none()) {
    return;
  }
  let guard = browser.busy();
  let b = browser.clone();
  let scope = scope.to_string();
  tokio::spawn(async move {
    if let Err(e) = update(&b, scope.clone()).await {
      b.trace("update-failed", json!({"scope": scope, "error": e}));
    }
    drop(guard);
  });
}

/// "Update", step 8's "perform the fetch", step 22.2 (the imported
/// scripts): each script the newest worker imported is fetched again, and
/// the check says whether one is not byte for byte what it was. A bad
/// import script response (a network error, a status that is not ok) is
/// skipped (step 22.2.6), but kept with the rest: a new worker's
/// `importScripts` gets it from there and fails on it.
async fn imports_changed(
  browser: &Browser,
  imported: &[(String, String)],
) -> (bool, Vec<(String, Result<String, HostError>)>) {
  let mut changed = false;
  let mut fetched = Vec::with_capacity(imported.len());
  for (url, old) in imported {
    let new = match Url::parse(url) {
      Ok(u) => browser.opts().net.fetch_script(&u).await,
      Err(e) => Err(HostError::type_error(format!(
        "bad imported script URL {url}: {e}"
      ))),
    };
    changed |= matches!(&new, Ok(new) if new != old);
    fetched.push((url.clone(), new));
  }
  (changed, fetched)
}

/// "Register"/"Update": fetch the script, and if it is new, install it.
/// Service Workers, "Register" and "Update" (a job of type register or
/// update); it continues with "Install" and "Try Activate".
pub async fn register(
  browser: &Browser,
  script_url: Url,
  scope: String,
) -> Result<JobOutcome, HostError> {
  run_job(browser, Some(script_url), scope).await
}

/// An update job (`registration.update()`, "Soft Update"): "Update" for
/// the newest worker's script, run when the job's turn comes. A
/// registration unregistered meanwhile, or without a worker, is not
/// updated (nor made again): a TypeError ("Update", steps 2-3).
pub async fn update(browser: &Browser, scope: String) -> Result<JobOutcome, HostError> {
  run_job(browser, None, scope).await
}

/// A register job (with its script URL) or an update job (without).
async fn run_job(
  browser: &Browser,
  script_url: Option<Url>,
  scope: String,
) -> Result<JobOutcome, HostError> {
  // "Schedule Job" / "Run Job": here one job queue for every scope.
  let _job = super::context(browser).job_lock.lock().await;
  let script_url = match script_url {
    Some(url) => url,
    None => super::with(browser, |s| {
      s.registry.newest(&scope).map(|v| v.script_url.clone())
    })
    .ok_or_else(|| HostError::type_error("The registration is gone."))?,
  };
  let same = super::with(browser, |s| {
    s.registry
      .newest(&scope)
      .map(|v| v.script_url == script_url)
  });
  // "Update", step 8: fetch the script.
  let source = browser.opts().net.fetch_script(&script_url).await?;
  // (Jobs run one at a time, unregister too: the registration is as it
  // was before the fetch.)
  // "Update", step 8's "perform the fetch", step 20, and step 10: a script
  // that is byte-for-byte the same resolves with the registration. Differs
  // from "Register", step 5, which resolves without fetching again when the
  // script URL is the same.
  let mut update_fetched = Vec::new();
  if same == Some(true) {
    let newest = super::with(browser, |s| {
      s.registry
        .newest(&scope)
        .map(|v| (v.source == source, v.imported.clone()))
    });
    let unchanged = match newest {
      Some((true, imported)) => {
        let (changed, fetched) = imports_changed(browser, &imported).await;
        update_fetched = fetched;
        !changed
      }
      _ => false,
    };
    browser.trace(
      "update-check",
      json!({"scope": scope, "changed": !unchanged}),
    );
    if unchanged {
      let snapshot = super::with(browser, |s| s.registry.snapshot(&scope));
      return Ok(JobOutcome {
        snapshot,
        done: None,
      });
    }
  }
  // "Register", step 6: "Set Registration" for a new scope; "Update", steps
  // 11-12: the new service worker.
  let (version, was_new) = super::with(browser, |s| {
    let was_new = !s.registry.regs.contains_key(&scope);
    s.registry
      .regs
      .entry(scope.clone())
      .or_insert_with(|| Registration {
        scope: scope.clone(),
        ..Default::default()
      });
    let version = s.registry.new_version(&scope, script_url.clone(), source);
    if let Some(v) = s.registry.versions.get_mut(&version) {
      v.update_fetched = update_fetched;
    }
    (version, was_new)
  });
  browser.trace(
    "lifecycle",
    json!({"worker": version, "scope": scope, "scriptURL": script_url.as_str(), "state": "parsed"}),
  );
  // Evaluate the script once now: a script that throws fails the job.
  // "Update", step 16: "Run Service Worker"; step 17: on failure, reject the
  // job with a TypeError and drop the registration if it was new.
  if let Err(e) = start_worker(browser, version).await {
    super::with(browser, |s| {
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
  // "Install", step 4: "Update Registration State" (installing). An earlier
  // installing worker still installing becomes redundant.
  let old_installing = super::with(browser, |s| {
    let r = s.registry.regs.get_mut(&scope)?;
    r.installing.replace(version)
  });
  if let Some(old) = old_installing {
    make_redundant(browser, old);
  }
  super::with(browser, |s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      // "Install", step 5: "Update Worker State" (installing).
      v.state = WorkerState::Installing;
    }
  });
  let snapshot = super::with(browser, |s| s.registry.snapshot(&scope));
  broadcast_registration(browser, &scope);
  browser.trace(
    "lifecycle",
    json!({"worker": version, "scope": scope, "scriptURL": script_url.as_str(), "state": "installing"}),
  );
  // "Install", steps 7-9: resolve the job promise (the snapshot returned
  // below), then fire `updatefound` on every registration object, after
  // the calling realm has its answer.
  let (tx, rx) = oneshot::channel();
  let guard = browser.busy();
  let b = browser.clone();
  crate::platform::browser::after_reply(move || {
    b.broadcast(&UpdateFound { scope: &scope });
    tokio::spawn(async move {
      let state = install_and_activate(&b, version, &scope).await;
      let _ = tx.send(state);
      drop(guard);
    });
  });
  Ok(JobOutcome {
    snapshot,
    done: Some(rx),
  })
}

/// Service Workers, "Install", steps 11-22.
async fn install_and_activate(
  browser: &Browser,
  version: VersionId,
  scope: &str,
) -> (WorkerState, Option<String>) {
  // Step 11: dispatch `install`; it fails if any extend lifetime promise
  // rejects (11.3.1.4.4) or the worker does not run (11.2).
  let installed = dispatch_event(browser, version, "install", json!({})).await;
  // Why it failed: the worker could not run, or the first rejected
  // `waitUntil` promise (its reason and stack).
  let failure = match &installed {
    Err(e) => Some(e.to_string()),
    Ok(v) if v["rejected"] == json!(true) => Some(
      v["reason"]
        .as_str()
        .unwrap_or("a waitUntil() promise was rejected")
        .to_string(),
    ),
    Ok(_) => None,
  };
  // Step 12: installing failed: redundant (12.1), no installing worker
  // (12.2), and the registration goes if it has no worker left (12.3).
  if let Some(why) = failure {
    browser.trace("install-failed", json!({"worker": version, "error": why}));
    let why = Some(why);
    super::with(browser, |s| {
      if let Some(r) = s.registry.regs.get_mut(scope) {
        if r.installing == Some(version) {
          r.installing = None;
        }
      }
    });
    make_redundant(browser, version);
    let empty = super::with(browser, |s| {
      let r = s.registry.regs.get(scope)?;
      (r.installing.is_none() && r.waiting.is_none() && r.active.is_none()).then_some(())
    });
    if empty.is_some() {
      super::with(browser, |s| s.registry.regs.remove(scope));
      broadcast_registration(browser, scope);
    }
    return (WorkerState::Redundant, why);
  }
  // Steps 16-18: a waiting worker is terminated and redundant; the installing
  // worker becomes the waiting worker.
  let old_waiting = super::with(browser, |s| {
    let r = s.registry.regs.get_mut(scope)?;
    r.installing = None;
    r.waiting.replace(version)
  });
  if let Some(old) = old_waiting {
    make_redundant(browser, old);
  }
  // Step 19: "Update Worker State" (installed); step 22: "Try Activate".
  set_state(browser, version, WorkerState::Installed);
  try_activate(browser, scope).await;
  let state = super::with(browser, |s| {
    s.registry
      .versions
      .get(&version)
      .map(|v| v.state)
      .unwrap_or(WorkerState::Redundant)
  });
  (state, None)
}

/// The registrations of `versions`, whose clients went away (a frame
/// removed, a window navigated, a client claimed by another registration),
/// try to activate their waiting worker ("Handle Service Worker Client
/// Unload", step 5, "Try Activate"), each in a task of its own.
pub fn clients_released(browser: &Browser, versions: impl IntoIterator<Item = VersionId>) {
  let scopes: std::collections::BTreeSet<String> = super::with(browser, |s| {
    versions
      .into_iter()
      .filter_map(|v| Some(s.registry.versions.get(&v)?.scope.clone()))
      .collect()
  });
  for scope in scopes {
    let b = browser.clone();
    let busy = browser.busy();
    tokio::spawn(async move {
      try_activate(&b, &scope).await;
      drop(busy);
    });
  }
}

/// Activates the waiting worker if nothing holds it back: no active
/// worker, `skipWaiting()`, or an active worker that controls no client.
/// Service Workers, "Try Activate", then "Activate".
pub async fn try_activate(browser: &Browser, scope: &str) {
  // "Try Activate", steps 1 and 3: a waiting worker activates if there is no
  // active worker, its skip waiting flag is set, or no client uses the
  // registration. Differs: step 2 (an active worker still "activating") and
  // "Service Worker Has No Pending Events" are not checked.
  let next = super::with(browser, |s| {
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
  // "Activate", steps 3-4: "Update Registration State" (active, then no
  // waiting worker).
  let old_active = super::with(browser, |s| {
    let r = s.registry.regs.get_mut(scope)?;
    r.waiting = None;
    r.active.replace(version)
  });
  if let Some(old) = old_active {
    // Clients of the old worker now use the new one.
    // "Activate", step 2: the old active worker is terminated and redundant;
    // step 9: the clients using the registration get the new active worker,
    // with "Notify Controller Change".
    let moved: Vec<RealmId> = super::with(browser, |s| {
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
    let worker = super::with(browser, |s| s.registry.worker_snapshot(Some(version)));
    for realm in moved {
      browser.post(
        realm,
        &ControllerChange {
          worker: worker.clone(),
        },
      );
    }
  }
  // "Activate", step 5: "Update Worker State" (activating).
  set_state(browser, version, WorkerState::Activating);
  let Some((script_url, source, imported, routes)) = super::with(browser, |s| {
    let v = s.registry.versions.get(&version)?;
    let routes = v.routes.to_json();
    Some((
      v.script_url.to_string(),
      v.source.clone(),
      v.imported.clone(),
      routes,
    ))
  }) else {
    return;
  };
  if let Err(e) =
    super::context(browser)
      .db
      .save_registration(scope, &script_url, &source, &imported, &routes)
  {
    eprintln!("warning: could not persist the registration {scope}: {e:#}");
  }
  // "Activate", step 11: dispatch `activate` and wait until it is not active.
  let _ = dispatch_event(browser, version, "activate", json!({})).await;
  // "Activate", step 12: "Update Worker State" (activated). Then step 7:
  // resolve the ready promises (here after the activate event, not before).
  set_state(browser, version, WorkerState::Activated);
  wake_ready_waiters(browser);
  browser.notify(BrowserEvent::WorkerActivated { scope });
}

/// "Terminate Service Worker" and "Update Worker State" (redundant), as in
/// "Install", step 16, "Activate", step 2, and "Clear Registration".
fn make_redundant(browser: &Browser, version: VersionId) {
  set_state(browser, version, WorkerState::Redundant);
  let realm = super::with(browser, |s| {
    s.registry.versions.get_mut(&version)?.realm.take()
  });
  if let Some(realm) = realm {
    browser.shutdown_realm(realm);
  }
}

/// Resolves `navigator.serviceWorker.ready` for `url` once a registration
/// matching it has an active worker.
/// Service Workers, the `ready` getter, step 3: "Match Service Worker
/// Registration" for the client's URL, resolved once it has an active worker.
pub fn ready(browser: &Browser, url: Url) -> oneshot::Receiver<HostResult> {
  let (tx, rx) = oneshot::channel();
  super::with(browser, |s| s.registry.ready_waiters.push((url, tx)));
  wake_ready_waiters(browser);
  rx
}

/// ("Activate", step 7, and the `ready` getter, step 3.4.)
fn wake_ready_waiters(browser: &Browser) {
  super::with(browser, |s| {
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

/// `unregister()`: an unregister job, in the job queue with the register
/// and update jobs, so that an update fetching the script meanwhile ends
/// before the registration goes (and never brings it back).
pub async fn unregister_job(browser: &Browser, scope: &str) -> bool {
  let _job = super::context(browser).job_lock.lock().await;
  unregister(browser, scope)
}

/// `registration.unregister()`: removes the registration at once; its
/// workers become redundant.
/// Service Workers, `unregister()` and "Unregister": steps 3 (no registration:
/// false), 4 (remove it from the registration map) and 5 (true). Differs from
/// step 6, "Try Clear Registration": "Clear Registration" runs at once, and
/// the clients lose their controller now rather than when they unload.
pub fn unregister(browser: &Browser, scope: &str) -> bool {
  let reg = super::with(browser, |s| s.registry.regs.remove(scope));
  let Some(reg) = reg else { return false };
  if let Err(e) = super::context(browser).db.delete_registration(scope) {
    eprintln!("warning: could not delete the registration {scope}: {e:#}");
  }
  for v in [reg.installing, reg.waiting, reg.active]
    .into_iter()
    .flatten()
  {
    make_redundant(browser, v);
  }
  super::with(browser, |s| {
    for c in s.clients.values_mut() {
      if c
        .controller
        .is_some_and(|v| s.registry.versions.get(&v).is_none_or(|v| v.scope == scope))
      {
        c.controller = None;
      }
    }
  });
  browser.notify(BrowserEvent::RegistrationGone { scope });
  browser.trace("unregistered", json!({"scope": scope}));
  broadcast_registration(browser, scope);
  true
}

/// `skipWaiting()` from the worker.
/// Service Workers, `skipWaiting()`, steps 2.1-2.2: set the skip waiting flag
/// and "Try Activate".
pub async fn skip_waiting(browser: &Browser, version: VersionId) {
  let scope = super::with(browser, |s| {
    let v = s.registry.versions.get_mut(&version)?;
    v.skip_waiting = true;
    Some(v.scope.clone())
  });
  if let Some(scope) = scope {
    let waiting = super::with(browser, |s| {
      s.registry.regs.get(&scope).and_then(|r| r.waiting)
    });
    if waiting == Some(version) {
      try_activate(browser, &scope).await;
    }
  }
}
