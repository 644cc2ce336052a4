//! Results of running one page, and the mapping from testharness.js codes.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub const SUBTEST_STATUSES: &[&str] = &["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"];
pub const HARNESS_STATUSES: &[&str] = &["OK", "ERROR", "TIMEOUT", "CRASH", "PRECONDITION_FAILED"];

/// testharness.js `Test.statuses`: PASS=0 FAIL=1 TIMEOUT=2 NOTRUN=3 PRECONDITION_FAILED=4.
pub fn subtest_status_name(code: i64) -> Option<&'static str> {
  SUBTEST_STATUSES.get(usize::try_from(code).ok()?).copied()
}

/// testharness.js `TestsStatus.statuses`: OK=0 ERROR=1 TIMEOUT=2 PRECONDITION_FAILED=3.
pub fn harness_status_name(code: i64) -> Option<&'static str> {
  Some(match code {
    0 => "OK",
    1 => "ERROR",
    2 => "TIMEOUT",
    3 => "PRECONDITION_FAILED",
    _ => return None,
  })
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubtestResult {
  pub name: String,
  /// PASS, FAIL, TIMEOUT, NOTRUN or PRECONDITION_FAILED.
  pub status: String,
  pub message: Option<String>,
  pub stack: Option<String>,
}

/// What an executor reports for one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOutcome {
  /// OK, ERROR, TIMEOUT, CRASH (or PRECONDITION_FAILED).
  pub harness_status: String,
  pub message: Option<String>,
  pub subtests: Vec<SubtestResult>,
  pub duration: Duration,
}

impl PageOutcome {
  /// The page or the engine died (no report).
  pub fn crash(message: impl Into<String>, duration: Duration) -> Self {
    Self::harness_only("CRASH", message, duration)
  }

  /// No report before the deadline.
  pub fn timeout(message: impl Into<String>, duration: Duration) -> Self {
    Self::harness_only("TIMEOUT", message, duration)
  }

  /// The page could not be run (e.g. a script failed to load).
  pub fn error(message: impl Into<String>, duration: Duration) -> Self {
    Self::harness_only("ERROR", message, duration)
  }

  fn harness_only(status: &str, message: impl Into<String>, duration: Duration) -> Self {
    PageOutcome {
      harness_status: status.to_string(),
      message: Some(message.into()),
      subtests: Vec::new(),
      duration,
    }
  }

  /// Parses the JSON string that `/resources/testharnessreport.js` passes to
  /// `__swharnessWptReport` (numeric codes; names are accepted too).
  pub fn from_report_json(json: &str, duration: Duration) -> Result<Self> {
    let raw: RawReport = serde_json::from_str(json).context("parsing testharness report")?;
    let harness_status =
      status_name(&raw.status, harness_status_name, HARNESS_STATUSES).context("harness status")?;
    let mut subtests = Vec::with_capacity(raw.tests.len());
    for t in raw.tests {
      let status = status_name(&t.status, subtest_status_name, SUBTEST_STATUSES)
        .with_context(|| format!("status of subtest {:?}", t.name))?;
      subtests.push(SubtestResult {
        name: t.name,
        status,
        message: t.message,
        stack: t.stack,
      });
    }
    Ok(PageOutcome {
      harness_status,
      message: raw.message,
      subtests,
      duration,
    })
  }
}

#[derive(Deserialize)]
struct RawReport {
  status: serde_json::Value,
  #[serde(default)]
  message: Option<String>,
  #[serde(default)]
  tests: Vec<RawTest>,
}

#[derive(Deserialize)]
struct RawTest {
  name: String,
  status: serde_json::Value,
  #[serde(default)]
  message: Option<String>,
  #[serde(default)]
  stack: Option<String>,
}

fn status_name(
  v: &serde_json::Value,
  by_code: fn(i64) -> Option<&'static str>,
  names: &[&str],
) -> Result<String> {
  if let Some(code) = v.as_i64() {
    if let Some(name) = by_code(code) {
      return Ok(name.to_string());
    }
  } else if let Some(s) = v.as_str() {
    if names.contains(&s) {
      return Ok(s.to_string());
    }
  }
  bail!("unknown status {v}")
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn parses_report() {
    let json = r#"{"status":0,"message":null,"stack":null,"tests":[
      {"name":"a","status":0,"message":null,"stack":null},
      {"name":"b","status":1,"message":"assert_equals: x","stack":"at y"},
      {"name":"c","status":2},{"name":"d","status":3},{"name":"e","status":4}]}"#;
    let o = PageOutcome::from_report_json(json, Duration::from_millis(5)).unwrap();
    assert_eq!(o.harness_status, "OK");
    let st: Vec<_> = o.subtests.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(st, SUBTEST_STATUSES);
    assert_eq!(o.subtests[1].message.as_deref(), Some("assert_equals: x"));
    let o = PageOutcome::from_report_json(
      r#"{"status":1,"message":"boom","tests":[]}"#,
      Duration::ZERO,
    )
    .unwrap();
    assert_eq!(
      (o.harness_status.as_str(), o.message.as_deref()),
      ("ERROR", Some("boom"))
    );
    assert!(PageOutcome::from_report_json(r#"{"status":9,"tests":[]}"#, Duration::ZERO).is_err());
    let o = PageOutcome::from_report_json(
      r#"{"status":"TIMEOUT","tests":[{"name":"x","status":"NOTRUN"}]}"#,
      Duration::ZERO,
    )
    .unwrap();
    assert_eq!(o.harness_status, "TIMEOUT");
  }
}
