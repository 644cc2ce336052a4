//! An unmodified Workbox 7 worker through `swharness run`: its npm
//! production builds (installed by `./x setup` into `.npm-deps/`, never
//! committed) are served beside `fixtures/workbox/sw.js`, which loads them
//! with `importScripts`.

mod support;

use std::path::{Path, PathBuf};

use support::run::swharness;

const PACKAGES: &[&str] = &["core", "routing", "strategies", "precaching"];

fn copy_dir(from: &Path, to: &Path) {
  std::fs::create_dir_all(to).unwrap();
  for entry in std::fs::read_dir(from).unwrap() {
    let path = entry.unwrap().path();
    let dest = to.join(path.file_name().unwrap());
    if path.is_dir() {
      copy_dir(&path, &dest);
    } else {
      std::fs::copy(&path, &dest).unwrap();
    }
  }
}

/// Runs `fixtures/<fixture>/sw.js` with its `page.js`, the Workbox builds
/// of `packages` copied beside them; None (skipped) when they are not
/// installed, unless `./x test` installed them.
fn run_with_workbox(fixture: &str, packages: &[&str]) -> Option<support::run::Run> {
  let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
  let npm = root.join(".npm-deps/node_modules");
  if !packages
    .iter()
    .all(|p| npm.join(format!("workbox-{p}/build")).is_dir())
  {
    // `./x test` sets this once it has installed Workbox: there a missing
    // build is a failure, not a skip.
    assert!(
      std::env::var_os("SWHARNESS_REQUIRE_WORKBOX").is_none(),
      "Workbox is not in {}",
      npm.display()
    );
    eprintln!("skipped: Workbox is not installed (./x setup installs it)");
    return None;
  }
  let dir = tempfile::tempdir().unwrap();
  copy_dir(&root.join("fixtures").join(fixture), dir.path());
  for p in packages {
    let name = format!("workbox-{p}.prod.js");
    std::fs::copy(
      npm.join(format!("workbox-{p}/build/{name}")),
      dir.path().join(&name),
    )
    .unwrap();
  }
  Some(swharness(&[
    "run",
    dir.path().join("sw.js").to_str().unwrap(),
    "--client",
    dir.path().join("page.js").to_str().unwrap(),
    "--timeout",
    "60",
  ]))
}

#[test]
fn workbox_precaching_and_strategies_work_online_and_offline() {
  let Some(run) = run_with_workbox("workbox", PACKAGES) else {
    return;
  };
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[client 1] controlled true\n",
    "[client 1] online nf 200 nf network body\n",
    "[client 1] online cf 200 cf network body\n",
    "[client 1] online swr 200 swr network body\n",
    // Offline, each answer comes from the caches Workbox filled.
    "[client 1] offline precached 200 precached body\n",
    "[client 1] offline nf 200 nf network body\n",
    "[client 1] offline cf 200 cf network body\n",
    "[client 1] offline swr 200 swr network body\n",
    // NetworkFirst with nothing cached fails; setCatchHandler answers.
    "[client 1] offline uncached 200 offline fallback\n",
  ]);
  assert!(
    run.stdout.contains("\"nf\",\"cf\",\"swr\""),
    "{}",
    run.stdout
  );
}

#[test]
fn workbox_expiration_evicts_by_count_and_age_through_indexeddb() {
  let Some(run) = run_with_workbox(
    "workbox-expiration",
    &["core", "routing", "strategies", "expiration"],
  ) else {
    return;
  };
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[client 1] maxEntries kept /exp/b.txt,/exp/c.txt\n",
    "[client 1] maxAgeSeconds kept /age/y.txt\n",
    "[client 1] expiration databases workbox-expiration\n",
  ]);
}
