//! `swharness wpt --browser chromium` and `--compare chromium`, through the
//! CLI. The live test needs Chromium, wptserve and testharness.js (`./x
//! setup`; `apt-get install chromium`); without them it says what is missing
//! and returns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn swharness(args: &[&str], path_env: Option<&Path>) -> Output {
  let mut cmd = Command::new(env!("CARGO_BIN_EXE_swharness"));
  cmd.args(args);
  if let Some(p) = path_env {
    cmd.env("PATH", p);
  }
  cmd.output().expect("the binary runs")
}

fn text(b: &[u8]) -> String {
  String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_missing_chromium_says_how_to_install_it() {
  let empty = tempfile::tempdir().unwrap();
  let tests = tempfile::tempdir().unwrap();
  let root = tests.path().to_str().unwrap();
  let out = swharness(
    &["wpt", "--wpt-root", root, "--browser", "chromium"],
    Some(empty.path()),
  );
  assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
  let err = text(&out.stderr);
  assert!(err.contains("apt-get install chromium"), "{err}");
  assert!(err.contains("--chromium-binary"), "{err}");

  let out = swharness(
    &[
      "wpt",
      "--wpt-root",
      root,
      "--compare",
      "chromium",
      "--chromium-binary",
      "/no/such/chromium",
    ],
    None,
  );
  assert_eq!(out.status.code(), Some(2));
  assert!(
    text(&out.stderr).contains("--chromium-binary /no/such/chromium: no such file"),
    "{}",
    text(&out.stderr)
  );

  let out = swharness(
    &["wpt", "--browser", "chromium", "--compare", "chromium"],
    None,
  );
  assert_eq!(out.status.code(), Some(2), "the two cannot be combined");
  let out = swharness(&["wpt", "--browser", "firefox"], None);
  assert_eq!(out.status.code(), Some(2));
}

fn chromium() -> Option<PathBuf> {
  let path = std::env::var_os("PATH")?;
  std::env::split_paths(&path)
    .map(|d| d.join("chromium"))
    .find(|p| p.is_file())
}

fn harness_dir() -> Option<PathBuf> {
  let d = std::env::var_os("SWHARNESS_WPT_HARNESS_DIR")
    .map(PathBuf::from)
    .unwrap_or_else(|| {
      PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".wpt-deps/node_modules/wpt-runner/testharness")
    });
  d.join("testharness.js").is_file().then_some(d)
}

fn wptserve() -> bool {
  Command::new("python3")
    .args(["-c", "import wptserve"])
    .output()
    .is_ok_and(|o| o.status.success())
}

/// Three subtests: one that passes on both sides, one that differs (only
/// Chromium has `window.chrome`), and one that needs the control object
/// (PRECONDITION_FAILED in Chromium, not a difference); plus a service
/// worker page, so the browser's workers start.
const TESTS: &[(&str, &str)] = &[
  (
    "t/side.https.window.js",
    r#"
test(() => assert_equals(1 + 1, 2), 'both');
test(() => assert_equals(typeof self.chrome, 'undefined'), 'differs');
promise_test(async () => {
  await swharness.setOnline(false);
  await swharness.setOnline(true);
}, 'needs the control object');
promise_test(async () => {
  await swharness.setPermission('background-fetch', 'granted');
  const r = await navigator.permissions.query({name: 'background-fetch'});
  assert_equals(r.state, 'granted');
}, 'setPermission works on both sides');
"#,
  ),
  (
    "t/worker.any.js",
    "// META: global=serviceworker\ntest(() => assert_true('clients' in self), 'in a worker');\n",
  ),
];

#[test]
fn compare_prints_the_differences_and_writes_both_reports() {
  let (Some(_), Some(harness), true) = (chromium(), harness_dir(), wptserve()) else {
    eprintln!("skipping: needs chromium on PATH, wptserve and testharness.js (./x setup)");
    return;
  };
  let root = tempfile::tempdir().unwrap();
  for (path, body) in TESTS {
    let p = root.path().join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
  }
  let out_dir = tempfile::tempdir().unwrap();
  let report = out_dir.path().join("r.json");
  let exp = out_dir.path().join("expectations");
  let out = swharness(
    &[
      "wpt",
      "--wpt-root",
      root.path().to_str().unwrap(),
      "--harness-dir",
      harness.to_str().unwrap(),
      "--expectations-dir",
      exp.to_str().unwrap(),
      "--compare",
      "chromium",
      "-j",
      "2",
      "--log-wptreport",
      report.to_str().unwrap(),
    ],
    None,
  );
  let stdout = text(&out.stdout);
  assert_eq!(
    out.status.code(),
    Some(0),
    "swharness's side passes:\n{stdout}\n{}",
    text(&out.stderr)
  );
  assert!(
    stdout.contains("1 subtests and 0 pages' harness status differ"),
    "{stdout}"
  );
  assert!(
    stdout.contains("  differs\n    swharness: PASS"),
    "{stdout}"
  );
  assert!(
    stdout.contains(
      "t/side.https.window.js: 4 subtests, 2 same, 1 differ, 1 swharness-only; passed 4 / 2"
    ),
    "{stdout}"
  );
  assert!(
    stdout.contains("t/worker.any.js: 1 subtests, 1 same"),
    "{stdout}"
  );

  let ours: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
  let theirs: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(out_dir.path().join("r.chromium.json")).unwrap())
      .unwrap();
  assert_eq!(ours["run_info"]["product"], "swharness");
  assert_eq!(theirs["run_info"]["product"], "chromium");
  let statuses = |v: &serde_json::Value| -> Vec<String> {
    v["results"]
      .as_array()
      .unwrap()
      .iter()
      .flat_map(|r| r["subtests"].as_array().unwrap().clone())
      .map(|s| {
        format!(
          "{}={}",
          s["name"].as_str().unwrap(),
          s["status"].as_str().unwrap()
        )
      })
      .collect()
  };
  assert_eq!(
    statuses(&theirs),
    vec![
      "both=PASS",
      "differs=FAIL",
      "needs the control object=PRECONDITION_FAILED",
      "setPermission works on both sides=PASS",
      "in a worker=PASS"
    ]
  );
  assert!(statuses(&ours).iter().all(|s| s.ends_with("=PASS")));
}
