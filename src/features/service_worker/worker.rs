//! A service worker's realm: started on demand (its script evaluated
//! again from the stored source), stopped when idle, and the functional
//! and lifecycle events dispatched into it (Service Workers spec, "Run
//! Service Worker", "Fire Functional Event", "Terminate Service Worker").

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::registry::{VersionId, WorkerState};
use crate::platform::browser::{Browser, Owner};
use crate::platform::engine::realm::RealmKind;
use crate::platform::ipc::{Command, Evaluate, HostError, HostResult, RealmId};

/// An event for the worker's global: `type` and the event's init fields.
/// The handler answers once its `waitUntil` promises settle.
#[derive(Serialize)]
struct DispatchEvent<'a> {
  #[serde(rename = "type")]
  event: &'a str,
  init: Value,
}

impl Command for DispatchEvent<'_> {
  const KIND: &'static str = "event";
}

/// Asks the worker which event types its script listens to.
#[derive(Serialize)]
struct EventTypes;

impl Command for EventTypes {
  const KIND: &'static str = "eventTypes";
}

/// Starts the worker's realm if it is not running, evaluating its script.
/// Service Workers, "Run Service Worker".
pub(super) async fn start_worker(
  browser: &Browser,
  version: VersionId,
) -> Result<RealmId, HostError> {
  let info = super::with(browser, |s| {
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
  // Step 2: a running worker is returned as it is.
  if let Some(realm) = running {
    return Ok(realm);
  }
  // Step 3: a redundant worker does not run ("failure").
  if state == WorkerState::Redundant {
    return Err(HostError::invalid_state("the service worker is redundant"));
  }
  // "sw", or "sw#N" while another version's worker is running too.
  let others = super::with(browser, |s| {
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
  let bootstrap = super::with(browser, |s| {
    json!({
      "kind": "serviceworker",
      "url": script_url.as_str(),
      "scope": scope,
      "registration": s.registry.snapshot(&scope),
      "worker": s.registry.worker_snapshot(Some(version)),
      "chromium": browser.opts().chromium,
      "secureContext": crate::platform::net::policy::is_potentially_trustworthy(&script_url),
      "online": browser.opts().net.is_online(),
      "color": crate::platform::browser::terminal::console_colors(),
    })
  });
  // Step 8: a new agent and realm with a ServiceWorkerGlobalScope (8.1-8.9).
  let realm = browser
    .spawn_realm(
      RealmKind::ServiceWorker,
      script_url.clone(),
      label,
      Owner::Worker(version),
      bootstrap,
    )
    .map_err(|e| HostError::new("Error", format!("could not start the worker: {e}")))?;
  super::with(browser, |s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      v.realm = Some(realm);
    }
  });
  browser.trace("worker-started", json!({"worker": version, "scope": scope}));
  // Step 8.13: run the classic script.
  let evaluated = browser
    .request(
      realm,
      &Evaluate {
        name: script_url.to_string(),
        source,
      },
    )
    .await;
  // A script that throws: "Update", step 17, fails the job on an abrupt
  // completion; here it is a failure to start for every caller (step 10).
  if let Err(e) = evaluated {
    browser.count_uncaught();
    eprintln!("[{}] Uncaught {}", browser.realm_label(realm), e.message);
    browser.trace("uncaught", json!({"worker": version, "text": e.message}));
    super::with(browser, |s| {
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
  // The "set of event types to handle" is the script's first run's.
  let known = super::with(browser, |s| {
    s.registry
      .versions
      .get(&version)
      .is_some_and(|v| v.handles_fetch.is_some())
  });
  if !known {
    let types = browser.request(realm, &EventTypes).await;
    let fetch = types.map_or(true, |t| t["fetch"] != json!(false));
    super::with(browser, |s| {
      if let Some(v) = s.registry.versions.get_mut(&version) {
        v.handles_fetch = Some(fetch);
      }
    });
  }
  Ok(realm)
}

/// Whether the worker `version` handles fetch events: false only when its
/// script ran and added no fetch listener.
pub(super) fn handles_fetch(browser: &Browser, version: VersionId) -> bool {
  super::with(browser, |s| {
    s.registry
      .versions
      .get(&version)
      .and_then(|v| v.handles_fetch)
      .unwrap_or(true)
  })
}

/// Dispatches an extendable event into the worker (starting it if needed)
/// and waits until its `waitUntil` promises settle. The handler answers
/// `{rejected: bool}` plus event-specific fields.
/// Service Workers, "Fire Functional Event" (and the `install` and
/// `activate` dispatch of "Install", step 11.3, and "Activate", step 11):
/// step 5 runs the worker, step 6 queues the task that creates and
/// dispatches the event, and the answer comes once the event is no longer
/// active (its extend lifetime promises settled). Not done here: "Should Skip
/// Event" (step 3), waiting for an "activating" worker (step 4) and "Soft
/// Update" (step 8).
pub async fn dispatch_event(
  browser: &Browser,
  version: VersionId,
  event: &str,
  payload: Value,
) -> HostResult {
  let _guard = browser.busy();
  let realm = start_worker(browser, version).await?;
  browser.trace("event", json!({"worker": version, "event": event}));
  let result = browser
    .request(
      realm,
      &DispatchEvent {
        event,
        init: payload,
      },
    )
    .await;
  browser.trace(
    "event-settled",
    json!({"worker": version, "event": event, "result": match &result { Ok(v) => v.clone(), Err(e) => json!({"error": e}) }}),
  );
  result
}

/// After a realm reports idle: an idle service worker is stopped after the
/// configured timeout, as browsers do; the next event starts it again.
/// ("Terminate Service Worker", as the user agent may: the spec only asks
/// not to while "Service Worker Has No Pending Events" is false.)
pub(super) fn on_realm_idle(browser: &Browser, realm: RealmId, timeout: Option<Duration>) {
  let Some(timeout) = timeout else {
    return;
  };
  let Some(Owner::Worker(version)) = browser.realm_owner(realm) else {
    return;
  };
  let sent = browser.commands_sent(realm);
  let b = browser.clone();
  tokio::spawn(async move {
    tokio::time::sleep(timeout).await;
    if b.idle_since(realm, sent) {
      super::with(&b, |s| {
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

pub(super) fn on_worker_exited(browser: &Browser, version: VersionId, realm: RealmId) {
  super::with(browser, |s| {
    if let Some(v) = s.registry.versions.get_mut(&version) {
      if v.realm == Some(realm) {
        v.realm = None;
      }
    }
  });
}

/// The version a service worker realm runs.
pub(super) fn version_of(browser: &Browser, realm: RealmId) -> Option<VersionId> {
  match browser.realm_owner(realm)? {
    Owner::Worker(v) => Some(v),
    Owner::Client(_) => None,
  }
}
