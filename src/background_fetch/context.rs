//! Glue between the Background Fetch engine (`bgfetch`) and the browser:
//! the JS-facing calls, pushing progress to realms, delivering the final
//! events into the service worker exactly once, and the simulated UI.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::background_fetch::{
  BgFetchConfig, BgFetchError, BgFetchEvent, BgFetchService, Phase, RegistrationState, RequestSpec,
};
use crate::browser::{Browser, PermissionState};
use crate::ipc::{HostError, HostResult, RealmId};
use crate::service_worker::lifecycle as sw;

fn service(browser: &Browser) -> Result<&Arc<BgFetchService>, HostError> {
  browser
    .inner
    .bgfetch
    .get()
    .ok_or_else(|| HostError::invalid_state("Background Fetch is not running"))
}

pub(crate) async fn start(browser: &Browser) -> anyhow::Result<()> {
  let opts = browser.opts();
  let svc = BgFetchService::open(
    BgFetchConfig {
      dir: opts.state_dir.join("bgfetch"),
      quota_bytes: opts.quota,
      max_active_fetches: opts.bgfetch_limits.active_fetches,
      max_parallel_downloads: opts.bgfetch_limits.parallel_downloads,
      progress_interval: Duration::from_millis(100),
      max_retries: 3,
      retry_base: opts.retry_backoff,
    },
    opts.net.clone(),
  )?;
  svc.set_online(!opts.offline);
  let mut events = svc.subscribe();
  let _ = browser.inner.bgfetch.set(svc.clone());
  let b = browser.clone();
  tokio::spawn(async move {
    while let Some(e) = events.recv().await {
      match e {
        BgFetchEvent::Progress(st) => push_update(&b, &st),
        BgFetchEvent::Completed(st) => {
          let b2 = b.clone();
          let guard = b.busy();
          if let Some(svc) = b.inner.bgfetch.get() {
            svc.ack_completed();
          }
          tokio::spawn(async move {
            deliver_final_event(&b2, st).await;
            drop(guard);
          });
        }
        BgFetchEvent::RecordSettled {
          uid,
          index,
          error: Some(reason),
        } => trace_record_error(&b, &uid, index, &reason),
        BgFetchEvent::RecordSettled { .. } => {}
      }
      b.check_quiet();
    }
  });
  svc.resume_all()?;
  // Final events owed from before a restart (the fetch completed, or its
  // event was cut off, when the process ended): the registrations came
  // back with their active workers.
  deliver_owed(browser, None);
  Ok(())
}

/// Records in the trace why a record ended in a network error (its
/// `responseReady` only says TypeError).
fn trace_record_error(browser: &Browser, uid: &str, index: usize, reason: &str) {
  let Some(svc) = browser.inner.bgfetch.get() else {
    return;
  };
  let id = svc.state(uid).map(|s| s.id).unwrap_or_default();
  let url = svc
    .db(|s| s.records(uid))
    .ok()
    .and_then(|rows| rows.into_iter().find(|r| r.state.index == index))
    .map(|r| r.state.request.url)
    .unwrap_or_default();
  browser.trace(
    "bgfetch-record-error",
    json!({"id": id, "index": index, "url": url, "reason": reason}),
  );
}

pub(crate) fn busy(browser: &Browser) -> bool {
  browser.inner.bgfetch.get().is_some_and(|s| s.busy())
}

/// A registration's state for a realm, stamped with a sequence number:
/// states reach a realm both as call answers and as updates, and a realm
/// keeps the newest one (an update may be sent before the answer that
/// creates the registration object).
fn stamped(st: &RegistrationState) -> Value {
  static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
  let mut v = json!(st);
  v["seq"] = json!(SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
  v
}

fn push_update(browser: &Browser, st: &RegistrationState) {
  browser.trace(
    "bgfetch-progress",
    json!({"id": st.id, "downloaded": st.downloaded, "downloadTotal": st.download_total,
           "uploaded": st.uploaded, "result": st.result, "failureReason": st.failure_reason}),
  );
  crate::browser::terminal::show(browser, st);
  let realms: Vec<RealmId> = browser.with_state(|s| s.realms.keys().copied().collect());
  let update = json!({"state": stamped(st)});
  for r in realms {
    browser.post(r, "bgfetchUpdate", update.clone());
  }
}

/// Fires backgroundfetchsuccess/fail/abort in the registration's active
/// worker (starting it if needed); afterwards the records are gone.
async fn deliver_final_event(browser: &Browser, st: RegistrationState) {
  let Some(svc) = browser.inner.bgfetch.get().cloned() else {
    return;
  };
  // One delivery at a time, and none once delivered (a completion and a
  // worker's activation may both find the event owed).
  if !svc.claim_final_event(&st.uid) {
    return;
  }
  let uid = st.uid.clone();
  dispatch_final_event(browser, &svc, st).await;
  svc.release_final_event(&uid);
}

async fn dispatch_final_event(
  browser: &Browser,
  svc: &crate::background_fetch::BgFetchService,
  st: RegistrationState,
) {
  let event = match (st.result.as_str(), st.failure_reason.as_str()) {
    ("success", _) => "backgroundfetchsuccess",
    (_, "aborted") => "backgroundfetchabort",
    _ => "backgroundfetchfail",
  };
  let version = browser.with_state(|s| s.registry.regs.get(&st.scope).and_then(|r| r.active));
  let Some(version) = version else {
    // No active worker yet (e.g. just after a restart): delivered when one
    // activates.
    return;
  };
  svc.set_phase(&st.uid, Phase::EventDispatched);
  browser.record_ui_action(json!({"action": "bgfetch-final-event", "id": st.id, "event": event}));
  let result = sw::dispatch_event(
    browser,
    version,
    event,
    json!({"registration": stamped(&st)}),
  )
  .await;
  if let Err(e) = result {
    browser.trace("bgfetch-event-failed", json!({"id": st.id, "error": e}));
  }
  if let Some(done) = svc.set_phase(&st.uid, Phase::Finished) {
    push_update(browser, &done);
  }
}

/// Stamps each request with its caller's origin, and marks the requests
/// that mixed content or the page's CSP block (network errors later, as in
/// Fetch; with `--chromium`, a TypeError from fetch() now).
fn apply_request_policy(
  browser: &Browser,
  realm: RealmId,
  requests: &mut [RequestSpec],
) -> Result<(), HostError> {
  let Some(caller) = crate::browser::router::realm_url(browser, realm) else {
    return Ok(());
  };
  let csp: Vec<String> = match crate::service_worker::clients::client_of(browser, realm) {
    Some(id) => browser.with_state(|s| {
      s.clients
        .get(&id)
        .map(|c| c.csp.clone())
        .unwrap_or_default()
    }),
    None => Vec::new(),
  };
  for r in requests.iter_mut() {
    r.origin = caller.origin().ascii_serialization();
    r.client_url = caller.to_string();
    r.csp = csp.clone();
    r.blocked = url::Url::parse(&r.url)
      .ok()
      .and_then(|target| crate::net::policy::blocked_reason(&caller, &csp, &target));
    if let Some(reason) = &r.blocked {
      browser.trace("bgfetch-blocked", json!({"url": r.url, "reason": reason}));
      if browser.opts().chromium {
        return Err(HostError::type_error(reason.clone()));
      }
    }
  }
  Ok(())
}

/// The `Vary` step of "request matches cached item": every header the
/// record's response varies on has the same value in the query and in the
/// record's request; `Vary: *` never matches. A record without a response
/// (or without `Vary`) matches.
fn vary_matches(record: &crate::background_fetch::RecordState, query: &[(String, String)]) -> bool {
  let Some(response) = &record.response else {
    return true;
  };
  let value = |headers: &[(String, String)], name: &str| -> Option<String> {
    let values: Vec<&str> = headers
      .iter()
      .filter(|(k, _)| k.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
      .collect();
    (!values.is_empty()).then(|| values.join(", "))
  };
  let vary: Vec<String> = response
    .headers
    .iter()
    .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
    .flat_map(|(_, v)| v.split(',').map(|f| f.trim().to_string()))
    .filter(|f| !f.is_empty())
    .collect();
  vary
    .iter()
    .all(|f| f != "*" && value(&record.request.headers, f) == value(query, f))
}

/// The registration of `scope` was unregistered: its fetches end silently.
pub(crate) fn on_unregistered(browser: &Browser, scope: &str) {
  if let Some(svc) = browser.inner.bgfetch.get() {
    svc.forget_scope(scope);
  }
}

/// Delivers final events owed from before a restart once the worker is up.
pub(crate) fn on_worker_activated(browser: &Browser, scope: &str) {
  deliver_owed(browser, Some(scope));
}

/// Delivers the final events still owed (of one registration, or all).
fn deliver_owed(browser: &Browser, scope: Option<&str>) {
  let Some(svc) = browser.inner.bgfetch.get() else {
    return;
  };
  for st in svc.owed_final_events() {
    if scope.is_none_or(|s| s == st.scope) {
      let b = browser.clone();
      let guard = browser.busy();
      tokio::spawn(async move {
        deliver_final_event(&b, st).await;
        drop(guard);
      });
    }
  }
}

fn to_host_error(e: BgFetchError) -> HostError {
  match e {
    BgFetchError::TypeError(m) => HostError::type_error(m),
    BgFetchError::QuotaExceeded { .. } => HostError::new("QuotaExceededError", e.to_string()),
    BgFetchError::Storage(m) => HostError::new("UnknownError", m),
  }
}

pub(crate) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  let svc = service(browser)?.clone();
  match method {
    "fetch" => {
      let scope = args["scope"].as_str().unwrap_or("").to_string();
      match browser.permission("background-fetch") {
        PermissionState::Granted => {}
        _ if browser.opts().chromium => {
          return Err(HostError::type_error(
            "Background Fetch permission was not granted",
          ))
        }
        _ => {
          return Err(HostError::new(
            "NotAllowedError",
            "Background Fetch permission was not granted",
          ))
        }
      }
      let active = browser.with_state(|s| s.registry.regs.get(&scope).and_then(|r| r.active));
      // The caller's registration object may not show the active worker
      // yet (it activates while the call is on its way): its view counts.
      let caller_saw_active = args["active"].as_bool().unwrap_or(true);
      if active.is_none() || !caller_saw_active {
        return Err(HostError::type_error(
          "No active registration available on the ServiceWorkerRegistration.",
        ));
      }
      let mut requests: Vec<RequestSpec> = serde_json::from_value(args["requests"].clone())
        .map_err(|e| HostError::type_error(format!("bad requests: {e}")))?;
      apply_request_policy(browser, realm, &mut requests)?;
      let state = svc
        .start(
          &scope,
          args["id"].as_str().unwrap_or(""),
          requests,
          args["title"].as_str().unwrap_or("").to_string(),
          args["icons"].clone(),
          // Past 2^53 the number arrives as a float: saturate.
          args["downloadTotal"]
            .as_u64()
            .or_else(|| args["downloadTotal"].as_f64().map(|f| f.max(0.0) as u64))
            .unwrap_or(0),
        )
        .map_err(to_host_error)?;
      browser.trace(
        "bgfetch-start",
        json!({"id": state.id, "scope": scope, "realm": realm}),
      );
      crate::browser::terminal::show(browser, &state);
      Ok(stamped(&state))
    }
    "get" => Ok(
      svc
        .active(
          args["scope"].as_str().unwrap_or(""),
          args["id"].as_str().unwrap_or(""),
        )
        .map(|s| stamped(&s))
        .unwrap_or(Value::Null),
    ),
    "getIds" => Ok(json!(svc.get_ids(args["scope"].as_str().unwrap_or("")))),
    "abort" => Ok(json!(svc.abort(args["uid"].as_str().unwrap_or("")))),
    "records" => {
      let uid = args["uid"].as_str().unwrap_or("");
      let url = args["url"].as_str();
      let ignore_search = args["ignoreSearch"] == json!(true);
      let ignore_method = args["ignoreMethod"] == json!(true);
      let method = args["method"].as_str().unwrap_or("GET");
      let ignore_vary = args["ignoreVary"] == json!(true);
      let query_headers: Vec<(String, String)> =
        serde_json::from_value(args["headers"].clone()).unwrap_or_default();
      let strip = |u: &str| u.split(['?', '#']).next().unwrap_or("").to_string();
      let list: Vec<Value> = svc
        .records(uid)
        .into_iter()
        .filter(|r| match url {
          None => true,
          Some(u) if ignore_search => strip(u) == strip(&r.request.url),
          Some(u) => u.split('#').next() == r.request.url.split('#').next(),
        })
        .filter(|r| {
          url.is_none()
            || ignore_method
            || (method == "GET" && r.request.method == "GET")
            || r.request.method == method
        })
        .filter(|r| url.is_none() || ignore_vary || vary_matches(r, &query_headers))
        .map(|r| json!(r))
        .collect();
      Ok(Value::Array(list))
    }
    "recordResponse" => {
      let uid = args["uid"].as_str().unwrap_or("").to_string();
      let index = args["index"].as_u64().unwrap_or(0) as usize;
      match svc.record_response(&uid, index).await {
        Ok(meta) => Ok(json!(meta)),
        // Fetch rejects with a TypeError for a network error; an aborted
        // fetch's unfinished records with an AbortError.
        Err(kind) if kind == "aborted" => Err(HostError::new(
          "AbortError",
          "The background fetch was aborted before the response arrived.",
        )),
        Err(_) => Err(HostError::type_error(
          "The record's request failed with a network error.",
        )),
      }
    }
    "updateUI" => {
      let uid = args["uid"].as_str().unwrap_or("");
      let title = args["title"].as_str().map(str::to_string);
      let icons = (!args["icons"].is_null()).then(|| args["icons"].clone());
      svc.update_ui(uid, title, icons);
      if let Some(st) = svc.state(uid) {
        browser.record_ui_action(
          json!({"action": "updateUI", "id": st.id, "title": st.title, "icons": st.icons}),
        );
        crate::browser::terminal::show(browser, &st);
      }
      Ok(Value::Null)
    }
    _ => Err(HostError::type_error(format!(
      "unknown call bgfetch.{method}"
    ))),
  }
}

/// Finds the fetch `id` among the registrations of the realm's origin.
fn find(browser: &Browser, realm: RealmId, id: &str) -> Result<RegistrationState, HostError> {
  let svc = service(browser)?;
  let url = crate::browser::router::realm_url(browser, realm)
    .ok_or_else(|| HostError::invalid_state("unknown realm"))?;
  let scopes: Vec<String> = browser.with_state(|s| s.registry.regs.keys().cloned().collect());
  scopes
    .iter()
    .filter(|sc| url::Url::parse(sc).is_ok_and(|u| u.origin() == url.origin()))
    .find_map(|sc| svc.newest(sc, id))
    .ok_or_else(|| HostError::type_error(format!("no background fetch with id '{id}'")))
}

/// The user clicks the download UI: backgroundfetchclick.
pub(crate) async fn user_click(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  browser.record_ui_action(json!({"action": "click", "id": id}));
  let version = browser
    .with_state(|s| s.registry.regs.get(&st.scope).and_then(|r| r.active))
    .ok_or_else(|| HostError::invalid_state("no active worker"))?;
  sw::dispatch_event(
    browser,
    version,
    "backgroundfetchclick",
    json!({"registration": stamped(&st)}),
  )
  .await?;
  Ok(Value::Null)
}

/// The user cancels in the download UI: the fetch is aborted.
pub(crate) async fn user_cancel(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  browser.record_ui_action(json!({"action": "cancel", "id": id}));
  Ok(json!(service(browser)?.abort(&st.uid)))
}

pub(crate) fn ui_state(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  Ok(
    json!({"title": st.title, "icons": st.icons, "downloaded": st.downloaded,
            "downloadTotal": st.download_total, "result": st.result, "failureReason": st.failure_reason}),
  )
}

pub(crate) fn set_online(browser: &Browser, online: bool) {
  if let Some(svc) = browser.inner.bgfetch.get() {
    svc.set_online(online);
  }
}

/// The file behind a body token (`cache:N` or `bgfetch:UID:INDEX`).
pub(crate) fn resolve_body_token(browser: &Browser, token: &str) -> Option<std::path::PathBuf> {
  if let Some(id) = token.strip_prefix("cache:") {
    return crate::storage::cache_storage::body_path(browser, id.parse().ok()?);
  }
  browser.inner.bgfetch.get()?.body_path(token)
}
