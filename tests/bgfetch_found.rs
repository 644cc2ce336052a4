//! Background Fetch bugs that `tests/bgfetch_properties.rs` found, each
//! pinned down by a deterministic case (the property test reaches them
//! only by chance). A "held" download stalls on the fault server at a
//! byte (a resume with `Range` stalls there too) until `release()`.

#[path = "support"]
mod support {
  pub mod fault_server;
}

use std::path::Path;
use std::time::Duration;

use support::fault_server::{Fault, FaultServer, Route};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Prints each final event, as `FINAL type id reason`.
const SW: &str = r#"
self.addEventListener("install", () => self.skipWaiting());
for (const t of ["backgroundfetchsuccess", "backgroundfetchfail", "backgroundfetchabort"]) {
  self.addEventListener(t, (e) => {
    const r = e.registration;
    console.log(`FINAL ${e.type} ${r.id} ${r.failureReason}`);
  });
}
"#;

const HEAD: &str =
  "const reg = await navigator.serviceWorker.ready;\nconst bf = reg.backgroundFetch;\n";

struct Case {
  dir: tempfile::TempDir,
  server: FaultServer,
}

impl Case {
  async fn new() -> Case {
    let server = FaultServer::start().await;
    server.add(
      "/held",
      Route {
        body: vec![7u8; 65_536],
        etag: Some("\"v1\"".into()),
        honor_range: true,
        fault: Fault::StallAt(16_384),
        ..Route::default()
      },
    );
    server.add("/ok", Route::ok(vec![1u8; 1000]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sw.js"), SW).unwrap();
    Case { dir, server }
  }

  fn url(&self, path: &str) -> String {
    self.server.url(path)
  }

  fn release(&self) {
    self.server.set_fault("/held", Fault::None);
    self.server.release();
  }

  /// Runs `client` (after HEAD) with the shared `--state`; kills the run
  /// at the first line that holds `kill_at`. Exit code and stdout.
  async fn run(
    &self,
    name: &str,
    client: &str,
    extra: &[&str],
    kill_at: Option<&str>,
  ) -> (Option<i32>, String) {
    let p = |n: &str| self.dir.path().join(n).to_string_lossy().into_owned();
    std::fs::write(self.dir.path().join(name), format!("{HEAD}{client}")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_swharness"))
      .args([
        "run",
        &p("sw.js"),
        "--client",
        &p(name),
        "--state",
        &p("state"),
      ])
      .args(["--timeout", "10"])
      .args(extra)
      .stdout(std::process::Stdio::piped())
      .kill_on_drop(true)
      .spawn()
      .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let read = async {
      while let Ok(Some(line)) = lines.next_line().await {
        if kill_at.is_some_and(|k| line.contains(k)) {
          let _ = child.start_kill();
        }
        out.push_str(&line);
        out.push('\n');
      }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
      .await
      .expect("the run ends");
    (child.wait().await.unwrap().code(), out)
  }
}

fn files(dir: &Path) -> usize {
  std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// An offline run exits although a fetch that failed (bad-status) still
/// has a record paused; after the restart the fetch fails as it had, with
/// its failure kept (it used to succeed).
#[tokio::test]
async fn an_offline_exit_leaves_a_failed_fetch_paused_and_keeps_its_failure() {
  let c = Case::new().await;
  // The 404 record's response is ready once it has settled, and so once
  // it has failed the fetch.
  let client = format!(
    r#"const f = await bf.fetch("f", [{missing:?}, {:?}]);
const status = (await (await f.match({missing:?})).responseReady).status;
await bf.get("f");
console.log(`SEEN ${{status}} ${{f.failureReason}}`);
await swharness.setOnline(false);
"#,
    c.url("/held"),
    missing = c.url("/missing"),
  );
  let (code, out) = c.run("c1.js", &client, &[], None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("SEEN 404 bad-status"), "{out}");
  c.release();
  let (code, out) = c.run("c2.js", "", &[], None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(
    out.contains("FINAL backgroundfetchfail f bad-status"),
    "{out}"
  );
}

/// A record's pending responseReady does not keep an offline run alive.
#[tokio::test]
async fn a_pending_response_ready_does_not_keep_an_offline_run() {
  let c = Case::new().await;
  let client = format!(
    r#"const f = await bf.fetch("r", [{:?}]);
const [rec] = await f.matchAll();
rec.responseReady.then(() => console.log("READY"), (e) => console.log(`REJECTED ${{e.name}}`));
await swharness.setOnline(false);
console.log("OFFLINE");
"#,
    c.url("/held")
  );
  let (code, out) = c.run("c1.js", &client, &[], None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("OFFLINE") && !out.contains("READY"), "{out}");
}

/// The fetches of an unregistered registration stay ended when the run is
/// killed before they wind down (here 30 wait for a slot): the next
/// run's new registration of the same scope neither lists them nor gets
/// their events, and they do not download.
#[tokio::test]
async fn fetches_of_an_unregistered_registration_stay_ended_after_a_kill() {
  let c = Case::new().await;
  let client = format!(
    r#"await bf.fetch("first", [{:?}]);
const ok = {:?};
for (let i = 0; i < 30; i++) await bf.fetch(`queued${{i}}`, [ok, ok + "?2", ok + "?3"]);
console.log(`UNREGISTERED ${{await reg.unregister()}}`);
setTimeout(() => {{}}, 60000);
"#,
    c.url("/held"),
    c.url("/ok")
  );
  let one_slot = ["--max-active-fetches", "1"];
  let (code, out) = c
    .run("c1.js", &client, &one_slot, Some("UNREGISTERED"))
    .await;
  assert!(out.contains("UNREGISTERED true"), "{code:?} {out}");
  c.release();
  let client = r#"console.log(`IDS ${JSON.stringify(await bf.getIds())}`);"#;
  let (code, out) = c.run("c2.js", client, &one_slot, None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("IDS []"), "{out}");
  assert!(!out.contains("FINAL"), "{out}");
  assert!(c.server.requests_to("/ok").is_empty(), "{out}");
}

/// A fetch aborted while it waits for a slot ends at once, also offline
/// (the run used to stay busy until --timeout).
#[tokio::test]
async fn a_fetch_aborted_while_it_waits_for_a_slot_ends_at_once_offline() {
  let c = Case::new().await;
  let client = format!(
    r#"await bf.fetch("one", [{:?}]);
const two = await bf.fetch("two", [{:?}]);
await swharness.setOnline(false);
console.log(`ABORT ${{await two.abort()}}`);
"#,
    c.url("/held"),
    c.url("/ok")
  );
  let (code, out) = c
    .run("c1.js", &client, &["--max-active-fetches", "1"], None)
    .await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("ABORT true"), "{out}");
  assert!(
    out.contains("FINAL backgroundfetchabort two aborted"),
    "{out}"
  );
  assert!(c.server.requests_to("/ok").is_empty());
}

/// Bytes a page was told about are on disk: after a kill during a stall,
/// the restarted fetch reports (and resumes from) as many.
#[tokio::test]
async fn downloaded_bytes_a_page_saw_survive_a_kill() {
  let c = Case::new().await;
  let client = format!(
    r#"const f = (await bf.get("k")) ?? await bf.fetch("k", [{:?}]);
console.log(`NOW ${{f.downloaded}}`);
f.onprogress = () => console.log(`SEEN ${{f.downloaded}}`);
"#,
    c.url("/held")
  );
  let (_, out) = c.run("c1.js", &client, &[], Some("SEEN 16384")).await;
  assert!(out.contains("SEEN 16384"), "{out}");
  let (code, out) = c.run("c2.js", &client, &["--offline"], None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("NOW 16384"), "{out}");
  assert_eq!(files(&c.dir.path().join("state/bgfetch/bodies")), 1);
  // Online, the download resumes where the file ends.
  c.release();
  let (code, out) = c.run("c3.js", "", &[], None).await;
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains("FINAL backgroundfetchsuccess k"), "{out}");
  let reqs = c.server.requests_to("/held");
  assert_eq!(
    reqs.last().unwrap().header("range"),
    Some("bytes=16384-"),
    "{reqs:?}"
  );
}
