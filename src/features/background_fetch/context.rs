//! The glue between the Background Fetch engine and the browser (Chromium's
//! `BackgroundFetchContext` and event dispatcher): opening the engine with
//! the run's options, pushing progress to the realms, and delivering the
//! final events into the service worker exactly once.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::{BgFetchConfig, BgFetchEvent, BgFetchService, Options, Phase, RegistrationState};
use crate::features::service_worker;
use crate::platform::browser::durability;
use crate::platform::browser::Browser;
use crate::platform::ipc::Command;

/// Opens the engine's store in the state directory.
pub(super) fn open(browser: &Browser, options: &Options) -> anyhow::Result<Arc<BgFetchService>> {
  let opts = browser.opts();
  let svc = BgFetchService::open(
    BgFetchConfig {
      dir: opts.state_dir.join("bgfetch"),
      quota_bytes: opts.quota,
      max_active_fetches: options.limits.active_fetches,
      max_parallel_downloads: options.limits.parallel_downloads,
      progress_interval: Duration::from_millis(100),
      max_retries: 3,
      retry_base: options.retry_backoff,
      durability: opts.durability,
    },
    opts.net.clone(),
  )?;
  svc.set_online(!opts.offline);
  Ok(svc)
}

/// Listens to the engine's events, resumes the fetches of an earlier run,
/// and delivers the final events it still owes.
pub(super) fn start(browser: &Browser, svc: &Arc<BgFetchService>) -> anyhow::Result<()> {
  let mut events = svc.subscribe();
  let b = browser.clone();
  let service = svc.clone();
  tokio::spawn(async move {
    while let Some(e) = events.recv().await {
      match e {
        BgFetchEvent::Progress(st) => push_update(&b, &st),
        BgFetchEvent::Completed(st) => {
          let b2 = b.clone();
          let guard = b.busy();
          service.ack_completed();
          tokio::spawn(async move {
            deliver_final_event(&b2, st).await;
            drop(guard);
          });
        }
        BgFetchEvent::RecordSettled {
          uid,
          index,
          error: Some(reason),
        } => trace_record_error(&b, &service, &uid, index, &reason),
        BgFetchEvent::RecordSettled { .. } | BgFetchEvent::Idle => {}
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
fn trace_record_error(
  browser: &Browser,
  svc: &BgFetchService,
  uid: &str,
  index: usize,
  reason: &str,
) {
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

/// A registration's state for a realm, stamped with a sequence number:
/// states reach a realm both as call answers and as updates, and a realm
/// keeps the newest one (an update may be sent before the answer that
/// creates the registration object).
pub(super) fn stamped(st: &RegistrationState) -> Value {
  static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
  let mut v = json!(st);
  v["seq"] = json!(SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
  v
}

/// A registration's new state, for its `BackgroundFetchRegistration`
/// objects in every realm.
#[derive(Serialize)]
struct BgfetchUpdate {
  state: Value,
}

impl Command for BgfetchUpdate {
  const KIND: &'static str = "bgfetchUpdate";
}

/// Background Fetch, "update background fetch instances": every realm's
/// registration objects get the new state (they fire `progress`).
/// Steps 1-5 take the state; step 6 queues a task in every environment of
/// the origin (a broadcast here), whose steps 6.1-6.10 run in the realm.
pub(super) fn push_update(browser: &Browser, st: &RegistrationState) {
  browser.trace(
    "bgfetch-progress",
    json!({"id": st.id, "downloaded": st.downloaded, "downloadTotal": st.download_total,
           "uploaded": st.uploaded, "result": st.result, "failureReason": st.failure_reason}),
  );
  super::ui::show(browser, st);
  browser.broadcast(&BgfetchUpdate { state: stamped(st) });
}

/// Fires backgroundfetchsuccess/fail/abort in the registration's active
/// worker (starting it if needed); afterwards the records are gone.
async fn deliver_final_event(browser: &Browser, st: RegistrationState) {
  let Ok(svc) = super::service(browser) else {
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

/// Background Fetch, "perform a background fetch", the steps once every
/// record is complete: the event to fire follows from the result and
/// failure reason, and `recordsAvailable` turns false once its
/// `waitUntil` promises settle.
async fn dispatch_final_event(browser: &Browser, svc: &BgFetchService, st: RegistrationState) {
  // Steps 8.10-8.12: "backgroundfetchabort" (a BackgroundFetchEvent) for
  // "aborted", else "backgroundfetchfail" or "backgroundfetchsuccess" (both
  // BackgroundFetchUpdateUIEvent).
  let event = match (st.result.as_str(), st.failure_reason.as_str()) {
    ("success", _) => "backgroundfetchsuccess",
    (_, "aborted") => "backgroundfetchabort",
    _ => "backgroundfetchfail",
  };
  // Service Workers, "Fire Functional Event", step 1 asserts an active worker.
  let Some(version) = service_worker::active_version(browser, &st.scope) else {
    // No active worker yet (e.g. just after a restart): delivered when one
    // activates.
    return;
  };
  svc.set_phase(&st.uid, Phase::EventDispatched);
  browser.record_ui_action(json!({"action": "bgfetch-final-event", "id": st.id, "event": event}));
  // Step 8.13: "fire a functional event" with the registration from "get a
  // BackgroundFetchRegistration instance"; it settles once the event is no
  // longer active (8.13.1).
  durability::reached("bgfetch-final-event");
  let result = service_worker::dispatch_event(
    browser,
    version,
    event,
    json!({"registration": stamped(&st)}),
  )
  .await;
  durability::reached("bgfetch-final-event.done");
  if let Err(e) = result {
    browser.trace("bgfetch-event-failed", json!({"id": st.id, "error": e}));
  }
  // Steps 8.13.2-8.13.3: unset the records available flag, and "update
  // background fetch instances".
  if let Some(done) = svc.set_phase(&st.uid, Phase::Finished) {
    push_update(browser, &done);
  }
}

/// Delivers the final events still owed (of one registration, or all).
pub(super) fn deliver_owed(browser: &Browser, scope: Option<&str>) {
  let Ok(svc) = super::service(browser) else {
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
