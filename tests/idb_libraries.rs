//! The npm libraries `idb` and Dexie, unmodified, in a service worker (UMD
//! builds through `importScripts`) and in its page (ES modules), on one
//! shared database. `./x setup` installs them into `.npm-deps/` (never
//! committed); the test copies their builds beside
//! `fixtures/idb-libraries/`.

mod support;

use std::path::PathBuf;

use support::run::swharness;

#[test]
fn idb_and_dexie_run_unmodified_in_the_worker_and_the_page() {
  let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
  let npm = root.join(".npm-deps/node_modules");
  let idb = npm.join("idb/build");
  let dexie = npm.join("dexie/dist");
  if !idb.join("umd.js").is_file() || !dexie.join("dexie.mjs").is_file() {
    // `./x test` sets this once it has installed them: there a missing
    // build is a failure, not a skip.
    assert!(
      std::env::var_os("SWHARNESS_REQUIRE_NPM_LIBS").is_none(),
      "idb and Dexie are not in {}",
      npm.display()
    );
    eprintln!("skipped: idb and Dexie are not installed (./x setup installs them)");
    return;
  }
  let dir = tempfile::tempdir().unwrap();
  let d = dir.path();
  for f in ["sw.js", "client.js"] {
    std::fs::copy(root.join("fixtures/idb-libraries").join(f), d.join(f)).unwrap();
  }
  std::fs::copy(idb.join("umd.js"), d.join("idb-umd.js")).unwrap();
  std::fs::create_dir(d.join("idb")).unwrap();
  for entry in std::fs::read_dir(&idb).unwrap() {
    let p = entry.unwrap().path();
    if p.extension().is_some_and(|e| e == "js") {
      std::fs::copy(&p, d.join("idb").join(p.file_name().unwrap())).unwrap();
    }
  }
  std::fs::copy(dexie.join("dexie.js"), d.join("dexie.js")).unwrap();
  std::fs::copy(dexie.join("dexie.mjs"), d.join("dexie.mjs")).unwrap();
  let run = swharness(&[
    "run",
    d.join("sw.js").to_str().unwrap(),
    "--client",
    d.join("client.js").to_str().unwrap(),
  ]);
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[sw] idb in the worker: a,b,c true\n",
    "[sw] Dexie in the worker: Bo,Cy 2\n",
    "idb in the page: 1,2,3 worker\n",
    "Dexie in the page: 29 Ada,Cy,Bo\n",
  ]);
}
