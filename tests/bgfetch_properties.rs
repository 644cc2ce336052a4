//! Random API sequences (issue #13): a property test that interleaves
//! Background Fetch operations from a page and its worker (fetch with
//! valid and invalid arguments, get, getIds, abort, match/matchAll,
//! updateUI, click, cancel, setOnline, permission changes, unregister)
//! with restarts of the process (clean exits and `kill -9`), against a
//! fault server whose held downloads stall until the test releases them.
//!
//! Generation and the model: `support/bgfetch_plan.rs` (what is
//! generated, and how a list of operations becomes rounds, one
//! `swharness run` each, sharing a `--state` directory) and
//! `support/bgfetch_check.rs` (the invariants). The page runs its slice of
//! the operations from a JSON list and prints one `OBS` line per result;
//! the worker prints its final events and clicks; the harness kills the
//! process at the page's `KILL-NOW`.
//!
//! Invariants: no panic and the documented exit codes; every accepted
//! fetch gets its final event (of the type its requests and aborts allow,
//! with byte-identical bodies), once (again only after a kill cut off the
//! bookkeeping), none for a fetch whose registration was unregistered;
//! downloaded/uploaded never go down (per registration object, in the
//! trace, and across restarts); getIds()/get() agree with the active set
//! wherever the model knows it; the state directory holds only files the
//! store knows.
//!
//! Reproducible: the operations follow from a seed. `./x test` runs the
//! seeds in `tests/bgfetch_properties.regressions`, then a CI-sized run
//! from a fixed seed. Environment (see benches/README.md for the 10k run):
//! - `SWH_PROP_OPS` (default 800): operations in all;
//! - `SWH_PROP_CASE_OPS` (default 100): at most this many per case;
//! - `SWH_PROP_SEED` (default fixed; a number, or `random`);
//! - `SWH_PROP_REPLAY=SEED:OPS`: only that case;
//! - `SWH_PROP_SHRINK_SECS` (default 300): time to shrink a failure.
//!
//! A failing case prints its seed and its operations (shrunk), keeps its
//! rounds' output in a directory it names, and appends its seed to the
//! regressions file.

#[path = "support"]
mod support {
  pub mod bgfetch_check;
  pub mod bgfetch_plan;
  pub mod fault_server;
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use support::bgfetch_check::{Checker, RoundOut};
use support::bgfetch_plan::*;
use support::fault_server::{Fault, FaultServer, Route};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Shared by the worker and the page: runs one operation in this realm.
const LIB: &str = r#"
const log = (kind, o) => console.log("OBS " + JSON.stringify({ kind, ...o }));
let REG = null;
const objs = new Map();
const objIds = new WeakMap();
let nextObj = 0;
// Logs every progress event of a registration object (once per object).
function watch(r) {
  if (!objIds.has(r)) {
    const obj = nextObj++;
    objIds.set(r, obj);
    r.addEventListener("progress", () =>
      log("progress", { obj, id: r.id, d: r.downloaded, u: r.uploaded }));
  }
  return objIds.get(r);
}
function toRequest(q) {
  return q.method === "POST"
    ? new Request(q.url, { method: "POST", body: q.body, headers: { "content-type": "text/plain" } })
    : q.url;
}
// The object for fetch k made in this realm and run, else get(id).
async function regFor(op) {
  if (objs.has(op.k)) return [objs.get(op.k), "obj"];
  return [await REG.backgroundFetch.get(op.id), "get"];
}
async function doOp(op) {
  const bf = REG.backgroundFetch;
  switch (op.op) {
    case "fetch": {
      const r = await bf.fetch(op.id, op.reqs.map(toRequest), { downloadTotal: op.total, title: op.title });
      objs.set(op.k, r);
      return { ok: true, id: r.id, d: r.downloaded, u: r.uploaded, obj: watch(r) };
    }
    case "invalid": {
      const reqs = op.urls.map((u) => (op.noCors ? new Request(u, { mode: "no-cors" }) : u));
      await bf.fetch(op.id, reqs, { downloadTotal: op.total });
      return { ok: true };
    }
    case "get": {
      const r = await bf.get(op.id);
      return r ? { found: true, id: r.id, d: r.downloaded, u: r.uploaded, obj: watch(r) } : { found: false };
    }
    case "getIds":
      return { ids: await bf.getIds() };
    case "abort": {
      const [r, via] = await regFor(op);
      return r ? { aborted: await r.abort(), via } : { none: true };
    }
    case "match": {
      const [r, via] = await regFor(op);
      if (!r) return { none: true };
      try {
        const list = op.one ? [await r.match(op.url)] : await r.matchAll();
        return { via, urls: list.map((x) => (x ? x.request.url : null)) };
      } catch (e) {
        return { via, error: e.name };
      }
    }
    case "click":
      await swharness.clickBackgroundFetch(op.id);
      return { ok: true };
    case "cancel":
      return { cancelled: await swharness.cancelBackgroundFetch(op.id) };
    case "online":
      await swharness.setOnline(op.on);
      return { ok: true };
    case "perm":
      await swharness.setPermission("background-fetch", op.state);
      return { ok: true };
    case "release":
      return { text: await (await fetch(op.url)).text() };
    case "unregister":
      return { unregistered: await REG.unregister() };
  }
  throw new Error(`unknown op ${op.op}`);
}
"#;

/// The worker: reports final events (records read back and checksummed,
/// updateUI twice when the id ends in "u") and clicks, and runs the
/// operations its page sends it.
const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
REG = self.registration;
async function final(e) {
  const r = e.registration;
  const out = { ev: e.type, id: r.id, result: r.result, reason: r.failureReason };
  if (r.id.endsWith("u") && typeof e.updateUI === "function") {
    try { await e.updateUI({ title: `done ${r.id}` }); out.ui1 = "ok"; } catch (x) { out.ui1 = x.name; }
    try { await e.updateUI({ title: "again" }); out.ui2 = "ok"; } catch (x) { out.ui2 = x.name; }
  }
  const records = [];
  try {
    for (const rec of await r.matchAll()) {
      const one = { url: rec.request.url };
      try {
        const res = await rec.responseReady;
        const bytes = new Uint8Array(await res.arrayBuffer());
        let sum = 0;
        for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
        Object.assign(one, { status: res.status, len: bytes.length, sum });
      } catch (x) {
        one.error = x.name;
      }
      records.push(one);
    }
  } catch (x) {
    out.matchAll = x.name;
  }
  Object.assign(out, { records, downloaded: r.downloaded, uploaded: r.uploaded });
  log("final", out);
}
for (const t of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(t, (e) => e.waitUntil(final(e)));
}
self.addEventListener("backgroundfetchclick", (e) => log("click", { id: e.registration.id }));
self.addEventListener("message", (e) => e.waitUntil((async () => {
  let res;
  try { res = await doOp(e.data.op); } catch (x) { res = { error: x.name, message: String(x.message) }; }
  e.source.postMessage({ n: e.data.n, res });
})()));
"#;

/// The page after LIB and `const OPS = [...]`. The steps run after the
/// module's evaluation (a top-level await must not wait for events).
const CLIENT: &str = r#"
const reg = await navigator.serviceWorker.ready;
REG = reg;
let nextN = 0;
const pending = new Map();
navigator.serviceWorker.onmessage = (e) => {
  const p = pending.get(e.data.n);
  if (p) { pending.delete(e.data.n); p(e.data.res); }
};
const viaWorker = (op) => new Promise((resolve) => {
  const n = nextN++;
  pending.set(n, resolve);
  reg.active.postMessage({ n, op });
});
(async () => {
  for (const op of OPS) {
    if (op.op === "kill") {
      // Keeps the run alive until the harness kills it.
      setTimeout(() => {}, 600000);
      console.log("KILL-NOW");
      return;
    }
    let res;
    try { res = op.w ? await viaWorker(op) : await doOp(op); }
    catch (x) { res = { error: x.name, message: String(x.message) }; }
    log("op", { op: op.op, res });
  }
  log("done", {});
})();
"#;

const BIN: &str = env!("CARGO_BIN_EXE_swharness");

struct Stats {
  ops: usize,
  rounds: usize,
  kills: usize,
  fetches: usize,
}

/// The fault server's routes for a plan.
fn routes(server: &FaultServer, plan: &Plan) {
  for n in 1..=24u8 {
    server.add(&format!("/ok/{n}"), Route::ok(body(ok_len(n), n as u32)));
  }
  server.add("/echo", Route::ok(UPLOAD_ANSWER.to_vec()));
  let ranged = |b: Vec<u8>, fault: Fault| Route {
    body: b,
    etag: Some("\"v1\"".into()),
    honor_range: true,
    fault,
    ..Route::default()
  };
  server.add(
    "/reset",
    ranged(body(RESET_LEN, 3), Fault::ResetAfter(RESET_AFTER)),
  );
  server.add("/flaky", ranged(body(FLAKY_LEN, 7), Fault::None));
  for f in &plan.fetches {
    for r in &f.recs {
      if let (Some(path), Some(b)) = (&r.held_path, &r.body) {
        server.add(path, ranged(b.clone(), Fault::StallAt(HELD_AT)));
      }
      if let Some(q) = &r.queued {
        server.queue_faults(q, [Fault::ResetAfter(FLAKY_RESET_AT)]);
      }
    }
  }
  for round in &plan.rounds {
    for s in &round.steps {
      if let Step::Release { ack, .. } = s {
        let mut route = Route::ok(b"released".to_vec());
        route.fault = Fault::StallAfter(0);
        server.add(ack, route);
      }
    }
  }
}

/// Runs one round's process to its end, killing it at `KILL-NOW`; held
/// routes are released when the page asks for a release's `ack`.
async fn run_round(
  server: &Arc<FaultServer>,
  dir: &Path,
  r: usize,
  round: Option<&Round>,
) -> RoundOut {
  let js = round.map(|x| x.js.clone()).unwrap_or_default();
  let client = dir.join(format!("c{r}.js"));
  let ops = serde_json::to_string(&js).unwrap();
  std::fs::write(&client, format!("{LIB}\nconst OPS = {ops};\n{CLIENT}")).unwrap();
  let trace = dir.join(format!("t{r}.jsonl"));
  let p = |x: &Path| x.to_string_lossy().into_owned();
  let mut cmd = tokio::process::Command::new(BIN);
  cmd
    .args(["run", &p(&dir.join("sw.js")), "--client", &p(&client)])
    .args(["--state", &p(&dir.join("state")), "--trace", &p(&trace)])
    .args(["--timeout", "30", "--retry-backoff-ms", "20"])
    .args(["--stall-timeout", "600", "--quota", &QUOTA.to_string()])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
  if round.is_some_and(|x| x.offline) {
    cmd.arg("--offline");
  }
  let mut child = cmd.spawn().expect("the binary runs");
  let releases: Vec<(String, Vec<String>)> = round
    .map(|x| {
      x.steps
        .iter()
        .filter_map(|s| match s {
          Step::Release { ack, paths } => Some((ack.clone(), paths.clone())),
          _ => None,
        })
        .collect()
    })
    .unwrap_or_default();
  let srv = server.clone();
  let releaser = tokio::spawn(async move {
    for (ack, paths) in releases {
      srv.wait_for_request(&ack, 1).await;
      for p in paths {
        srv.set_fault(&p, Fault::None);
      }
      srv.release();
    }
  });
  let mut err = child.stderr.take().unwrap();
  let stderr = tokio::spawn(async move {
    let mut s = String::new();
    let _ = err.read_to_string(&mut s).await;
    s
  });
  let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
  let mut out = RoundOut::default();
  let read = tokio::time::timeout(Duration::from_secs(90), async {
    while let Ok(Some(line)) = lines.next_line().await {
      if line.contains("KILL-NOW") && !out.killed {
        let _ = child.start_kill();
        out.killed = true;
      }
      out.stdout.push_str(&line);
      out.stdout.push('\n');
    }
  })
  .await;
  if read.is_err() {
    out.hung = true;
    let _ = child.start_kill();
  }
  out.code = child.wait().await.ok().and_then(|s| s.code());
  releaser.abort();
  out.stderr = stderr.await.unwrap_or_default();
  out.trace = std::fs::read_to_string(&trace).unwrap_or_default();
  out.state_problems = check_state(&dir.join("state"));
  let _ = std::fs::write(
    dir.join(format!("r{r}.out")),
    format!(
      "exit {:?} killed {} hung {}\n{}\n(stderr)\n{}",
      out.code, out.killed, out.hung, out.stdout, out.stderr
    ),
  );
  out
}

/// The state directory holds only what the store knows: its databases,
/// the lock and the port, and body files that records name (a complete
/// one as long as its record says).
fn check_state(state: &Path) -> Vec<String> {
  let mut bad = Vec::new();
  let names = |dir: &Path| -> Vec<String> {
    std::fs::read_dir(dir)
      .map(|d| {
        d.filter_map(|e| e.ok())
          .map(|e| e.file_name().to_string_lossy().into_owned())
          .collect()
      })
      .unwrap_or_default()
  };
  let top = [
    "lock",
    "local-origin-port",
    "browser.sqlite",
    "browser.sqlite-wal",
    "browser.sqlite-shm",
    "bgfetch",
    "cache_bodies",
    "indexeddb",
  ];
  let bg = [
    "bgfetch.sqlite",
    "bgfetch.sqlite-wal",
    "bgfetch.sqlite-shm",
    "bodies",
  ];
  for n in names(state) {
    if !top.contains(&n.as_str()) {
      bad.push(format!("unknown file {n}"));
    }
  }
  for n in names(&state.join("bgfetch")) {
    if !bg.contains(&n.as_str()) {
      bad.push(format!("unknown file bgfetch/{n}"));
    }
  }
  for dir in ["cache_bodies", "indexeddb"] {
    for n in names(&state.join(dir)) {
      bad.push(format!("unknown file {dir}/{n} (nothing here uses it)"));
    }
  }
  // Read a copy: opening the database here must not change it.
  let copy = tempfile::tempdir().unwrap();
  for n in ["bgfetch.sqlite", "bgfetch.sqlite-wal"] {
    let _ = std::fs::copy(state.join("bgfetch").join(n), copy.path().join(n));
  }
  let rows: Vec<(String, Option<i64>, i64, i64)> =
    rusqlite::Connection::open(copy.path().join("bgfetch.sqlite"))
      .and_then(|c| {
        let mut s = c.prepare("SELECT body_file, status, body_len, complete FROM records")?;
        let rows = s
          .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
          .collect::<Result<Vec<_>, _>>();
        rows
      })
      .unwrap_or_else(|e| {
        bad.push(format!("the database: {e}"));
        Vec::new()
      });
  let bodies = state.join("bgfetch").join("bodies");
  for n in names(&bodies) {
    if !rows.iter().any(|(f, ..)| *f == n) {
      bad.push(format!("body file {n} that no record names"));
    }
  }
  for (file, status, len, complete) in &rows {
    if *complete == 1 && status.is_some_and(|s| (200..300).contains(&s)) {
      let on_disk = std::fs::metadata(bodies.join(file)).map(|m| m.len() as i64);
      if on_disk.as_ref().ok() != Some(len) {
        bad.push(format!(
          "complete body {file}: {on_disk:?} bytes, the record says {len}"
        ));
      }
    }
  }
  bad
}

/// Runs a case; the problems found (with where its output is kept).
async fn run_case(ops: &[Op]) -> Result<Stats, String> {
  let server = Arc::new(FaultServer::start().await);
  // Bound, never listening: connections are refused, and the port stays
  // ours for the case.
  let hole = tokio::net::TcpSocket::new_v4().unwrap();
  hole.bind("127.0.0.1:0".parse().unwrap()).unwrap();
  let urls = Urls {
    server: format!("http://{}", server.addr()),
    refused: format!("http://{}", hole.local_addr().unwrap()),
  };
  let plan = plan(ops, &urls);
  routes(&server, &plan);
  let dir = tempfile::Builder::new()
    .prefix("swh-prop-")
    .tempdir()
    .unwrap();
  std::fs::write(dir.path().join("sw.js"), format!("{LIB}\n{SW}")).unwrap();
  let mut checker = Checker::new(&plan);
  let mut killed = Vec::new();
  for (r, round) in plan.rounds.iter().enumerate() {
    let out = run_round(&server, dir.path(), r, Some(round)).await;
    checker.round(r, &out, false);
    killed.push(out.killed);
  }
  // Drain: every held download goes on, online, until the run is quiet.
  for f in &plan.fetches {
    for p in f.recs.iter().filter_map(|r| r.held_path.as_ref()) {
      server.set_fault(p, Fault::None);
    }
  }
  server.release();
  let r = plan.rounds.len();
  let out = run_round(&server, dir.path(), r, None).await;
  checker.round(r, &out, true);
  killed.push(false);
  let problems = checker.finish(&killed);
  if problems.is_empty() {
    return Ok(Stats {
      ops: ops.len(),
      rounds: r + 1,
      kills: killed.iter().filter(|k| **k).count(),
      fetches: plan.fetches.len(),
    });
  }
  let kept: PathBuf = dir.keep();
  let rounds: Vec<String> = plan
    .rounds
    .iter()
    .enumerate()
    .map(|(i, x)| {
      format!(
        "round {i} (offline {}): {}",
        x.offline,
        serde_json::to_string(&x.js).unwrap()
      )
    })
    .collect();
  let _ = std::fs::write(kept.join("rounds.txt"), rounds.join("\n"));
  Err(format!(
    "{}\n(rounds and each round's output: {})",
    problems.join("\n"),
    kept.display()
  ))
}

fn env_usize(name: &str, default: usize) -> usize {
  std::env::var(name)
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(default)
}

fn splitmix(mut x: u64) -> u64 {
  x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
  x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
  x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
  x ^ (x >> 31)
}

const REGRESSIONS: &str = concat!(
  env!("CARGO_MANIFEST_DIR"),
  "/tests/bgfetch_properties.regressions"
);

/// `seed ops` pairs from the regressions file (`# comment` lines skipped).
fn regressions() -> Vec<(u64, usize)> {
  std::fs::read_to_string(REGRESSIONS)
    .unwrap_or_default()
    .lines()
    .filter_map(|l| {
      let mut w = l.split('#').next()?.split_whitespace();
      Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
    })
    .collect()
}

/// Generates the case of `seed`, runs it, and on a failure shrinks it and
/// panics with the seed and the smallest failing operations found.
fn run_seed(rt: &tokio::runtime::Runtime, seed: u64, n: usize, persist: bool) -> Stats {
  let mut key = [0u8; 32];
  key[..8].copy_from_slice(&seed.to_le_bytes());
  let mut runner = TestRunner::new_with_rng(
    Config::default(),
    TestRng::from_seed(RngAlgorithm::ChaCha, &key),
  );
  let mut tree = case(n).new_tree(&mut runner).unwrap();
  let ops = tree.current();
  let first = match rt.block_on(run_case(&ops)) {
    Ok(stats) => return stats,
    Err(e) => e,
  };
  if persist {
    let line = format!("{seed} {n} # {}\n", first.lines().next().unwrap_or(""));
    let mut old = std::fs::read_to_string(REGRESSIONS).unwrap_or_default();
    if !old.contains(&format!("{seed} {n} ")) {
      old.push_str(&line);
      let _ = std::fs::write(REGRESSIONS, old);
    }
  }
  eprintln!("seed {seed} ({n} ops) failed:\n{first}\nshrinking...");
  let budget = Duration::from_secs(env_usize("SWH_PROP_SHRINK_SECS", 300) as u64);
  let start = Instant::now();
  let (mut smallest, mut why) = (ops, first);
  let mut more = tree.simplify();
  while more && start.elapsed() < budget {
    let cur = tree.current();
    match rt.block_on(run_case(&cur)) {
      Err(e) => {
        eprintln!("  still fails with {} ops", cur.len());
        (smallest, why) = (cur, e);
        more = tree.simplify();
      }
      Ok(_) => more = tree.complicate(),
    }
  }
  panic!(
    "Background Fetch property failed: seed {seed}, {n} ops (SWH_PROP_REPLAY={seed}:{n} replays it).\n\
     Smallest failing case found ({} ops): {smallest:#?}\n{why}",
    smallest.len()
  );
}

#[test]
fn random_api_sequences() {
  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(2)
    .enable_all()
    .build()
    .unwrap();
  let started = Instant::now();
  let mut total = Stats {
    ops: 0,
    rounds: 0,
    kills: 0,
    fetches: 0,
  };
  let mut add = |s: Stats| {
    total.ops += s.ops;
    total.rounds += s.rounds;
    total.kills += s.kills;
    total.fetches += s.fetches;
  };
  if let Ok(replay) = std::env::var("SWH_PROP_REPLAY") {
    let (seed, n) = replay.split_once(':').expect("SWH_PROP_REPLAY=SEED:OPS");
    add(run_seed(
      &rt,
      seed.parse().unwrap(),
      n.parse().unwrap(),
      false,
    ));
  } else {
    for (seed, n) in regressions() {
      add(run_seed(&rt, seed, n, false));
    }
    let seed = match std::env::var("SWH_PROP_SEED").as_deref() {
      Ok("random") => splitmix(
        std::time::SystemTime::now()
          .duration_since(std::time::UNIX_EPOCH)
          .unwrap()
          .as_nanos() as u64,
      ),
      Ok(n) => n.parse().expect("SWH_PROP_SEED: a number or random"),
      Err(_) => 20261203,
    };
    let (budget, per_case) = (
      env_usize("SWH_PROP_OPS", 800),
      env_usize("SWH_PROP_CASE_OPS", 100),
    );
    eprintln!(
      "bgfetch_properties: SWH_PROP_SEED={seed}, {budget} ops, at most {per_case} per case"
    );
    let mut ran = 0;
    for c in 0u64.. {
      if ran >= budget {
        break;
      }
      let s = run_seed(&rt, splitmix(seed.wrapping_add(c)), per_case, true);
      ran += s.ops;
      add(s);
    }
  }
  eprintln!(
    "bgfetch_properties: {} ops, {} rounds ({} killed), {} fetches, in {:.1} s",
    total.ops,
    total.rounds,
    total.kills,
    total.fetches,
    started.elapsed().as_secs_f64()
  );
}
