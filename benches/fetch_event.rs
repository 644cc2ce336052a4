//! Fetch interception, measured from the page (`cargo bench --bench
//! fetch_event`): the release binary runs a worker and a page that times
//! its own `fetch()` calls with `performance.now()`.
//!
//! - `respondWith`: a controlled page's `fetch()` answered by
//!   `respondWith(new Response("x"))`, `SWH_BENCH_FETCHES` sequential
//!   requests (default 10,000) after 200 warm-up ones;
//! - `fallback` against `uncontrolled`: the same small network fetch from
//!   a controlled page whose worker does not answer, and from a page no
//!   worker controls (default 2,000 each); and `routed`, from the
//!   controlled page to a URL that a static route sends to the network
//!   without a fetch event;
//! - `stream`: the peak RSS of the process (`ru_maxrss` from `wait4`) when
//!   the page reads a 100 MiB body the worker streams, against a 1 MiB
//!   one: flat means the body is never held whole;
//! - beside Chromium, when `chromium` is on PATH and `./x setup` has
//!   installed wptserve and the harness: one page, served by wptserve, run
//!   by `swharness wpt` in swharness and in headless Chromium. Its frames
//!   time the same fetches (uncontrolled, network fallback, respondWith)
//!   against a real HTTP server rather than swharness's own file server.

use std::path::Path;
use std::process::{Command, Stdio};

const SW: &str = r#"
// Static routing: "routed.txt" goes to the network without a fetch event.
self.addEventListener("install", (e) => {
  e.addRoutes({ condition: { urlPattern: "routed.txt" }, source: "network" });
});
self.addEventListener("fetch", (e) => {
  const path = new URL(e.request.url).pathname;
  if (path.endsWith("/sw")) e.respondWith(new Response("x"));
  if (path.endsWith("/stream")) {
    const total = Number(new URL(e.request.url).searchParams.get("bytes"));
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let sent = 0;
    e.respondWith(new Response(new ReadableStream({
      pull(c) {
        if (sent >= total) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    })));
  }
});
"#;

const PAGE: &str = r#"
const params = new URL(location.href).searchParams;
function median(xs) {
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}
async function time(url, n, warm) {
  for (let i = 0; i < warm; i++) await (await fetch(url)).text();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await fetch(url)).text();
    t.push(performance.now() - t0);
  }
  return median(t);
}
const mode = globalThis.BENCH_MODE;
const n = globalThis.BENCH_N;
let out;
if (mode === "controlled") {
  out = {
    respondWith: await time("sw", n, 200),
    fallback: await time("data.txt", Math.min(n, 2000), 50),
    routed: await time("routed.txt", Math.min(n, 2000), 50),
  };
} else if (mode === "uncontrolled") {
  out = { uncontrolled: await time("../data.txt", Math.min(n, 2000), 50) };
} else {
  const reader = (await fetch(`stream?bytes=${globalThis.BENCH_BYTES}`)).body.getReader();
  let got = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.byteLength;
  }
  out = { streamed: got };
}
console.log("RESULT " + JSON.stringify(out));
"#;

/// Runs `swharness run` with the page, returning its RESULT JSON and the
/// process's peak RSS in KiB.
fn run(dir: &Path, page: &str, scope: Option<&str>) -> (serde_json::Value, u64) {
  let bin = env!("CARGO_BIN_EXE_swharness");
  let mut args = vec![
    "run".to_string(),
    dir.join("sw.js").to_string_lossy().into_owned(),
    "--client".into(),
    dir.join(page).to_string_lossy().into_owned(),
    "--timeout".into(),
    "300".into(),
  ];
  if let Some(s) = scope {
    args.push("--scope".into());
    args.push(s.into());
  }
  let mut child = Command::new(bin)
    .args(&args)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .expect("swharness runs");
  let pid = child.id() as libc::pid_t;
  let mut stdout = child.stdout.take().expect("stdout");
  let mut text = String::new();
  std::io::Read::read_to_string(&mut stdout, &mut text).expect("stdout");
  let mut status = 0;
  let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
  let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
  assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
  // The child was reaped by wait4; do not let `Child` wait again.
  std::mem::forget(child);
  let line = text
    .lines()
    .find_map(|l| l.split_once("RESULT ").map(|(_, j)| j.to_string()))
    .unwrap_or_else(|| panic!("no result in:\n{text}"));
  (
    serde_json::from_str(&line).expect("result JSON"),
    usage.ru_maxrss as u64,
  )
}

fn write_page(dir: &Path, name: &str, mode: &str, n: u64, bytes: u64) {
  let head = format!(
    "globalThis.BENCH_MODE = {mode:?}; globalThis.BENCH_N = {n}; globalThis.BENCH_BYTES = {bytes};\n"
  );
  std::fs::write(dir.join(name), head + PAGE).unwrap();
}

fn main() {
  let n: u64 = std::env::var("SWH_BENCH_FETCHES")
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(10_000);
  let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
  println!(
    "fetch_event benchmark ({n} requests; load {})",
    load
      .split_whitespace()
      .take(3)
      .collect::<Vec<_>>()
      .join(" ")
  );
  let dir = tempfile::tempdir().unwrap();
  let root = dir.path();
  let app = root.join("app");
  std::fs::create_dir_all(&app).unwrap();
  std::fs::write(app.join("sw.js"), SW).unwrap();
  std::fs::write(app.join("data.txt"), "network\n").unwrap();
  std::fs::write(app.join("routed.txt"), "network\n").unwrap();
  std::fs::write(root.join("data.txt"), "network\n").unwrap();

  write_page(&app, "controlled.js", "controlled", n, 0);
  let (r, _) = run(&app, "controlled.js", None);
  let respond = r["respondWith"].as_f64().unwrap_or(f64::NAN);
  let fallback = r["fallback"].as_f64().unwrap_or(f64::NAN);
  let routed = r["routed"].as_f64().unwrap_or(f64::NAN);
  println!("respondWith(new Response): median {respond:.3} ms per fetch()");
  println!("network fallback:          median {fallback:.3} ms per fetch()");
  println!("network by a static route: median {routed:.3} ms per fetch()");

  // The same fetch from a page no worker controls: the worker's scope is
  // a folder the page is not in.
  write_page(&app, "uncontrolled.js", "uncontrolled", n, 0);
  std::fs::create_dir_all(app.join("elsewhere")).unwrap();
  std::fs::rename(
    app.join("uncontrolled.js"),
    app.join("elsewhere/uncontrolled.js"),
  )
  .unwrap();
  let (r, _) = run(&app, "elsewhere/uncontrolled.js", Some("nowhere/"));
  let uncontrolled = r["uncontrolled"].as_f64().unwrap_or(f64::NAN);
  println!("uncontrolled page:         median {uncontrolled:.3} ms per fetch()");
  println!(
    "fallback / uncontrolled:   {:.2}",
    fallback / uncontrolled.max(f64::MIN_POSITIVE)
  );
  println!(
    "routed / uncontrolled:     {:.2}",
    routed / uncontrolled.max(f64::MIN_POSITIVE)
  );

  beside_chromium();

  for (label, bytes) in [("1 MiB", 1u64 << 20), ("100 MiB", 100 << 20)] {
    write_page(&app, "stream.js", "stream", n, bytes);
    let (r, rss) = run(&app, "stream.js", None);
    println!(
      "streamed {label}: {} bytes read, peak RSS {:.1} MiB",
      r["streamed"],
      rss as f64 / 1024.0
    );
  }
}

/// The side-by-side page's worker: it answers "sw" and nothing else.
const SIDE_SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  if (new URL(e.request.url).pathname.endsWith("/sw")) e.respondWith(new Response("x"));
});
"#;

/// A frame that times its own fetches (the median of `n`).
const SIDE_FRAME: &str = r#"<!DOCTYPE html>
<script>
window.bench = async (url, n) => {
  for (let i = 0; i < 50; i++) await (await fetch(url)).text();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await fetch(url)).text();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)];
};
</script>
"#;

/// The test page: a controlled frame and an uncontrolled one, timed in
/// turns, three rounds.
const SIDE_TEST: &str = r#"<!DOCTYPE html>
<script src="/resources/testharness.js"></script>
<script src="/resources/testharnessreport.js"></script>
<script>
function frame(url) {
  return new Promise((resolve) => {
    const f = document.createElement("iframe");
    f.src = url;
    f.onload = () => resolve(f);
    document.body.appendChild(f);
  });
}
promise_test(async () => {
  const n = Number(new URL(location.href).searchParams.get("n") || 1000);
  const reg = await navigator.serviceWorker.register("sw.js", { scope: "scope/" });
  await new Promise((resolve) => {
    const w = reg.installing || reg.waiting || reg.active;
    if (w.state === "activated") return resolve();
    w.addEventListener("statechange", () => w.state === "activated" && resolve());
  });
  const controlled = await frame("scope/page.html");
  const uncontrolled = await frame("uncontrolled.html");
  assert_not_equals(controlled.contentWindow.navigator.serviceWorker.controller, null);
  const out = { uncontrolled: [], fallback: [], respondWith: [] };
  for (let round = 0; round < 3; round++) {
    out.uncontrolled.push(await uncontrolled.contentWindow.bench("data.txt", n));
    out.fallback.push(await controlled.contentWindow.bench("data.txt", n));
    out.respondWith.push(await controlled.contentWindow.bench("sw", n));
  }
  console.log("BENCH " + JSON.stringify(out));
  await reg.unregister();
}, "fetch timings");
</script>
"#;

/// The same fetches timed in swharness and in headless Chromium, both
/// against wptserve, when both are here.
fn beside_chromium() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR"));
  let harness = root.join(".wpt-deps/node_modules/wpt-runner/testharness");
  let chromium = std::env::var_os("PATH")
    .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("chromium").is_file()));
  if !chromium || !harness.is_dir() {
    println!("beside Chromium: skipped (needs `chromium` on PATH and `./x setup`)");
    return;
  }
  let dir = tempfile::tempdir().unwrap();
  let perf = dir.path().join("perf");
  std::fs::create_dir_all(perf.join("scope")).unwrap();
  std::fs::write(perf.join("sw.js"), SIDE_SW).unwrap();
  std::fs::write(perf.join("scope/page.html"), SIDE_FRAME).unwrap();
  std::fs::write(perf.join("uncontrolled.html"), SIDE_FRAME).unwrap();
  std::fs::write(perf.join("scope/data.txt"), "network\n").unwrap();
  std::fs::write(perf.join("data.txt"), "network\n").unwrap();
  std::fs::write(perf.join("fetch.https.html"), SIDE_TEST).unwrap();
  println!("beside Chromium (wptserve, medians of 1,000 per round, 3 rounds, ms):");
  for browser in ["swharness", "chromium"] {
    let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
      .args([
        "wpt",
        "--browser",
        browser,
        "-v",
        "--timeout-multiplier",
        "20",
      ])
      .arg("--wpt-root")
      .arg(dir.path())
      .arg("--harness-dir")
      .arg(&harness)
      .arg("perf/fetch.https.html")
      .current_dir(root)
      .output()
      .expect("swharness wpt runs");
    // The page's console goes to stdout for swharness, stderr for Chromium.
    let text =
      String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let Some(json) = text
      .lines()
      .find_map(|l| l.split_once("BENCH ").map(|(_, j)| j))
    else {
      println!("  {browser}: no result\n{text}");
      continue;
    };
    let r: serde_json::Value = serde_json::from_str(json).expect("result JSON");
    let row = |k: &str| {
      let v: Vec<f64> = r[k]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
      v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(" / ")
    };
    let ratio = |i: usize| {
      r["fallback"][i].as_f64().unwrap_or(f64::NAN)
        / r["uncontrolled"][i].as_f64().unwrap_or(f64::NAN)
    };
    println!(
      "  {browser:9}: uncontrolled {}; fallback {}; respondWith {}; fallback / uncontrolled {:.2} / {:.2} / {:.2}",
      row("uncontrolled"),
      row("fallback"),
      row("respondWith"),
      ratio(0),
      ratio(1),
      ratio(2)
    );
  }
}
