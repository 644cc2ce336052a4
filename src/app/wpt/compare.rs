//! `swharness wpt --compare chromium`: the subtests whose outcomes differ
//! between two runs of the same files, and a summary line per file.
//!
//! A subtest that needs the swharness control object (offline, click,
//! cancel, the UI state) reports PRECONDITION_FAILED in Chromium with
//! [`CONTROL_UNSUPPORTED`] in its message; it is counted apart, not as a
//! difference. A page's harness status is compared as the subtest
//! `(harness)`.

use std::collections::BTreeMap;

use super::chromium::CONTROL_UNSUPPORTED;
use super::results::PageOutcome;
use super::runner::RunSummary;

/// One subtest (or a page's harness status) as each side saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
  pub page: String,
  /// `(harness)` for the page's harness status.
  pub subtest: String,
  /// `MISSING` when that side has no such subtest.
  pub ours: (String, Option<String>),
  pub theirs: (String, Option<String>),
}

/// Per test file: how the subtests compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
  pub subtests: usize,
  pub same: usize,
  pub differ: usize,
  /// Needs the swharness control object (not run in Chromium).
  pub swharness_only: usize,
  /// Passed on each side.
  pub ours_pass: usize,
  pub theirs_pass: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Comparison {
  pub differences: Vec<Difference>,
  pub files: BTreeMap<String, FileSummary>,
}

type Row = (String, Option<String>);

/// The harness status then each subtest, by name.
fn rows(o: &PageOutcome) -> Vec<(String, Row)> {
  let mut v = vec![(
    "(harness)".to_string(),
    (o.harness_status.clone(), o.message.clone()),
  )];
  for s in &o.subtests {
    v.push((s.name.clone(), (s.status.clone(), s.message.clone())));
  }
  v
}

fn needs_control(row: &Row) -> bool {
  row.0 == "PRECONDITION_FAILED"
    && row
      .1
      .as_deref()
      .is_some_and(|m| m.contains(CONTROL_UNSUPPORTED))
}

/// Compares `ours` (swharness) with `theirs` (Chromium), page by page.
pub fn compare(ours: &RunSummary, theirs: &RunSummary) -> Comparison {
  let mut out = Comparison::default();
  let their_pages: BTreeMap<&str, &PageOutcome> = theirs
    .pages
    .iter()
    .map(|(_, page, o)| (page.as_str(), o))
    .collect();
  let missing = PageOutcome::error("not run", Default::default());
  for (file, page, o) in &ours.pages {
    let t = their_pages.get(page.as_str()).copied().unwrap_or(&missing);
    let summary = out.files.entry(file.clone()).or_default();
    let (ours_rows, theirs_list) = (rows(o), rows(t));
    let ours_map: BTreeMap<&String, &Row> = ours_rows.iter().map(|(n, r)| (n, r)).collect();
    let theirs_map: BTreeMap<&String, &Row> = theirs_list.iter().map(|(n, r)| (n, r)).collect();
    // Ours in their order, then the names only Chromium has.
    let names = ours_rows.iter().map(|(n, _)| n).chain(
      theirs_list
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !ours_map.contains_key(n)),
    );
    let absent: Row = ("MISSING".into(), None);
    for name in names {
      let a = ours_map.get(name).copied().unwrap_or(&absent);
      let b = theirs_map.get(name).copied().unwrap_or(&absent);
      if name != "(harness)" {
        summary.subtests += 1;
        summary.ours_pass += (a.0 == "PASS") as usize;
        summary.theirs_pass += (b.0 == "PASS") as usize;
      }
      if needs_control(b) {
        summary.swharness_only += 1;
        continue;
      }
      if a.0 == b.0 {
        if name != "(harness)" {
          summary.same += 1;
        }
        continue;
      }
      if name != "(harness)" {
        summary.differ += 1;
      }
      out.differences.push(Difference {
        page: page.clone(),
        subtest: name.clone(),
        ours: a.clone(),
        theirs: b.clone(),
      });
    }
  }
  out
}

fn one_line(s: &Option<String>, max: usize) -> String {
  let s = s.as_deref().unwrap_or("").replace('\n', " ");
  if s.chars().count() > max {
    let cut: String = s.chars().take(max - 1).collect();
    format!("{cut}…")
  } else {
    s
  }
}

/// The table for the terminal: the differing subtests, then one line per
/// file, then the totals and each side's wall time.
pub fn render(
  cmp: &Comparison,
  theirs_name: &str,
  ours: &RunSummary,
  theirs: &RunSummary,
) -> String {
  let mut out = String::new();
  let pages = cmp
    .differences
    .iter()
    .filter(|d| d.subtest == "(harness)")
    .count();
  out.push_str(&format!(
    "\n== swharness vs {theirs_name}: {} subtests and {pages} pages' harness status differ ==\n",
    cmp.differences.len() - pages
  ));
  // Per page; the subtests Chromium did not run (NOTRUN after a timeout)
  // are counted on one line.
  let mut i = 0;
  while i < cmp.differences.len() {
    let page = &cmp.differences[i].page;
    out.push_str(&format!("{page}\n"));
    let mut not_run = 0;
    while i < cmp.differences.len() && &cmp.differences[i].page == page {
      let d = &cmp.differences[i];
      i += 1;
      if d.theirs.0 == "NOTRUN" {
        not_run += 1;
        continue;
      }
      out.push_str(&format!("  {}\n", d.subtest));
      out.push_str(&format!(
        "    swharness: {:<19} {}\n",
        d.ours.0,
        one_line(&d.ours.1, 100)
      ));
      out.push_str(&format!(
        "    chromium:  {:<19} {}\n",
        d.theirs.0,
        one_line(&d.theirs.1, 100)
      ));
    }
    if not_run > 0 {
      out.push_str(&format!(
        "  ({not_run} more subtests NOTRUN in chromium, where the page ended first)\n"
      ));
    }
  }
  out.push_str(
    "\nper file: subtests, same, differ, swharness-only; passed in swharness / chromium\n",
  );
  let mut total = FileSummary::default();
  for (file, s) in &cmp.files {
    out.push_str(&format!(
      "  {file}: {} subtests, {} same, {} differ, {} swharness-only; passed {} / {}\n",
      s.subtests, s.same, s.differ, s.swharness_only, s.ours_pass, s.theirs_pass
    ));
    total.subtests += s.subtests;
    total.same += s.same;
    total.differ += s.differ;
    total.swharness_only += s.swharness_only;
    total.ours_pass += s.ours_pass;
    total.theirs_pass += s.theirs_pass;
  }
  out.push_str(&format!(
    "compare: {} files, {} subtests: {} same, {} differ, {} swharness-only; passed {} in swharness ({:.1} s), {} in {theirs_name} ({:.1} s)\n",
    cmp.files.len(),
    total.subtests,
    total.same,
    total.differ,
    total.swharness_only,
    total.ours_pass,
    ours.wall.as_secs_f64(),
    total.theirs_pass,
    theirs.wall.as_secs_f64(),
  ));
  out
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::app::wpt::results::SubtestResult;
  use std::time::Duration;

  fn page(harness: &str, subs: &[(&str, &str, &str)]) -> PageOutcome {
    PageOutcome {
      harness_status: harness.into(),
      message: None,
      subtests: subs
        .iter()
        .map(|(n, s, m)| SubtestResult {
          name: n.to_string(),
          status: s.to_string(),
          message: (!m.is_empty()).then(|| m.to_string()),
          stack: None,
        })
        .collect(),
      duration: Duration::ZERO,
    }
  }

  fn summary(pages: Vec<(&str, &str, PageOutcome)>) -> RunSummary {
    RunSummary {
      ok: true,
      pages: pages
        .into_iter()
        .map(|(f, p, o)| (f.into(), p.into(), o))
        .collect(),
      wall: Duration::from_secs(1),
    }
  }

  #[test]
  fn finds_the_differences_and_leaves_out_swharness_only_subtests() {
    let control = format!("{CONTROL_UNSUPPORTED}setOnline() runs only in swharness");
    let ours = summary(vec![
      (
        "a.window.js",
        "/a.window.html",
        page(
          "OK",
          &[
            ("same", "PASS", ""),
            ("differs", "PASS", ""),
            ("offline", "PASS", ""),
          ],
        ),
      ),
      (
        "b.window.js",
        "/b.window.html",
        page("OK", &[("x", "PASS", "")]),
      ),
    ]);
    let theirs = summary(vec![
      (
        "a.window.js",
        "/a.window.html",
        page(
          "OK",
          &[
            ("same", "PASS", ""),
            ("differs", "FAIL", "assert_equals: 1"),
            ("offline", "PRECONDITION_FAILED", &control),
            ("only-theirs", "PASS", ""),
          ],
        ),
      ),
      ("b.window.js", "/b.window.html", page("TIMEOUT", &[])),
    ]);
    let cmp = compare(&ours, &theirs);
    let rows: Vec<(&str, &str, &str, &str)> = cmp
      .differences
      .iter()
      .map(|d| {
        (
          d.page.as_str(),
          d.subtest.as_str(),
          d.ours.0.as_str(),
          d.theirs.0.as_str(),
        )
      })
      .collect();
    assert_eq!(
      rows,
      vec![
        ("/a.window.html", "differs", "PASS", "FAIL"),
        ("/a.window.html", "only-theirs", "MISSING", "PASS"),
        ("/b.window.html", "(harness)", "OK", "TIMEOUT"),
        ("/b.window.html", "x", "PASS", "MISSING"),
      ]
    );
    let a = &cmp.files["a.window.js"];
    assert_eq!(
      (a.subtests, a.same, a.differ, a.swharness_only),
      (4, 1, 2, 1)
    );
    assert_eq!((a.ours_pass, a.theirs_pass), (3, 2));
    let text = render(&cmp, "Chromium", &ours, &theirs);
    assert!(
      text.contains("3 subtests and 1 pages' harness status differ"),
      "{text}"
    );
    assert!(text.contains("assert_equals: 1"), "{text}");
  }
}
