//! Background Fetch through the public surface: a worker and a client
//! page written to a temporary directory, served on loopback by
//! `swharness run`, with results printed by the scripts and asserted here.

use std::path::Path;
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, content: &[u8]) {
  let p = dir.join(name);
  std::fs::create_dir_all(p.parent().unwrap()).unwrap();
  std::fs::write(p, content).unwrap();
}

/// A worker that reports every Background Fetch event it gets.
const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
async function report(event) {
  const r = event.registration;
  let records = [];
  try {
    for (const rec of await r.matchAll()) {
      let body = "(no response)", status = 0;
      try {
        const res = await rec.responseReady;
        status = res.status;
        body = (await res.text()).length;
      } catch (e) { body = e.name; }
      records.push(`${new URL(rec.request.url).pathname}:${status}:${body}`);
    }
  } catch (e) { records = [e.name]; }
  console.log(`EVENT ${event.type} id=${r.id} result=${r.result} reason=${r.failureReason} downloaded=${r.downloaded} records=${records.join(",")}`);
}
for (const type of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(type, (event) => event.waitUntil(report(event)));
}
self.addEventListener("backgroundfetchclick", (event) => {
  console.log(`EVENT click id=${event.registration.id}`);
  event.waitUntil(clients.openWindow("player.html"));
});
"#;

fn run(client: &str, extra: &[&str]) -> (Output, String) {
  let dir = tempfile::tempdir().unwrap();
  write(dir.path(), "sw.js", SW.as_bytes());
  write(dir.path(), "client.js", client.as_bytes());
  write(dir.path(), "a.txt", &vec![b'a'; 1000]);
  write(dir.path(), "b.bin", &vec![7u8; 300_000]);
  let trace = dir.path().join("trace.jsonl");
  let mut args = vec![
    "run".to_string(),
    dir.path().join("sw.js").to_string_lossy().into_owned(),
    "--client".into(),
    dir.path().join("client.js").to_string_lossy().into_owned(),
    "--timeout".into(),
    "30".into(),
    "--trace".into(),
    trace.to_string_lossy().into_owned(),
  ];
  args.extend(extra.iter().map(|s| s.to_string()));
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(&args)
    .output()
    .unwrap();
  let trace = std::fs::read_to_string(trace).unwrap_or_default();
  (out, trace)
}

fn stdout(o: &Output) -> String {
  String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn success_event_with_records_and_progress() {
  let (out, trace) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("two", ["a.txt", "b.bin"], { title: "Two files" });
console.log(`STARTED ${f.id} ${f instanceof BackgroundFetchRegistration} ids=${JSON.stringify(await reg.backgroundFetch.getIds())}`);
console.log(`SAME ${(await reg.backgroundFetch.get("two")) === f}`);
f.onprogress = () => { if (f.result) console.log(`PROGRESS result=${f.result} downloaded=${f.downloaded}`); };
"#,
    // Slow enough that the fetch is still active for getIds()/get() (a
    // completed fetch is no longer listed).
    &["--serve-rate", "1000000"],
  );
  let s = stdout(&out);
  assert!(
    out.status.success(),
    "{s}\n{}",
    String::from_utf8_lossy(&out.stderr)
  );
  assert!(s.contains("STARTED two true ids=[\"two\"]"), "{s}");
  assert!(s.contains("SAME true"), "{s}");
  assert!(
    s.contains("PROGRESS result=success downloaded=301000"),
    "{s}"
  );
  assert!(
    s.contains("EVENT backgroundfetchsuccess id=two result=success reason= downloaded=301000 records=/a.txt:200:1000,/b.bin:200:300000"),
    "{s}"
  );
  assert_eq!(
    s.matches("EVENT ").count(),
    1,
    "exactly one final event: {s}"
  );
  assert!(trace.contains("\"kind\":\"bgfetch-progress\""));
}

#[test]
fn bad_status_keeps_the_record_with_an_empty_body() {
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("missing", ["a.txt", "nope.txt"]);
"#,
    &[],
  );
  let s = stdout(&out);
  assert!(
    s.contains("EVENT backgroundfetchfail id=missing result=failure reason=bad-status downloaded=1000 records=/a.txt:200:1000,/nope.txt:404:0"),
    "{s}"
  );
}

#[test]
fn download_total_exceeded_fails_at_once() {
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("small", ["b.bin"], { downloadTotal: 1000 });
"#,
    &[],
  );
  let s = stdout(&out);
  assert!(
    s.contains("EVENT backgroundfetchfail id=small result=failure reason=download-total-exceeded"),
    "{s}"
  );
}

#[test]
fn abort_and_user_cancel_fire_the_abort_event() {
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("stop", ["b.bin"]);
console.log(`ABORT ${await f.abort()} ${await f.abort()}`);
"#,
    &["--offline"],
  );
  let s = stdout(&out);
  assert!(s.contains("ABORT true false"), "{s}");
  assert!(
    s.contains("EVENT backgroundfetchabort id=stop result=failure reason=aborted"),
    "{s}"
  );
  assert!(s.contains("records=/b.bin:0:AbortError"), "{s}");

  let (out, trace) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("cancel-me", ["b.bin"]);
console.log(`CANCEL ${await swharness.cancelBackgroundFetch("cancel-me")}`);
"#,
    &["--offline"],
  );
  let s = stdout(&out);
  assert!(s.contains("CANCEL true"), "{s}");
  assert!(s.contains("EVENT backgroundfetchabort id=cancel-me"), "{s}");
  assert!(trace.contains("\"action\":\"cancel\""));
}

#[test]
fn offline_pauses_and_online_resumes() {
  let (out, trace) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("later", ["a.txt", "b.bin"]);
console.log(`PAUSED downloaded=${f.downloaded} ids=${JSON.stringify(await reg.backgroundFetch.getIds())}`);
await swharness.setOnline(true);
"#,
    &["--offline"],
  );
  let s = stdout(&out);
  assert!(s.contains("PAUSED downloaded=0 ids=[\"later\"]"), "{s}");
  assert!(
    s.contains("EVENT backgroundfetchsuccess id=later result=success reason= downloaded=301000"),
    "{s}"
  );
  assert!(trace.contains("\"action\":\"setOnline\",\"online\":true"));
}

#[test]
fn click_fires_backgroundfetchclick() {
  let (out, trace) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("clickable", ["b.bin"], { title: "Click me" });
console.log(`UI ${JSON.stringify(swharness.uiState("clickable").title)}`);
await swharness.clickBackgroundFetch("clickable");
await swharness.setOnline(true);
"#,
    &["--offline"],
  );
  let s = stdout(&out);
  assert!(s.contains("UI \"Click me\""), "{s}");
  assert!(s.contains("EVENT click id=clickable"), "{s}");
  assert!(trace.contains("\"action\":\"openWindow\""), "{trace}");
}

#[test]
fn argument_and_permission_errors() {
  let script = r#"
const reg = await navigator.serviceWorker.ready;
const bf = reg.backgroundFetch;
async function attempt(label, fn) {
  try { await fn(); console.log(`${label}: ok`); }
  catch (e) { console.log(`${label}: ${e.constructor.name}/${e.name}`); }
}
await attempt("empty", () => bf.fetch("x", []));
await attempt("no-cors", () => bf.fetch("x", new Request("a.txt", { mode: "no-cors" })));
await attempt("port", () => bf.fetch("x", "http://127.0.0.1:25/a"));
await attempt("credentials", () => bf.fetch("x", "http://user:pw@127.0.0.1/a"));
await attempt("scheme", () => bf.fetch("x", "data:text/plain,hi"));
await attempt("quota", () => bf.fetch("q", "a.txt", { downloadTotal: 10000 }));
await swharness.setPermission("background-fetch", "denied");
await attempt("denied", () => bf.fetch("d", "a.txt"));
await swharness.setPermission("background-fetch", "granted");
await attempt("first", () => bf.fetch("dup", "a.txt"));
await attempt("duplicate", () => bf.fetch("dup", "a.txt"));
"#;
  let (out, _) = run(script, &["--quota", "5000", "--offline"]);
  let s = stdout(&out);
  for expected in [
    "empty: TypeError/TypeError",
    "no-cors: TypeError/TypeError",
    "port: TypeError/TypeError",
    "credentials: TypeError/TypeError",
    "scheme: TypeError/TypeError",
    "quota: QuotaExceededError/QuotaExceededError",
    "denied: DOMException/NotAllowedError",
    "first: ok",
    "duplicate: TypeError/TypeError",
  ] {
    assert!(s.contains(expected), "{expected} in:\n{s}");
  }
  // Chromium rejects a denied permission with a TypeError.
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await swharness.setPermission("background-fetch", "denied");
try { await reg.backgroundFetch.fetch("d", "a.txt"); } catch (e) { console.log(`CHROMIUM ${e.name}`); }
"#,
    &["--chromium"],
  );
  assert!(
    stdout(&out).contains("CHROMIUM TypeError"),
    "{}",
    stdout(&out)
  );
}

#[test]
fn kill_mid_download_then_restart_resumes_with_one_final_event() {
  let dir = tempfile::tempdir().unwrap();
  let state = tempfile::tempdir().unwrap();
  // A worker that checksums the body it gets, so a resumed body must be
  // byte-identical to the file.
  let sw = r#"
self.addEventListener("backgroundfetchsuccess", (event) => event.waitUntil((async () => {
  const [rec] = await event.registration.matchAll();
  const bytes = new Uint8Array(await (await rec.responseReady).arrayBuffer());
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  console.log(`EVENT success downloaded=${event.registration.downloaded} len=${bytes.length} sum=${sum}`);
})()));
"#;
  let client = r#"
const reg = await navigator.serviceWorker.ready;
try { await reg.backgroundFetch.fetch("big", ["big.bin"]); console.log("STARTED"); }
catch (e) { console.log(`AGAIN ${e.name}`); }
"#;
  let body: Vec<u8> = (0..3_000_000u32)
    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
    .collect();
  let sum = body
    .iter()
    .fold(0u32, |s, &b| s.wrapping_mul(31).wrapping_add(b as u32));
  write(dir.path(), "sw.js", sw.as_bytes());
  write(dir.path(), "client.js", client.as_bytes());
  write(dir.path(), "big.bin", &body);
  let trace = dir.path().join("t1.jsonl");
  let args = |trace: &Path, rate: &str| -> Vec<String> {
    vec![
      "run".into(),
      dir.path().join("sw.js").to_string_lossy().into_owned(),
      "--client".into(),
      dir.path().join("client.js").to_string_lossy().into_owned(),
      "--state".into(),
      state.path().to_string_lossy().into_owned(),
      "--trace".into(),
      trace.to_string_lossy().into_owned(),
      "--serve-rate".into(),
      rate.into(),
    ]
  };
  let mut first = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(args(&trace, "500000"))
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
  // Wait (bounded) until some of the body is on disk, then kill -9.
  let mut seen = false;
  for _ in 0..600 {
    let t = std::fs::read_to_string(&trace).unwrap_or_default();
    if t
      .lines()
      .any(|l| l.contains("bgfetch-progress") && !l.contains("\"downloaded\":0,"))
    {
      seen = true;
      break;
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
  }
  first.kill().unwrap();
  let _ = first.wait();
  assert!(seen, "the first run made progress before the kill");
  let trace2 = dir.path().join("t2.jsonl");
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    // Slow enough that the fetch is still downloading when the page tries
    // its id again (an id is free again once its fetch completes).
    .args(args(&trace2, "2000000"))
    .output()
    .unwrap();
  let s = stdout(&out);
  assert!(
    s.contains("AGAIN TypeError"),
    "the fetch is still active after the restart: {s}"
  );
  assert!(
    s.contains(&format!(
      "EVENT success downloaded=3000000 len=3000000 sum={sum}"
    )),
    "{s}"
  );
  assert_eq!(s.matches("EVENT ").count(), 1, "{s}");
}

#[test]
fn csp_connect_src_fails_the_record_or_with_chromium_the_fetch() {
  let client = r#"
const reg = await navigator.serviceWorker.ready;
const meta = document.createElement("meta");
meta.httpEquiv = "Content-Security-Policy";
meta.content = "connect-src 'none'";
document.head.appendChild(meta);
try {
  await reg.backgroundFetch.fetch("csp", ["a.txt"]);
  console.log("FETCH resolved");
} catch (e) {
  console.log(`FETCH ${e.name}`);
}
"#;
  // The spec: the fetch resolves, its record is a network error.
  let (out, trace) = run(client, &[]);
  let s = stdout(&out);
  assert!(s.contains("FETCH resolved"), "{s}");
  assert!(
    s.contains("EVENT backgroundfetchfail id=csp result=failure reason=fetch-error downloaded=0 records=/a.txt:0:TypeError"),
    "{s}"
  );
  assert!(trace.contains("\"kind\":\"bgfetch-blocked\""), "{trace}");
  // Chromium's renderer rejects fetch() itself.
  let (out, _) = run(client, &["--chromium"]);
  let s = stdout(&out);
  assert!(s.contains("FETCH TypeError"), "{s}");
  assert!(!s.contains("EVENT "), "{s}");
}

#[test]
fn max_active_fetches_queues_the_next_fetch() {
  let client = r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("one", ["b.bin"]);
await reg.backgroundFetch.fetch("two", ["a.txt"]);
"#;
  // The order in which the fetches complete, from the trace.
  let completions = |trace: &str| -> Vec<String> {
    trace
      .lines()
      .filter(|l| {
        l.contains("\"kind\":\"bgfetch-progress\"") && l.contains("\"result\":\"success\"")
      })
      .map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["id"].as_str().unwrap().to_string()
      })
      .fold(Vec::new(), |mut acc, id| {
        if !acc.contains(&id) {
          acc.push(id);
        }
        acc
      })
  };
  // One at a time: "two" (1 KB) waits for "one" (300 KB at 1 MB/s).
  let (out, trace) = run(
    client,
    &["--max-active-fetches", "1", "--serve-rate", "1000000"],
  );
  assert!(out.status.success(), "{}", stdout(&out));
  assert_eq!(completions(&trace), ["one", "two"], "{trace}");
  // Two at a time (the default): the small one is done first.
  let (out, trace) = run(client, &["--serve-rate", "1000000"]);
  assert!(out.status.success(), "{}", stdout(&out));
  assert_eq!(completions(&trace), ["two", "one"], "{trace}");
  // Zero is refused.
  let (out, _) = run(client, &["--max-active-fetches", "0"]);
  assert_eq!(out.status.code(), Some(2));
}

#[test]
fn duplicate_urls_are_allowed_unless_chromium() {
  let client = r#"
const reg = await navigator.serviceWorker.ready;
try {
  const f = await reg.backgroundFetch.fetch("dup", ["a.txt", "a.txt"]);
  console.log(`DUP ok ${f.id}`);
} catch (e) {
  console.log(`DUP ${e.name}`);
}
"#;
  let (out, _) = run(client, &[]);
  let s = stdout(&out);
  assert!(s.contains("DUP ok dup"), "{s}");
  assert!(s.contains("EVENT backgroundfetchsuccess id=dup result=success reason= downloaded=2000 records=/a.txt:200:1000,/a.txt:200:1000"), "{s}");
  let (out, _) = run(client, &["--chromium"]);
  assert!(stdout(&out).contains("DUP TypeError"), "{}", stdout(&out));
}

/// A final event cut off by a kill (its waitUntil never settled) is
/// dispatched again at the next start, even though the registration comes
/// back already active (no activation to wait for); once it has run to the
/// end, later starts dispatch nothing.
#[test]
fn a_final_event_cut_off_by_a_kill_is_dispatched_at_the_next_start() {
  use std::io::BufRead;
  let dir = tempfile::tempdir().unwrap();
  let state = tempfile::tempdir().unwrap();
  // The first dispatch marks a cache and never finishes; a later one does.
  let sw = r#"
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("backgroundfetchsuccess", (event) => event.waitUntil((async () => {
  if (!(await caches.has("dispatched"))) {
    await caches.open("dispatched");
    console.log("FIRST DISPATCH");
    await new Promise(() => {});
  }
  const [rec] = await event.registration.matchAll();
  const text = await (await rec.responseReady).text();
  console.log(`LATER DISPATCH ${event.registration.result} ${text.length}`);
})()));
"#;
  let client = r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("cut", ["a.txt"]);
"#;
  write(dir.path(), "sw.js", sw.as_bytes());
  write(dir.path(), "client.js", client.as_bytes());
  write(dir.path(), "a.txt", &vec![b'a'; 1000]);
  let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
  let st = state.path().to_string_lossy().into_owned();
  let mut first = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(["run", &p("sw.js"), "--client", &p("client.js")])
    .args(["--state", &st, "--timeout", "30"])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
  // Read until the event is running (the run's own timeout bounds this).
  let lines = std::io::BufReader::new(first.stdout.take().unwrap()).lines();
  let mut seen = Vec::new();
  for line in lines {
    let line = line.unwrap();
    seen.push(line.clone());
    if line.contains("FIRST DISPATCH") {
      break;
    }
  }
  first.kill().unwrap();
  let _ = first.wait();
  assert!(
    seen.iter().any(|l| l.contains("FIRST DISPATCH")),
    "the event was dispatched in the first run: {seen:?}"
  );
  let again = |timeout: &str| {
    let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
      .args(["run", &p("sw.js"), "--state", &st, "--timeout", timeout])
      .output()
      .unwrap();
    assert!(
      out.status.success(),
      "{}",
      String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
  };
  let second = again("30");
  assert_eq!(
    second.matches("DISPATCH").count(),
    1,
    "dispatched once more: {second}"
  );
  assert!(second.contains("LATER DISPATCH success 1000"), "{second}");
  let third = again("30");
  assert!(!third.contains("DISPATCH"), "delivered already: {third}");
}

#[test]
fn a_fetch_is_still_active_in_the_task_its_fetch_call_resolved_in() {
  // However long the page's continuation runs (here 300 ms of busy
  // waiting, ample for a 1000-byte download over loopback), get(id) and
  // getIds() called in it see the fetch active: its downloads begin only
  // after that task (upstream get.https.window.js asks get() right after
  // fetch() and was flaky under load).
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("quick", ["a.txt"]);
const until = Date.now() + 300;
while (Date.now() < until) {}
const [again, ids] = await Promise.all([reg.backgroundFetch.get("quick"), reg.backgroundFetch.getIds()]);
console.log(`STILL ${again?.id} ${JSON.stringify(ids)} ${f.downloaded}`);
"#,
    &[],
  );
  let s = stdout(&out);
  assert!(s.contains("STILL quick [\"quick\"] 0"), "{s}");
  assert!(s.contains("EVENT backgroundfetchsuccess id=quick"), "{s}");
}

#[test]
fn an_aborted_fetch_waiting_for_a_slot_ends_at_once_offline() {
  // Offline, q1 and q2 hold the two download slots (paused); q3 waits for
  // one. Aborting q3 fires its abort event without a slot, and the run
  // ends quietly with q1 and q2 still paused (it used to wait for ever).
  let (out, _) = run(
    r#"
const reg = await navigator.serviceWorker.ready;
await reg.backgroundFetch.fetch("q1", ["a.txt"]);
await reg.backgroundFetch.fetch("q2", ["a.txt"]);
const q3 = await reg.backgroundFetch.fetch("q3", ["a.txt"]);
console.log(`ABORT ${await q3.abort()} ${JSON.stringify(await reg.backgroundFetch.getIds())}`);
"#,
    &["--offline", "--max-active-fetches", "2"],
  );
  let s = stdout(&out);
  assert!(
    out.status.success(),
    "{s}\n{}",
    String::from_utf8_lossy(&out.stderr)
  );
  assert!(s.contains("ABORT true [\"q1\",\"q2\"]"), "{s}");
  assert!(
    s.contains("EVENT backgroundfetchabort id=q3 result=failure reason=aborted"),
    "{s}"
  );
  assert_eq!(s.matches("EVENT ").count(), 1, "{s}");
}
