//! Running the binary from a test: its output, the fixtures, the trace.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of `swharness` gave.
pub struct Run {
  pub code: Option<i32>,
  pub stdout: String,
  pub stderr: String,
}

impl Run {
  /// Panics, showing both streams, unless every line is in stdout.
  pub fn assert_lines(&self, lines: &[&str]) {
    for line in lines {
      assert!(
        self.stdout.contains(line),
        "{line:?} missing from:\n{}\nstderr:\n{}",
        self.stdout,
        self.stderr
      );
    }
  }
}

/// Runs `swharness ARGS` to its end.
pub fn swharness<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(args)
    .output()
    .expect("the binary runs");
  Run {
    code: out.status.code(),
    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
  }
}

/// Writes `files` (name, text) into `dir`, then runs `swharness run
/// DIR/sw.js --client DIR/CLIENT --timeout 60` to its end.
#[allow(dead_code)]
pub fn run_files(dir: &Path, files: &[(&str, &str)], client: &str) -> Run {
  for (name, text) in files {
    std::fs::write(dir.join(name), text).expect("write a test file");
  }
  let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
  swharness(&[
    "run",
    &path("sw.js"),
    "--client",
    &path(client),
    "--timeout",
    "60",
  ])
}

/// Replaces the file at `path` with `text` at once (a new file renamed
/// over it), so a server reading it meanwhile sees the old text or the new,
/// never a half-written one.
#[allow(dead_code)]
pub fn replace_file(path: &Path, text: &str) {
  let tmp = path.with_extension("tmp");
  std::fs::write(&tmp, text).expect("write the new file");
  std::fs::rename(&tmp, path).expect("rename it over the old one");
}

/// The path of a file under `fixtures/`.
pub fn fixture(rel: &str) -> String {
  PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    .join("fixtures")
    .join(rel)
    .to_string_lossy()
    .into_owned()
}

/// The trace's events of `kind`, in order.
pub fn trace_events(trace: &Path, kind: &str) -> Vec<serde_json::Value> {
  std::fs::read_to_string(trace)
    .unwrap_or_default()
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .filter(|v| v["kind"] == kind)
    .collect()
}

/// Waits until the trace of the running `child` satisfies `done`, reading
/// it every 20 ms; panics, showing it, if the run ends first or after 90 s
/// (the runs these tests start time out sooner).
pub fn wait_for_trace(child: &mut std::process::Child, trace: &Path, done: impl Fn(&str) -> bool) {
  let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
  loop {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    if done(&text) {
      return;
    }
    if std::time::Instant::now() > deadline {
      let _ = child.kill();
      panic!("the trace never got there:\n{text}");
    }
    if let Some(status) = child.try_wait().unwrap() {
      panic!("the run ended ({status}) first:\n{text}");
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
  }
}
