//! Expected results, one JSON file per test file:
//! `<expectations dir>/<test path>.json`, e.g.
//! `wpt/expectations/background-fetch/fetch.https.window.js.json`:
//!
//! ```json
//! { "harness": "OK",
//!   "subtests": { "<name>": { "expected": "FAIL", "reason": "one line" } } }
//! ```
//!
//! A subtest not listed is expected to PASS; a missing `harness` means OK.
//! `expected` may be a list of allowed statuses (flaky). Optional keys:
//! `"harness_reason"`, `"disabled": "reason"` (the file is not run), and
//! `"variants": { "<page url path>": { "harness": ..., "subtests": ... } }`
//! which replaces the top-level expectations for that page (for `.any.js`
//! files whose window and service-worker results differ).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::results::PageOutcome;

pub const TODO_REASON: &str = "TODO: explain";

/// One status or a set of allowed statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expected {
  One(String),
  AnyOf(Vec<String>),
}

impl Expected {
  pub fn one(s: &str) -> Self {
    Expected::One(s.to_string())
  }
  pub fn allows(&self, status: &str) -> bool {
    match self {
      Expected::One(s) => s == status,
      Expected::AnyOf(v) => v.iter().any(|s| s == status),
    }
  }
  pub fn is(&self, status: &str) -> bool {
    matches!(self, Expected::One(s) if s == status)
  }
  /// The first allowed status (what wptreport's `expected` shows).
  pub fn primary(&self) -> &str {
    match self {
      Expected::One(s) => s,
      Expected::AnyOf(v) => v.first().map(String::as_str).unwrap_or("PASS"),
    }
  }
  pub fn others(&self) -> Vec<String> {
    match self {
      Expected::One(_) => Vec::new(),
      Expected::AnyOf(v) => v.iter().skip(1).cloned().collect(),
    }
  }
}

impl std::fmt::Display for Expected {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      Expected::One(s) => f.write_str(s),
      Expected::AnyOf(v) => f.write_str(&v.join("|")),
    }
  }
}

fn ok() -> Expected {
  Expected::one("OK")
}
fn is_ok(e: &Expected) -> bool {
  e.is("OK")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtestExpectation {
  pub expected: Expected,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub reason: Option<String>,
}

/// Expectations for one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageExpectations {
  #[serde(default = "ok")]
  pub harness: Expected,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub harness_reason: Option<String>,
  #[serde(default)]
  pub subtests: BTreeMap<String, SubtestExpectation>,
}

impl Default for PageExpectations {
  fn default() -> Self {
    PageExpectations {
      harness: ok(),
      harness_reason: None,
      subtests: BTreeMap::new(),
    }
  }
}

impl PageExpectations {
  pub fn is_default(&self) -> bool {
    is_ok(&self.harness) && self.subtests.is_empty()
  }

  pub fn subtest(&self, name: &str) -> Expected {
    self
      .subtests
      .get(name)
      .map(|s| s.expected.clone())
      .unwrap_or_else(|| Expected::one("PASS"))
  }

  /// Same expected statuses (reasons ignored).
  fn same_statuses(&self, other: &PageExpectations) -> bool {
    self.harness == other.harness
      && self.subtests.len() == other.subtests.len()
      && self
        .subtests
        .iter()
        .all(|(k, v)| other.subtests.get(k).map(|o| &o.expected) == Some(&v.expected))
  }
}

/// The expectation file of one test file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileExpectations {
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub disabled: Option<String>,
  #[serde(flatten)]
  pub base: PageExpectations,
  #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
  pub variants: BTreeMap<String, PageExpectations>,
}

impl FileExpectations {
  /// Expectations for the page at `url_path`.
  pub fn for_page(&self, url_path: &str) -> &PageExpectations {
    self.variants.get(url_path).unwrap_or(&self.base)
  }

  pub fn is_default(&self) -> bool {
    self.disabled.is_none()
      && self.base.is_default()
      && self.variants.values().all(|v| v.is_default())
  }
}

/// Path of the expectation file for a test path.
pub fn expectation_path(dir: &Path, test_path: &str) -> PathBuf {
  dir.join(format!("{test_path}.json"))
}

/// Loads the expectations of a test file (defaults if there is no file).
pub fn load(dir: &Path, test_path: &str) -> Result<FileExpectations> {
  let path = expectation_path(dir, test_path);
  match std::fs::read_to_string(&path) {
    Ok(text) => serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display())),
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileExpectations::default()),
    Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
  }
}

/// One result that differs from its expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexpected {
  /// `None` for the harness status.
  pub subtest: Option<String>,
  pub actual: String,
  pub expected: Expected,
  pub message: Option<String>,
}

/// The comparison of one page's outcome with its expectations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
  pub unexpected: Vec<Unexpected>,
  /// Results (subtests, plus a non-OK harness status) that matched.
  pub expected_count: usize,
  /// Of those, results that matched an expected non-PASS/non-OK status.
  pub expected_failures: usize,
  /// Subtests listed in the expectations that did not run at all.
  pub missing: Vec<String>,
}

impl Comparison {
  pub fn ok(&self) -> bool {
    self.unexpected.is_empty()
  }
}

pub fn compare(exp: &PageExpectations, outcome: &PageOutcome) -> Comparison {
  let mut c = Comparison::default();
  if exp.harness.allows(&outcome.harness_status) {
    if outcome.harness_status != "OK" {
      c.expected_count += 1;
      c.expected_failures += 1;
    }
  } else {
    c.unexpected.push(Unexpected {
      subtest: None,
      actual: outcome.harness_status.clone(),
      expected: exp.harness.clone(),
      message: outcome.message.clone(),
    });
  }
  for st in &outcome.subtests {
    let expected = exp.subtest(&st.name);
    if expected.allows(&st.status) {
      c.expected_count += 1;
      if st.status != "PASS" {
        c.expected_failures += 1;
      }
    } else {
      c.unexpected.push(Unexpected {
        subtest: Some(st.name.clone()),
        actual: st.status.clone(),
        expected,
        message: st.message.clone(),
      });
    }
  }
  for name in exp.subtests.keys() {
    if !outcome.subtests.iter().any(|s| &s.name == name) {
      c.missing.push(name.clone());
    }
  }
  c
}

/// New expectations for a page from its outcome, keeping reasons (and flaky
/// status sets that still hold) from `old`.
pub fn page_from_outcome(old: &PageExpectations, outcome: &PageOutcome) -> PageExpectations {
  let mut new = PageExpectations::default();
  if outcome.harness_status != "OK" {
    new.harness = if old.harness.allows(&outcome.harness_status) {
      old.harness.clone()
    } else {
      Expected::one(&outcome.harness_status)
    };
    new.harness_reason = Some(
      old
        .harness_reason
        .clone()
        .unwrap_or_else(|| TODO_REASON.to_string()),
    );
  }
  for st in &outcome.subtests {
    let old_entry = old.subtests.get(&st.name);
    if st.status == "PASS" && old_entry.is_none_or(|e| e.expected.is("PASS")) {
      continue;
    }
    let expected = match old_entry {
      Some(e) if e.expected.allows(&st.status) => e.expected.clone(),
      _ => Expected::one(&st.status),
    };
    if expected.is("PASS") {
      continue;
    }
    let reason = old_entry
      .and_then(|e| e.reason.clone())
      .unwrap_or_else(|| TODO_REASON.to_string());
    new.subtests.insert(
      st.name.clone(),
      SubtestExpectation {
        expected,
        reason: Some(reason),
      },
    );
  }
  new
}

/// New expectations for a file from the outcomes of all its pages
/// (`(url_path, outcome)`), as `--update-expectations` writes them.
pub fn file_from_outcomes(
  old: &FileExpectations,
  pages: &[(String, &PageOutcome)],
) -> FileExpectations {
  let computed: Vec<(String, PageExpectations)> = pages
    .iter()
    .map(|(url, o)| (url.clone(), page_from_outcome(old.for_page(url), o)))
    .collect();
  let mut new = FileExpectations {
    disabled: old.disabled.clone(),
    ..Default::default()
  };
  let all_same = computed.windows(2).all(|w| w[0].1.same_statuses(&w[1].1));
  if all_same {
    if let Some((_, first)) = computed.into_iter().next() {
      new.base = first;
    }
  } else {
    for (url, page) in computed {
      new.variants.insert(url, page);
    }
  }
  new
}

/// Writes (or, when everything is expected to pass, removes) the file.
/// Returns true if the file changed.
pub fn write(dir: &Path, test_path: &str, exp: &FileExpectations) -> Result<bool> {
  let path = expectation_path(dir, test_path);
  if exp.is_default() {
    return match std::fs::remove_file(&path) {
      Ok(()) => Ok(true),
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
      Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    };
  }
  let mut text = serde_json::to_string_pretty(exp)?;
  text.push('\n');
  if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
    return Ok(false);
  }
  if let Some(parent) = path.parent() {
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
  }
  std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
  Ok(true)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::app::wpt::results::SubtestResult;
  use std::time::Duration;

  fn outcome(harness: &str, subs: &[(&str, &str)]) -> PageOutcome {
    PageOutcome {
      harness_status: harness.into(),
      message: None,
      subtests: subs
        .iter()
        .map(|(n, s)| SubtestResult {
          name: n.to_string(),
          status: s.to_string(),
          message: Some("m".into()),
          stack: None,
        })
        .collect(),
      duration: Duration::from_millis(1),
    }
  }

  #[test]
  fn parse_and_compare() {
    let exp: FileExpectations = serde_json::from_str(
      r#"{"harness":"OK","subtests":{"b":{"expected":"FAIL","reason":"upstream bug"},
          "c":{"expected":["PASS","TIMEOUT"],"reason":"flaky"},"gone":{"expected":"FAIL"}}}"#,
    )
    .unwrap();
    let page = exp.for_page("/x.window.html");
    let c = compare(
      page,
      &outcome("OK", &[("a", "PASS"), ("b", "FAIL"), ("c", "TIMEOUT")]),
    );
    assert!(c.ok());
    assert_eq!((c.expected_count, c.expected_failures), (3, 2));
    assert_eq!(c.missing, vec!["gone"]);
    let c = compare(page, &outcome("ERROR", &[("a", "FAIL"), ("b", "PASS")]));
    assert_eq!(c.unexpected.len(), 3);
    assert_eq!(c.unexpected[0].subtest, None);
    assert_eq!(c.unexpected[1].expected, Expected::one("PASS"));
    assert_eq!(c.unexpected[2].expected, Expected::one("FAIL"));
    // Default expectations: harness OK, every subtest PASS.
    let d = FileExpectations::default();
    assert!(compare(d.for_page("/y"), &outcome("OK", &[("a", "PASS")])).ok());
    assert!(!compare(d.for_page("/y"), &outcome("TIMEOUT", &[])).ok());
  }

  #[test]
  fn update_keeps_reasons_and_splits_variants() {
    let dir = tempfile::tempdir().unwrap();
    let tp = "bf/x.https.any.js";
    let old: FileExpectations = serde_json::from_str(
      r#"{"subtests":{"b":{"expected":"FAIL","reason":"known"},"c":{"expected":"FAIL","reason":"fixed now"}}}"#,
    )
    .unwrap();
    let w = outcome(
      "OK",
      &[
        ("a", "PASS"),
        ("b", "TIMEOUT"),
        ("c", "PASS"),
        ("d", "FAIL"),
      ],
    );
    let new = file_from_outcomes(&old, &[("/bf/x.https.any.html".into(), &w)]);
    assert_eq!(new.base.subtests.len(), 2);
    assert_eq!(new.base.subtests["b"].expected, Expected::one("TIMEOUT"));
    assert_eq!(new.base.subtests["b"].reason.as_deref(), Some("known"));
    assert_eq!(new.base.subtests["d"].reason.as_deref(), Some(TODO_REASON));
    assert!(write(dir.path(), tp, &new).unwrap());
    assert!(!write(dir.path(), tp, &new).unwrap());
    let text = std::fs::read_to_string(expectation_path(dir.path(), tp)).unwrap();
    assert!(text.contains("\"harness\": \"OK\""), "{text}");
    assert_eq!(load(dir.path(), tp).unwrap(), new);

    let sw = outcome("ERROR", &[]);
    let new2 = file_from_outcomes(
      &new,
      &[
        ("/bf/x.https.any.html".into(), &w),
        ("/bf/x.https.any.serviceworker.html".into(), &sw),
      ],
    );
    assert!(new2.base.is_default());
    assert_eq!(new2.variants.len(), 2);
    assert_eq!(
      new2.variants["/bf/x.https.any.serviceworker.html"].harness,
      Expected::one("ERROR")
    );
    assert_eq!(
      new2.variants["/bf/x.https.any.html"].subtests["b"]
        .reason
        .as_deref(),
      Some("known")
    );
    write(dir.path(), tp, &new2).unwrap();
    let back = load(dir.path(), tp).unwrap();
    assert!(compare(back.for_page("/bf/x.https.any.serviceworker.html"), &sw).ok());
    assert!(compare(back.for_page("/bf/x.https.any.html"), &w).ok());

    // All passing → file removed.
    let pass = outcome("OK", &[("a", "PASS")]);
    let new3 = file_from_outcomes(&back, &[("/bf/x.https.any.html".into(), &pass)]);
    assert!(new3.is_default());
    assert!(write(dir.path(), tp, &new3).unwrap());
    assert!(!expectation_path(dir.path(), tp).exists());
    assert_eq!(load(dir.path(), tp).unwrap(), FileExpectations::default());
  }
}
