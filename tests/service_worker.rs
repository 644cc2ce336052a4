//! Black-box tests of the service worker runtime through `swharness run`:
//! fetch interception and exceptions in event listeners.

use std::path::PathBuf;
use std::process::Command;

fn fixture(rel: &str) -> String {
  PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    .join("fixtures")
    .join(rel)
    .to_string_lossy()
    .into_owned()
}

#[test]
fn a_controlled_page_fetches_through_its_worker() {
  let dir = tempfile::tempdir().unwrap();
  let trace = dir.path().join("trace.jsonl");
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args([
      "run",
      &fixture("fetch-event/sw.js"),
      "--client",
      &fixture("fetch-event/page.js"),
      "--trace",
      trace.to_str().unwrap(),
      "--timeout",
      "30",
    ])
    .output()
    .unwrap();
  let stdout = String::from_utf8_lossy(&out.stdout);
  let stderr = String::from_utf8_lossy(&out.stderr);
  // The listeners that threw count as uncaught errors: exit 1, but the run
  // went on to the end.
  assert_eq!(
    out.status.code(),
    Some(1),
    "stdout: {stdout}\nstderr: {stderr}"
  );
  for line in [
    "[sw] second install listener\n",
    "[client 1] controlled: true\n",
    "[client 1] hello: from-sw\n",
    "[client 1] network: true\n",
    "[client 1] broken: TypeError\n",
    "[client 1] throws: 404\n",
  ] {
    assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
  }
  assert!(
    stderr.contains("Uncaught Error: the first install listener throws"),
    "{stderr}"
  );
  assert!(
    stderr.contains("Uncaught Error: the fetch listener throws"),
    "{stderr}"
  );
  assert!(
    stderr.contains("The FetchEvent for \"http://127.0.0.1:")
      && stderr
        .contains("/broken\" resulted in a network error response: the promise was rejected"),
    "{stderr}"
  );
  // The trace has one fetch-event per request, with its outcome.
  let trace = std::fs::read_to_string(&trace).unwrap();
  let outcomes: Vec<(String, String)> = trace
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .filter(|v| v["kind"] == "fetch-event")
    .map(|v| {
      let url = v["url"]
        .as_str()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
      (url, v["outcome"].as_str().unwrap_or("").to_string())
    })
    .collect();
  let expected: Vec<(String, String)> = [
    ("hello", "respondWith"),
    ("page.js", "network-fallback"),
    ("broken", "network-error"),
    ("throws", "network-fallback"),
  ]
  .iter()
  .map(|(a, b)| (a.to_string(), b.to_string()))
  .collect();
  assert_eq!(outcomes, expected);
}
