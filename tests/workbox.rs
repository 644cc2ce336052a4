//! An unmodified Workbox 7 worker through `swharness run`: its npm
//! production builds (installed by `./x setup` into `.npm-deps/`, never
//! committed) are served beside `fixtures/workbox/sw.js`, which loads them
//! with `importScripts`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn workbox_precaching_and_strategies_work_online_and_offline() {
  let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
  let npm = root.join(".npm-deps/node_modules");
  if !PACKAGES
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
    return;
  }
  let dir = tempfile::tempdir().unwrap();
  copy_dir(&root.join("fixtures/workbox"), dir.path());
  for p in PACKAGES {
    let name = format!("workbox-{p}.prod.js");
    std::fs::copy(
      npm.join(format!("workbox-{p}/build/{name}")),
      dir.path().join(&name),
    )
    .unwrap();
  }
  let out = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args([
      "run",
      dir.path().join("sw.js").to_str().unwrap(),
      "--client",
      dir.path().join("page.js").to_str().unwrap(),
      "--timeout",
      "60",
    ])
    .output()
    .unwrap();
  let stdout = String::from_utf8_lossy(&out.stdout);
  let stderr = String::from_utf8_lossy(&out.stderr);
  assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
  for line in [
    "controlled true",
    "online nf 200 nf network body",
    "online cf 200 cf network body",
    "online swr 200 swr network body",
    // Offline, each answer comes from the caches Workbox filled.
    "offline precached 200 precached body",
    "offline nf 200 nf network body",
    "offline cf 200 cf network body",
    "offline swr 200 swr network body",
    // NetworkFirst with nothing cached fails; setCatchHandler answers.
    "offline uncached 200 offline fallback",
  ] {
    assert!(
      stdout.contains(&format!("[client 1] {line}\n")),
      "{line:?} missing from:\n{stdout}"
    );
  }
  assert!(stdout.contains("\"nf\",\"cf\",\"swr\""), "{stdout}");
}
