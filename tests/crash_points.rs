//! Every crash point of a scenario, one at a time: a run is ended with
//! SIGKILL at its Nth durability point (`SWHARNESS_CRASH_AT`, see
//! `src/platform/browser/durability.rs`), then started again on the same state
//! directory, and the invariants are checked:
//!
//! - the fetch ends with one completed final event whose records and bodies
//!   are byte-exact, and whose `downloaded` is exact (what a run without a
//!   crash gives). A handler cut off before its `waitUntil` promises settle
//!   runs again at the next start; one that completed but was cut off
//!   before the store recorded it (the `bgfetch-final-event.done` point and
//!   the commit after it) runs again too, so it is the one case with two
//!   completed runs of the handler (at least once, as documented in the
//!   README);
//! - a third start delivers nothing more;
//! - the state directory holds no body file the stores do not know, and no
//!   temporary file;
//! - nothing panicked.
//!
//! The success scenario's handler also puts each response into Cache
//! Storage and writes IndexedDB, so their commits are points too.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The worker: at a final event it reads every record's body (length and
/// checksum), and for ids starting with "s" puts the responses into a
/// cache and a record into IndexedDB, then prints one FINAL line.
const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
const sum = (bytes) => { let s = 0; for (const b of bytes) s = (s * 31 + b) >>> 0; return s; };
const idb = () => new Promise((res, rej) => {
  const open = indexedDB.open("finals", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("done");
  open.onsuccess = () => res(open.result);
  open.onerror = () => rej(open.error);
});
async function final(event) {
  const r = event.registration;
  const parts = [];
  for (const rec of await r.matchAll()) {
    const path = new URL(rec.request.url).pathname;
    try {
      const res = await rec.responseReady;
      const bytes = new Uint8Array(await res.clone().arrayBuffer());
      parts.push(`${path}:${res.status}:${bytes.length}:${sum(bytes)}`);
      if (r.id.startsWith("s")) await (await caches.open("c-" + r.id)).put(rec.request, res);
    } catch (e) { parts.push(`${path}:${e.name}`); }
  }
  let extra = "";
  if (r.id.startsWith("s")) {
    const db = await idb();
    const tx = db.transaction("done", "readwrite");
    for (let i = 0; i < 20; i++) tx.objectStore("done").put({ id: r.id, i }, r.id + i);
    await new Promise((res, rej) => { tx.oncomplete = res; tx.onabort = () => rej(tx.error); });
    const count = await new Promise((res) => {
      const q = db.transaction("done").objectStore("done").count();
      q.onsuccess = () => res(q.result);
    });
    db.close();
    const cached = [];
    for (const req of await (await caches.open("c-" + r.id)).keys()) {
      const res = await caches.match(req);
      cached.push(new URL(req.url).pathname + ":" + (await res.arrayBuffer()).byteLength);
    }
    extra = ` idb=${count} cache=${cached.sort().join(",")}`;
  }
  console.log(`FINAL ${event.type} id=${r.id} result=${r.result} reason=${r.failureReason} downloaded=${r.downloaded} records=${parts.join(",")}${extra}`);
}
for (const type of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(type, (event) => event.waitUntil(final(event)));
}
"#;

struct Scenario {
  name: &'static str,
  client: &'static str,
  /// Flags of the first run (the one that is cut off).
  flags: &'static [&'static str],
  /// A FINAL line that is also right after a crash, besides the one a run
  /// without a crash gives (an abort cut off before it was stored leaves
  /// the fetch to succeed).
  also: Option<&'static str>,
}

const SCENARIOS: &[Scenario] = &[
  Scenario {
    name: "success",
    client: r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("s1", ["a.txt", "b.bin"]);
console.log("ACCEPTED");
"#,
    flags: &["--serve-rate", "600000"],
    also: None,
  },
  Scenario {
    name: "bad-status",
    client: r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("bad", ["a.txt", "missing.txt"]);
console.log("ACCEPTED");
"#,
    flags: &[],
    also: None,
  },
  Scenario {
    name: "abort",
    client: r#"
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("ab", ["b.bin"]);
console.log("ACCEPTED");
console.log(`ABORTED ${await f.abort()}`);
"#,
    flags: &["--offline"],
    also: Some("FINAL backgroundfetchsuccess id=ab result=success reason= downloaded=300000 records=/b.bin:200:300000:"),
  },
  Scenario {
    name: "upload",
    client: r#"
const reg = await navigator.serviceWorker.ready;
const body = "u".repeat(200000);
await reg.backgroundFetch.fetch("up", [new Request("a.txt", { method: "POST", body })], { uploadTotal: 200000 });
console.log("ACCEPTED");
"#,
    flags: &[],
    also: None,
  },
  Scenario {
    name: "offline-resume",
    client: r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("off", ["b.bin"]);
console.log("ACCEPTED");
await swharness.setOnline(true);
"#,
    flags: &["--offline", "--serve-rate", "600000"],
    also: None,
  },
];

struct Out {
  stdout: String,
  stderr: String,
}

fn run(dir: &Path, state: &Path, client: bool, flags: &[&str], env: &[(&str, String)]) -> Out {
  let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
  let mut cmd = Command::new(env!("CARGO_BIN_EXE_swharness"));
  cmd.args([
    "run",
    &p("sw.js"),
    "--state",
    &state.to_string_lossy(),
    "--timeout",
    "60",
  ]);
  if client {
    cmd.args(["--client", &p("client.js")]).args(flags);
  }
  for (k, v) in env {
    cmd.env(k, v);
  }
  let out = cmd.output().expect("the binary runs");
  Out {
    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
  }
}

fn finals(s: &str) -> Vec<String> {
  s.lines()
    .filter_map(|l| l.find("FINAL ").map(|at| l[at..].to_string()))
    .collect()
}

fn setup(sc: &Scenario) -> tempfile::TempDir {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(dir.path().join("sw.js"), SW).unwrap();
  std::fs::write(dir.path().join("client.js"), sc.client).unwrap();
  std::fs::write(dir.path().join("a.txt"), vec![b'a'; 1000]).unwrap();
  let body: Vec<u8> = (0..300_000u32)
    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
    .collect();
  std::fs::write(dir.path().join("b.bin"), body).unwrap();
  dir
}

/// Files under `dir` (recursively).
fn files(dir: &Path) -> Vec<PathBuf> {
  let mut out = Vec::new();
  let mut stack = vec![dir.to_path_buf()];
  while let Some(d) = stack.pop() {
    for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
      let p = e.path();
      if p.is_dir() {
        stack.push(p);
      } else {
        out.push(p);
      }
    }
  }
  out
}

/// The body files the stores know: Background Fetch records and Cache
/// Storage entries.
fn known_bodies(state: &Path) -> Vec<String> {
  let mut known = Vec::new();
  let query = |db: PathBuf, sql: &str, known: &mut Vec<String>| {
    if !db.exists() {
      return;
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
      .query_map([], |r| r.get::<_, Option<String>>(0))
      .unwrap();
    known.extend(rows.flatten().flatten());
  };
  query(
    state.join("bgfetch/bgfetch.sqlite"),
    "SELECT body_file FROM records",
    &mut known,
  );
  query(
    state.join("browser.sqlite"),
    "SELECT body_file FROM cache_entries",
    &mut known,
  );
  known
}

/// No body file the stores do not know, no temporary file.
fn check_files(state: &Path, context: &str) {
  let known = known_bodies(state);
  for f in files(state) {
    let name = f.file_name().unwrap().to_string_lossy().into_owned();
    let parent = f
      .parent()
      .unwrap()
      .file_name()
      .unwrap()
      .to_string_lossy()
      .into_owned();
    assert!(
      !name.contains(".tmp") && !name.ends_with("-journal"),
      "{context}: a temporary file is left: {}",
      f.display()
    );
    if parent == "bodies" || parent == "cache_bodies" {
      assert!(
        known.iter().any(|k| k.ends_with(&name)),
        "{context}: {} is a body no store knows (known: {known:?})",
        f.display()
      );
    }
  }
}

/// The point names a run listed in `SWHARNESS_CRASH_LOG` ("N NAME" lines).
fn read_points(log: &Path) -> Vec<String> {
  std::fs::read_to_string(log)
    .unwrap_or_default()
    .lines()
    .map(|l| l.split_once(' ').map_or("", |p| p.1).to_string())
    .collect()
}

/// The crash points a run without a crash reaches, in order.
fn points(dir: &Path, sc: &Scenario) -> (Vec<String>, String) {
  let state = tempfile::tempdir().unwrap();
  let log = dir.join("points.log");
  let out = run(
    dir,
    state.path(),
    true,
    sc.flags,
    &[("SWHARNESS_CRASH_LOG", log.to_string_lossy().into_owned())],
  );
  let finals = finals(&out.stdout);
  assert_eq!(
    finals.len(),
    1,
    "{}: {}\n{}",
    sc.name,
    out.stdout,
    out.stderr
  );
  let points = read_points(&log);
  check_files(state.path(), sc.name);
  (points, finals[0].clone())
}

fn scenario(sc: &Scenario) -> usize {
  let dir = setup(sc);
  let (points, reference) = points(dir.path(), sc);
  assert!(!points.is_empty(), "{}: no crash point reached", sc.name);
  for k in 1..=points.len() {
    let state = tempfile::tempdir().unwrap();
    // The points this run reached (the last is where it ended): timing
    // (progress saves, body batches) can number them unlike the first run.
    let log = state.path().with_extension("points");
    let first = run(
      dir.path(),
      state.path(),
      true,
      sc.flags,
      &[
        ("SWHARNESS_CRASH_AT", k.to_string()),
        ("SWHARNESS_CRASH_LOG", log.to_string_lossy().into_owned()),
      ],
    );
    let reached = read_points(&log);
    let _ = std::fs::remove_file(&log);
    let at = |i: usize| reached.get(i).map_or("", |s| s.as_str());
    let killed = reached.len() == k;
    let context = format!(
      "{} at point {k} ({})",
      sc.name,
      if killed { at(k - 1) } else { "not reached" }
    );
    let second = run(dir.path(), state.path(), false, &[], &[]);
    let third = run(dir.path(), state.path(), false, &[], &[]);
    for out in [&first, &second, &third] {
      assert!(
        !out.stderr.contains("panicked"),
        "{context}: {}",
        out.stderr
      );
    }
    let seen: Vec<String> = [&first, &second]
      .iter()
      .flat_map(|o| finals(&o.stdout))
      .collect();
    assert!(
      finals(&third.stdout).is_empty(),
      "{context}: delivered again: {}",
      third.stdout
    );
    let right = |f: &String| {
      *f == reference
        || sc.also.is_some_and(|a| f.starts_with(a)) && !first.stdout.contains("ABORTED true")
    };
    if first.stdout.contains("ACCEPTED") {
      assert!(
        !seen.is_empty(),
        "{context}: an accepted fetch got no final event\n{}\n{}",
        first.stdout,
        second.stdout
      );
    }
    for f in &seen {
      assert!(right(f), "{context}: {f}\nexpected {reference}");
    }
    // Two completed runs of the handler only when the first one finished
    // and was cut off before it was recorded.
    if seen.len() > 1 {
      let window = killed
        && (at(k - 1) == "bgfetch-final-event.done"
          || at(k - 1) == "sqlite-commit:bgfetch"
            && k >= 2
            && at(k - 2) == "bgfetch-final-event.done");
      assert!(
        seen.len() == 2 && window && !finals(&first.stdout).is_empty(),
        "{context}: {} completed final events: {seen:?}",
        seen.len()
      );
    }
    check_files(state.path(), &context);
  }
  points.len()
}

#[test]
fn every_crash_point_is_survived() {
  // Two scenarios at a time (the machine CI gives has two cores).
  let counts: Vec<(String, usize)> = SCENARIOS
    .chunks(2)
    .flat_map(|pair| {
      std::thread::scope(|s| {
        let handles: Vec<_> = pair
          .iter()
          .map(|sc| s.spawn(move || (sc.name.to_string(), scenario(sc))))
          .collect();
        handles
          .into_iter()
          .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
          .collect::<Vec<_>>()
      })
    })
    .collect();
  let total: usize = counts.iter().map(|c| c.1).sum();
  println!("crash points covered: {total} {counts:?}");
}
