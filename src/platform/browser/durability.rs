//! What survives a crash: the durability setting (`--durability`), and the
//! crash points tests end runs at.
//!
//! Crash points: each place where something becomes durable
//! (an SQLite commit, a body write, flush, fsync or delete, a final event's
//! dispatch, a Cache Storage put) calls [`reached`] with its name, before
//! and after. With `SWHARNESS_CRASH_AT=N` in the environment, the process
//! kills itself (SIGKILL, as `kill -9` does) at the Nth point it reaches;
//! with `SWHARNESS_CRASH_LOG=FILE`, it appends `N NAME` for each point to
//! FILE, so a test can count a scenario's points and then end a run at each
//! of them (`tests/crash_points.rs`). Without either variable a point costs
//! one relaxed atomic load.

use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// How much a run waits for the disk (`--durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
  /// A complete body is fsynced before its record says so, and each SQLite
  /// commit is on the disk when it returns (`synchronous=FULL`): what was
  /// reported done survives a power cut.
  #[default]
  Strict,
  /// Nothing waits for the disk (`synchronous=NORMAL`, no fsync of
  /// bodies): a kill -9 loses nothing, a power cut may lose the last
  /// commits and the tails of bodies (a resume then downloads them again).
  Relaxed,
  /// A run whose state directory is thrown away at exit (no `--state`, a
  /// WPT page): nothing is ever synced (`synchronous=OFF`). A kill -9 still
  /// loses nothing SQLite committed; there is nothing to keep past a power
  /// cut. Not a `--durability` value.
  Temporary,
}

impl Durability {
  pub fn strict(self) -> bool {
    self == Durability::Strict
  }

  /// The PRAGMA for an SQLite database in WAL mode (the sync level first:
  /// a new database's switch to WAL then syncs only as it says).
  pub fn sqlite_pragmas(self) -> &'static str {
    match self {
      Durability::Strict => "PRAGMA synchronous=FULL; PRAGMA journal_mode=WAL;",
      Durability::Relaxed => "PRAGMA synchronous=NORMAL; PRAGMA journal_mode=WAL;",
      Durability::Temporary => "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;",
    }
  }
}

impl FromStr for Durability {
  type Err = String;
  fn from_str(s: &str) -> Result<Self, String> {
    match s {
      "strict" => Ok(Durability::Strict),
      "relaxed" => Ok(Durability::Relaxed),
      _ => Err(format!("expected strict or relaxed, not {s:?}")),
    }
  }
}

struct Config {
  at: Option<u64>,
  log: Option<Mutex<std::fs::File>>,
}

fn config() -> Option<&'static Config> {
  static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
  CONFIG
    .get_or_init(|| {
      let at = std::env::var("SWHARNESS_CRASH_AT")
        .ok()
        .and_then(|v| v.parse().ok());
      let log = std::env::var_os("SWHARNESS_CRASH_LOG").and_then(|p| {
        std::fs::OpenOptions::new()
          .create(true)
          .append(true)
          .open(p)
          .ok()
          .map(Mutex::new)
      });
      (at.is_some() || log.is_some()).then_some(Config { at, log })
    })
    .as_ref()
}

static REACHED: AtomicU64 = AtomicU64::new(0);

/// Counts the point `name`; ends the process here if it is the one asked
/// for.
pub fn reached(name: &str) {
  let Some(config) = config() else {
    return;
  };
  let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
  if let Some(log) = &config.log {
    let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(f, "{n} {name}");
  }
  if config.at == Some(n) {
    // As `kill -9`: no destructor, flush or exit handler runs.
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
      libc::kill(libc::getpid(), libc::SIGKILL);
    }
  }
}

/// Runs `f` between the points `NAME` and `NAME.done`.
pub fn around<R>(name: &str, f: impl FnOnce() -> R) -> R {
  reached(name);
  let r = f();
  reached(&format!("{name}.done"));
  r
}

/// Makes each commit of `conn` a point, `sqlite-commit:NAME` (reached
/// before SQLite writes it: the commit after it is the next point).
pub fn watch_commits(conn: &rusqlite::Connection, name: &str) {
  if config().is_none() {
    return;
  }
  let point = format!("sqlite-commit:{name}");
  conn.commit_hook(Some(move || {
    reached(&point);
    false
  }));
}
