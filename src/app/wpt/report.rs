//! Console output and the wptreport JSON log (the format wpt.fyi accepts).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::expectations::{Comparison, PageExpectations};
use super::manifest::TestPage;
use super::results::PageOutcome;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map(|d| d.as_millis() as u64)
    .unwrap_or(0)
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportSubtest {
  pub name: String,
  pub status: String,
  pub message: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub expected: Option<String>,
  #[serde(skip_serializing_if = "Vec::is_empty")]
  pub known_intermittent: Vec<String>,
}

/// One `results[]` entry of a wptreport.
#[derive(Debug, Clone, Serialize)]
pub struct ReportResult {
  pub test: String,
  pub subtests: Vec<ReportSubtest>,
  pub status: String,
  pub message: Option<String>,
  /// Milliseconds.
  pub duration: u64,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub expected: Option<String>,
  #[serde(skip_serializing_if = "Vec::is_empty")]
  pub known_intermittent: Vec<String>,
}

impl ReportResult {
  /// A run page. `expected` is only recorded where it differs from the
  /// status (the wptreport convention).
  pub fn from_outcome(url_path: &str, outcome: &PageOutcome, exp: &PageExpectations) -> Self {
    let subtests = outcome
      .subtests
      .iter()
      .map(|s| {
        let e = exp.subtest(&s.name);
        ReportSubtest {
          name: s.name.clone(),
          status: s.status.clone(),
          message: s.message.clone(),
          expected: (e.primary() != s.status).then(|| e.primary().to_string()),
          known_intermittent: e.others(),
        }
      })
      .collect();
    ReportResult {
      test: url_path.to_string(),
      subtests,
      status: outcome.harness_status.clone(),
      message: outcome.message.clone(),
      duration: outcome.duration.as_millis() as u64,
      expected: (exp.harness.primary() != outcome.harness_status)
        .then(|| exp.harness.primary().to_string()),
      known_intermittent: exp.harness.others(),
    }
  }

  /// A page that was not run (status SKIP).
  pub fn skipped(url_path: &str, reason: &str) -> Self {
    ReportResult {
      test: url_path.to_string(),
      subtests: Vec::new(),
      status: "SKIP".to_string(),
      message: Some(reason.to_string()),
      duration: 0,
      expected: None,
      known_intermittent: Vec::new(),
    }
  }
}

/// `run_info` for swharness.
pub fn run_info() -> Value {
  run_info_for("swharness", env!("CARGO_PKG_VERSION"))
}

/// `run_info` of a run in `product` (e.g. "chromium") at `version`.
pub fn run_info_for(product: &str, version: &str) -> Value {
  json!({
    "product": product,
    "browser_version": version,
    "os": std::env::consts::OS,
    "processor": std::env::consts::ARCH,
    "debug": cfg!(debug_assertions),
    "headless": true,
  })
}

pub fn wptreport(time_start: u64, time_end: u64, results: &[ReportResult]) -> Value {
  wptreport_with(run_info(), time_start, time_end, results)
}

pub fn wptreport_with(
  run_info: Value,
  time_start: u64,
  time_end: u64,
  results: &[ReportResult],
) -> Value {
  json!({
    "run_info": run_info,
    "time_start": time_start,
    "time_end": time_end,
    "results": results,
  })
}

pub fn write_wptreport(
  path: &Path,
  run_info: Value,
  time_start: u64,
  time_end: u64,
  results: &[ReportResult],
) -> Result<()> {
  if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
  }
  let text = serde_json::to_string(&wptreport_with(run_info, time_start, time_end, results))?;
  std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The name shown for a page: the test path, plus the global and the variant
/// query when the file has several pages.
pub fn page_label(page: &TestPage, several: bool) -> String {
  if !several {
    return page.test_path.clone();
  }
  let query = page
    .url_path
    .split_once('?')
    .map(|(_, q)| format!("?{q}"))
    .unwrap_or_default();
  format!("{} [{}{}]", page.test_path, page.global, query)
}

fn one_line(s: &str) -> String {
  let first = s.lines().next().unwrap_or("").trim();
  if first.chars().count() > 160 {
    format!("{}…", first.chars().take(160).collect::<String>())
  } else {
    first.to_string()
  }
}

/// The live console line(s) for one finished page:
/// `PASS  3/3  background-fetch/get.https.window.js (120 ms)` followed by one
/// indented line per unexpected result.
pub fn console_lines(label: &str, outcome: &PageOutcome, cmp: &Comparison) -> String {
  let passed = outcome
    .subtests
    .iter()
    .filter(|s| s.status == "PASS")
    .count();
  let total = outcome.subtests.len();
  let word = if outcome.harness_status != "OK" {
    outcome.harness_status.as_str()
  } else if passed == total {
    "PASS"
  } else {
    "FAIL"
  };
  let mut out = format!(
    "{word:<5} {passed}/{total}  {label} ({} ms)",
    outcome.duration.as_millis()
  );
  if !cmp.ok() {
    out.push_str(&format!("  UNEXPECTED: {}", cmp.unexpected.len()));
  } else if cmp.expected_failures > 0 {
    out.push_str(&format!(
      "  (expected: {} not passing)",
      cmp.expected_failures
    ));
  }
  for u in &cmp.unexpected {
    let what = match &u.subtest {
      Some(name) => format!("{name:?}"),
      None => "harness".to_string(),
    };
    out.push_str(&format!(
      "\n      UNEXPECTED {} {what} (expected {})",
      u.actual, u.expected
    ));
    if let Some(m) = u.message.as_deref().map(one_line).filter(|m| !m.is_empty()) {
      out.push_str(&format!(": {m}"));
    }
  }
  out
}

/// Totals over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
  pub pages: usize,
  pub files: usize,
  pub subtests: usize,
  pub subtests_passed: usize,
  /// Results that matched their expectation (including expected failures).
  pub expected: usize,
  pub expected_failures: usize,
  /// Results that did not.
  pub unexpected: usize,
  pub skipped_pages: usize,
}

impl Totals {
  pub fn add(&mut self, outcome: &PageOutcome, cmp: &Comparison) {
    self.pages += 1;
    self.subtests += outcome.subtests.len();
    self.subtests_passed += outcome
      .subtests
      .iter()
      .filter(|s| s.status == "PASS")
      .count();
    self.expected += cmp.expected_count;
    self.expected_failures += cmp.expected_failures;
    self.unexpected += cmp.unexpected.len();
  }
}

/// The summary: a detail line, then `wpt: N passed, N failed` alone on the
/// last line (passed = results as expected, failed = unexpected results).
pub fn summary(t: &Totals, elapsed: Duration) -> String {
  format!(
    "wpt: {} files, {} pages ({} skipped), {} subtests ({} PASS), {} expected non-passing results, {} unexpected; {:.1} s\nwpt: {} passed, {} failed",
    t.files,
    t.pages,
    t.skipped_pages,
    t.subtests,
    t.subtests_passed,
    t.expected_failures,
    t.unexpected,
    elapsed.as_secs_f64(),
    t.expected,
    t.unexpected
  )
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::app::wpt::expectations::{compare, FileExpectations};
  use crate::app::wpt::results::SubtestResult;

  fn outcome() -> PageOutcome {
    PageOutcome {
      harness_status: "OK".into(),
      message: None,
      subtests: vec![
        SubtestResult {
          name: "a".into(),
          status: "PASS".into(),
          message: None,
          stack: None,
        },
        SubtestResult {
          name: "b".into(),
          status: "FAIL".into(),
          message: Some("assert_true: x\nmore".into()),
          stack: None,
        },
      ],
      duration: Duration::from_millis(120),
    }
  }

  #[test]
  fn console_and_summary() {
    let exp = FileExpectations::default();
    let o = outcome();
    let cmp = compare(&exp.base, &o);
    let s = console_lines("bf/get.https.window.js", &o, &cmp);
    assert_eq!(
      s,
      "FAIL  1/2  bf/get.https.window.js (120 ms)  UNEXPECTED: 1\n      UNEXPECTED FAIL \"b\" (expected PASS): assert_true: x"
    );
    let mut t = Totals::default();
    t.add(&o, &cmp);
    let sum = summary(&t, Duration::from_secs(1));
    assert_eq!(sum.lines().last().unwrap(), "wpt: 1 passed, 1 failed");
  }

  #[test]
  fn wptreport_shape() {
    let exp: FileExpectations =
      serde_json::from_str(r#"{"subtests":{"b":{"expected":["FAIL","PASS"]}}}"#).unwrap();
    let r = ReportResult::from_outcome("/bf/get.https.window.html", &outcome(), &exp.base);
    let v = wptreport(
      1,
      2,
      &[r, ReportResult::skipped("/x.any.worker.html", "not run")],
    );
    assert_eq!(v["run_info"]["product"], "swharness");
    assert_eq!(v["time_start"], 1);
    let r0 = &v["results"][0];
    assert_eq!(r0["test"], "/bf/get.https.window.html");
    assert_eq!(r0["status"], "OK");
    assert_eq!(r0["duration"], 120);
    assert!(r0.get("expected").is_none());
    assert!(r0["subtests"][0].get("expected").is_none());
    assert!(r0["subtests"][1].get("expected").is_none());
    assert_eq!(r0["subtests"][1]["known_intermittent"], json!(["PASS"]));
    assert_eq!(v["results"][1]["status"], "SKIP");
  }
}
