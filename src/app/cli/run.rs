//! `swharness run`: register and activate a service worker, run the
//! clients, and exit when the whole browser is quiet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use url::Url;

use crate::app::cli::RunArgs;
use crate::features::service_worker::{self as sw, ClientScript, WorkerState};
use crate::platform::browser::durability::Durability;
use crate::platform::browser::trace::Trace;
use crate::platform::browser::{Browser, BrowserOptions, PermissionState, DEFAULT_QUOTA};
use crate::platform::net::static_server::StaticServer;
use crate::platform::net::{Net, NetConfig};

/// Exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_SCRIPT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_TIMEOUT: i32 = 3;

enum Source {
  File(PathBuf),
  Url(Url),
}

fn classify(arg: &str) -> Result<Source, String> {
  if let Ok(url) = Url::parse(arg) {
    if matches!(url.scheme(), "http" | "https") {
      return Ok(Source::Url(url));
    }
    if url.scheme().len() > 1 {
      return Err(format!(
        "unsupported URL scheme in '{arg}' (use http, https or a file path)"
      ));
    }
  }
  let path = Path::new(arg);
  match std::fs::canonicalize(path) {
    Ok(p) if p.is_file() => Ok(Source::File(p)),
    Ok(_) => Err(format!("'{arg}' is not a file")),
    Err(_) => Err(format!("no such file: '{arg}'")),
  }
}

fn common_root(files: &[&Path]) -> Option<PathBuf> {
  let mut root: Option<PathBuf> = None;
  for f in files {
    let dir = f.parent()?.to_path_buf();
    root = Some(match root {
      None => dir,
      Some(r) => {
        let mut common = PathBuf::new();
        for (a, b) in r.components().zip(dir.components()) {
          if a != b {
            break;
          }
          common.push(a.as_os_str());
        }
        common
      }
    });
  }
  root
}

/// `--permission NAME=STATE`...: Background Fetch is granted unless said
/// otherwise (as in Chromium).
fn parse_permissions(list: &[String]) -> Result<Vec<(String, PermissionState)>, String> {
  let mut bgfetch = PermissionState::Granted;
  for p in list {
    let (name, state) = p
      .split_once('=')
      .ok_or_else(|| format!("--permission takes NAME=STATE, got '{p}'"))?;
    let state = PermissionState::parse(state).ok_or_else(|| {
      format!("permission state must be granted, denied or prompt, got '{state}'")
    })?;
    match name {
      "background-fetch" => bgfetch = state,
      other => {
        return Err(format!(
          "unknown permission '{other}' (known: background-fetch)"
        ))
      }
    }
  }
  Ok(vec![("background-fetch".to_string(), bgfetch)])
}

pub async fn run(args: RunArgs) -> i32 {
  match run_inner(args).await {
    Ok(code) => code,
    Err((code, msg)) => {
      eprintln!("swharness: {msg}");
      code
    }
  }
}

async fn run_inner(args: RunArgs) -> Result<i32, (i32, String)> {
  let usage = |m: String| (EXIT_USAGE, m);
  if !(args.timeout > 0.0 && args.timeout.is_finite()) {
    return Err(usage(
      "--timeout must be a positive number of seconds".into(),
    ));
  }
  let permissions = parse_permissions(&args.permissions).map_err(usage)?;
  let script = classify(&args.script).map_err(usage)?;
  let clients: Vec<Source> = args
    .clients
    .iter()
    .map(|c| classify(c))
    .collect::<Result<_, _>>()
    .map_err(usage)?;

  // Make the first realm's runtime (the startup snapshot, restored) while
  // the browser side starts; the main worker's realm takes it.
  crate::platform::engine::realm::prewarm();

  // Local files are served on a loopback origin rooted at their common
  // directory, so relative URLs between them work.
  let files: Vec<&Path> = std::iter::once(&script)
    .chain(clients.iter())
    .filter_map(|s| match s {
      Source::File(p) => Some(p.as_path()),
      Source::Url(_) => None,
    })
    .collect();
  let tmp;
  let state_dir = match &args.state {
    Some(d) => {
      std::fs::create_dir_all(d).map_err(|e| {
        (
          EXIT_SCRIPT_ERROR,
          format!("could not use the state directory {}: {e}", d.display()),
        )
      })?;
      d.clone()
    }
    None => {
      tmp = tempfile::Builder::new()
        .prefix("swharness-")
        .tempdir()
        .map_err(|e| {
          (
            EXIT_SCRIPT_ERROR,
            format!("could not create a temporary directory: {e}"),
          )
        })?;
      tmp.path().to_path_buf()
    }
  };
  // One process per state directory, before anything in it is read or
  // written: a second run exits at once.
  #[cfg(target_os = "linux")]
  let _lock =
    crate::features::storage::lock::StateLock::acquire(&state_dir).map_err(|e| match e {
      crate::features::storage::lock::LockError::InUse(pid) => (
        EXIT_USAGE,
        format!(
          "state directory {} is in use by process {}",
          state_dir.display(),
          pid.map_or("(unknown)".to_string(), |p| p.to_string())
        ),
      ),
      crate::features::storage::lock::LockError::Io(e) => (
        EXIT_SCRIPT_ERROR,
        format!(
          "could not lock the state directory {}: {e}",
          state_dir.display()
        ),
      ),
    })?;
  // With --state the local origin keeps its port, so that registrations
  // and storage (which belong to an origin) are found again.
  let port_file = args.state.as_ref().map(|d| d.join("local-origin-port"));
  let port: u16 = port_file
    .as_ref()
    .and_then(|f| std::fs::read_to_string(f).ok())
    .and_then(|s| s.trim().parse().ok())
    .unwrap_or(0);
  let server = match common_root(&files) {
    Some(root) => {
      let server = StaticServer::start(root.clone(), args.serve_rate, port)
        .await
        .map_err(|e| {
          (
            EXIT_SCRIPT_ERROR,
            format!(
              "could not serve {} on 127.0.0.1:{port}: {e}",
              root.display()
            ),
          )
        })?;
      // The state directory exists by now (made above).
      if let Some(f) = &port_file {
        let _ = std::fs::write(f, server.addr.port().to_string());
      }
      Some(server)
    }
    None => None,
  };
  let root = common_root(&files);
  let to_url = |s: &Source| -> Url {
    match s {
      Source::Url(u) => u.clone(),
      Source::File(p) => {
        let (Some(server), Some(root)) = (&server, &root) else {
          unreachable!("a server runs whenever there are files")
        };
        let rel = p.strip_prefix(root).unwrap_or(p);
        let rel: Vec<String> = rel
          .components()
          .map(|c| url_escape(&c.as_os_str().to_string_lossy()))
          .collect();
        server.origin().join(&rel.join("/")).expect("a valid URL")
      }
    }
  };
  let script_url = to_url(&script);

  let trace = match &args.trace {
    Some(p) => Trace::to_file(p)
      .map_err(|e| usage(format!("cannot write the trace file {}: {e}", p.display())))?,
    None => Trace::disabled(),
  };
  if !(args.stall_timeout > 0.0 && args.stall_timeout.is_finite()) {
    return Err(usage(
      "--stall-timeout must be a positive number of seconds".into(),
    ));
  }
  let net_config = NetConfig {
    stall_timeout: Some(Duration::from_secs_f64(args.stall_timeout)),
    ..NetConfig::default()
  };
  let net =
    Net::new(net_config, !args.offline).map_err(|e| (EXIT_SCRIPT_ERROR, format!("{e:#}")))?;
  // With --state, persistent cookies outlive the run, as in a profile.
  if args.state.is_some() {
    net
      .cookies()
      .persist_in(state_dir.join("cookies.json"))
      .map_err(|e| (EXIT_SCRIPT_ERROR, format!("{e:#}")))?;
  }
  let features = crate::features::Options {
    sw_idle_timeout: args.sw_idle_timeout.map(Duration::from_secs_f64),
    background_fetch: crate::features::background_fetch::Options {
      retry_backoff: Duration::from_millis(args.retry_backoff_ms.unwrap_or(200)),
      limits: crate::features::background_fetch::Limits {
        active_fetches: args.max_active_fetches.into(),
        parallel_downloads: args.max_parallel_downloads.into(),
      },
    },
  };
  let browser = Browser::start(
    BrowserOptions {
      state_dir,
      trace,
      net: net.clone(),
      permissions,
      chromium: args.chromium,
      quota: args.quota.unwrap_or(DEFAULT_QUOTA),
      durability: args.durability.unwrap_or(if args.state.is_some() {
        Durability::Strict
      } else {
        Durability::Temporary
      }),
      offline: args.offline,
      page_report: None,
      echo_console: true,
    },
    |o| crate::features::install(o, &features),
  )
  .await
  .map_err(|e| (EXIT_SCRIPT_ERROR, format!("{e:#}")))?;
  browser.trace("run", json!({"script": script_url.as_str()}));

  let timeout = Duration::from_secs_f64(args.timeout);
  let work = async {
    register_main(&browser, &script_url, args.scope.as_deref()).await?;
    for c in &clients {
      let url = to_url(c);
      // An HTML page is navigated to (through the worker whose scope
      // matches); a script is a page whose only content is that module.
      let opened = if is_html(&url) {
        sw::navigation::open_page(&browser, url).await
      } else {
        sw::open_client(&browser, url, ClientScript::Module).await
      };
      opened.map_err(|e| (EXIT_SCRIPT_ERROR, e.to_string()))?;
    }
    browser.wait_quiet().await;
    Ok::<(), (i32, String)>(())
  };
  let outcome = tokio::time::timeout(timeout, work).await;
  let pending = browser.pending_summary();
  browser.shutdown().await;
  match outcome {
    Err(_) => {
      browser.trace(
        "timeout",
        json!({"seconds": args.timeout, "pending": pending}),
      );
      Err((
        EXIT_TIMEOUT,
        format!(
          "timed out after {} s with work still pending: {pending}",
          args.timeout
        ),
      ))
    }
    Ok(Err(e)) => Err(e),
    Ok(Ok(())) => {
      browser.trace("exit", json!({"uncaught": browser.uncaught_errors()}));
      if browser.uncaught_errors() > 0 {
        Ok(EXIT_SCRIPT_ERROR)
      } else {
        Ok(EXIT_OK)
      }
    }
  }
}

/// Registers the main worker and waits until it is activated (or fails).
async fn register_main(
  browser: &Browser,
  script_url: &Url,
  scope: Option<&str>,
) -> Result<(), (i32, String)> {
  let (script_url, scope) = sw::resolve_register_args(script_url, script_url.as_str(), scope)
    .map_err(|e| (EXIT_USAGE, e.to_string()))?;
  let outcome = sw::register(browser, script_url.clone(), scope)
    .await
    .map_err(|e| {
      (
        EXIT_SCRIPT_ERROR,
        format!("could not register {script_url}: {e}"),
      )
    })?;
  if let Some(done) = outcome.done {
    match done.await {
      Ok((WorkerState::Redundant, why)) => {
        let why = why.map(|w| format!(": {w}")).unwrap_or_default();
        return Err((
          EXIT_SCRIPT_ERROR,
          format!("the service worker {script_url} failed to install and is redundant{why}"),
        ));
      }
      Err(_) => {
        return Err((
          EXIT_SCRIPT_ERROR,
          format!("the service worker {script_url} failed to install and is redundant"),
        ))
      }
      Ok(_) => {}
    }
  }
  Ok(())
}

/// Whether a `--client` is an HTML page: its path ends in `.html`,
/// `.htm` or `/`.
fn is_html(url: &Url) -> bool {
  let path = url.path().to_ascii_lowercase();
  path.ends_with(".html") || path.ends_with(".htm") || path.ends_with('/')
}

fn url_escape(s: &str) -> String {
  let mut out = String::new();
  for b in s.bytes() {
    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
      out.push(b as char);
    } else {
      out.push_str(&format!("%{b:02X}"));
    }
  }
  out
}
