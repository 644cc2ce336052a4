//! The UI delegate of Background Fetch: the simulated download UI shows
//! one line per fetch (title, bytes, rate, ETA) through the terminal's
//! status lines, and the user can click it or cancel the fetch
//! (`swharness.clickBackgroundFetch`, `cancelBackgroundFetch`, `uiState`).
//!
//! Background Fetch, "display" a background fetch: the UI shows the origin's
//! fetch, its title and progress, lets the user abort it (setting its abort
//! all flag) and activate it ("fire a background fetch click event").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::context::stamped;
use super::{Phase, RegistrationState};
use crate::features::service_worker;
use crate::platform::browser::{terminal, Browser};
use crate::platform::ipc::{HostError, HostResult, RealmId};

struct Shown {
  started: Instant,
  line: String,
}

static SHOWN: Mutex<Option<HashMap<String, Shown>>> = Mutex::new(None);

fn human(n: u64) -> String {
  let f = n as f64;
  if f >= 1048576.0 {
    format!("{:.1} MiB", f / 1048576.0)
  } else if f >= 1024.0 {
    format!("{:.1} KiB", f / 1024.0)
  } else {
    format!("{n} B")
  }
}

/// Renders the UI's line for a fetch.
/// ("Display": the title, and the progress from the download total, the
/// stored body bytes total and the result.)
pub fn render(st: &RegistrationState, elapsed: f64) -> String {
  let title = if st.title.is_empty() {
    &st.id
  } else {
    &st.title
  };
  let rate = st.downloaded as f64 / elapsed.max(0.001);
  let status = if !st.result.is_empty() {
    if st.failure_reason.is_empty() {
      "done".to_string()
    } else {
      format!("failed: {}", st.failure_reason)
    }
  } else if st.download_total > 0 {
    let pct = (st.downloaded as f64 / st.download_total as f64 * 100.0).min(100.0);
    let eta = if rate > 0.0 {
      format!(
        ", ETA {:.0} s",
        (st.download_total.saturating_sub(st.downloaded)) as f64 / rate
      )
    } else {
      String::new()
    };
    let filled = (pct / 5.0) as usize;
    format!(
      "[{}{}] {pct:.0}%{eta}",
      "#".repeat(filled),
      ".".repeat(20 - filled.min(20))
    )
  } else {
    "downloading".to_string()
  };
  let total = if st.download_total > 0 {
    format!(" / {}", human(st.download_total))
  } else {
    String::new()
  };
  format!(
    "[ui] {title}: {}{total} ({}/s) {status}",
    human(st.downloaded),
    human(rate as u64)
  )
}

/// Shows the fetch's line when what it says has changed.
pub fn show(browser: &Browser, st: &RegistrationState) {
  if !browser.opts().echo_console {
    return;
  }
  let mut guard = SHOWN.lock().unwrap_or_else(|p| p.into_inner());
  let map = guard.get_or_insert_with(HashMap::new);
  let entry = map.entry(st.uid.clone()).or_insert_with(|| Shown {
    started: Instant::now(),
    line: String::new(),
  });
  let line = render(st, entry.started.elapsed().as_secs_f64());
  // Off a terminal, and for a finished fetch, a new line only when the
  // bytes, title or status change (not for the rate alone).
  let key = if terminal::is_terminal() && st.result.is_empty() {
    line.clone()
  } else {
    let head = line.split(" (").next().unwrap_or("");
    let tail = line.rsplit(") ").next().unwrap_or("");
    format!("{head}{tail}")
  };
  let same = key == entry.line;
  entry.line = key;
  // A finished fetch shows nothing more: its entry goes (a long run keeps
  // no row per fetch it ever made).
  if st.phase == Phase::Finished {
    map.remove(&st.uid);
  }
  if same {
    return;
  }
  drop(guard);
  terminal::show_status(&st.uid, &line, !st.result.is_empty());
}

/// Finds the fetch `id` among the registrations of the realm's origin.
/// As in Background Fetch's WebDriver "background fetch click" command, steps
/// 5-6: the newest fetch with that id, or an error. Differs: its registration
/// is any of the origin's, not the one matching the page's URL (step 3).
fn find(browser: &Browser, realm: RealmId, id: &str) -> Result<RegistrationState, HostError> {
  let svc = super::service(browser)?;
  let url = browser
    .realm_url(realm)
    .ok_or_else(|| HostError::invalid_state("unknown realm"))?;
  service_worker::scopes(browser)
    .iter()
    .filter(|sc| url::Url::parse(sc).is_ok_and(|u| u.origin() == url.origin()))
    .find_map(|sc| svc.newest(sc, id))
    .ok_or_else(|| HostError::type_error(format!("no background fetch with id '{id}'")))
}

/// The user clicks the download UI: Background Fetch, "fire a background
/// fetch click event".
/// (It fires "backgroundfetchclick", a BackgroundFetchEvent, with "fire a
/// functional event" on the fetch's registration.)
pub(super) async fn user_click(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  browser.record_ui_action(json!({"action": "click", "id": id}));
  let version = service_worker::active_version(browser, &st.scope)
    .ok_or_else(|| HostError::invalid_state("no active worker"))?;
  service_worker::dispatch_event(
    browser,
    version,
    "backgroundfetchclick",
    json!({"registration": stamped(&st)}),
  )
  .await?;
  Ok(Value::Null)
}

/// The user cancels in the download UI: the fetch is aborted.
/// ("Display": the user aborts the fetch by setting its abort all flag.)
pub(super) fn user_cancel(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  browser.record_ui_action(json!({"action": "cancel", "id": id}));
  Ok(json!(super::service(browser)?.abort(&st.uid)))
}

/// What the download UI shows of a fetch (`swharness.uiState(id)`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UiState<'a> {
  title: &'a str,
  icons: &'a Value,
  downloaded: u64,
  download_total: u64,
  result: &'a str,
  failure_reason: &'a str,
}

pub(super) fn ui_state(browser: &Browser, realm: RealmId, id: &str) -> HostResult {
  let st = find(browser, realm, id)?;
  Ok(json!(UiState {
    title: &st.title,
    icons: &st.icons,
    downloaded: st.downloaded,
    download_total: st.download_total,
    result: &st.result,
    failure_reason: &st.failure_reason,
  }))
}
