//! Background Fetch against a misbehaving server: `swharness run` with a
//! worker and a client page (both written to a temporary directory), and
//! the fetched files on an in-process fault server
//! (`support::fault_server`) that answers with error statuses, resets,
//! stalls, lies about the length, ignores `Range`, or is killed mid-body.
//!
//! The worker reports its final event (type, result, failureReason,
//! downloaded, and each record's status, length and checksum) to the
//! client with `postMessage`; the client prints it, and the tests assert
//! on stdout and on the requests the server recorded. Steps are sequenced
//! through the server's `Notify`-based waits and through the page's
//! `progress` events, never through sleeps.
//!
//! The fault server is another origin than the page's, so CORS applies:
//! its routes send `Access-Control-Allow-Origin: *` unless a test says
//! otherwise.
//!
//! A record that ends in a network error rejects its `responseReady` with
//! a TypeError (an aborted one with an AbortError).
//!
//! The engine retries a record after a network error (reset, early close,
//! refused connection) at most 3 times, waiting `--retry-backoff-ms`
//! (doubled each time) in between; a retry resumes with `Range`/`If-Range`
//! when the first response had a validator.

mod support;

use std::process::Output;
use std::time::Duration;

use support::fault_server::*;
use tokio::process::{Child, Command};

/// Reports the final event to every client.
const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
async function report(event) {
  const r = event.registration;
  const parts = [];
  try {
    for (const rec of await r.matchAll()) {
      let desc;
      try {
        const res = await rec.responseReady;
        const bytes = new Uint8Array(await res.arrayBuffer());
        let sum = 0;
        for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
        desc = `${res.status}:${bytes.length}:${sum}`;
      } catch (e) {
        desc = e.name;
      }
      parts.push(`${new URL(rec.request.url).pathname}=${desc}`);
    }
  } catch (e) {
    parts.push(e.name);
  }
  const line = `EVENT ${event.type} id=${r.id} result=${r.result} reason=${r.failureReason} downloaded=${r.downloaded} records=${parts.join(",")}`;
  for (const c of await self.clients.matchAll({ includeUncontrolled: true })) c.postMessage(line);
}
for (const type of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(type, (event) => event.waitUntil(report(event)));
}
"#;

/// The start of every client: waits for the worker, and prints the
/// worker's report, then calls `onDone`. (A page's top-level await must
/// not wait for an event: the module would count as stalled.)
const CLIENT_HEAD: &str = r#"
const reg = await navigator.serviceWorker.ready;
let onDone = () => {};
navigator.serviceWorker.onmessage = (e) => { console.log(`CLIENT ${e.data}`); onDone(); };
"#;

/// A body that is not the same byte over and over, so that a resumed
/// body in the wrong place shows.
fn body(n: u32) -> Vec<u8> {
  (0..n)
    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
    .collect()
}

/// The checksum the worker computes.
fn sum(b: &[u8]) -> u32 {
  b.iter()
    .fold(0u32, |s, &x| s.wrapping_mul(31).wrapping_add(x as u32))
}

/// What the worker prints for a record with this body.
fn rec(path: &str, status: u16, b: &[u8]) -> String {
  format!("{path}={status}:{}:{}", b.len(), sum(b))
}

fn ranged(b: Vec<u8>, honor_range: bool) -> Route {
  Route {
    body: b,
    etag: Some("\"v1\"".into()),
    honor_range,
    ..Route::default()
  }
}

struct Run {
  _dir: tempfile::TempDir,
  child: Child,
}

/// Starts `swharness run` with the worker and `client` (after
/// CLIENT_HEAD).
fn spawn(client: &str, extra: &[&str]) -> Run {
  let dir = tempfile::tempdir().unwrap();
  let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
  write("sw.js", SW);
  write("client.js", &format!("{CLIENT_HEAD}\n{client}\n"));
  let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
  // Quick retries, unless the test sets its own.
  let backoff: &[&str] = if extra.contains(&"--retry-backoff-ms") {
    &[]
  } else {
    &["--retry-backoff-ms", "20"]
  };
  let child = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(["run", &p("sw.js"), "--client", &p("client.js")])
    .args(["--timeout", "60", "--trace", &p("trace.jsonl")])
    .args(backoff)
    .args(extra)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
  Run { _dir: dir, child }
}

impl Run {
  async fn finish(self) -> String {
    self.finish_with_trace().await.0
  }

  /// The output, and the trace (`--trace`) as written.
  async fn finish_with_trace(self) -> (String, String) {
    let trace_path = self._dir.path().join("trace.jsonl");
    let out: Output = tokio::time::timeout(Duration::from_secs(90), self.child.wait_with_output())
      .await
      .expect("swharness ran too long")
      .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{s}\n{e}", out.status);
    let trace = std::fs::read_to_string(trace_path).unwrap_or_default();
    (format!("{s}\n(stderr)\n{e}"), trace)
  }
}

async fn run(client: &str, extra: &[&str]) -> String {
  spawn(client, extra).finish().await
}

/// `fetch(id, [urls...])` in JS.
fn fetch_js(id: &str, urls: &[String], opts: &str) -> String {
  let list: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
  format!(
    "const f = await reg.backgroundFetch.fetch({id:?}, [{}], {opts});",
    list.join(", ")
  )
}

fn assert_has(out: &str, want: &str) {
  assert!(out.contains(want), "expected {want:?} in:\n{out}");
}

/// `downloaded` in the final event.
fn downloaded(out: &str) -> u64 {
  let at = out.find("CLIENT EVENT ").expect("a final event");
  let rest = &out[at..];
  let n = &rest[rest.find("downloaded=").unwrap() + "downloaded=".len()..];
  n[..n.find(' ').unwrap()].parse().unwrap()
}

fn one_event(out: &str) {
  assert_eq!(
    out.matches("CLIENT EVENT ").count(),
    1,
    "exactly one final event:\n{out}"
  );
}

#[tokio::test]
async fn error_statuses_fail_with_bad_status_and_keep_the_records() {
  let server = FaultServer::start().await;
  let ok = body(1000);
  server.add("/ok", Route::ok(ok.clone()));
  server.add(
    "/missing",
    Route {
      status: 404,
      body: b"no such file".to_vec(),
      ..Route::default()
    },
  );
  server.add(
    "/broken",
    Route {
      status: 500,
      body: b"it broke".to_vec(),
      ..Route::default()
    },
  );
  let urls = [
    server.url("/ok"),
    server.url("/missing"),
    server.url("/broken"),
  ];
  let out = run(&fetch_js("bad", &urls, "{}"), &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchfail id=bad result=failure reason=bad-status downloaded=1000 records={},/missing=404:0:0,/broken=500:0:0",
      rec("/ok", 200, &ok)
    ),
  );
  one_event(&out);
  // A bad status is not retried.
  assert_eq!(server.requests_to("/missing").len(), 1);
  assert_eq!(server.requests_to("/broken").len(), 1);
}

#[tokio::test]
async fn a_reset_is_retried_with_range_and_the_body_is_byte_identical() {
  let server = FaultServer::start().await;
  let b = body(200_000);
  server.add("/r", ranged(b.clone(), true));
  server.queue_faults("/r", [Fault::ResetAfter(10_000)]);
  let out = run(&fetch_js("reset", &[server.url("/r")], "{}"), &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=reset result=success reason= downloaded=200000 records={}",
      rec("/r", 200, &b)
    ),
  );
  one_event(&out);
  let reqs = server.requests_to("/r");
  assert_eq!(reqs.len(), 2, "{reqs:?}");
  assert_eq!(reqs[0].header("range"), None);
  assert_eq!(reqs[1].header("range"), Some("bytes=10000-"));
  assert_eq!(reqs[1].header("if-range"), Some("\"v1\""));
}

#[tokio::test]
async fn a_range_that_does_not_continue_the_body_restarts_it_from_zero() {
  let server = FaultServer::start().await;
  let b = body(200_000);
  server.add("/r", ranged(b.clone(), true));
  // Reset after 10000 bytes; the resume then gets a 206 from byte 5000.
  server.queue_faults(
    "/r",
    [Fault::ResetAfter(10_000), Fault::WrongRangeStart(5_000)],
  );
  let out = run(&fetch_js("wrong-range", &[server.url("/r")], "{}"), &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=wrong-range result=success reason= downloaded=200000 records={}",
      rec("/r", 200, &b)
    ),
  );
  one_event(&out);
  let reqs = server.requests_to("/r");
  assert_eq!(reqs.len(), 3, "{reqs:?}");
  assert_eq!(reqs[1].header("range"), Some("bytes=10000-"));
  // Started over, without Range.
  assert_eq!(reqs[2].header("range"), None);
}

#[tokio::test]
async fn a_stalled_connection_times_out_and_resumes_with_range() {
  let server = FaultServer::start().await;
  let b = body(200_000);
  server.add("/s", ranged(b.clone(), true));
  // The first response stops after 10000 bytes and never goes on.
  server.queue_faults("/s", [Fault::StallAfter(10_000)]);
  let out = run(
    &fetch_js("stall", &[server.url("/s")], "{}"),
    &["--stall-timeout", "0.5"],
  )
  .await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=stall result=success reason= downloaded=200000 records={}",
      rec("/s", 200, &b)
    ),
  );
  one_event(&out);
  let reqs = server.requests_to("/s");
  assert_eq!(reqs.len(), 2, "{reqs:?}");
  assert_eq!(reqs[1].header("range"), Some("bytes=10000-"));
  server.release();
}

#[tokio::test]
async fn resets_every_time_fail_with_fetch_error_after_bounded_retries() {
  let server = FaultServer::start().await;
  let mut route = ranged(body(200_000), true);
  route.fault = Fault::ResetAfter(10_000);
  server.add("/r", route);
  let out = run(&fetch_js("resets", &[server.url("/r")], "{}"), &[]).await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=resets result=failure reason=fetch-error downloaded=40000 records=/r=TypeError",
  );
  one_event(&out);
  // The first request and 3 retries, each resuming where the last ended.
  let ranges: Vec<Option<String>> = server
    .requests_to("/r")
    .iter()
    .map(|r| r.header("range").map(str::to_string))
    .collect();
  assert_eq!(
    ranges,
    [
      None,
      Some("bytes=10000-".into()),
      Some("bytes=20000-".into()),
      Some("bytes=30000-".into())
    ]
  );
}

#[tokio::test]
async fn a_short_body_under_a_lying_content_length_is_a_network_error() {
  // Once: the retry gets the whole body and the fetch succeeds, with
  // `downloaded` counting the body once.
  let server = FaultServer::start().await;
  let b = body(50_000);
  server.add("/lie", ranged(b.clone(), true));
  server.queue_faults("/lie", [Fault::LieContentLength(1000)]);
  let out = run(&fetch_js("lie-once", &[server.url("/lie")], "{}"), &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=lie-once result=success reason= downloaded=50000 records={}",
      rec("/lie", 200, &b)
    ),
  );
  assert_eq!(server.requests_to("/lie").len(), 2);

  // Always: never a success with a short body, but fetch-error after the
  // retries.
  let server = FaultServer::start().await;
  let mut route = ranged(b.clone(), true);
  route.fault = Fault::LieContentLength(1000);
  server.add("/lie", route);
  let out = run(&fetch_js("lie", &[server.url("/lie")], "{}"), &[]).await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=lie result=failure reason=fetch-error downloaded=50000 records=/lie=TypeError",
  );
  assert!(!out.contains("success"), "{out}");
  one_event(&out);
  assert_eq!(server.requests_to("/lie").len(), 4);
}

/// Once `n` bytes are in (the server stalls there), the page goes offline
/// and online again; at the end it prints the most `downloaded` it saw.
fn offline_blip(n: u64) -> String {
  format!(
    r#"
let max = 0, blipped = false;
f.onprogress = async () => {{
  max = Math.max(max, f.downloaded);
  if (blipped || f.downloaded < {n}) return;
  blipped = true;
  console.log(`STALLED downloaded=${{f.downloaded}}`);
  await swharness.setOnline(false);
  await swharness.setOnline(true);
}};
onDone = () => console.log(`MAX downloaded=${{max}}`);
"#
  )
}

#[tokio::test]
async fn offline_during_a_stall_then_online_resumes_with_range() {
  let server = FaultServer::start().await;
  let b = body(300_000);
  server.add("/s", ranged(b.clone(), true));
  server.queue_faults("/s", [Fault::StallAfter(100_000)]);
  let client = fetch_js("stall", &[server.url("/s")], "{}") + &offline_blip(100_000);
  let out = run(&client, &[]).await;
  assert_has(&out, "STALLED downloaded=100000");
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=stall result=success reason= downloaded=300000 records={}",
      rec("/s", 200, &b)
    ),
  );
  assert_has(&out, "MAX downloaded=300000");
  one_event(&out);
  let reqs = server.requests_to("/s");
  assert_eq!(reqs.len(), 2, "{reqs:?}");
  assert_eq!(reqs[1].header("range"), Some("bytes=100000-"));
  assert_eq!(reqs[1].header("if-range"), Some("\"v1\""));
}

#[tokio::test]
async fn a_server_ignoring_range_restarts_from_zero_with_exact_downloaded() {
  let server = FaultServer::start().await;
  let b = body(300_000);
  server.add("/s", ranged(b.clone(), false));
  server.queue_faults("/s", [Fault::StallAfter(100_000)]);
  let client = fetch_js("norange", &[server.url("/s")], "{}") + &offline_blip(100_000);
  let out = run(&client, &[]).await;
  assert_has(&out, "STALLED downloaded=100000");
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=norange result=success reason= downloaded=300000 records={}",
      rec("/s", 200, &b)
    ),
  );
  // Never more than the body, although 400000 bytes came in.
  assert_has(&out, "MAX downloaded=300000");
  let reqs = server.requests_to("/s");
  assert_eq!(reqs.len(), 2, "{reqs:?}");
  assert_eq!(reqs[1].header("range"), Some("bytes=100000-"));
}

#[tokio::test]
async fn more_than_download_total_while_streaming_fails() {
  let server = FaultServer::start().await;
  let mut route = Route::ok(body(300_000));
  route.fault = Fault::SlowChunks {
    chunk: 32 * 1024,
    delay_ms: 1,
  };
  server.add("/big", route);
  let out = run(
    &fetch_js("total", &[server.url("/big")], "{ downloadTotal: 100000 }"),
    &[],
  )
  .await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=total result=failure reason=download-total-exceeded",
  );
  assert_has(&out, "records=/big=AbortError");
  // Nothing beyond the limit is counted (or kept).
  assert!(downloaded(&out) <= 100_000, "{out}");
  one_event(&out);
  assert_eq!(server.requests_to("/big").len(), 1);
}

#[tokio::test]
async fn a_body_larger_than_the_quota_fails_with_quota_exceeded() {
  let server = FaultServer::start().await;
  server.add("/big", Route::ok(body(300_000)));
  let out = run(
    &fetch_js("quota", &[server.url("/big")], "{}"),
    &["--quota", "100000"],
  )
  .await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=quota result=failure reason=quota-exceeded",
  );
  assert_has(&out, "records=/big=AbortError");
  assert!(downloaded(&out) <= 100_000, "{out}");
  one_event(&out);
  assert_eq!(server.requests_to("/big").len(), 1);
}

#[tokio::test]
async fn a_server_killed_mid_body_fails_with_fetch_error_after_retries() {
  let mut server = FaultServer::start().await;
  let mut route = ranged(body(300_000), true);
  route.fault = Fault::StallAfter(50_000);
  server.add("/k", route);
  let run = spawn(&fetch_js("killed", &[server.url("/k")], "{}"), &[]);
  server.wait_for_stalls(1).await;
  server.kill().await;
  let out = run.finish().await;
  // The connection closes mid-body; the retries find nothing listening.
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=killed result=failure reason=fetch-error",
  );
  assert_has(&out, "records=/k=TypeError");
  one_event(&out);
  assert_eq!(server.requests_to("/k").len(), 1);
}

#[tokio::test]
async fn a_cross_origin_response_without_cors_headers_is_not_kept() {
  let server = FaultServer::start().await;
  server.add(
    "/private",
    Route {
      cors: false,
      ..Route::ok(body(5000))
    },
  );
  let out = run(&fetch_js("cors", &[server.url("/private")], "{}"), &[]).await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=cors result=failure reason=fetch-error downloaded=0 records=/private=TypeError",
  );
  one_event(&out);
  // Not a transient error: no retry.
  assert_eq!(server.requests_to("/private").len(), 1);
}

#[tokio::test]
async fn a_put_is_preflighted_and_sent_when_the_server_allows_it() {
  let server = FaultServer::start().await;
  let allow = |methods: &str| Route {
    headers: vec![
      ("Access-Control-Allow-Methods".into(), methods.into()),
      ("Access-Control-Allow-Headers".into(), "x-token".into()),
    ],
    ..Route::ok(b"stored".to_vec())
  };
  server.add("/allowed", allow("PUT"));
  server.add("/refused", allow("POST"));
  let client = format!(
    r#"const req = (u) => new Request(u, {{ method: "PUT", body: "data", headers: {{ "X-Token": "t" }} }});
const f = await reg.backgroundFetch.fetch("put", [req({:?}), req({:?})]);"#,
    server.url("/allowed"),
    server.url("/refused"),
  );
  let out = run(&client, &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchfail id=put result=failure reason=fetch-error downloaded=6 records={},/refused=TypeError",
      rec("/allowed", 200, b"stored")
    ),
  );
  let methods = |path: &str| -> Vec<String> {
    server
      .requests_to(path)
      .iter()
      .map(|r| r.method.clone())
      .collect()
  };
  assert_eq!(methods("/allowed"), vec!["OPTIONS", "PUT"]);
  // A refused preflight: the request itself never goes out.
  assert_eq!(methods("/refused"), vec!["OPTIONS"]);
  let preflight = &server.requests_to("/allowed")[0];
  assert_eq!(
    preflight.header("access-control-request-method"),
    Some("PUT")
  );
  assert_eq!(
    preflight.header("access-control-request-headers"),
    Some("x-token")
  );
  assert!(preflight.header("origin").is_some());
}

/// The reasons in the trace's `bgfetch-record-error` records, by URL path.
fn record_errors(trace: &str) -> Vec<(String, String)> {
  trace
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .filter(|v| v["kind"] == "bgfetch-record-error")
    .map(|v| {
      let url = v["url"].as_str().unwrap_or("");
      let path = url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
      (path, v["reason"].as_str().unwrap_or("").to_string())
    })
    .collect()
}

/// Redirects Fetch refuses end their record in a network error at once
/// (no retry), with the reason in the trace: a loop (after 20 redirects)
/// and a redirect to a blocked port; a plain redirect is followed.
#[tokio::test]
async fn redirect_loops_and_redirects_to_blocked_ports_are_network_errors() {
  let server = FaultServer::start().await;
  let redirect = |to: String| Route {
    status: 302,
    headers: vec![("Location".into(), to)],
    ..Route::ok(Vec::new())
  };
  server.add("/loop", redirect(server.url("/loop")));
  server.add("/to-smtp", redirect("http://127.0.0.1:25/mail".into()));
  server.add("/to-ok", redirect(server.url("/ok")));
  server.add("/ok", Route::ok(b"fine".to_vec()));
  let urls = [
    server.url("/loop"),
    server.url("/to-smtp"),
    server.url("/to-ok"),
  ];
  let (out, trace) = spawn(&fetch_js("redirects", &urls, "{}"), &[])
    .finish_with_trace()
    .await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchfail id=redirects result=failure reason=fetch-error downloaded=4 records=/loop=TypeError,/to-smtp=TypeError,{}",
      rec("/to-ok", 200, b"fine")
    ),
  );
  one_event(&out);
  // The first request and 20 redirects, once: not retried.
  assert_eq!(server.requests_to("/loop").len(), 21);
  assert_eq!(server.requests_to("/to-smtp").len(), 1);
  let errors = record_errors(&trace);
  assert_eq!(errors.len(), 2, "{errors:?}");
  let reason = |path: &str| {
    errors
      .iter()
      .find(|(p, _)| p == path)
      .map(|(_, r)| r.clone())
      .unwrap_or_else(|| panic!("no record error for {path} in {errors:?}"))
  };
  assert_has(&reason("/loop"), "more than 20 redirects");
  assert_has(&reason("/to-smtp"), "a blocked port");
}

/// Headers a page may not set (Fetch's forbidden request-header names) are
/// dropped, as a browser's Request drops them; the others are sent, with
/// a preflight for the non-simple ones and the Referer Fetch works out.
#[tokio::test]
async fn forbidden_request_headers_are_dropped() {
  let server = FaultServer::start().await;
  server.add(
    "/h",
    Route {
      headers: vec![("Access-Control-Allow-Headers".into(), "x-ok".into())],
      ..Route::ok(b"headers".to_vec())
    },
  );
  let client = format!(
    r#"const req = new Request({:?}, {{ headers: {{
  "X-Ok": "1", "Host": "evil.example", "Referer": "http://evil.example/",
  "Sec-Fetch-Site": "none", "Proxy-Authorization": "x", "Connection": "close",
  "X-HTTP-Method-Override": "TRACE" }} }});
const f = await reg.backgroundFetch.fetch("headers", [req]);"#,
    server.url("/h")
  );
  let out = run(&client, &[]).await;
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=headers result=success reason= downloaded=7 records={}",
      rec("/h", 200, b"headers")
    ),
  );
  let reqs = server.requests_to("/h");
  assert_eq!(reqs.len(), 2, "a preflight, then the request: {reqs:?}");
  assert_eq!(
    reqs[0].header("access-control-request-headers"),
    Some("x-ok")
  );
  let get = &reqs[1];
  assert_eq!(get.header("x-ok"), Some("1"));
  assert_eq!(get.header("host"), Some(server.addr().to_string().as_str()));
  for name in [
    "sec-fetch-site",
    "proxy-authorization",
    "x-http-method-override",
  ] {
    assert_eq!(get.header(name), None, "{name} was sent");
  }
  // Cross-origin, the default policy: the page's origin only.
  let referer = get.header("referer").expect("a Referer");
  assert!(
    referer.starts_with("http://127.0.0.1:")
      && referer.ends_with('/')
      && referer.matches('/').count() == 3,
    "{referer}"
  );
}

async fn gzip(data: &[u8]) -> Vec<u8> {
  use tokio::io::AsyncReadExt;
  let mut out = Vec::new();
  async_compression::tokio::bufread::GzipEncoder::new(data)
    .read_to_end(&mut out)
    .await
    .unwrap();
  out
}

#[tokio::test]
async fn a_gzip_body_is_stored_decoded_and_an_interrupted_one_starts_over() {
  let server = FaultServer::start().await;
  // Text-like, so that it compresses, yet not one byte over and over.
  let text: Vec<u8> = (0..20_000u32)
    .flat_map(|i| format!("line {} of the episode notes\n", i % 997).into_bytes())
    .collect();
  let coded = gzip(&text).await;
  assert!(coded.len() < text.len() / 4);
  let gz = |b: Vec<u8>| Route {
    headers: vec![("Content-Encoding".into(), "gzip".into())],
    ..ranged(b, true)
  };
  server.add("/notes", gz(coded.clone()));
  server.queue_faults("/notes", [Fault::ResetAfter(coded.len() as u64 / 2)]);
  let out = run(&fetch_js("gz", &[server.url("/notes")], "{}"), &[]).await;
  // The body reads back decoded, and `downloaded` counts what is stored.
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=gz result=success reason= downloaded={} records={}",
      text.len(),
      rec("/notes", 200, &text)
    ),
  );
  one_event(&out);
  // The retry cannot resume a decoded body with Range: it starts over.
  let reqs = server.requests_to("/notes");
  assert_eq!(reqs.len(), 2, "{reqs:?}");
  assert_eq!(reqs[1].header("range"), None);

  // A body that says gzip but is not: a network error once the retries
  // are used up.
  server.add("/bad", gz(b"this is not gzip data".to_vec()));
  let out = run(&fetch_js("bad", &[server.url("/bad")], "{}"), &[]).await;
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchfail id=bad result=failure reason=fetch-error downloaded=0 records=/bad=TypeError",
  );
  one_event(&out);
  assert_eq!(server.requests_to("/bad").len(), 4);
}

#[tokio::test]
async fn a_fetch_aborted_while_it_waits_for_a_slot_never_downloads() {
  let server = FaultServer::start().await;
  let first = body(100_000);
  server.add("/first", Route::ok(first.clone()));
  // The first fetch holds the only slot until the test releases it.
  server.queue_faults("/first", [Fault::StallAfter(1_000)]);
  server.add("/second", Route::ok(body(1_000)));
  server.add("/aborted", Route::ok(b"ok".to_vec()));
  let client = format!(
    "{}\n{}\nconsole.log(`ABORT ${{await two.abort()}}`);\nawait fetch({:?});",
    fetch_js("one", &[server.url("/first")], "{}"),
    fetch_js("two", &[server.url("/second")], "{}").replace("const f", "const two"),
    server.url("/aborted"),
  );
  let run = spawn(&client, &["--max-active-fetches", "1"]);
  server.wait_for_request("/aborted", 1).await;
  // The stall must have begun before the release, or the server would
  // wait for a release it already had.
  server.wait_for_stalls(1).await;
  server.release();
  let out = run.finish().await;
  assert_has(&out, "ABORT true");
  assert_has(
    &out,
    "CLIENT EVENT backgroundfetchabort id=two result=failure reason=aborted downloaded=0 records=/second=AbortError",
  );
  assert_has(
    &out,
    &format!(
      "CLIENT EVENT backgroundfetchsuccess id=one result=success reason= downloaded=100000 records={}",
      rec("/first", 200, &first)
    ),
  );
  assert!(server.requests_to("/second").is_empty(), "{out}");
}

#[tokio::test]
async fn uploaded_never_goes_down_when_a_body_is_sent_again() {
  // The first POST is answered with a reset before any response byte: the
  // record is retried and its 300,000-byte body sent again. `uploaded`
  // counts each byte once: it never goes down, and ends at the body size.
  let server = FaultServer::start().await;
  server.add("/up", Route::ok(b"stored".to_vec()));
  server.queue_faults("/up", [Fault::ResetAfter(0)]);
  let client = format!(
    r#"const f = await reg.backgroundFetch.fetch("up", [new Request({:?}, {{ method: "POST", body: "u".repeat(300000) }})]);"#,
    server.url("/up"),
  );
  // The wait before the retry outlasts the progress throttle, so a lower
  // count in between would be published.
  let (out, trace) = spawn(&client, &["--retry-backoff-ms", "400"])
    .finish_with_trace()
    .await;
  assert_has(&out, "CLIENT EVENT backgroundfetchsuccess id=up");
  assert_eq!(server.requests_to("/up").len(), 2, "the body went twice");
  let seen: Vec<u64> = trace
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .filter(|v| v["kind"] == "bgfetch-progress" && v["id"] == "up")
    .filter_map(|v| v["uploaded"].as_u64())
    .collect();
  assert!(
    seen.windows(2).all(|w| w[0] <= w[1]),
    "uploaded went down: {seen:?}"
  );
  assert_eq!(seen.last(), Some(&300_000), "{seen:?}");
}
