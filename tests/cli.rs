//! Black-box tests of `swharness run`: lifecycle, messages, importScripts,
//! Cache Storage across restarts, errors and the trace.

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
  assert!(text(&out.stderr).contains("failed to install and is redundant"));
  let trace = std::fs::read_to_string(trace.path()).unwrap();
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
