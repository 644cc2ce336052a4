//! Finding and starting headless Chromium, and connecting to it over the
//! DevTools protocol (chromiumoxide).
//!
//! Each page gets its own browser: a new process group with a new profile
//! directory, so no service worker, permission or Background Fetch of one
//! page is seen by the next (as `EngineExecutor` gives each page a fresh
//! state directory). The process group is killed when [`Chromium`] drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;

use crate::app::wpt::server::ServerInfo;

/// How long Chromium gets to open its DevTools port.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The names Chromium goes by on PATH, in the order they are tried.
const NAMES: &[&str] = &[
  "chromium",
  "chromium-browser",
  "google-chrome",
  "google-chrome-stable",
];

/// The binary: `explicit` if given (it must exist), else the first of
/// [`NAMES`] on PATH.
pub fn find_binary(explicit: Option<&Path>) -> Result<PathBuf> {
  if let Some(path) = explicit {
    if path.is_file() {
      return Ok(path.to_path_buf());
    }
    bail!("--chromium-binary {}: no such file", path.display());
  }
  let path = std::env::var_os("PATH").unwrap_or_default();
  for dir in std::env::split_paths(&path) {
    for name in NAMES {
      let candidate = dir.join(name);
      if candidate.is_file() {
        return Ok(candidate);
      }
    }
  }
  bail!(
    "Chromium was not found on PATH (tried {}). Install it with `apt-get install chromium` \
     (Debian), or name the binary with --chromium-binary PATH",
    NAMES.join(", ")
  )
}

/// `chromium --version`, e.g. "Chromium 156.0.8078.114".
pub fn version(binary: &Path) -> Result<String> {
  let out = std::process::Command::new(binary)
    .arg("--version")
    .stdin(Stdio::null())
    .stderr(Stdio::null())
    .output()
    .with_context(|| format!("running {} --version", binary.display()))?;
  let text = String::from_utf8_lossy(&out.stdout);
  let line = text.lines().next().unwrap_or("").trim();
  if !out.status.success() || line.is_empty() {
    bail!("{} --version gave no version", binary.display());
  }
  // Debian's says "Chromium 156.0.8078.114 built on Debian ...".
  Ok(line.split(" built on").next().unwrap_or(line).to_string())
}

/// The command line: headless, a fresh profile, quiet (no background
/// networking, component updates, sync or QUIC), the WPT host names mapped to
/// loopback (everything else fails to resolve), and the runner's server
/// certificate trusted by its key.
pub fn args(profile: &Path, info: &ServerInfo) -> Vec<String> {
  let mut rules: Vec<String> = info
    .domains
    .iter()
    .map(|d| format!("MAP {d} 127.0.0.1"))
    .collect();
  rules.push("MAP * ~NOTFOUND".into());
  rules.push("EXCLUDE localhost".into());
  let mut args: Vec<String> = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
    "--remote-debugging-port=0",
  ]
  .iter()
  .map(|s| s.to_string())
  .collect();
  args.push(format!("--user-data-dir={}", profile.display()));
  args.push(format!("--host-resolver-rules={}", rules.join(", ")));
  args.push(format!(
    "--ignore-certificate-errors-spki-list={}",
    info.cert_spki_sha256
  ));
  // Chromium's sandbox refuses to run as root.
  // SAFETY: geteuid has no preconditions.
  if unsafe { libc::geteuid() } == 0 {
    args.push("--no-sandbox".into());
  }
  args.push("about:blank".into());
  args
}

/// A running headless Chromium, connected over the DevTools protocol.
pub struct Chromium {
  pub browser: chromiumoxide::Browser,
  child: tokio::process::Child,
  handler: tokio::task::JoinHandle<()>,
  profile: tempfile::TempDir,
}

impl Chromium {
  pub async fn launch(binary: &Path, info: &ServerInfo) -> Result<Chromium> {
    let profile = tempfile::Builder::new()
      .prefix("swharness-chromium-")
      .tempdir()?;
    let log = std::fs::File::create(profile.path().join("chromium.log"))?;
    let mut child = tokio::process::Command::new(binary)
      .args(args(&profile.path().join("profile"), info))
      .stdin(Stdio::null())
      .stdout(Stdio::null())
      .stderr(Stdio::from(log))
      .process_group(0)
      .kill_on_drop(true)
      .spawn()
      .with_context(|| format!("starting {}", binary.display()))?;
    let ws = match wait_for_port(&mut child, profile.path()).await {
      Ok(ws) => ws,
      Err(e) => {
        kill_group(&child);
        let _ = child.wait().await;
        return Err(e);
      }
    };
    let (browser, mut handler) = match chromiumoxide::Browser::connect(ws.clone()).await {
      Ok(b) => b,
      Err(e) => {
        kill_group(&child);
        let _ = child.wait().await;
        return Err(anyhow!("connecting to Chromium at {ws}: {e}"));
      }
    };
    // The handler drives the connection; messages it cannot decode (the
    // protocol of a newer Chromium) are skipped.
    let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Ok(Chromium {
      browser,
      child,
      handler,
      profile,
    })
  }

  /// Where downloads go (inside the profile's temporary directory).
  pub fn downloads_dir(&self) -> PathBuf {
    self.profile.path().join("downloads")
  }

  /// The last lines Chromium wrote to stderr.
  pub fn log_tail(&self) -> String {
    log_tail(self.profile.path())
  }

  /// Ends the browser and its children, and waits for it.
  pub async fn close(mut self) {
    kill_group(&self.child);
    let _ = self.child.wait().await;
    self.handler.abort();
  }
}

impl Drop for Chromium {
  fn drop(&mut self) {
    kill_group(&self.child);
    self.handler.abort();
  }
}

fn kill_group(child: &tokio::process::Child) {
  if let Some(pid) = child.id() {
    // SAFETY: kill(2) on our own process group (made with process_group(0)).
    unsafe {
      libc::kill(-(pid as i32), libc::SIGKILL);
    }
  }
}

fn log_tail(dir: &Path) -> String {
  crate::app::wpt::log_tail(&dir.join("chromium.log"), 15)
}

/// Waits for `DevToolsActivePort` in the profile (port, then path) and
/// returns the browser's WebSocket URL.
async fn wait_for_port(child: &mut tokio::process::Child, dir: &Path) -> Result<String> {
  let file = dir.join("profile").join("DevToolsActivePort");
  let t0 = Instant::now();
  loop {
    if let Ok(text) = std::fs::read_to_string(&file) {
      let mut lines = text.lines();
      if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
        return Ok(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
      }
    }
    if let Some(status) = child.try_wait()? {
      bail!(
        "Chromium exited during startup ({status}); its output:\n{}",
        log_tail(dir)
      );
    }
    if t0.elapsed() > LAUNCH_TIMEOUT {
      bail!(
        "Chromium did not open its DevTools port within {} s; its output:\n{}",
        LAUNCH_TIMEOUT.as_secs(),
        log_tail(dir)
      );
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_missing_binary_says_how_to_install() {
    let err = find_binary(Some(Path::new("/no/such/chromium"))).unwrap_err();
    assert!(err
      .to_string()
      .contains("--chromium-binary /no/such/chromium"));
  }
}
