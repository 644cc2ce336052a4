//! Background Fetch at scale, with the release binary:
//!
//! - `restart`: a state directory with `SWH_BENCH_REGS` (default 10,000)
//!   stored registrations, a third of them aborted (their abort events
//!   delivered) and the rest paused offline; then a run on it (online) is
//!   timed from its start to the first final event its worker prints. The
//!   target is under 1 s.
//! - `many`: `SWH_BENCH_FETCHES` (default 1,000) fetches through one
//!   process, in batches of 100, each batch waited for (getIds() empty):
//!   the process's RSS and open file descriptors after each batch, from
//!   /proc. They should stay flat.
//!
//! `cargo bench --bench bgfetch_scale [-- restart|many]`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
for (const type of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(type, (e) => console.log(`EVENT ${type} ${e.registration.id}`));
}
"#;

fn write(dir: &Path, name: &str, text: &str) {
  std::fs::write(dir.join(name), text).unwrap();
}

fn swharness(dir: &Path, state: &Path, client: Option<&str>, extra: &[&str]) -> Command {
  let mut cmd = Command::new(env!("CARGO_BIN_EXE_swharness"));
  cmd
    .arg("run")
    .arg(dir.join("sw.js"))
    .arg("--state")
    .arg(state)
    .args(["--timeout", "1200"])
    .args(extra);
  if let Some(c) = client {
    cmd.arg("--client").arg(dir.join(c));
  }
  cmd
}

/// VmRSS in KiB and the number of open descriptors of `pid`.
fn sample(pid: u32) -> (u64, usize) {
  let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
    .unwrap_or_default()
    .lines()
    .find_map(|l| l.strip_prefix("VmRSS:"))
    .and_then(|v| v.split_whitespace().next()?.parse().ok())
    .unwrap_or(0);
  let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
  (rss, fds)
}

/// The number in the environment variable `name`, else `default`.
fn count(name: &str, default: usize) -> usize {
  std::env::var(name)
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(default)
}

fn restart(dir: &Path) {
  let n = count("SWH_BENCH_REGS", 10_000);
  write(
    dir,
    "fill.js",
    &format!(
      r#"
const reg = await navigator.serviceWorker.ready;
const made = [];
for (let i = 0; i < {n}; i++) made.push(reg.backgroundFetch.fetch("f" + i, ["a.txt"]));
const regs = await Promise.all(made);
await Promise.all(regs.filter((r, i) => i % 3 === 0).map((r) => r.abort()));
console.log("FILLED");
"#
    ),
  );
  let state = dir.join("state-restart");
  let t = Instant::now();
  let out = swharness(dir, &state, Some("fill.js"), &["--offline"])
    .output()
    .unwrap();
  let text = String::from_utf8_lossy(&out.stdout);
  assert!(
    text.contains("FILLED"),
    "{text}\n{}",
    String::from_utf8_lossy(&out.stderr)
  );
  println!(
    "  filled {n} registrations ({} aborted, {} paused) in {:.1} s; bgfetch.sqlite {:.1} MiB",
    n.div_ceil(3),
    n - n.div_ceil(3),
    t.elapsed().as_secs_f64(),
    std::fs::metadata(state.join("bgfetch/bgfetch.sqlite")).map_or(0, |m| m.len()) as f64
      / 1048576.0
  );
  for round in 1..=3 {
    let t = Instant::now();
    let mut child = swharness(dir, &state, None, &[])
      .stdout(Stdio::piped())
      .stderr(Stdio::null())
      .spawn()
      .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = None;
    for line in BufReader::new(stdout).lines() {
      let line = line.unwrap();
      if line.contains("EVENT ") {
        first = Some((t.elapsed(), line));
        break;
      }
    }
    let (rss, fds) = sample(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let (elapsed, line) = first.expect("a final event");
    println!(
      "  restart {round}: first final event after {:.0} ms ({}); RSS {:.1} MiB, {fds} fds",
      elapsed.as_secs_f64() * 1000.0,
      line.trim_start_matches("[sw] "),
      rss as f64 / 1024.0
    );
  }
}

fn many(dir: &Path) {
  let n = count("SWH_BENCH_FETCHES", 1000);
  write(
    dir,
    "many.js",
    &format!(
      r#"
const reg = await navigator.serviceWorker.ready;
for (let b = 0; b * 100 < {n}; b++) {{
  await Promise.all(Array.from({{ length: 100 }}, (_, i) => reg.backgroundFetch.fetch(`g${{b}}-${{i}}`, ["a.txt"])));
  while ((await reg.backgroundFetch.getIds()).length) await new Promise((r) => setTimeout(r, 20));
  console.log(`BATCH ${{(b + 1) * 100}}`);
}}
"#
    ),
  );
  let state = dir.join("state-many");
  let t = Instant::now();
  let mut child = swharness(dir, &state, Some("many.js"), &["--max-active-fetches", "4"])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
  let pid = child.id();
  let stdout = child.stdout.take().unwrap();
  let (rss0, fds0) = sample(pid);
  println!(
    "  at start: RSS {:.1} MiB, {fds0} fds",
    rss0 as f64 / 1024.0
  );
  for line in BufReader::new(stdout).lines() {
    let line = line.unwrap();
    if let Some(done) = line.split("BATCH ").nth(1) {
      let (rss, fds) = sample(pid);
      println!(
        "  {done:>5} fetches done ({:.1} s): RSS {:.1} MiB, {fds} fds",
        t.elapsed().as_secs_f64(),
        rss as f64 / 1024.0
      );
    }
  }
  let status = child.wait().unwrap();
  assert!(status.success(), "{status}");
}

fn main() {
  let which: Vec<String> = std::env::args()
    .skip(1)
    .filter(|a| !a.starts_with('-'))
    .collect();
  let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
  println!("bgfetch_scale: {}", common::machine());
  let dir = tempfile::tempdir().unwrap();
  write(dir.path(), "sw.js", SW);
  std::fs::write(dir.path().join("a.txt"), vec![b'a'; 1000]).unwrap();
  if wants("restart") {
    println!("restart:");
    restart(dir.path());
  }
  if wants("many") {
    println!("many:");
    many(dir.path());
  }
}
