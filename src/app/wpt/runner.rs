//! `swharness wpt`: discovery, sharding, the server, running pages through a
//! [`PageExecutor`], expectations and reports.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::sync::Semaphore;

use super::discover;
use super::expectations::{self, FileExpectations};
use super::manifest::{PageKind, TestFile, TestPage};
use super::report::{self, ReportResult, Totals};
use super::results::PageOutcome;
use super::server::{ServerInfo, ServerOptions, WptServer};

#[derive(Debug, Clone)]
pub struct WptOptions {
  pub wpt_root: PathBuf,
  /// Root-relative test paths or directories (empty: everything).
  pub paths: Vec<String>,
  pub jobs: usize,
  /// 1-based.
  pub this_chunk: usize,
  pub total_chunks: usize,
  pub timeout_multiplier: f64,
  pub log_wptreport: Option<PathBuf>,
  pub update_expectations: bool,
  pub expectations_dir: PathBuf,
  /// testharness.js & co. to serve under /resources/ (npm wpt-runner's
  /// `testharness/`); `None` serves the WPT root's own.
  pub harness_dir: Option<PathBuf>,
  /// The wptreport's product and version ("swharness", "0.1.0").
  pub product: (String, String),
  /// List each page's unexpected results under its line (`--compare`
  /// leaves them to its table for the other browser).
  pub details: bool,
}

impl WptOptions {
  pub fn new(wpt_root: impl Into<PathBuf>) -> Self {
    WptOptions {
      wpt_root: wpt_root.into(),
      paths: Vec::new(),
      jobs: 1,
      this_chunk: 1,
      total_chunks: 1,
      timeout_multiplier: 1.0,
      log_wptreport: None,
      update_expectations: false,
      expectations_dir: PathBuf::from("wpt/expectations"),
      harness_dir: None,
      product: ("swharness".into(), env!("CARGO_PKG_VERSION").into()),
      details: true,
    }
  }
}

/// One page to run.
#[derive(Debug, Clone)]
pub struct PageRun {
  /// `https://web-platform.test:PORT/background-fetch/get.https.window.html`.
  pub url: url::Url,
  pub kind: PageKind,
  /// Harness timeout with `--timeout-multiplier` applied. At the deadline
  /// call `__swharnessWptTimeout()` in the page and collect the report.
  pub timeout: Duration,
  /// The scripts to run in order, as full URLs on the page's origin.
  pub scripts: Vec<url::Url>,
  pub page: TestPage,
  pub server_info: ServerInfo,
}

/// Runs a page in the engine and reports its testharness results.
pub trait PageExecutor: Send + Sync {
  fn run_page(&self, page: PageRun) -> Pin<Box<dyn Future<Output = PageOutcome> + Send>>;
}

/// Extra time the runner gives an executor past the page's timeout before
/// it gives up on it (and records a harness TIMEOUT).
fn grace(timeout: Duration) -> Duration {
  Duration::from_secs(10).max(timeout / 2)
}

/// Files of chunk `this` (1-based) of `total`: sorted by path, every file
/// whose index % total == this - 1.
pub fn chunk(mut files: Vec<TestFile>, this: usize, total: usize) -> Result<Vec<TestFile>> {
  if total == 0 || this == 0 || this > total {
    bail!("--this-chunk must be between 1 and --total-chunks ({this} of {total})");
  }
  files.sort_by(|a, b| a.path.cmp(&b.path));
  Ok(
    files
      .into_iter()
      .enumerate()
      .filter(|(i, _)| i % total == this - 1)
      .map(|(_, f)| f)
      .collect(),
  )
}

struct Job {
  file_index: usize,
  page: TestPage,
  label: String,
}

/// What a run gave, page by page, in test order.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
  /// No unexpected results.
  pub ok: bool,
  /// (test file path, page URL path, outcome); pages that did not run
  /// (disabled files) are left out.
  pub pages: Vec<(String, String, PageOutcome)>,
  pub wall: Duration,
}

/// Runs the tests; returns true if there were no unexpected results.
pub async fn run(opts: WptOptions, exec: Arc<dyn PageExecutor>) -> Result<bool> {
  Ok(run_collect(opts, exec).await?.ok)
}

/// Runs the tests and returns every page's outcome.
pub async fn run_collect(opts: WptOptions, exec: Arc<dyn PageExecutor>) -> Result<RunSummary> {
  let started = Instant::now();
  let time_start = report::now_ms();
  let files = discover::discover(&opts.wpt_root, &opts.paths)?;
  let files = chunk(files, opts.this_chunk, opts.total_chunks)?;

  let mut exps: Vec<FileExpectations> = Vec::with_capacity(files.len());
  for f in &files {
    exps.push(expectations::load(&opts.expectations_dir, &f.path)?);
  }

  let mut totals = Totals::default();
  let mut report_results: Vec<ReportResult> = Vec::new();
  let mut jobs = Vec::new();
  for (i, f) in files.iter().enumerate() {
    totals.skipped_pages += f.skipped.len();
    if let Some(reason) = &exps[i].disabled {
      println!("SKIP  {}  (disabled: {reason})", f.path);
      totals.skipped_pages += f.pages.len();
      for p in &f.pages {
        report_results.push(ReportResult::skipped(&p.url_path, reason));
      }
      continue;
    }
    totals.files += 1;
    let several = f.pages.len() > 1;
    for p in &f.pages {
      jobs.push(Job {
        file_index: i,
        page: p.clone(),
        label: report::page_label(p, several),
      });
    }
  }

  if jobs.is_empty() {
    println!("wpt: no tests to run under {}", opts.wpt_root.display());
    println!("{}", report::summary(&totals, started.elapsed()));
    return Ok(RunSummary {
      ok: true,
      pages: Vec::new(),
      wall: started.elapsed(),
    });
  }

  let mut server_opts = ServerOptions::new(&opts.wpt_root);
  server_opts.harness_dir = opts.harness_dir.clone();
  let server = WptServer::start(server_opts)
    .await
    .context("starting the WPT server")?;
  let info = server.info();

  let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
  let mut set = tokio::task::JoinSet::new();
  let multiplier = if opts.timeout_multiplier > 0.0 {
    opts.timeout_multiplier
  } else {
    1.0
  };
  for (job_index, job) in jobs.iter().enumerate() {
    let page = &job.page;
    let origin_url = info.url(page.scheme, &page.url_path)?;
    let scripts = page
      .scripts
      .iter()
      .map(|s| {
        origin_url
          .join(s)
          .with_context(|| format!("bad script URL {s}"))
      })
      .collect::<Result<Vec<_>>>()?;
    let run = PageRun {
      url: origin_url,
      kind: page.kind,
      timeout: page.timeout.mul_f64(multiplier),
      scripts,
      page: page.clone(),
      server_info: info.clone(),
    };
    let sem = sem.clone();
    let exec = exec.clone();
    set.spawn(async move {
      let _permit = sem.acquire_owned().await.expect("semaphore");
      let t0 = Instant::now();
      let limit = run.timeout + grace(run.timeout);
      let outcome = match tokio::time::timeout(limit, exec.run_page(run)).await {
        Ok(o) => o,
        Err(_) => PageOutcome::timeout(
          format!(
            "the executor did not report within {} ms",
            limit.as_millis()
          ),
          t0.elapsed(),
        ),
      };
      (job_index, outcome)
    });
  }

  let mut outcomes: Vec<Option<PageOutcome>> = vec![None; jobs.len()];
  while let Some(joined) = set.join_next().await {
    let (job_index, outcome) = match joined {
      Ok(r) => r,
      Err(e) => bail!("a page task failed: {e}"),
    };
    let job = &jobs[job_index];
    let exp = exps[job.file_index].for_page(&job.page.url_path);
    let cmp = expectations::compare(exp, &outcome);
    let lines = report::console_lines(&job.label, &outcome, &cmp);
    match lines.split_once('\n') {
      Some((first, _)) if !opts.details => println!("{first}"),
      _ => println!("{lines}"),
    }
    totals.add(&outcome, &cmp);
    outcomes[job_index] = Some(outcome);
  }
  drop(server);

  // Reports and expectations, in test order.
  for (job, outcome) in jobs.iter().zip(&outcomes) {
    let outcome = outcome.as_ref().expect("every job finished");
    let exp = exps[job.file_index].for_page(&job.page.url_path);
    report_results.push(ReportResult::from_outcome(&job.page.url_path, outcome, exp));
  }
  if let Some(path) = &opts.log_wptreport {
    report_results.sort_by(|a, b| a.test.cmp(&b.test));
    let info = report::run_info_for(&opts.product.0, &opts.product.1);
    report::write_wptreport(path, info, time_start, report::now_ms(), &report_results)?;
    println!("wpt: wrote {}", path.display());
  }
  if opts.update_expectations {
    let mut changed = 0;
    for (i, f) in files.iter().enumerate() {
      if exps[i].disabled.is_some() {
        continue;
      }
      let pages: Vec<(String, &PageOutcome)> = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(j, _)| j.file_index == i)
        .map(|(j, o)| (j.page.url_path.clone(), o.as_ref().expect("finished")))
        .collect();
      if pages.is_empty() {
        continue;
      }
      let new = expectations::file_from_outcomes(&exps[i], &pages);
      if expectations::write(&opts.expectations_dir, &f.path, &new)? {
        changed += 1;
        println!(
          "wpt: updated {}",
          expectations::expectation_path(&opts.expectations_dir, &f.path).display()
        );
      }
    }
    println!(
      "wpt: {changed} expectation files changed in {}",
      opts.expectations_dir.display()
    );
  }
  println!("{}", report::summary(&totals, started.elapsed()));
  let pages = jobs
    .iter()
    .zip(outcomes)
    .map(|(job, o)| {
      let path = files[job.file_index].path.clone();
      (path, job.page.url_path.clone(), o.expect("finished"))
    })
    .collect();
  Ok(RunSummary {
    ok: totals.unexpected == 0,
    pages,
    wall: started.elapsed(),
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn file(path: &str) -> TestFile {
    TestFile {
      path: path.into(),
      pages: Vec::new(),
      skipped: Vec::new(),
    }
  }

  #[test]
  fn chunking() {
    let files = vec![file("d"), file("a"), file("c"), file("b"), file("e")];
    let names = |v: Vec<TestFile>| v.into_iter().map(|f| f.path).collect::<Vec<_>>();
    assert_eq!(
      names(chunk(files.clone(), 1, 2).unwrap()),
      vec!["a", "c", "e"]
    );
    assert_eq!(names(chunk(files.clone(), 2, 2).unwrap()), vec!["b", "d"]);
    assert_eq!(names(chunk(files.clone(), 1, 1).unwrap()).len(), 5);
    assert!(chunk(files.clone(), 3, 2).is_err());
    assert!(chunk(files, 0, 2).is_err());
  }
}

/// The runner against the real server, with a stub executor.
#[cfg(test)]
mod live_tests {
  use super::*;
  use crate::app::wpt::results::SubtestResult;
  use crate::app::wpt::server::live_tests::{curl, write_tree};
  use std::sync::Mutex;

  /// Fetches every script of the page (checking the server, host overrides
  /// and TLS), then answers with canned results per URL path.
  struct Stub {
    seen: Mutex<Vec<PageRun>>,
  }

  impl PageExecutor for Stub {
    fn run_page(&self, page: PageRun) -> Pin<Box<dyn Future<Output = PageOutcome> + Send>> {
      self.seen.lock().unwrap().push(page.clone());
      Box::pin(async move {
        let t0 = Instant::now();
        let p = page.clone();
        let fetched = tokio::task::spawn_blocking(move || {
          let mut codes = vec![curl(&p.server_info, &p.url).0];
          for s in &p.scripts {
            codes.push(curl(&p.server_info, s).0);
          }
          codes
        })
        .await
        .unwrap();
        if fetched.iter().any(|c| *c != 200) {
          return PageOutcome::error(format!("fetch failed: {fetched:?}"), t0.elapsed());
        }
        let sub = |n: &str, s: &str| SubtestResult {
          name: n.into(),
          status: s.into(),
          message: None,
          stack: None,
        };
        let path = page.url.path().to_string();
        let json = if path.ends_with("a.https.window.html") {
          r#"{"status":0,"message":null,"tests":[{"name":"one","status":0},{"name":"two","status":1,"message":"assert_true: nope"}]}"#
        } else if path.ends_with("b.any.html") {
          r#"{"status":0,"tests":[{"name":"x","status":0}]}"#
        } else if path.ends_with("b.any.serviceworker.html") {
          return PageOutcome {
            harness_status: "TIMEOUT".into(),
            message: None,
            subtests: vec![sub("x", "TIMEOUT")],
            duration: t0.elapsed(),
          };
        } else {
          r#"{"status":0,"tests":[{"name":"z","status":0}]}"#
        };
        PageOutcome::from_report_json(json, t0.elapsed()).unwrap()
      })
    }
  }

  #[tokio::test]
  async fn runs_with_expectations_and_reports() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write_tree(
      root.path(),
      &[
        ("resources/testharness.js", "//"),
        ("common/info.sub.js", "var P='{{ports[https][0]}}';"),
        (
          "t/a.https.window.js",
          "// META: script=/common/info.sub.js\n// META: timeout=long\n",
        ),
        ("t/b.any.js", "// META: global=window,serviceworker\n"),
        ("t/c.window.js", ""),
        ("t/d.window.js", ""),
      ],
    );
    let exp_dir = work.path().join("expectations");
    write_tree(
      &exp_dir,
      &[(
        "t/d.window.js.json",
        r#"{"disabled": "crashes the engine"}"#,
      )],
    );
    let stub = Arc::new(Stub {
      seen: Mutex::new(Vec::new()),
    });
    let mut opts = WptOptions::new(root.path());
    opts.jobs = 3;
    opts.expectations_dir = exp_dir.clone();
    opts.log_wptreport = Some(work.path().join("out/report.json"));
    opts.timeout_multiplier = 2.0;

    // No expectations yet: `two` and the service-worker page are unexpected.
    assert!(!run(opts.clone(), stub.clone()).await.unwrap());
    {
      let seen = stub.seen.lock().unwrap();
      assert_eq!(seen.len(), 4);
      let a = seen
        .iter()
        .find(|p| p.url.path() == "/t/a.https.window.html")
        .unwrap();
      assert_eq!(a.url.scheme(), "https");
      assert_eq!(a.url.host_str(), Some("web-platform.test"));
      assert_eq!(a.timeout, Duration::from_secs(120));
      assert_eq!(a.scripts.last().unwrap().path(), "/t/a.https.window.js");
      let sw = seen
        .iter()
        .find(|p| p.kind == PageKind::ServiceWorker)
        .unwrap();
      assert_eq!(sw.url.scheme(), "https");
      assert_eq!(sw.page.worker_script.as_deref(), Some("/t/b.any.worker.js"));
    }
    let report: serde_json::Value =
      serde_json::from_str(&std::fs::read_to_string(work.path().join("out/report.json")).unwrap())
        .unwrap();
    let tests: Vec<&str> = report["results"]
      .as_array()
      .unwrap()
      .iter()
      .map(|r| r["test"].as_str().unwrap())
      .collect();
    assert_eq!(
      tests,
      vec![
        "/t/a.https.window.html",
        "/t/b.any.html",
        "/t/b.any.serviceworker.html",
        "/t/c.window.html",
        "/t/d.window.html"
      ]
    );
    assert_eq!(report["results"][0]["subtests"][1]["expected"], "PASS");
    assert_eq!(report["results"][2]["status"], "TIMEOUT");
    assert_eq!(report["results"][2]["expected"], "OK");
    assert_eq!(report["results"][4]["status"], "SKIP");

    // Record the failures, then the same results are expected.
    let mut update = opts.clone();
    update.update_expectations = true;
    assert!(!run(update, stub.clone()).await.unwrap());
    let b: FileExpectations =
      serde_json::from_str(&std::fs::read_to_string(exp_dir.join("t/b.any.js.json")).unwrap())
        .unwrap();
    assert_eq!(
      b.variants["/t/b.any.serviceworker.html"].harness,
      expectations::Expected::one("TIMEOUT")
    );
    let a = std::fs::read_to_string(exp_dir.join("t/a.https.window.js.json")).unwrap();
    assert!(a.contains("\"two\"") && a.contains("TODO: explain"), "{a}");
    assert!(exp_dir.join("t/d.window.js.json").exists());
    assert!(!exp_dir.join("t/c.window.js.json").exists());
    assert!(run(opts.clone(), stub.clone()).await.unwrap());

    // Sharding: chunk 2 of 2 of [a, b, c, d] is [b, d].
    let mut shard = opts.clone();
    shard.this_chunk = 2;
    shard.total_chunks = 2;
    stub.seen.lock().unwrap().clear();
    assert!(run(shard, stub.clone()).await.unwrap());
    let seen: Vec<String> = stub
      .seen
      .lock()
      .unwrap()
      .iter()
      .map(|p| p.page.test_path.clone())
      .collect();
    assert_eq!(seen, vec!["t/b.any.js", "t/b.any.js"]);
  }
}
