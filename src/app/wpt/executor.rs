//! Runs a WPT page in swharness itself: a fresh browser (its own state
//! directory, the WPT hosts resolved to loopback, the runner's CA trusted)
//! with one window client at the page's URL that runs the page's scripts in
//! order. testharnessreport.js hands the results back through
//! `__swharnessWptReport`.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::manifest::{PageKind, ScriptStep};
use super::results::PageOutcome;
use super::runner::{PageExecutor, PageRun};
use crate::features::service_worker::clients::{self, ClientScript};
use crate::platform::browser::trace::Trace;
use crate::platform::browser::{Browser, BrowserOptions, PermissionState, DEFAULT_QUOTA};
use crate::platform::ipc::Evaluate;
use crate::platform::net::{Net, NetConfig};

/// How long a page gets to report after being told to time out.
pub(crate) const REPORT_GRACE: Duration = Duration::from_secs(5);

/// Runs each page in its own browser (its realms on their own threads), all
/// on the runner's runtime and one shared network stack.
pub struct EngineExecutor {
  /// Follow Chromium where it diverges from the spec (`--chromium`).
  pub chromium: bool,
  /// Echo the pages' console output.
  pub verbose: bool,
  /// Write each page's trace into this directory.
  pub trace_dir: Option<std::path::PathBuf>,
  /// Made for the first page, shared by all.
  pub net: std::sync::OnceLock<Result<Net, String>>,
}

impl PageExecutor for EngineExecutor {
  fn run_page(&self, run: PageRun) -> Pin<Box<dyn Future<Output = PageOutcome> + Send>> {
    let (chromium, verbose) = (self.chromium, self.verbose);
    let trace = self.trace_dir.as_ref().map(|d| {
      let name: String = run
        .page
        .url_path
        .trim_start_matches('/')
        .chars()
        .map(|c| {
          if c.is_ascii_alphanumeric() || c == '.' {
            c
          } else {
            '_'
          }
        })
        .collect();
      d.join(format!("{name}.jsonl"))
    });
    // One network stack for the run: its connections to the server are
    // kept and reused from page to page (no new TLS handshake per script).
    let net = self
      .net
      .get_or_init(|| network(&run))
      .as_ref()
      .map(|n| n.with_own_switch(true))
      .map_err(Clone::clone);
    Box::pin(run_page(run, net, chromium, verbose, trace))
  }
}

/// The network stack of a run: the WPT hosts resolve to the server, and
/// the runner's CA is trusted.
fn network(run: &PageRun) -> Result<Net, String> {
  let ca = std::fs::read(&run.server_info.ca_pem_path)
    .map_err(|e| format!("reading {}: {e}", run.server_info.ca_pem_path.display()))?;
  Net::new(
    NetConfig {
      resolve: run.server_info.host_overrides.clone(),
      extra_root_certs_pem: vec![ca],
      stall_timeout: Some(Duration::from_secs(60)),
    },
    true,
  )
  .map_err(|e| format!("{e:#}"))
}

async fn run_page(
  run: PageRun,
  net: Result<Net, String>,
  chromium: bool,
  verbose: bool,
  trace: Option<std::path::PathBuf>,
) -> PageOutcome {
  let t0 = Instant::now();
  let net = match net {
    Ok(net) => net,
    Err(e) => return PageOutcome::crash(e, t0.elapsed()),
  };
  match run_page_inner(run, net, chromium, verbose, trace, t0).await {
    Ok(o) => o,
    Err(e) => PageOutcome::crash(format!("{e:#}"), t0.elapsed()),
  }
}

/// The page's scripts as the window realm's `runClassicScripts` takes them.
fn page_steps(run: &PageRun) -> anyhow::Result<Vec<Value>> {
  if run.kind != PageKind::Html {
    return Ok(
      run
        .scripts
        .iter()
        .map(|u| json!({"url": u.as_str()}))
        .collect(),
    );
  }
  run
    .page
    .steps
    .iter()
    .map(|step| match step {
      ScriptStep::Url(path) => {
        let url = run
          .url
          .join(path)
          .with_context(|| format!("bad script URL {path}"))?;
        Ok(json!({"url": url.as_str()}))
      }
      ScriptStep::Inline(source) => Ok(json!({"source": source, "name": run.url.as_str()})),
    })
    .collect()
}

/// The outcome of a testharnessreport.js report (a bad one is an ERROR).
pub(crate) fn outcome_of(json: &str, elapsed: Duration) -> PageOutcome {
  PageOutcome::from_report_json(json, elapsed)
    .unwrap_or_else(|e| PageOutcome::error(format!("bad report: {e:#}"), elapsed))
}

async fn run_page_inner(
  run: PageRun,
  net: Net,
  chromium: bool,
  verbose: bool,
  trace: Option<std::path::PathBuf>,
  t0: Instant,
) -> anyhow::Result<PageOutcome> {
  let trace = match trace {
    Some(path) => {
      if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
      }
      Trace::to_file(&path).with_context(|| format!("creating {}", path.display()))?
    }
    None => Trace::disabled(),
  };
  let state = tempfile::Builder::new()
    .prefix("swharness-wpt-")
    .tempdir()?;
  let (report_tx, mut report_rx) = mpsc::unbounded_channel();
  let browser = Browser::start(
    BrowserOptions {
      state_dir: state.path().to_path_buf(),
      trace,
      net,
      // As in Chromium, where Background Fetch is allowed by default.
      permissions: vec![("background-fetch".into(), PermissionState::Granted)],
      chromium,
      quota: DEFAULT_QUOTA,
      // A page's state is thrown away: nothing needs to reach the disk.
      durability: crate::platform::browser::durability::Durability::Temporary,
      offline: false,
      page_report: Some(report_tx),
      echo_console: verbose,
    },
    |o| crate::features::install(o, &Default::default()),
  )
  .await?;
  let script = ClientScript::Page {
    title: run.page.title.clone(),
    steps: page_steps(&run)?,
    // The test page's own text is not needed by testharness.js.
    text: String::new(),
    content_type: "text/html".into(),
  };
  let client = clients::open_client(&browser, run.url.clone(), script)
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

  let outcome = tokio::select! {
    Some(json) = report_rx.recv() => outcome_of(&json, t0.elapsed()),
    _ = tokio::time::sleep(run.timeout) => {
      // testharness.js times out what is left and still reports.
      let realm = clients::realm_of(&browser, &client);
      if let Some(realm) = realm {
        browser.post(
          realm,
          &Evaluate {
            name: "swharness:wpt-timeout".into(),
            source: "globalThis.__swharnessWptTimeout?.()".into(),
          },
        );
      }
      match tokio::time::timeout(REPORT_GRACE, report_rx.recv()).await {
        Ok(Some(json)) => outcome_of(&json, t0.elapsed()),
        _ => PageOutcome::timeout(
          format!("no report {} s after the page timed out", REPORT_GRACE.as_secs()),
          t0.elapsed(),
        ),
      }
    }
  };
  browser.shutdown().await;
  Ok(outcome)
}
