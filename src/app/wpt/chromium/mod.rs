//! `swharness wpt --browser chromium`: the same pages, served by the same
//! wptserve, run in real headless Chromium driven over the DevTools protocol.
//!
//! - [`launch`]: finding the binary, its flags, one browser per page.
//! - [`ChromiumExecutor`]: a [`PageExecutor`] that loads the page's URL
//!   (wptserve's own `.window.html`/`.any.html` wrappers) and collects the
//!   report through the same `testharnessreport.js` hook as swharness:
//!   `__swharnessWptReport` is a DevTools binding here.
//! - `wpt/support/chromium-control.js`: the `swharness` control object in
//!   Chromium (permissions through `Browser.setPermission`; the rest
//!   PRECONDITION_FAILED).

pub mod launch;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use chromiumoxide::cdp::browser_protocol::browser::{
  PermissionDescriptor, PermissionSetting, SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
  SetPermissionParams,
};
use chromiumoxide::cdp::browser_protocol::log::EventEntryAdded;
use chromiumoxide::cdp::browser_protocol::page::{
  AddScriptToEvaluateOnNewDocumentParams, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::target::SetAutoAttachParams;
use chromiumoxide::cdp::js_protocol::runtime::{
  AddBindingParams, EvaluateParams, EventBindingCalled, EventConsoleApiCalled, EventExceptionThrown,
};
use futures::StreamExt;
use serde::Deserialize;

use super::executor::{outcome_of, REPORT_GRACE};
use super::results::PageOutcome;
use super::runner::{PageExecutor, PageRun};
use launch::Chromium;

/// The `swharness` object of a Chromium page.
const CONTROL_JS: &str = include_str!("../../../../wpt/support/chromium-control.js");
/// The binding testharnessreport.js calls with its JSON report.
const REPORT_BINDING: &str = "__swharnessWptReport";
/// The binding chromium-control.js calls for DevTools commands.
const CDP_BINDING: &str = "__swharnessCdp";

/// The prefix of the PRECONDITION_FAILED message chromium-control.js gives.
pub const CONTROL_UNSUPPORTED: &str = "the swharness control object's ";

/// Runs each page in its own headless Chromium.
pub struct ChromiumExecutor {
  pub binary: PathBuf,
  /// Echo the pages' console output.
  pub verbose: bool,
}

impl ChromiumExecutor {
  /// Finds the binary (see [`launch::find_binary`]) and says which it is.
  pub fn new(binary: Option<&std::path::Path>, verbose: bool) -> Result<(Self, String)> {
    let binary = launch::find_binary(binary)?;
    let version = launch::version(&binary)?;
    Ok((ChromiumExecutor { binary, verbose }, version))
  }
}

impl PageExecutor for ChromiumExecutor {
  fn run_page(&self, run: PageRun) -> Pin<Box<dyn Future<Output = PageOutcome> + Send>> {
    let (binary, verbose) = (self.binary.clone(), self.verbose);
    Box::pin(async move {
      let t0 = Instant::now();
      let chromium = match Chromium::launch(&binary, &run.server_info).await {
        Ok(c) => c,
        Err(e) => return PageOutcome::crash(format!("{e:#}"), t0.elapsed()),
      };
      let outcome = match run_page(&chromium, &run, verbose, t0).await {
        Ok(o) => o,
        Err(e) => PageOutcome::crash(
          format!("{e:#}\nChromium's output:\n{}", chromium.log_tail()),
          t0.elapsed(),
        ),
      };
      chromium.close().await;
      outcome
    })
  }
}

/// A call from chromium-control.js.
#[derive(Deserialize)]
struct CdpCall {
  id: u64,
  op: String,
  #[serde(default)]
  args: serde_json::Value,
}

async fn run_page(
  chromium: &Chromium,
  run: &PageRun,
  verbose: bool,
  t0: Instant,
) -> Result<PageOutcome> {
  let downloads = SetDownloadBehaviorParams::builder()
    .behavior(SetDownloadBehaviorBehavior::Allow)
    .download_path(chromium.downloads_dir().display().to_string())
    .build()
    .map_err(|e| anyhow!(e))?;
  chromium.browser.execute(downloads).await?;
  let page = chromium
    .browser
    .new_page("about:blank")
    .await
    .context("opening a tab")?;
  // chromiumoxide auto-attaches to the tab's workers paused
  // (waitForDebuggerOnStart) and resumes them itself, which at times leaves
  // a service worker paused and its register() pending forever. The tests
  // need no worker sessions: let them start on their own.
  let no_attach = SetAutoAttachParams::builder()
    .auto_attach(false)
    .wait_for_debugger_on_start(false)
    .flatten(true)
    .build()
    .map_err(|e| anyhow!(e))?;
  page.execute(no_attach).await?;
  let mut bindings = page.event_listener::<EventBindingCalled>().await?;
  let mut console = page.event_listener::<EventConsoleApiCalled>().await?;
  let mut exceptions = page.event_listener::<EventExceptionThrown>().await?;
  // The browser's own messages (CORS, CSP, network errors).
  let mut log = page.event_listener::<EventEntryAdded>().await?;
  page.execute(AddBindingParams::new(REPORT_BINDING)).await?;
  page.execute(AddBindingParams::new(CDP_BINDING)).await?;
  page
    .execute(AddScriptToEvaluateOnNewDocumentParams::new(CONTROL_JS))
    .await?;
  let nav = page
    .execute(NavigateParams::new(run.url.as_str()))
    .await
    .with_context(|| format!("navigating to {}", run.url))?;
  if let Some(err) = &nav.result.error_text {
    return Ok(PageOutcome::error(
      format!("navigating to {} failed: {err}", run.url),
      t0.elapsed(),
    ));
  }
  let origin = run.url.origin().ascii_serialization();
  let deadline = tokio::time::sleep(run.timeout);
  tokio::pin!(deadline);
  let mut timed_out = false;
  loop {
    tokio::select! {
      Some(call) = bindings.next() => {
        if call.name == REPORT_BINDING {
          return Ok(outcome_of(&call.payload, t0.elapsed()));
        }
        if call.name == CDP_BINDING {
          let (id, error) = match serde_json::from_str::<CdpCall>(&call.payload) {
            Ok(c) => (c.id, cdp_call(chromium, &origin, &c).await.err()),
            Err(e) => (0, Some(anyhow!("bad call {:?}: {e}", call.payload))),
          };
          let error = error.map(|e| format!("{e:#}"));
          let js = format!(
            "globalThis.__swharnessCdpDone?.({id}, {})",
            serde_json::to_string(&error)?
          );
          // In the context that called (not chromiumoxide's idea of the
          // frame's current one, which may still be about:blank's).
          let eval = EvaluateParams::builder()
            .expression(js)
            .context_id(call.execution_context_id)
            .build()
            .map_err(|e| anyhow!(e))?;
          page.execute(eval).await?;
        }
      }
      Some(msg) = console.next(), if verbose => {
        let text: Vec<String> = msg.args.iter().map(|a| {
          a.value.as_ref().map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
          }).or_else(|| a.description.clone()).unwrap_or_default()
        }).collect();
        eprintln!("[chromium console.{:?}] {}", msg.r#type, text.join(" "));
      }
      Some(e) = log.next(), if verbose => {
        eprintln!("[chromium {:?}] {}", e.entry.level, e.entry.text);
      }
      Some(e) = exceptions.next(), if verbose => {
        let d = &e.exception_details;
        let text = d.exception.as_ref().and_then(|x| x.description.clone()).unwrap_or_else(|| d.text.clone());
        eprintln!("[chromium uncaught] {text}");
      }
      _ = &mut deadline => {
        if timed_out {
          return Ok(PageOutcome::timeout(
            format!("no report {} s after the page timed out", REPORT_GRACE.as_secs()),
            t0.elapsed(),
          ));
        }
        // testharness.js times out what is left and still reports.
        timed_out = true;
        deadline.as_mut().reset(tokio::time::Instant::now() + REPORT_GRACE);
        // No context id: the main frame's current document. A page that
        // does not answer (a busy main thread) gets no more than the grace.
        let _ = tokio::time::timeout(
          REPORT_GRACE,
          page.execute(EvaluateParams::new("globalThis.__swharnessWptTimeout?.()")),
        )
        .await;
      }
    }
  }
}

/// Carries out one call of chromium-control.js.
async fn cdp_call(chromium: &Chromium, origin: &str, call: &CdpCall) -> Result<()> {
  match call.op.as_str() {
    "setPermission" => {
      let name = call.args["name"].as_str().unwrap_or_default();
      let state = call.args["state"].as_str().unwrap_or_default();
      let setting: PermissionSetting = state
        .parse()
        .map_err(|s| anyhow!("unknown permission state {s:?}"))?;
      let mut params = SetPermissionParams::new(PermissionDescriptor::new(name), setting);
      params.origin = Some(origin.to_string());
      chromium
        .browser
        .execute(params)
        .await
        .with_context(|| format!("Browser.setPermission({name}, {state})"))?;
      Ok(())
    }
    op => Err(anyhow!("unknown operation {op:?}")),
  }
}
