//! `swharness wpt`: runs web-platform-tests testharness files against
//! swharness, served by the real WPT server (`wptserve`).
//!
//! - [`manifest`]: finds tests and turns each into pages ([`TestPage`]).
//! - [`server`]: starts `wptserve` with wpt's hosts, ports and TLS (its
//!   certificates: `certs`).
//! - [`runner`]: runs the pages through a [`PageExecutor`].
//! - [`expectations`], [`report`], [`results`]: expected results, output.
//! - [`chromium`], [`compare`]: the same pages in headless Chromium, and the
//!   table of where the two differ.

mod certs;
pub mod chromium;
pub mod compare;
pub mod discover;
pub mod executor;
pub mod expectations;
mod html_scan;
pub mod manifest;
pub mod report;
pub mod results;
pub mod runner;
pub mod server;

use std::path::PathBuf;

pub use executor::EngineExecutor;
pub use expectations::{Comparison, Expected, FileExpectations, PageExpectations, Unexpected};
pub use manifest::{PageKind, Scheme, ScriptStep, SkippedVariant, TestFile, TestPage};
pub use results::{PageOutcome, SubtestResult};
pub use runner::{run, run_collect, PageExecutor, PageRun, RunSummary, WptOptions};
pub use server::{ServerInfo, ServerOptions, WptServer};

/// The last `n` lines of a log file ("" if it cannot be read), for an
/// error message about the program that wrote it.
pub(crate) fn log_tail(path: &std::path::Path, n: usize) -> String {
  let text = std::fs::read_to_string(path).unwrap_or_default();
  let lines: Vec<&str> = text.lines().collect();
  lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Default WPT root: `$SWHARNESS_WPT_ROOT` or `./.wpt-deps/wpt`.
pub fn default_wpt_root() -> PathBuf {
  std::env::var_os("SWHARNESS_WPT_ROOT")
    .map(PathBuf::from)
    .unwrap_or_else(|| PathBuf::from(".wpt-deps/wpt"))
}

/// Default harness dir: `$SWHARNESS_WPT_HARNESS_DIR`, else
/// `./.wpt-deps/node_modules/wpt-runner/testharness` when it exists.
pub fn default_harness_dir() -> Option<PathBuf> {
  if let Some(d) = std::env::var_os("SWHARNESS_WPT_HARNESS_DIR") {
    return Some(PathBuf::from(d));
  }
  let d = PathBuf::from(".wpt-deps/node_modules/wpt-runner/testharness");
  d.is_dir().then_some(d)
}

/// `swharness wpt [OPTIONS] [PATH...]`
#[derive(Debug, Clone, clap::Args)]
pub struct WptArgs {
  /// WPT checkout (or a tree laid out like one) to serve and run
  /// [default: $SWHARNESS_WPT_ROOT or ./.wpt-deps/wpt]
  #[arg(long, value_name = "DIR")]
  pub wpt_root: Option<PathBuf>,

  /// Test files or directories, relative to the WPT root (default: all)
  #[arg(value_name = "PATH")]
  pub paths: Vec<String>,

  /// Run this many pages at once
  #[arg(short = 'j', long, default_value_t = 1, value_name = "N")]
  pub jobs: usize,

  /// Run only chunk N (1-based) of --total-chunks
  #[arg(long, default_value_t = 1, value_name = "N")]
  pub this_chunk: usize,

  /// Split the sorted test files into this many chunks
  #[arg(long, default_value_t = 1, value_name = "N")]
  pub total_chunks: usize,

  /// Multiply the 10 s (60 s for timeout=long) test timeouts
  #[arg(long, default_value_t = 1.0, value_name = "X")]
  pub timeout_multiplier: f64,

  /// Write results in wptreport JSON (as wpt.fyi accepts)
  #[arg(long, value_name = "FILE")]
  pub log_wptreport: Option<PathBuf>,

  /// Rewrite the expectation files from this run's results
  #[arg(long)]
  pub update_expectations: bool,

  /// Where expectation files live [default: wpt/expectations; for
  /// --browser chromium, wpt/expectations/chromium]
  #[arg(long, value_name = "DIR")]
  pub expectations_dir: Option<PathBuf>,

  /// testharness.js, idlharness.js and webidl2 to serve under /resources/
  /// [default: $SWHARNESS_WPT_HARNESS_DIR or
  /// ./.wpt-deps/node_modules/wpt-runner/testharness if present]
  #[arg(long, value_name = "DIR")]
  pub harness_dir: Option<PathBuf>,

  /// Follow Chromium where it diverges from the spec
  #[arg(long)]
  pub chromium: bool,

  /// Run the tests in this browser: swharness, or real headless Chromium
  /// driven over the DevTools protocol
  #[arg(long, value_enum, default_value_t = BrowserName::Swharness, value_name = "NAME")]
  pub browser: BrowserName,

  /// Run the tests in swharness and in this browser, then print the
  /// subtests whose outcomes differ (the exit code is swharness's)
  #[arg(long, value_enum, value_name = "NAME", conflicts_with = "browser")]
  pub compare: Option<OtherBrowser>,

  /// The Chromium binary [default: chromium, chromium-browser or
  /// google-chrome on PATH]
  #[arg(long, value_name = "PATH")]
  pub chromium_binary: Option<PathBuf>,

  /// Print the pages' console output
  #[arg(short, long)]
  pub verbose: bool,

  /// Write each page's trace (as `run --trace` does) into DIR
  #[arg(long, value_name = "DIR")]
  pub trace_dir: Option<PathBuf>,
}

/// `--browser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BrowserName {
  Swharness,
  Chromium,
}

/// `--compare`: the browser set beside swharness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OtherBrowser {
  Chromium,
}

impl WptArgs {
  /// Runs the tests; the process exit code: 0 when every result was
  /// expected, 1 otherwise, 2 when the run could not be made. With
  /// `--compare`, the code is swharness's run's.
  pub async fn run(self) -> i32 {
    match self.run_inner().await {
      Ok(true) => 0,
      Ok(false) => 1,
      Err(e) => {
        eprintln!("swharness wpt: {e:#}");
        2
      }
    }
  }

  async fn run_inner(self) -> anyhow::Result<bool> {
    if self.compare.is_some() {
      return self.run_compare().await;
    }
    match self.browser {
      BrowserName::Swharness => {
        let exec = std::sync::Arc::new(self.engine_executor());
        run(self.into_options(), exec).await
      }
      BrowserName::Chromium => {
        let (exec, opts) = self.chromium_run()?;
        run(opts, exec).await
      }
    }
  }

  fn engine_executor(&self) -> EngineExecutor {
    EngineExecutor {
      chromium: self.chromium,
      verbose: self.verbose,
      trace_dir: self.trace_dir.clone(),
      net: std::sync::OnceLock::new(),
    }
  }

  /// The executor and options of a run in Chromium.
  fn chromium_run(
    &self,
  ) -> anyhow::Result<(std::sync::Arc<chromium::ChromiumExecutor>, WptOptions)> {
    let (exec, version) =
      chromium::ChromiumExecutor::new(self.chromium_binary.as_deref(), self.verbose)?;
    println!("wpt: {version} ({})", exec.binary.display());
    let mut opts = self.clone().into_options();
    opts.expectations_dir = self
      .expectations_dir
      .clone()
      .unwrap_or_else(|| PathBuf::from("wpt/expectations/chromium"));
    let number = version.rsplit(' ').next().unwrap_or(&version).to_string();
    opts.product = ("chromium".into(), number);
    Ok((std::sync::Arc::new(exec), opts))
  }

  /// `--compare chromium`: swharness, then Chromium, then the table.
  async fn run_compare(self) -> anyhow::Result<bool> {
    let (chromium_exec, mut theirs_opts) = self.chromium_run()?;
    theirs_opts.update_expectations = false;
    theirs_opts.details = false;
    theirs_opts.log_wptreport = self.log_wptreport.as_deref().map(chromium_report_path);
    println!("== swharness ==");
    let exec = std::sync::Arc::new(self.engine_executor());
    let ours = run_collect(self.clone().into_options(), exec).await?;
    println!("== Chromium ==");
    let theirs = run_collect(theirs_opts, chromium_exec).await?;
    let cmp = compare::compare(&ours, &theirs);
    print!("{}", compare::render(&cmp, "Chromium", &ours, &theirs));
    Ok(ours.ok)
  }

  pub fn into_options(self) -> WptOptions {
    WptOptions {
      wpt_root: self.wpt_root.unwrap_or_else(default_wpt_root),
      paths: self.paths,
      jobs: self.jobs.max(1),
      this_chunk: self.this_chunk,
      total_chunks: self.total_chunks,
      timeout_multiplier: self.timeout_multiplier,
      log_wptreport: self.log_wptreport,
      update_expectations: self.update_expectations,
      expectations_dir: self
        .expectations_dir
        .unwrap_or_else(|| PathBuf::from("wpt/expectations")),
      harness_dir: self.harness_dir.or_else(default_harness_dir),
      product: ("swharness".into(), env!("CARGO_PKG_VERSION").into()),
      details: true,
    }
  }
}

/// `r.json` → `r.chromium.json`: where `--compare` writes Chromium's report.
fn chromium_report_path(path: &std::path::Path) -> PathBuf {
  let stem = path.file_stem().unwrap_or_default().to_string_lossy();
  let name = match path.extension() {
    Some(ext) => format!("{stem}.chromium.{}", ext.to_string_lossy()),
    None => format!("{stem}.chromium"),
  };
  path.with_file_name(name)
}

#[cfg(test)]
mod tests {
  use super::*;
  use clap::Parser;

  #[derive(Parser)]
  struct Cli {
    #[command(flatten)]
    wpt: WptArgs,
  }

  #[test]
  fn args_parse() {
    let cli = Cli::parse_from([
      "x",
      "--wpt-root",
      "/w",
      "-j",
      "4",
      "--this-chunk",
      "2",
      "--total-chunks",
      "3",
      "--timeout-multiplier",
      "2.5",
      "--log-wptreport",
      "r.json",
      "--update-expectations",
      "background-fetch",
      "foo/bar.any.js",
    ]);
    let o = cli.wpt.into_options();
    assert_eq!(o.wpt_root, PathBuf::from("/w"));
    assert_eq!(o.paths, vec!["background-fetch", "foo/bar.any.js"]);
    assert_eq!((o.jobs, o.this_chunk, o.total_chunks), (4, 2, 3));
    assert_eq!(o.timeout_multiplier, 2.5);
    assert!(o.update_expectations);
    assert_eq!(o.expectations_dir, PathBuf::from("wpt/expectations"));
  }
}
