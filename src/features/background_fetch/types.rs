//! The data Background Fetch keeps: registrations and their records.
//! These are the spec's "background fetch" (`RegistrationState`), "background
//! fetch record" (`RecordState`) and "background fetch response" (`ResponseMeta`
//! plus the stored bytes).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RequestSpec {
  pub method: String,
  pub url: String,
  pub headers: Vec<(String, String)>,
  /// The request body, base64 (empty for none).
  #[serde(default)]
  pub body: String,
  #[serde(default)]
  pub mode: String,
  /// The request's credentials mode (`omit`, `same-origin`, `include`).
  #[serde(default)]
  pub credentials: String,
  /// The request's redirect mode (`follow`, `error`, `manual`).
  #[serde(default)]
  pub redirect: String,
  /// `Request.referrer`: `about:client` (None too), `""` for none, or a
  /// URL; and `Request.referrerPolicy` (empty: the default).
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub referrer: Option<String>,
  #[serde(
    default,
    rename = "referrerPolicy",
    skip_serializing_if = "String::is_empty"
  )]
  pub referrer_policy: String,
  /// The serialized origin of the page or worker that made the fetch (set
  /// by the browser, not the caller); CORS applies across origins.
  #[serde(default)]
  pub origin: String,
  /// The URL of the page or worker that made the fetch and its
  /// Content-Security-Policy: a redirect's target goes through the same
  /// checks as the first URL. Set by the browser.
  #[serde(default, skip_serializing_if = "String::is_empty")]
  pub client_url: String,
  #[serde(default, skip_serializing_if = "Vec::is_empty")]
  pub csp: Vec<String>,
  /// Why the request may not go out at all (mixed content, CSP): its
  /// record ends in a network error. Set by the browser.
  /// (Fetch, "main fetch", step 7: blocked as mixed content or by CSP.)
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub blocked: Option<String>,
}

/// Where a fetch is in Background Fetch, "perform a background fetch".
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Phase {
  /// Downloading (or waiting to).
  Active,
  /// Every record settled; the final event is owed.
  /// (Step 8: the result is set; step 8.13 fires the event.)
  Completed,
  /// The final event is running; its waitUntil is pending.
  /// (Step 8.13.1: waiting until the event is no longer active.)
  EventDispatched,
  /// Done: records are no longer available.
  /// (Step 8.13.2: the records available flag is unset.)
  Finished,
}

impl Phase {
  pub fn as_str(self) -> &'static str {
    match self {
      Phase::Active => "active",
      Phase::Completed => "completed",
      Phase::EventDispatched => "event-dispatched",
      Phase::Finished => "finished",
    }
  }
  pub fn parse(s: &str) -> Phase {
    match s {
      "completed" => Phase::Completed,
      "event-dispatched" => Phase::EventDispatched,
      "finished" => Phase::Finished,
      _ => Phase::Active,
    }
  }
}

/// A registration as JavaScript sees it (camelCase), plus its phase.
/// Background Fetch, "background fetch", and the copies a
/// `BackgroundFetchRegistration` keeps of it (id, totals, uploaded,
/// downloaded, result, failure reason, records available flag).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationState {
  pub uid: String,
  pub scope: String,
  pub id: String,
  pub upload_total: u64,
  pub uploaded: u64,
  pub download_total: u64,
  pub downloaded: u64,
  pub result: String,
  pub failure_reason: String,
  pub records_available: bool,
  pub title: String,
  pub icons: serde_json::Value,
  #[serde(skip)]
  pub phase: Phase,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMeta {
  pub url: String,
  pub status: u16,
  pub status_text: String,
  pub headers: Vec<(String, String)>,
  pub body_token: String,
  pub body_len: u64,
  pub complete: bool,
}

/// Background Fetch, "background fetch record".
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordState {
  pub index: usize,
  pub request: RequestSpec,
  pub response: Option<ResponseMeta>,
  pub settled: bool,
  /// Why the record has no response: "aborted", "network", "blocked".
  pub error: Option<String>,
}

/// Notifications for the browser side.
/// (`Progress` is "update background fetch instances"; `Completed` is
/// "perform a background fetch", step 8.)
#[derive(Debug, Clone)]
pub enum BgFetchEvent {
  Progress(RegistrationState),
  Completed(RegistrationState),
  RecordSettled {
    uid: String,
    index: usize,
    /// Why the record ended in a network error, if it did.
    error: Option<String>,
  },
  /// No record task is at work any more (offline, they wait for the
  /// network): the run may have become quiet.
  Idle,
}

#[derive(Debug, thiserror::Error)]
pub enum BgFetchError {
  #[error("{0}")]
  TypeError(String),
  #[error("the background fetch needs {requested} bytes but only {available} are available")]
  QuotaExceeded { requested: u64, available: u64 },
  #[error("storage failed: {0}")]
  Storage(String),
}

impl From<rusqlite::Error> for BgFetchError {
  fn from(e: rusqlite::Error) -> Self {
    BgFetchError::Storage(e.to_string())
  }
}

/// How many fetches download at once, and how many records of one fetch.
/// Chromium-like defaults: 2 and 3.
/// Not in the spec, which runs every record at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
  pub active_fetches: usize,
  pub parallel_downloads: usize,
}

impl Default for Limits {
  fn default() -> Self {
    Limits {
      active_fetches: 2,
      parallel_downloads: 3,
    }
  }
}
