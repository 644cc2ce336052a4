//! Black-box tests of `swharness run`: lifecycle, messages, importScripts,
//! Cache Storage across restarts, errors and the trace.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(rel: &str) -> String {
  PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    .join("fixtures")
    .join(rel)
    .to_string_lossy()
    .into_owned()
}

fn swharness(args: &[&str]) -> Output {
  Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(args)
    .output()
    .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
  String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `needles` appear in `hay` in this order.
fn assert_in_order(hay: &str, needles: &[&str]) {
  let mut from = 0;
  for n in needles {
    match hay[from..].find(n) {
      Some(i) => from += i + n.len(),
      None => panic!("expected {n:?} (in order) in:\n{hay}"),
    }
  }
}

#[test]
fn lifecycle_messages_and_import_scripts() {
  let out = swharness(&[
    "run",
    &fixture("basic/sw.js"),
    "--client",
    &fixture("basic/client.js"),
    "--timeout",
    "30",
  ]);
  let stdout = text(&out.stdout);
  assert!(out.status.success(), "stderr: {}", text(&out.stderr));
  // waitUntil holds install open until its promise settles.
  assert_in_order(
    &stdout,
    &[
      "[sw] install\n",
      "[sw] install done\n",
      "[sw] activate activating\n",
      "[client 1] ready; active state: activated\n",
      "[sw] got {\"name\":\"client\"} from /client.js\n",
      // greet() comes from importScripts("helper.js").
      "[client 1] reply: hello, client\n",
    ],
  );
}

#[test]
fn rejected_install_makes_the_worker_redundant() {
  let trace = tempfile::NamedTempFile::new().unwrap();
  let out = swharness(&[
    "run",
    &fixture("errors/install-rejects.js"),
    "--trace",
    trace.path().to_str().unwrap(),
  ]);
  assert_eq!(out.status.code(), Some(1));
  // The reason of the rejected waitUntil promise, with where it was made.
  let stderr = text(&out.stderr);
  assert_in_order(
    &stderr,
    &[
      "failed to install and is redundant: Error: install refused",
      "install-rejects.js:2:",
    ],
  );
  let trace = std::fs::read_to_string(trace.path()).unwrap();
  assert!(
    trace.contains("\"kind\":\"install-failed\"") && trace.contains("Error: install refused"),
    "{trace}"
  );
  assert_in_order(
    &trace,
    &["\"state\":\"installing\"", "\"state\":\"redundant\""],
  );
  assert!(!trace.contains("\"state\":\"activated\""));
}

#[test]
fn syntax_error_reports_file_line_and_column() {
  let out = swharness(&["run", &fixture("errors/syntax-error.js")]);
  assert_eq!(out.status.code(), Some(1));
  let stderr = text(&out.stderr);
  assert!(stderr.contains("SyntaxError"), "{stderr}");
  assert!(stderr.contains("syntax-error.js:3:"), "{stderr}");
}

#[test]
fn uncaught_exception_and_unhandled_rejection_fail_the_run() {
  for client in [
    "errors/throws-in-client.js",
    "errors/unhandled-rejection.js",
  ] {
    let out = swharness(&[
      "run",
      &fixture("errors/sw.js"),
      "--client",
      &fixture(client),
    ]);
    assert_eq!(out.status.code(), Some(1), "{client}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[client 1] Uncaught"), "{stderr}");
    assert!(stderr.contains(".js:"), "a stack with a location: {stderr}");
  }
}

#[test]
fn usage_errors_are_clear() {
  let out = swharness(&["run", "/no/such/worker.js"]);
  assert_eq!(out.status.code(), Some(2));
  assert!(text(&out.stderr).contains("no such file"));
  let out = swharness(&["run", "--bogus-flag", "x.js"]);
  assert_eq!(out.status.code(), Some(2));
  let out = swharness(&["run", &fixture("errors/sw.js"), "--timeout", "-1"]);
  assert_eq!(out.status.code(), Some(2));
  let out = swharness(&["run", "ftp://example/sw.js"]);
  assert_eq!(out.status.code(), Some(2));
  let out = swharness(&[
    "run",
    &fixture("errors/sw.js"),
    "--permission",
    "camera=granted",
  ]);
  assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_state_directory_that_cannot_be_made_is_a_clear_error() {
  let dir = tempfile::tempdir().unwrap();
  let file = dir.path().join("not-a-dir");
  std::fs::write(&file, "keep me").unwrap();
  let state = file.join("state");
  let out = swharness(&[
    "run",
    &fixture("errors/sw.js"),
    "--state",
    &state.to_string_lossy(),
  ]);
  assert_eq!(out.status.code(), Some(1));
  let err = text(&out.stderr);
  assert!(
    err.contains(&format!(
      "could not use the state directory {}",
      state.display()
    )),
    "{err}"
  );
  assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn unreachable_url_is_an_error() {
  // A port nothing listens on: bind, read the port, close.
  let port = std::net::TcpListener::bind("127.0.0.1:0")
    .unwrap()
    .local_addr()
    .unwrap()
    .port();
  let out = swharness(&["run", &format!("http://127.0.0.1:{port}/sw.js")]);
  assert_eq!(out.status.code(), Some(1));
  assert!(text(&out.stderr).contains("Failed to fetch the script"));
}

#[test]
fn timeout_names_what_is_pending() {
  let out = swharness(&[
    "run",
    &fixture("errors/sw.js"),
    "--client",
    &fixture("basic/forever.js"),
    "--timeout",
    "4",
  ]);
  assert_eq!(out.status.code(), Some(3));
  let stderr = text(&out.stderr);
  assert!(stderr.contains("timed out after 4 s"), "{stderr}");
  assert!(stderr.contains("[client 1] still running"), "{stderr}");
}

#[test]
fn cache_storage_survives_a_restart() {
  let state = tempfile::tempdir().unwrap();
  let run = || {
    swharness(&[
      "run",
      &fixture("cache/sw.js"),
      "--client",
      &fixture("cache/client.js"),
      "--state",
      state.path().to_str().unwrap(),
    ])
  };
  let first = run();
  assert!(first.status.success(), "{}", text(&first.stderr));
  assert_in_order(
    &text(&first.stdout),
    &[
      "[sw] stored\n",
      "message; cached: hello from the cache greeting",
    ],
  );
  let second = run();
  assert!(second.status.success(), "{}", text(&second.stderr));
  let stdout = text(&second.stdout);
  // The registration was kept: no second install; the cache entry too.
  assert!(!stdout.contains("stored"), "{stdout}");
  assert!(
    stdout.contains("message; cached: hello from the cache greeting"),
    "{stdout}"
  );
}

#[test]
fn trace_records_lifecycle_events_and_messages() {
  let trace = tempfile::NamedTempFile::new().unwrap();
  let out = swharness(&[
    "run",
    &fixture("basic/sw.js"),
    "--client",
    &fixture("basic/client.js"),
    "--trace",
    trace.path().to_str().unwrap(),
  ]);
  assert!(out.status.success());
  let trace = std::fs::read_to_string(trace.path()).unwrap();
  let mut last_t = -1.0;
  for line in trace.lines() {
    let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
    let t = v["t"].as_f64().expect("a timestamp");
    assert!(t >= last_t, "timestamps are monotonic");
    last_t = t;
    assert!(v["kind"].is_string());
  }
  assert_in_order(
    &trace,
    &[
      "\"kind\":\"run\"",
      "\"state\":\"installing\"",
      "\"event\":\"install\"",
      "\"state\":\"installed\"",
      "\"state\":\"activating\"",
      "\"state\":\"activated\"",
      "\"kind\":\"client\"",
      "\"kind\":\"message\"",
      "\"kind\":\"exit\"",
    ],
  );
}

/// `--sw-idle-timeout`: an idle worker is stopped and started again for the
/// next event; Cache Storage survives the restart, JS globals do not. The
/// client waits for a flag module that this test writes once the trace shows
/// the worker stopped after the first message, so nothing depends on timing.
#[test]
fn idle_worker_is_stopped_and_restarted_for_the_next_event() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    r#"
let messages = 0;
self.addEventListener("message", (event) => {
  messages += 1;
  event.waitUntil((async () => {
    const cache = await caches.open("idle");
    if (event.data === "set") {
      self.remembered = "in a global";
      await cache.put("/kept", new Response("in the cache"));
    }
    const hit = await cache.match("/kept");
    event.source.postMessage(
      `${event.data}: messages=${messages} global=${self.remembered} cache=${hit && await hit.text()}`,
    );
  })());
});
"#,
  )
  .unwrap();
  std::fs::write(
    dir.path().join("client.js"),
    r#"
const reg = await navigator.serviceWorker.ready;
const replies = [];
navigator.serviceWorker.addEventListener("message", (event) => {
  console.log(event.data);
  replies.push(event.data);
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Replies are polled for rather than awaited: awaiting a promise resolved
// by the message listener makes later dynamic imports report spurious
// uncaught errors (a runtime bug, see the commit message).
reg.active.postMessage("set");
while (replies.length < 1) await sleep(10);
console.log("SET DONE");
// The test rewrites flag.js once the worker has been stopped.
for (let i = 0; !(await import(`./flag.js?${i}`)).stopped; i++) await sleep(20);
reg.active.postMessage("get");
while (replies.length < 2) await sleep(10);
"#,
  )
  .unwrap();
  let flag = dir.path().join("flag.js");
  std::fs::write(&flag, "export const stopped = false;\n").unwrap();
  let trace_path = dir.path().join("trace.jsonl");
  let mut child = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(["run", &dir.path().join("sw.js").to_string_lossy()])
    .args(["--client", &dir.path().join("client.js").to_string_lossy()])
    .args(["--sw-idle-timeout", "0.2", "--timeout", "60", "--trace"])
    .arg(&trace_path)
    // Files, not pipes: nothing reads the output until the run ends.
    .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
    .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
    .spawn()
    .unwrap();
  // Wait for a stop after "SET DONE" (bounded: the run times out after
  // 60 s, and the test gives up after 90 s).
  support::run::wait_for_trace(&mut child, &trace_path, |trace| {
    trace
      .find("\"text\":\"SET DONE")
      .is_some_and(|i| trace[i..].contains("\"kind\":\"worker-stopped\""))
  });
  support::run::replace_file(&flag, "export const stopped = true;\n");
  let status = child.wait().unwrap();
  let stdout = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
  let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
  assert!(status.success(), "{stdout}\n{stderr}");
  assert_in_order(
    &stdout,
    &[
      "[client 1] set: messages=1 global=in a global cache=in the cache\n",
      "[client 1] SET DONE\n",
      // A fresh realm: the global and the counter are gone, the cache is not.
      "[client 1] get: messages=1 global=undefined cache=in the cache\n",
    ],
  );
  let trace = std::fs::read_to_string(&trace_path).unwrap();
  let set_done = trace.find("\"text\":\"SET DONE").unwrap();
  assert_in_order(
    &trace[set_done..],
    &[
      "\"kind\":\"worker-stopped\"",
      "\"reason\":\"idle\"",
      "\"kind\":\"worker-started\"",
      "\"event\":\"message\"",
    ],
  );
}

#[test]
fn a_module_may_wait_at_top_level_for_a_message() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    "self.addEventListener('message', (e) => e.source.postMessage('pong ' + e.data));\n",
  )
  .unwrap();
  std::fs::write(dir.path().join("mod.js"), "export const v = 42;\n").unwrap();
  std::fs::write(
    dir.path().join("client.js"),
    r#"
const reg = await navigator.serviceWorker.ready;
let resolve;
navigator.serviceWorker.addEventListener("message", (e) => resolve(e.data));
const got = await new Promise((r) => { resolve = r; reg.active.postMessage("x"); });
console.log(`GOT ${got}`);
console.log(`IMPORTED ${(await import("./mod.js")).v}`);
"#,
  )
  .unwrap();
  let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
  let out = swharness(&[
    "run",
    &p("sw.js"),
    "--client",
    &p("client.js"),
    "--timeout",
    "30",
  ]);
  let (o, e) = (text(&out.stdout), text(&out.stderr));
  assert!(out.status.success(), "{o}\n{e}");
  assert_in_order(&o, &["[client 1] GOT pong x\n", "[client 1] IMPORTED 42\n"]);
  // Waiting for the browser is not a stalled module.
  assert!(!e.contains("Uncaught"), "{e}");
}

/// A copy of the binary runs with the source trees it was built from out
/// of sight (a mount namespace puts empty directories over this checkout
/// and the cargo registry): the extensions' JavaScript is in the binary,
/// both when a runtime is assembled from source and when the startup
/// snapshot is made. Needs `unshare -m` (root); CI runs as root.
#[test]
fn a_copied_binary_runs_without_the_source_trees() {
  if !Command::new("unshare")
    .args(["-m", "true"])
    .status()
    .is_ok_and(|s| s.success())
  {
    eprintln!("skipped: unshare -m is not permitted here");
    return;
  }
  let dir = tempfile::tempdir().unwrap();
  let exe = dir.path().join("swharness");
  std::fs::copy(env!("CARGO_BIN_EXE_swharness"), &exe).unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    "self.addEventListener('activate', () => console.log('ACTIVATED'));\n",
  )
  .unwrap();
  let registry = std::env::var("CARGO_HOME")
    .map(PathBuf::from)
    .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"))
    .join("registry")
    .join("src");
  let script = format!(
    "mount -t tmpfs none '{manifest}' && {{ [ ! -d '{registry}' ] || mount -t tmpfs none '{registry}'; }} || exit 90\n\
     [ -e '{manifest}/Cargo.toml' ] && exit 91\n\
     SWHARNESS_SNAPSHOT=0 '{exe}' run '{dir}/sw.js' || exit 92\n\
     SWHARNESS_CACHE_DIR='{dir}/cache' '{exe}' run '{dir}/sw.js' || exit 93\n\
     ls '{dir}/cache' | grep -q '^snapshot-' || exit 94\n",
    manifest = env!("CARGO_MANIFEST_DIR"),
    registry = registry.display(),
    exe = exe.display(),
    dir = dir.path().display(),
  );
  let out = Command::new("unshare")
    .args(["-m", "sh", "-c", &script])
    .output()
    .unwrap();
  let stdout = text(&out.stdout);
  assert!(
    out.status.success(),
    "status {:?}\nstdout: {stdout}\nstderr: {}",
    out.status.code(),
    text(&out.stderr)
  );
  // Once from source, once from the snapshot made there.
  assert_eq!(stdout.matches("[sw] ACTIVATED").count(), 2, "{stdout}");
}

/// A state database that is not one is a clear error (exit 1), and the
/// file is left as it was for the user to look at or move away.
#[test]
fn a_corrupt_state_database_is_a_clear_error_and_is_kept() {
  for db in ["browser.sqlite", "bgfetch/bgfetch.sqlite"] {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let first = swharness(&["run", &fixture("basic/sw.js"), "--state", st]);
    assert!(first.status.success(), "stderr: {}", text(&first.stderr));
    let path = state.path().join(db);
    assert!(path.is_file(), "{db} was not made");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    for side in ["-wal", "-shm"] {
      let _ = std::fs::remove_file(format!("{}{side}", path.display()));
    }
    let out = swharness(&["run", &fixture("basic/sw.js"), "--state", st]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{db}: {stderr}");
    assert!(stderr.contains("unreadable or corrupt"), "{db}: {stderr}");
    assert!(
      stderr.contains(db.rsplit('/').next().unwrap()),
      "{db}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{db}: {stderr}");
    assert!(std::fs::read(&path).unwrap() == garbage, "{db} was changed");
  }
}

/// The offline switch is the browser's network: the service worker sees
/// `navigator.onLine`, the `offline`/`online` events, and its own fetch()
/// failing while offline; `--offline` starts that way.
#[test]
fn the_service_worker_sees_the_network_go_and_come_back() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    r#"
self.addEventListener("install", () => self.skipWaiting());
self.onoffline = () => console.log(`offline event; onLine=${navigator.onLine}`);
self.addEventListener("online", () => console.log(`online event; onLine=${navigator.onLine}`));
self.addEventListener("message", (e) => e.waitUntil((async () => {
  let result;
  try {
    result = `status ${(await fetch("data.txt")).status}`;
  } catch (err) {
    result = err.name;
  }
  console.log(`${e.data}: onLine=${navigator.onLine} fetch=${result}`);
  e.source.postMessage("done");
})()));
"#,
  )
  .unwrap();
  std::fs::write(dir.path().join("data.txt"), "data").unwrap();
  std::fs::write(
    dir.path().join("client.js"),
    r#"
const reg = await navigator.serviceWorker.ready;
const ask = (what) => new Promise((resolve) => {
  navigator.serviceWorker.addEventListener("message", resolve, { once: true });
  reg.active.postMessage(what);
});
console.log(`start: onLine=${navigator.onLine}`);
await ask("first");
await swharness.setOnline(!navigator.onLine);
await ask("toggled");
await swharness.setOnline(!navigator.onLine);
await ask("toggled back");
"#,
  )
  .unwrap();
  let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
  let out = swharness(&["run", &p("sw.js"), "--client", &p("client.js")]);
  let stdout = text(&out.stdout);
  assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
  assert_in_order(
    &stdout,
    &[
      "[client 1] start: onLine=true",
      "[sw] first: onLine=true fetch=status 200",
      "[sw] offline event; onLine=false",
      "[sw] toggled: onLine=false fetch=TypeError",
      "[sw] online event; onLine=true",
      "[sw] toggled back: onLine=true fetch=status 200",
    ],
  );
  let out = swharness(&["run", &p("sw.js"), "--client", &p("client.js"), "--offline"]);
  let stdout = text(&out.stdout);
  assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
  assert_in_order(
    &stdout,
    &[
      "[client 1] start: onLine=false",
      "[sw] first: onLine=false fetch=TypeError",
      "[sw] online event; onLine=true",
      "[sw] toggled: onLine=true fetch=status 200",
      "[sw] offline event; onLine=false",
      "[sw] toggled back: onLine=false fetch=TypeError",
    ],
  );
}

#[test]
fn web_globals_in_the_worker_and_the_page() {
  let out = swharness(&[
    "run",
    &fixture("globals/sw.js"),
    "--client",
    &fixture("globals/page.js"),
    "--timeout",
    "30",
  ]);
  let stdout = text(&out.stdout);
  assert!(out.status.success(), "stderr: {}", text(&out.stderr));
  for realm in ["[sw]", "[client 1]"] {
    let expected = [
      "origin: true",
      "secure context: true",
      "gzip round trip: true",
      "same object: true",
      "tag: [object Crypto]",
      "uuid: true",
      "uuids differ: true",
      "getRandomValues returns its argument: true",
      "random bytes: true",
      "float array: DOMException TypeMismatchError (DOMException)",
      "too long: QuotaExceededError QuotaExceededError (DOMException)",
      "no argument: TypeError TypeError",
      // FIPS 180-2's example digest of "abc".
      "sha-256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "hmac: true 32 true",
      "unknown algorithm: DOMException NotSupportedError (DOMException)",
    ];
    let lines: Vec<String> = expected.iter().map(|l| format!("{realm} {l}\n")).collect();
    let needles: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_in_order(&stdout, &needles);
  }
}

#[test]
fn a_second_run_on_the_same_state_directory_is_refused_until_the_first_ends() {
  let dir = tempfile::tempdir().unwrap();
  let state = dir.path().join("state");
  std::fs::write(dir.path().join("sw.js"), "// nothing\n").unwrap();
  std::fs::write(
    dir.path().join("wait.js"),
    "await new Promise((r) => setTimeout(r, 60000));\n",
  )
  .unwrap();
  std::fs::write(dir.path().join("quick.js"), "console.log('quick');\n").unwrap();
  let args = |client: &str| -> Vec<String> {
    vec![
      "run".into(),
      dir.path().join("sw.js").to_string_lossy().into_owned(),
      "--client".into(),
      dir.path().join(client).to_string_lossy().into_owned(),
      "--state".into(),
      state.to_string_lossy().into_owned(),
      "--timeout".into(),
      "120".into(),
    ]
  };
  let first_trace = dir.path().join("first.jsonl");
  let mut first = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(args("wait.js"))
    .args(["--trace", first_trace.to_str().unwrap()])
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
  // Bounded wait until the first run holds the lock (it writes its pid)
  // and has made everything it keeps in the directory (its page is open).
  let pid = first.id().to_string();
  let mut held = false;
  for _ in 0..400 {
    let locked = std::fs::read_to_string(state.join("lock")).is_ok_and(|t| t.trim() == pid);
    let started =
      std::fs::read_to_string(&first_trace).is_ok_and(|t| t.contains("\"kind\":\"client\""));
    if locked && started {
      held = true;
      break;
    }
    std::thread::sleep(std::time::Duration::from_millis(25));
  }
  assert!(held, "the first run took the lock and opened its page");
  let files_before = std::fs::read_dir(&state).unwrap().count();
  let second = swharness(
    &args("quick.js")
      .iter()
      .map(|s| s.as_str())
      .collect::<Vec<_>>(),
  );
  assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
  assert!(
    text(&second.stderr).contains(&format!(
      "state directory {} is in use by process {pid}",
      state.display()
    )),
    "{}",
    text(&second.stderr)
  );
  assert!(
    !text(&second.stdout).contains("quick"),
    "the second run ran nothing"
  );
  let files_after = std::fs::read_dir(&state).unwrap().count();
  assert_eq!(files_before, files_after, "the second run wrote nothing");
  // kill -9: the lock dies with its holder; the next run takes over.
  first.kill().unwrap();
  let _ = first.wait();
  let third = swharness(
    &args("quick.js")
      .iter()
      .map(|s| s.as_str())
      .collect::<Vec<_>>(),
  );
  assert!(third.status.success(), "{}", text(&third.stderr));
  assert!(text(&third.stdout).contains("[client 1] quick\n"));
}

/// The worker's realm is made before its URL is known (`realm::prewarm`),
/// then given it: its location, its clock (performance.now() counts from
/// the realm's start, even when making the snapshot took seconds), and its
/// own fetch() of a relative URL all belong to it.
#[test]
fn the_prewarmed_worker_realm_is_the_workers_own() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(dir.path().join("data.txt"), "from the server").unwrap();
  let sw = dir.path().join("sw.js");
  std::fs::write(
    &sw,
    r#"
const skew = Math.abs(performance.timeOrigin + performance.now() - Date.now());
console.log(`path ${location.pathname} clock ${performance.now() < 2000} skew ${skew < 100}`);
self.addEventListener("install", (e) => e.waitUntil((async () => {
  const r = await fetch("data.txt");
  console.log(`fetched ${r.url === new URL("data.txt", location).href} ${await r.text()}`);
})()));
"#,
  )
  .unwrap();
  let out = swharness(&["run", sw.to_str().unwrap(), "--timeout", "30"]);
  let stdout = text(&out.stdout);
  assert!(out.status.success(), "stderr: {}", text(&out.stderr));
  assert_in_order(
    &stdout,
    &[
      "path /sw.js clock true skew true\n",
      "fetched true from the server\n",
    ],
  );
}
