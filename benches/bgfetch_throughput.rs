//! Background Fetch download throughput over loopback, against curl on the
//! same server, and the peak RSS of `swharness run` while downloading.
//!
//! `cargo bench --bench bgfetch_throughput` writes a sparse file of
//! `SWH_BENCH_BYTES` bytes (default 1 GiB) to a temporary directory, serves
//! it with the project's own static server (`swharness::platform::net::static_server`,
//! here in the bench process, on 127.0.0.1; whole bodies go out with
//! sendfile, so the server is not what limits either client), and then,
//! `SWH_BENCH_REPEAT` times (default 5), alternately:
//!
//! - `curl -s -o FILE URL`, which keeps the body on disk as a background
//!   fetch does, and `curl -s -o /dev/null URL`, which keeps nothing (the
//!   network path alone), each timed by curl's own `time_total`; and
//! - `swharness run` of a worker and a client that background-fetches the
//!   file and waits for `backgroundfetchsuccess`. Its download time is the
//!   trace time from the client's `START` (just before `fetch()`) to the
//!   final event's dispatch (`bgfetch-final-event`); the process wall time
//!   and peak RSS (`ru_maxrss` from `wait4`) are reported too.
//!
//! CPU time (user + system, from `wait4`) is printed for every run: on a
//! small machine the client's CPU per byte is what decides its rate.
//! Throughput is MB/s (10^6 bytes per second), from the best and the
//! median run of each (the ratio is swharness / curl).
//! `SWH_BENCH_BYTES` takes a plain number or a K/M/G (binary) suffix.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("backgroundfetchsuccess", (event) => {
  console.log(`SUCCESS downloaded=${event.registration.downloaded}`);
});
self.addEventListener("backgroundfetchfail", (event) => {
  console.log(`FAIL reason=${event.registration.failureReason}`);
});
"#;

const CLIENT: &str = r#"
const reg = await navigator.serviceWorker.ready;
console.log("START");
await reg.backgroundFetch.fetch("big", ["big.bin"], { title: "big" });
"#;

fn parse_size(s: &str) -> Option<u64> {
  let s = s.trim();
  let (num, mult) = match s.chars().last()? {
    'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
    'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
    'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
    _ => (s, 1),
  };
  num.trim().parse::<u64>().ok().map(|n| n * mult)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
  std::env::var(name)
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(default)
}

/// Runs `cmd`, returning its exit status, wall seconds, peak RSS (KiB) and
/// CPU seconds (user + system) from `wait4`.
fn run_measured(cmd: &mut Command) -> (std::process::ExitStatus, f64, u64, f64) {
  use std::os::unix::process::ExitStatusExt;
  let start = Instant::now();
  let child = cmd.spawn().expect("the command starts");
  let pid = child.id() as libc::pid_t;
  let mut status: libc::c_int = 0;
  let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
  let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
  assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
  let wall = start.elapsed().as_secs_f64();
  // The child was reaped by wait4; do not let `Child` wait again.
  std::mem::forget(child);
  let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
  (
    std::process::ExitStatus::from_raw(status),
    wall,
    usage.ru_maxrss as u64,
    secs(usage.ru_utime) + secs(usage.ru_stime),
  )
}

/// curl's own transfer time in seconds and its CPU seconds.
fn curl(url: &str, out: &Path, report: &Path) -> (f64, f64) {
  let mut cmd = Command::new("curl");
  cmd
    .args(["-s", "-f", "-o"])
    .arg(out)
    .args(["-w", "%{time_total} %{size_download}", url])
    .stdout(std::fs::File::create(report).unwrap());
  let (status, _, _, cpu_s) = run_measured(&mut cmd);
  assert!(status.success(), "curl failed (apt-get install -y curl)");
  let text = std::fs::read_to_string(report).unwrap();
  let secs = text
    .split_whitespace()
    .next()
    .and_then(|t| t.parse().ok())
    .expect("curl prints time_total");
  (secs, cpu_s)
}

struct SwRun {
  download_s: f64,
  wall_s: f64,
  rss_kib: u64,
  cpu_s: f64,
}

fn swharness(dir: &Path, origin: &str, size: u64) -> SwRun {
  let trace = dir.join("trace.jsonl");
  let state = tempfile::Builder::new()
    .prefix("swh-bench-state-")
    .tempdir_in(dir)
    .unwrap();
  let mut cmd = Command::new(env!("CARGO_BIN_EXE_swharness"));
  cmd
    .arg("run")
    .arg(format!("{origin}sw.js"))
    .arg("--client")
    .arg(format!("{origin}client.js"))
    .arg("--state")
    .arg(state.path())
    .arg("--quota")
    .arg((size * 2 + (1 << 20)).to_string())
    .arg("--timeout")
    .arg("600")
    .arg("--trace")
    .arg(&trace)
    // strict (the default: a complete body is fsynced) or relaxed.
    .arg("--durability")
    .arg(std::env::var("SWH_BENCH_DURABILITY").unwrap_or_else(|_| "strict".into()))
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
  let (status, wall_s, rss_kib, cpu_s) = run_measured(&mut cmd);
  assert!(status.success(), "swharness run failed: {status}");
  let text = std::fs::read_to_string(&trace).unwrap();
  let mut start = None;
  let mut end = None;
  let mut success = false;
  for line in text.lines() {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let t = v["t"].as_f64().unwrap_or(0.0);
    let text = v["text"].as_str().unwrap_or("").trim_end();
    if v["kind"] == "console" && text == "START" {
      start = Some(t);
    }
    if v["kind"] == "console" && text == format!("SUCCESS downloaded={size}") {
      success = true;
    }
    if v["kind"] == "ui" && v["action"] == "bgfetch-final-event" {
      end = Some(t);
    }
  }
  assert!(
    success,
    "no backgroundfetchsuccess with every byte:\n{text}"
  );
  let (Some(start), Some(end)) = (start, end) else {
    panic!("START or the final event missing from the trace:\n{text}");
  };
  SwRun {
    download_s: (end - start) / 1000.0,
    wall_s,
    rss_kib,
    cpu_s,
  }
}

fn best(v: &[f64]) -> f64 {
  v.iter().cloned().fold(f64::INFINITY, f64::min)
}

fn median(v: &[f64]) -> f64 {
  let mut v = v.to_vec();
  v.sort_by(|a, b| a.partial_cmp(b).unwrap());
  v[v.len() / 2]
}

fn mbps(bytes: u64, secs: f64) -> f64 {
  bytes as f64 / secs / 1e6
}

fn main() {
  let size = std::env::var("SWH_BENCH_BYTES")
    .ok()
    .and_then(|s| parse_size(&s))
    .unwrap_or(1 << 30);
  let repeat: usize = env_or("SWH_BENCH_REPEAT", 5);
  let base: PathBuf = std::env::var_os("SWH_BENCH_DIR")
    .map(PathBuf::from)
    .unwrap_or_else(std::env::temp_dir);
  let dir = tempfile::Builder::new()
    .prefix("swh-bench-")
    .tempdir_in(base)
    .unwrap();
  std::fs::write(dir.path().join("sw.js"), SW).unwrap();
  std::fs::write(dir.path().join("client.js"), CLIENT).unwrap();
  // A sparse file: reading it costs no disk I/O, so the server is never
  // the bottleneck.
  let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
  big.set_len(size).unwrap();
  drop(big);

  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(1)
    .enable_all()
    .build()
    .unwrap();
  let server = rt
    .block_on(
      swharness::platform::net::static_server::StaticServer::start(
        dir.path().to_path_buf(),
        None,
        0,
      ),
    )
    .unwrap();
  let origin = server.origin().to_string();
  let url = format!("{origin}big.bin");
  println!(
    "bgfetch throughput: {size} bytes ({:.0} MiB), {repeat} runs each; {}",
    size as f64 / (1u64 << 20) as f64,
    common::machine()
  );

  let disk_copy = dir.path().join("curl-copy.bin");
  // Warm up: the first read of the file is slower (page cache), and the
  // first run of a build makes the startup snapshot (seconds, and its own
  // peak RSS); neither is measured.
  let report = dir.path().join("curl-report.txt");
  curl(&url, Path::new("/dev/null"), &report);
  let warm = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .arg("run")
    .arg(format!("{origin}sw.js"))
    .stdout(Stdio::null())
    .status()
    .expect("swharness runs");
  assert!(warm.success(), "the warm-up run failed");
  // Each measurement starts with no dirty pages from the previous one.
  let settle = || {
    let _ = Command::new("sync").status();
  };
  let mut curl_null = Vec::new();
  let mut curl_disk = Vec::new();
  let mut sw = Vec::new();
  for i in 0..repeat {
    settle();
    let (c, c_cpu) = curl(&url, Path::new("/dev/null"), &report);
    settle();
    let (d, d_cpu) = curl(&url, &disk_copy, &report);
    let _ = std::fs::remove_file(&disk_copy);
    settle();
    let s = swharness(dir.path(), &origin, size);
    println!(
      "run {}: curl >/dev/null {:7.1} MB/s (CPU {:.2} s) | curl >file {:7.1} MB/s (CPU {:.2} s) | swharness {:7.1} MB/s (download {:.3} s, process {:.3} s, CPU {:.2} s, peak RSS {:.1} MiB)",
      i + 1,
      mbps(size, c),
      c_cpu,
      mbps(size, d),
      d_cpu,
      mbps(size, s.download_s),
      s.download_s,
      s.wall_s,
      s.cpu_s,
      s.rss_kib as f64 / 1024.0
    );
    curl_null.push(c);
    curl_disk.push(d);
    sw.push(s);
  }
  let sw_s: Vec<f64> = sw.iter().map(|r| r.download_s).collect();
  let rss = sw.iter().map(|r| r.rss_kib).max().unwrap_or(0);
  for (label, pick) in [("best", best as fn(&[f64]) -> f64), ("median", median)] {
    let (c, d, s) = (pick(&curl_null), pick(&curl_disk), pick(&sw_s));
    println!("{label} of {repeat}:");
    println!("  curl -o /dev/null : {:8.1} MB/s", mbps(size, c));
    println!("  curl -o FILE      : {:8.1} MB/s", mbps(size, d));
    println!("  swharness bgfetch : {:8.1} MB/s", mbps(size, s));
    println!(
      "  ratio to curl -o FILE      : {:.3}  (the same job: the body kept on disk)",
      d / s
    );
    println!(
      "  ratio to curl -o /dev/null : {:.3}  (curl keeps nothing)",
      c / s
    );
  }
  println!(
    "swharness peak RSS (max of runs): {:.1} MiB",
    rss as f64 / 1024.0
  );
  drop(server);
}
