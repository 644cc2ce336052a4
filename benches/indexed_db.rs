//! IndexedDB benchmark: 10k `put`s in one readwrite transaction, then 10k
//! `get`s (one readonly transaction) and a full cursor walk, from a service
//! worker, against fake-indexeddb (the in-memory JS implementation, npm)
//! running the same script under Node on this machine, when `node` and
//! `.npm-deps/node_modules/fake-indexeddb` are there (`npm install
//! fake-indexeddb` in `.npm-deps/`; never committed).
//!
//! swharness is durable (each commit is on disk, SQLite WAL) and runs the
//! realm and the database on different threads; fake-indexeddb keeps
//! everything in the Node process's memory. `cargo bench --bench indexed_db`;
//! `SWH_BENCH_N` changes the record count.
//!
//! With `SWH_BENCH_BIG_MIB=1024`, it then writes that many 1 MiB values (16
//! per transaction) and walks them with a cursor, and reports the run's
//! peak RSS (VmHWM) and the database's size on disk: RSS should stay flat
//! whatever the database's size.

mod common;

use std::process::Command;

/// The workload; `report(label, ms)` prints one line. `indexedDB` and
/// `IDBKeyRange` come from the global scope.
const WORKLOAD: &str = r#"
const N = NCOUNT;
const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const done = (tx) => new Promise((res, rej) => { tx.oncomplete = res; tx.onabort = () => rej(tx.error); });
async function bench(report) {
  const open = indexedDB.open("bench-" + Math.random(), 1);
  open.onupgradeneeded = () => open.result.createObjectStore("s");
  const db = await req(open);
  let t = performance.now();
  const w = db.transaction("s", "readwrite");
  const s = w.objectStore("s");
  for (let i = 0; i < N; i++) s.put({ i, name: "record " + i, tags: [i % 7, i % 11] }, i);
  await done(w);
  report("put x" + N + " (one transaction)", performance.now() - t);
  t = performance.now();
  const r = db.transaction("s").objectStore("s");
  let last;
  for (let i = 0; i < N; i++) last = r.get(i);
  await req(last);
  report("get x" + N + " (one transaction)", performance.now() - t);
  t = performance.now();
  let seen = 0;
  await new Promise((res) => {
    const c = db.transaction("s").objectStore("s").openCursor();
    c.onsuccess = () => { if (c.result) { seen++; c.result.continue(); } else res(); };
  });
  report("cursor walk of " + seen, performance.now() - t);
  db.close();
}
"#;

fn main() {
  let n: usize = std::env::var("SWH_BENCH_N")
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(10_000);
  let workload = WORKLOAD.replace("NCOUNT", &n.to_string());
  println!("indexed_db: {} records; {}", n, common::machine());
  let dir = tempfile::tempdir().unwrap();
  let sw = dir.path().join("sw.js");
  std::fs::write(
    &sw,
    format!(
      "{workload}\nself.addEventListener('install', (e) => e.waitUntil(bench((l, ms) => console.log('  swharness     ' + l + ': ' + ms.toFixed(1) + ' ms'))));\n"
    ),
  )
  .unwrap();
  let state = dir.path().join("state");
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args([
      "run",
      sw.to_str().unwrap(),
      "--state",
      state.to_str().unwrap(),
      "--timeout",
      "600",
    ])
    .output()
    .expect("swharness runs");
  print!(
    "{}",
    String::from_utf8_lossy(&out.stdout).replace("[sw] ", "")
  );
  if !out.status.success() {
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
  }
  if let Some(mib) = std::env::var("SWH_BENCH_BIG_MIB")
    .ok()
    .and_then(|s| s.parse::<usize>().ok())
  {
    big(dir.path(), mib);
  }
  let fake = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    .join(".npm-deps/node_modules/fake-indexeddb/auto/index.mjs");
  if !fake.is_file() {
    println!("  fake-indexeddb: not installed (npm install fake-indexeddb in .npm-deps/)");
    return;
  }
  let script = dir.path().join("fake.mjs");
  std::fs::write(
    &script,
    format!(
      "import {:?};\n{workload}\nawait bench((l, ms) => console.log('  fake-indexeddb ' + l + ': ' + ms.toFixed(1) + ' ms'));\n",
      fake.to_string_lossy()
    ),
  )
  .unwrap();
  match Command::new("node").arg(&script).output() {
    Ok(o) => print!(
      "{}{}",
      String::from_utf8_lossy(&o.stdout),
      String::from_utf8_lossy(&o.stderr)
    ),
    Err(e) => println!("  fake-indexeddb: node did not run: {e}"),
  }
  fake_on_quickjs(dir.path(), &workload);
}

/// fake-indexeddb run by swharness itself, in a page: the same JavaScript
/// library on both engines, so the gap between the two rows above is seen
/// for what it is (the engine, or the implementation). fake-indexeddb
/// schedules its tasks with `setImmediate` where it exists (Node) and
/// `setTimeout(0)` otherwise (1-2 ms a task here, with the engine's timer
/// granularity); the page gives it a `setImmediate` made of a
/// MessageChannel, as the npm `setimmediate` polyfill does.
fn fake_on_quickjs(dir: &std::path::Path, workload: &str) {
  let package =
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".npm-deps/node_modules/fake-indexeddb");
  // The run serves the files' common folder: the package is linked in.
  if std::os::unix::fs::symlink(&package, dir.join("fake-indexeddb")).is_err() {
    return;
  }
  std::fs::write(
    dir.join("idle.js"),
    "self.addEventListener('install', () => {});\n",
  )
  .unwrap();
  std::fs::write(
    dir.join("fake-page.js"),
    format!(
      r#"const queue = [];
const channel = new MessageChannel();
channel.port1.onmessage = () => queue.shift()();
globalThis.setImmediate = (fn) => {{ queue.push(fn); channel.port2.postMessage(0); }};
const {{ indexedDB, IDBKeyRange }} = await import("./fake-indexeddb/build/esm/index.js");
{workload}
await bench((l, ms) => console.log('  fake-indexeddb on QuickJS (swharness page) ' + l + ': ' + ms.toFixed(1) + ' ms'));
channel.port1.close();
"#
    ),
  )
  .unwrap();
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(["run", dir.join("idle.js").to_str().unwrap(), "--client"])
    .arg(dir.join("fake-page.js"))
    .args(["--timeout", "600"])
    .output()
    .expect("swharness runs");
  print!(
    "{}",
    String::from_utf8_lossy(&out.stdout).replace("[client 1] ", "")
  );
  if !out.status.success() {
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
  }
}

/// Writes `mib` values of 1 MiB, reads them back with a cursor, and reports
/// the peak RSS of the run and the size of the state directory.
fn big(dir: &std::path::Path, mib: usize) {
  let sw = dir.join("big.js");
  std::fs::write(
    &sw,
    format!(
      r#"
const req = (r) => new Promise((res, rej) => {{ r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); }});
const done = (tx) => new Promise((res, rej) => {{ tx.oncomplete = res; tx.onabort = () => rej(tx.error); }});
self.addEventListener("install", (e) => e.waitUntil((async () => {{
  const open = indexedDB.open("big", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("s");
  const db = await req(open);
  const value = new Uint8Array(1024 * 1024).fill(7);
  let t = performance.now();
  for (let i = 0; i < {mib}; i += 16) {{
    const tx = db.transaction("s", "readwrite");
    for (let j = i; j < Math.min(i + 16, {mib}); j++) tx.objectStore("s").put(value, j);
    await done(tx);
  }}
  console.log("  swharness     write {mib} MiB: " + (performance.now() - t).toFixed(0) + " ms");
  t = performance.now();
  let bytes = 0;
  await new Promise((res) => {{
    const c = db.transaction("s").objectStore("s").openCursor();
    c.onsuccess = () => {{ if (c.result) {{ bytes += c.result.value.length; c.result.continue(); }} else res(); }};
  }});
  console.log("  swharness     cursor read " + (bytes >> 20) + " MiB: " + (performance.now() - t).toFixed(0) + " ms");
}})()));
"#
    ),
  )
  .unwrap();
  let state = dir.join("big-state");
  let child = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args([
      "run",
      sw.to_str().unwrap(),
      "--state",
      state.to_str().unwrap(),
      "--timeout",
      "3600",
      "--quota",
      "4294967296",
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("swharness runs");
  let pid = child.id();
  let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
  let watcher = {
    let peak = peak.clone();
    std::thread::spawn(move || loop {
      match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => {
          if let Some(kb) = s
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
          {
            peak.store(kb, std::sync::atomic::Ordering::Relaxed);
          }
        }
        Err(_) => return,
      }
      std::thread::sleep(std::time::Duration::from_millis(100));
    })
  };
  let out = child.wait_with_output().unwrap();
  let _ = watcher.join();
  print!(
    "{}",
    String::from_utf8_lossy(&out.stdout).replace("[sw] ", "")
  );
  let disk: u64 = walk(&state);
  println!(
    "  swharness     peak RSS {} MiB for a {} MiB database",
    peak.load(std::sync::atomic::Ordering::Relaxed) / 1024,
    disk >> 20
  );
}

fn walk(dir: &std::path::Path) -> u64 {
  std::fs::read_dir(dir)
    .map(|d| {
      d.flatten()
        .map(|e| {
          let p = e.path();
          if p.is_dir() {
            walk(&p)
          } else {
            e.metadata().map_or(0, |m| m.len())
          }
        })
        .sum()
    })
    .unwrap_or(0)
}
