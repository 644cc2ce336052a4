//! Startup benchmark: cold start of `swharness run` to an `activated`
//! service worker, for a trivial worker.
//!
//! `cargo bench --bench startup` builds the release binary and spawns it
//! `SWH_BENCH_RUNS` times (default 30, after 3 warm-up runs), reporting
//! min / median / p90 of
//!
//! - the process wall time (spawn to exit), and
//! - the `t` of the `activated` lifecycle event in the trace (`--trace`;
//!   milliseconds since the trace was opened, early in `run`),
//!
//! with the startup snapshot (made once, in a fresh cache directory, by a
//! first run that is timed on its own) and without (`SWHARNESS_SNAPSHOT=0`);
//! and
//! - a tiny background fetch (1 KiB, from the run's own static server):
//!   the process wall time, and trace time from the client's `fetch()`
//!   to the dispatch of `backgroundfetchsuccess` (`tiny_fetch`); and
//! - in-process: the time to create one realm's runtime
//!   (`engine::new_runtime`) and to run its bootstrap (the assembled
//!   service worker global scope), `SWH_BENCH_RUNS` times on one thread;
//! - `deno`: beside `deno run hello.js` in one hyperfine run; and
//! - `floor`: what `JsRuntime::new` costs on this engine without any of our
//!   JavaScript (deno_core alone, then with Deno's Web extensions), and for
//!   synthetic modules: the least a realm can cost.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use deno_core::v8;

const TRIVIAL_SW: &str = "self.addEventListener(\"install\", () => {});\n";

fn runs() -> usize {
  std::env::var("SWH_BENCH_RUNS")
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(30)
}

struct Stats {
  min: f64,
  median: f64,
  p90: f64,
  mean: f64,
}

fn stats(samples: &[f64]) -> Stats {
  let mut v = samples.to_vec();
  v.sort_by(|a, b| a.partial_cmp(b).unwrap());
  let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
  Stats {
    min: v[0],
    median: pick(0.5),
    p90: pick(0.9),
    mean: v.iter().sum::<f64>() / v.len() as f64,
  }
}

fn print(label: &str, samples: &[f64]) {
  let s = stats(samples);
  println!(
    "{label:<46} min {:>7.2} ms  median {:>7.2} ms  p90 {:>7.2} ms  mean {:>7.2} ms  (n={})",
    s.min,
    s.median,
    s.p90,
    s.mean,
    samples.len()
  );
}

fn ms(d: Duration) -> f64 {
  d.as_secs_f64() * 1000.0
}

/// One cold `swharness run`: (process wall ms, `activated` trace ms).
fn one_run(dir: &Path, i: usize, env: &[(&str, &std::ffi::OsStr)]) -> (f64, Option<f64>) {
  let trace = dir.join(format!("trace-{i}.jsonl"));
  let start = Instant::now();
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .envs(env.iter().copied())
    .arg("run")
    .arg(dir.join("sw.js"))
    .arg("--trace")
    .arg(&trace)
    .output()
    .expect("swharness runs");
  let wall = ms(start.elapsed());
  assert!(
    out.status.success(),
    "swharness failed: {}",
    String::from_utf8_lossy(&out.stderr)
  );
  let text = std::fs::read_to_string(&trace).unwrap_or_default();
  let _ = std::fs::remove_file(&trace);
  let activated = text.lines().find_map(|line| {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    (v["kind"] == "lifecycle" && v["state"] == "activated").then(|| v["t"].as_f64())?
  });
  (wall, activated)
}

fn bench_process() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(dir.path().join("sw.js"), TRIVIAL_SW).unwrap();
  // The first run of a build makes the startup snapshot: time that once,
  // with an empty cache directory.
  let cache = tempfile::tempdir().unwrap();
  let fresh = [("SWHARNESS_CACHE_DIR", cache.path().as_os_str())];
  let (wall, activated) = one_run(dir.path(), 0, &fresh);
  println!(
    "first run, making the snapshot: process {wall:.1} ms, activated at {:.1} ms",
    activated.unwrap_or(f64::NAN)
  );
  let off = std::ffi::OsString::from("0");
  let modes: [(&str, Vec<(&str, &std::ffi::OsStr)>); 2] = [
    ("snapshot", fresh.to_vec()),
    ("no snapshot", vec![("SWHARNESS_SNAPSHOT", off.as_os_str())]),
  ];
  for (label, env) in &modes {
    for i in 0..3 {
      one_run(dir.path(), i, env);
    }
    let n = runs();
    let mut wall = Vec::with_capacity(n);
    let mut activated = Vec::with_capacity(n);
    for i in 0..n {
      let (w, a) = one_run(dir.path(), i, env);
      wall.push(w);
      activated.extend(a);
    }
    print(&format!("{label}: process wall (spawn to exit)"), &wall);
    if activated.is_empty() {
      println!("(no `activated` event in the trace)");
    } else {
      print(&format!("{label}: trace start to activated"), &activated);
    }
  }
}

const TINY_SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("backgroundfetchsuccess", (e) => console.log(`SUCCESS ${e.registration.downloaded}`));
"#;

const TINY_CLIENT: &str = r#"
const reg = await navigator.serviceWorker.ready;
console.log("START");
await reg.backgroundFetch.fetch("tiny", ["tiny.bin"]);
"#;

/// Launch to a 1 KiB background fetch's success event, as a user of a
/// headless browser would time it.
fn bench_tiny_fetch() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(dir.path().join("sw.js"), TINY_SW).unwrap();
  std::fs::write(dir.path().join("client.js"), TINY_CLIENT).unwrap();
  std::fs::write(dir.path().join("tiny.bin"), vec![7u8; 1024]).unwrap();
  let n = runs();
  let mut wall = Vec::with_capacity(n);
  let mut fetch_to_event = Vec::with_capacity(n);
  for i in 0..n + 3 {
    let state = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
      .arg("run")
      .arg(dir.path().join("sw.js"))
      .arg("--client")
      .arg(dir.path().join("client.js"))
      .arg("--state")
      .arg(state.path())
      .arg("--trace")
      .arg(&trace)
      .output()
      .expect("swharness runs");
    let w = ms(start.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
      out.status.success() && stdout.contains("SUCCESS 1024"),
      "the tiny fetch failed:\n{stdout}\n{}",
      String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    let t = |pred: &dyn Fn(&serde_json::Value) -> bool| {
      text.lines().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        pred(&v).then(|| v["t"].as_f64())?
      })
    };
    let started =
      t(&|v| v["kind"] == "console" && v["text"].as_str().unwrap_or("").trim() == "START");
    let event = t(&|v| v["kind"] == "ui" && v["action"] == "bgfetch-final-event");
    if i >= 3 {
      wall.push(w);
      if let (Some(a), Some(b)) = (started, event) {
        fetch_to_event.push(b - a);
      }
    }
  }
  print("tiny fetch: process wall (spawn to exit)", &wall);
  print("tiny fetch: fetch() to success event", &fetch_to_event);
}

fn bench_in_process() {
  in_process("in-process, no snapshot", None);
}

/// Tries a startup snapshot: creates one, then realms from it.
fn bench_snapshot() {
  let start = Instant::now();
  let blob = std::thread::spawn(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
      .enable_all()
      .build()
      .unwrap();
    let _guard = rt.enter();
    swharness::platform::engine::create_snapshot()
  })
  .join();
  let blob = match blob {
    Ok(b) => b,
    Err(_) => {
      println!("snapshot: creating it panicked (see above)");
      return;
    }
  };
  println!(
    "snapshot: created in {:.1} ms, {} bytes",
    ms(start.elapsed()),
    blob.len()
  );
  let blob: &'static [u8] = Box::leak(blob);
  let ok = std::thread::spawn(move || in_process("from snapshot", Some(blob))).join();
  if ok.is_err() {
    println!("snapshot: a realm from the snapshot failed (see above)");
  }
}

/// The least a realm can cost on this engine: `JsRuntime::new` from a
/// snapshot of deno_core alone, and of deno_core with Deno's four Web
/// extensions (webidl, web, crypto, fetch) but none of our JavaScript.
/// Compare with `deno run hello.js` (the `deno` part): when the second
/// figure is at or above Deno's whole process, no change inside swharness
/// brings its start down to Deno's on this engine.
fn bench_floor() {
  type Exts = fn() -> Vec<deno_core::Extension>;
  let parts: [(&str, Exts); 5] = [
    ("deno_core alone", Vec::new),
    ("deno_core + Deno's Web extensions, not evaluated", || {
      swharness::platform::engine::deno_extensions(
        None,
        &swharness::platform::net::NetConfig::default(),
      )
    }),
    ("deno_core + Deno's Web extensions, evaluated", || {
      let mut exts = swharness::platform::engine::deno_extensions(
        None,
        &swharness::platform::net::NetConfig::default(),
      );
      exts.push(floor_web_extension());
      exts
    }),
    ("deno_core + 24 synthetic ES modules of 8 KB", || {
      vec![synthetic_modules(24)]
    }),
    ("deno_core + 1 synthetic ES module of 192 KB", || {
      vec![synthetic_modules(1)]
    }),
  ];
  for (label, exts) in parts {
    let ok = std::thread::spawn(move || {
      let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
      let _guard = rt.enter();
      let blob: &'static [u8] = Box::leak(swharness::platform::engine::create_snapshot_of(exts()));
      let mut create = Vec::new();
      for i in 0..runs() + 3 {
        let start = Instant::now();
        let runtime = deno_core::JsRuntime::new(deno_core::RuntimeOptions {
          extensions: exts(),
          startup_snapshot: Some(blob),
          ..Default::default()
        });
        let took = ms(start.elapsed());
        drop(runtime);
        if i >= 3 {
          create.push(took);
        }
      }
      println!("floor: {label}: snapshot {} bytes", blob.len());
      print(&format!("floor: {label}: JsRuntime::new"), &create);
    })
    .join();
    if ok.is_err() {
      println!("floor: {label}: failed (see above)");
    }
  }
}

/// An extension whose one module evaluates Deno's Web extensions the way
/// every realm does: the `core.loadExtScript` lines (and the telemetry
/// stub deno_fetch needs) of `js/engine/00_web_globals.js`, taken from
/// that file at run time, and nothing else of ours.
fn floor_web_extension() -> deno_core::Extension {
  let src = include_str!("../js/engine/00_web_globals.js");
  let start = src.find("const webidl = ").expect("the loads begin");
  let end = src.find("const LEVELS").expect("the loads end");
  let code = format!(
    "import {{ core, internals }} from \"ext:core/mod.js\";\n{}",
    &src[start..end]
  );
  const SPECIFIER: &str = "ext:floor/web.js";
  deno_core::Extension {
    name: "floor",
    deps: &["deno_webidl", "deno_web", "deno_crypto", "deno_fetch"],
    esm_files: std::borrow::Cow::Owned(vec![deno_core::ExtensionFileSource::new_computed(
      SPECIFIER,
      code.into(),
    )]),
    esm_entry_point: Some(SPECIFIER),
    ..Default::default()
  }
}

/// `n` ES modules with 192 KB of small functions in all, the first
/// importing the others: what restoring a module costs beside its size.
fn synthetic_modules(n: usize) -> deno_core::Extension {
  const NAMES: [&str; 24] = [
    "ext:syn/0.js",
    "ext:syn/1.js",
    "ext:syn/2.js",
    "ext:syn/3.js",
    "ext:syn/4.js",
    "ext:syn/5.js",
    "ext:syn/6.js",
    "ext:syn/7.js",
    "ext:syn/8.js",
    "ext:syn/9.js",
    "ext:syn/10.js",
    "ext:syn/11.js",
    "ext:syn/12.js",
    "ext:syn/13.js",
    "ext:syn/14.js",
    "ext:syn/15.js",
    "ext:syn/16.js",
    "ext:syn/17.js",
    "ext:syn/18.js",
    "ext:syn/19.js",
    "ext:syn/20.js",
    "ext:syn/21.js",
    "ext:syn/22.js",
    "ext:syn/23.js",
  ];
  let per = 192 * 1024 / n;
  let files = (0..n)
    .map(|i| {
      let mut code = String::new();
      if i == 0 {
        for (j, name) in NAMES.iter().enumerate().take(n).skip(1) {
          code.push_str(&format!("import {{ f{j}_0 }} from \"{name}\";\n"));
        }
      }
      let mut k = 0;
      while code.len() < per {
        code.push_str(&format!(
          "export function f{i}_{k}(a, b) {{ const c = [a, b, {k}]; return c.map((x) => x * 2).join(\",\"); }}\n"
        ));
        k += 1;
      }
      deno_core::ExtensionFileSource::new_computed(NAMES[i], code.into())
    })
    .collect::<Vec<_>>();
  deno_core::Extension {
    name: "syn",
    esm_files: std::borrow::Cow::Owned(files),
    esm_entry_point: Some(NAMES[0]),
    ..Default::default()
  }
}

fn in_process(label: &str, snapshot: Option<&'static [u8]>) {
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .unwrap();
  let _guard = rt.enter();
  // The realm's host channel: kept open, never read (bootstrap sends at
  // most console output).
  let (host, _host_rx) = tokio::sync::mpsc::unbounded_channel();
  let url = url::Url::parse("http://127.0.0.1:1/sw.js").unwrap();
  let bootstrap = serde_json::json!({
    "kind": "serviceworker",
    "url": url.as_str(),
    "scope": "http://127.0.0.1:1/",
    "registration": {
      "scope": "http://127.0.0.1:1/",
      "updateViaCache": "imports",
      "installing": {"id": 1, "scriptURL": url.as_str(), "state": "installing"},
      "waiting": null,
      "active": null,
    },
    "worker": {"id": 1, "scriptURL": url.as_str(), "state": "installing"},
    "chromium": false,
  });
  let boot = format!("globalThis[Symbol.for('swharness.bootstrap')]({bootstrap})");
  let mut create = Vec::new();
  let mut boot_t = Vec::new();
  let mut total = Vec::new();
  let n = runs();
  for i in 0..n + 3 {
    let start = Instant::now();
    let mut runtime = swharness::platform::engine::new_runtime_from(
      Some(url.clone()),
      None,
      &swharness::platform::net::NetConfig::default(),
      snapshot,
    );
    runtime
      .op_state()
      .borrow_mut()
      .put(swharness::platform::engine::ops::RealmCtx {
        id: 1,
        host: host.clone(),
        shortcuts: Default::default(),
      });
    let created = start.elapsed();
    runtime
      .execute_script("ext:swharness/bootstrap", boot.clone())
      .expect("bootstrap runs");
    {
      // Make sure the scope is really there.
      deno_core::scope!(scope, &mut runtime);
      let global = scope.get_current_context().global(scope);
      let key = v8::String::new(scope, "ServiceWorkerGlobalScope").unwrap();
      assert!(global
        .get(scope, key.into())
        .is_some_and(|v| v.is_function()));
    }
    let booted = start.elapsed();
    drop(runtime);
    if i >= 3 {
      create.push(ms(created));
      boot_t.push(ms(booted - created));
      total.push(ms(booted));
    }
  }
  print(&format!("{label}: new_runtime"), &create);
  print(&format!("{label}: bootstrap (SW scope)"), &boot_t);
  print(&format!("{label}: runtime + bootstrap"), &total);
}

fn main() {
  // `cargo bench` passes `--bench`; a filter argument may select a part.
  let filter: Vec<String> = std::env::args()
    .skip(1)
    .filter(|a| !a.starts_with("--"))
    .collect();
  let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
  println!("startup benchmark ({} runs; {})", runs(), common::machine());
  if want("process") {
    bench_process();
  }
  if want("tiny_fetch") {
    bench_tiny_fetch();
  }
  if want("in_process") {
    bench_in_process();
  }
  if want("snapshot") {
    bench_snapshot();
  }
  if want("deno") {
    bench_deno();
  }
  if want("floor") {
    bench_floor();
  }
}

/// The `deno` binary: `$SWH_BENCH_DENO`, npm's `@deno/linux-x64-glibc` in
/// `.bench-deps/` (`npm install @deno/linux-x64-glibc` there; never
/// committed; a directory of its own, as npm prunes what a later install
/// in `.npm-deps/` does not name), or `deno` on PATH.
fn deno_binary() -> Option<std::path::PathBuf> {
  if let Some(p) = std::env::var_os("SWH_BENCH_DENO") {
    return Some(p.into());
  }
  let npm = Path::new(env!("CARGO_MANIFEST_DIR"))
    .join(".bench-deps/node_modules/@deno/linux-x64-glibc/deno");
  if npm.is_file() {
    return Some(npm);
  }
  let found = Command::new("deno")
    .arg("--version")
    .output()
    .is_ok_and(|o| o.status.success());
  found.then(|| "deno".into())
}

/// Cold start to exit, side by side in one hyperfine run: `deno run
/// hello.js` (V8 with its snapshot) and `swharness run sw.js` for a trivial
/// worker (registered, installed, activated, then the run is quiet).
fn bench_deno() {
  let Some(deno) = deno_binary() else {
    println!(
      "deno: not found (npm install @deno/linux-x64-glibc in .bench-deps/, or SWH_BENCH_DENO)"
    );
    return;
  };
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(dir.path().join("hello.js"), "console.log(\"hello\");\n").unwrap();
  std::fs::write(dir.path().join("sw.js"), TRIVIAL_SW).unwrap();
  let json = dir.path().join("hyperfine.json");
  let out = Command::new("hyperfine")
    .current_dir(dir.path())
    .args([
      "-N",
      "--warmup",
      "3",
      "--runs",
      &runs().to_string(),
      "--export-json",
    ])
    .arg(&json)
    .arg(format!("{} run hello.js", deno.display()))
    .arg(format!("{} run sw.js", env!("CARGO_BIN_EXE_swharness")))
    .output();
  match out {
    Ok(o) if o.status.success() => {}
    Ok(o) => {
      println!(
        "deno: hyperfine failed: {}",
        String::from_utf8_lossy(&o.stderr)
      );
      return;
    }
    Err(e) => {
      println!("deno: hyperfine did not run ({e}); apt-get install hyperfine");
      return;
    }
  }
  let v: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
  let ms = |i: usize, k: &str| v["results"][i][k].as_f64().unwrap_or(f64::NAN) * 1000.0;
  println!("cold start to exit (hyperfine -N, {} runs):", runs());
  for (i, label) in [(0, "deno run hello.js"), (1, "swharness run sw.js")] {
    println!(
      "  {label:<22} mean {:6.1} ms  median {:6.1} ms  min {:6.1} ms  (user {:.1} ms, system {:.1} ms)",
      ms(i, "mean"),
      ms(i, "median"),
      ms(i, "min"),
      ms(i, "user"),
      ms(i, "system")
    );
  }
  println!(
    "  ratio swharness/deno: median {:.2}, min {:.2} (target: at most 1)",
    ms(1, "median") / ms(0, "median"),
    ms(1, "min") / ms(0, "min")
  );
}
