//! The command line: `swharness run`, `swharness wpt`, `swharness bench`.

pub mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
  name = "swharness",
  version,
  about = "A headless service-worker runtime with Background Fetch"
)]
struct Cli {
  #[command(subcommand)]
  command: Command,
}

#[derive(Subcommand)]
enum Command {
  /// Register and activate a service worker, run client scripts, and exit
  /// when nothing is pending.
  Run(RunArgs),
  /// Run web-platform-tests (testharness.js tests) in swharness, served
  /// by wptserve.
  Wpt(crate::app::wpt::WptArgs),
}

#[derive(Args, Clone)]
pub struct RunArgs {
  /// The service worker script: a file or an http(s) URL.
  pub script: String,
  /// A client (window) script, file or URL; may be repeated.
  #[arg(long = "client", value_name = "FILE-or-URL")]
  pub clients: Vec<String>,
  /// Keep registrations and storage in DIR across runs.
  #[arg(long, value_name = "DIR")]
  pub state: Option<PathBuf>,
  /// Write a JSON-lines trace of lifecycle, events, messages and UI actions.
  #[arg(long, value_name = "FILE")]
  pub trace: Option<PathBuf>,
  /// Give up after SECS seconds with work still pending.
  #[arg(long, value_name = "SECS", default_value_t = 60.0)]
  pub timeout: f64,
  /// The registration's scope (default: the script's directory).
  #[arg(long)]
  pub scope: Option<String>,
  /// Start with the network offline.
  #[arg(long)]
  pub offline: bool,
  /// A permission's initial state, e.g. background-fetch=granted.
  #[arg(long = "permission", value_name = "NAME=STATE")]
  pub permissions: Vec<String>,
  /// Storage quota of an origin, in bytes (Background Fetch bodies, Cache Storage, IndexedDB).
  #[arg(long, value_name = "BYTES")]
  pub quota: Option<u64>,
  /// Follow Chromium where it diverges from the spec.
  #[arg(long)]
  pub chromium: bool,
  /// strict: a complete Background Fetch body is fsynced before its record
  /// says so, and each database commit is on the disk when it returns
  /// (survives a power cut); relaxed: nothing waits for the disk (survives
  /// kill -9, a power cut may lose the last writes). Default: strict with
  /// --state, relaxed without (the temporary directory is removed anyway).
  #[arg(long, value_name = "strict|relaxed")]
  pub durability: Option<crate::platform::browser::durability::Durability>,
  /// Limit how fast local files are served (bytes per second), e.g. to
  /// watch progress.
  #[arg(long, value_name = "BYTES_PER_SEC")]
  pub serve_rate: Option<u64>,
  /// Stop an idle service worker after SECS seconds (it starts again for
  /// the next event).
  #[arg(long, value_name = "SECS")]
  pub sw_idle_timeout: Option<f64>,
  /// The first Background Fetch retry waits MS milliseconds after a
  /// network error; each further retry waits twice as long (default 200).
  #[arg(long, value_name = "MS")]
  pub retry_backoff_ms: Option<u64>,
  /// Background Fetch: how many fetches download at once (others wait).
  #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
  pub max_active_fetches: u16,
  /// Background Fetch: how many records of one fetch download at once.
  #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
  pub max_parallel_downloads: u16,
  /// A connection that sends nothing for SECS seconds is a network error
  /// (a stalled download is retried, resuming where it was).
  #[arg(long, value_name = "SECS", default_value_t = 60.0)]
  pub stall_timeout: f64,
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
  // A panic is a bug in swharness: say so in one line, without a backtrace
  // unless asked for (RUST_BACKTRACE).
  if std::env::var_os("RUST_BACKTRACE").is_none() {
    std::panic::set_hook(Box::new(|info| {
      eprintln!("swharness: internal error: {info}");
    }));
  }
  let cli = match Cli::try_parse() {
    Ok(cli) => cli,
    Err(e) => {
      let code = if e.use_stderr() { 2 } else { 0 };
      let _ = e.print();
      return code;
    }
  };
  let rt = match tokio::runtime::Builder::new_multi_thread()
    // One worker: JavaScript runs on the realms' own threads, and the
    // browser side is I/O; a second worker only made the download's tasks
    // wake each other across threads (benches/README.md).
    .worker_threads(1)
    .enable_all()
    .build()
  {
    Ok(rt) => rt,
    Err(e) => {
      eprintln!("swharness: could not start the runtime: {e}");
      return 1;
    }
  };
  match cli.command {
    Command::Run(args) => {
      let code = rt.block_on(crate::app::cli::run::run(args));
      // The run is over and quiet, and everything it reported is on disk
      // (what a kill -9 would keep): no task is worth waiting for at exit.
      rt.shutdown_background();
      code
    }
    Command::Wpt(args) => {
      let code = rt.block_on(args.run());
      rt.shutdown_timeout(std::time::Duration::from_millis(200));
      code
    }
  }
}
