//! IndexedDB through `swharness run`, for what upstream WPT cannot see:
//! the worker and its page share one database, it survives a restart on
//! `--state`, a readwrite transaction cut by kill -9 leaves no trace, the
//! quota holds, and corrupt files or hostile names are clear errors.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use support::run::swharness;

/// Writes a script that starts with [`HELPERS`].
fn script(dir: &Path, name: &str, body: &str) -> String {
  write(dir, name, &format!("{HELPERS}\n{body}"))
}

fn write(dir: &Path, name: &str, body: &str) -> String {
  let p = dir.join(name);
  std::fs::write(&p, body).unwrap();
  p.to_string_lossy().into_owned()
}

/// A small promise wrapper the scripts share (what `idb` does, in short).
const HELPERS: &str = r#"
const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const done = (tx) => new Promise((res, rej) => { tx.oncomplete = res; tx.onabort = () => rej(tx.error); });
const openDb = () => {
  const r = indexedDB.open("shared", 1);
  r.onupgradeneeded = () => r.result.createObjectStore("kv");
  return req(r);
};
"#;

#[test]
fn the_worker_and_its_page_share_a_database_that_survives_a_restart() {
  let dir = tempfile::tempdir().unwrap();
  let state = dir.path().join("state");
  let sw = script(
    dir.path(),
    "sw.js",
    r#"self.addEventListener('install', (e) => e.waitUntil((async () => {
  const db = await openDb();
  const tx = db.transaction('kv', 'readwrite');
  const seen = await req(tx.objectStore('kv').get('from-worker'));
  tx.objectStore('kv').put((seen ?? 0) + 1, 'from-worker');
  await done(tx);
  console.log('worker wrote', (seen ?? 0) + 1);
})()));
self.addEventListener('message', async (e) => {
  const db = await openDb();
  const v = await req(db.transaction('kv').objectStore('kv').get('from-page'));
  e.source.postMessage('worker sees page value ' + v);
});"#,
  );
  let client = script(
    dir.path(),
    "client.js",
    r#"const db = await openDb();
const r = db.transaction('kv').objectStore('kv');
console.log('page sees worker value', await req(r.get('from-worker')));
const tx = db.transaction('kv', 'readwrite');
const old = await req(tx.objectStore('kv').get('from-page'));
tx.objectStore('kv').put((old ?? 0) + 10, 'from-page');
await done(tx);
const reg = await navigator.serviceWorker.ready;
const answer = new Promise((r) => navigator.serviceWorker.onmessage = (e) => r(e.data));
reg.active.postMessage('read');
console.log(await answer);
console.log('databases', JSON.stringify(await indexedDB.databases()));"#,
  );
  let st = state.to_str().unwrap();
  let first = swharness(&["run", &sw, "--client", &client, "--state", st]);
  assert_eq!(first.code, Some(0), "{}{}", first.stdout, first.stderr);
  first.assert_lines(&[
    "[sw] worker wrote 1\n",
    "page sees worker value 1\n",
    "worker sees page value 10\n",
    r#"databases [{"name":"shared","version":1}]"#,
  ]);
  // The registration is kept, so the worker does not install again; the
  // page adds to what the first run stored.
  let second = swharness(&["run", &sw, "--client", &client, "--state", st]);
  assert_eq!(second.code, Some(0), "{}{}", second.stdout, second.stderr);
  second.assert_lines(&["page sees worker value 1\n", "worker sees page value 20\n"]);
}

#[test]
fn a_readwrite_transaction_cut_by_kill_9_leaves_no_trace() {
  let dir = tempfile::tempdir().unwrap();
  let state = dir.path().join("state");
  let sw = write(dir.path(), "sw.js", "// no listeners\n");
  // Commits one record, then starts a transaction that writes 1000 and is
  // kept alive (a get after each success) until the process is killed.
  let writer = script(
    dir.path(),
    "writer.js",
    r#"const db = await openDb();
const t1 = db.transaction('kv', 'readwrite');
t1.objectStore('kv').put('yes', 'committed');
await done(t1);
const t2 = db.transaction('kv', 'readwrite');
const s = t2.objectStore('kv');
for (let i = 0; i < 1000; i++) s.put(i, 'pending-' + i);
let said = false;
const spin = () => { s.get('committed').onsuccess = () => {
  if (!said) { said = true; console.log('t2 running'); }
  spin();
}; };
spin();
await new Promise(() => {});"#,
  );
  let reader = script(
    dir.path(),
    "reader.js",
    r#"const db = await openDb();
const s = db.transaction('kv').objectStore('kv');
console.log('committed:', await req(s.get('committed')), 'records:', await req(s.count()));"#,
  );
  let st = state.to_str().unwrap();
  let mut child = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args([
      "run",
      &sw,
      "--client",
      &writer,
      "--state",
      st,
      "--timeout",
      "120",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
  let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
  let running = lines.any(|l| l.is_ok_and(|l| l.contains("t2 running")));
  assert!(running, "the writer reached its open transaction");
  child.kill().unwrap();
  let _ = child.wait();
  let after = swharness(&["run", &sw, "--client", &reader, "--state", st]);
  assert_eq!(after.code, Some(0), "{}{}", after.stdout, after.stderr);
  after.assert_lines(&["committed: yes records: 1\n"]);
}

#[test]
fn a_put_past_the_quota_is_a_quota_exceeded_error() {
  let dir = tempfile::tempdir().unwrap();
  let sw = write(dir.path(), "sw.js", "// no listeners\n");
  let client = script(
    dir.path(),
    "client.js",
    r#"const db = await openDb();
const before = (await navigator.storage.estimate()).usage;
const tx = db.transaction('kv', 'readwrite');
tx.objectStore('kv').put(new Uint8Array(20000), 'small');
await done(tx);
const usage = (await navigator.storage.estimate()).usage;
console.log('counted:', usage > before && usage >= 20000);
const big = db.transaction('kv', 'readwrite');
const r = big.objectStore('kv').put(new Uint8Array(400000), 'big');
try { await req(r); console.log('stored'); } catch (e) { console.log('put failed:', e.name); }
try { await done(big); } catch (e) { console.log('aborted:', e.name); }"#,
  );
  let out = swharness(&["run", &sw, "--client", &client, "--quota", "300000"]);
  assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
  out.assert_lines(&[
    "counted: true\n",
    "put failed: QuotaExceededError\n",
    "aborted: QuotaExceededError\n",
  ]);
}

#[test]
fn a_corrupt_database_file_is_an_error_that_names_it_and_names_never_become_paths() {
  let dir = tempfile::tempdir().unwrap();
  let state = dir.path().join("state");
  let sw = write(dir.path(), "sw.js", "// no listeners\n");
  let client = script(
    dir.path(),
    "client.js",
    r#"const r = indexedDB.open('../../escape/\u0000/x', 1);
r.onupgradeneeded = () => r.result.createObjectStore('kv');
try { const db = await req(r); console.log('opened', db.name.length); db.close(); }
catch (e) { console.log('open failed:', e.name, e.message); }"#,
  );
  let st = state.to_str().unwrap();
  let first = swharness(&["run", &sw, "--client", &client, "--state", st]);
  first.assert_lines(&["opened 16\n"]);
  assert!(
    !dir.path().join("escape").exists(),
    "nothing written outside the state directory"
  );
  let files: Vec<_> = walk(&state.join("indexeddb"));
  assert!(
    files.iter().any(|f| f.ends_with("db-1.sqlite")),
    "{files:?}"
  );
  let db_file = files.iter().find(|f| f.ends_with("db-1.sqlite")).unwrap();
  for f in &files {
    if f.starts_with(db_file.as_str()) {
      std::fs::write(f, b"this is not a database").unwrap();
    }
  }
  let second = swharness(&["run", &sw, "--client", &client, "--state", st]);
  // The message names the file.
  second.assert_lines(&[
    "open failed: UnknownError IndexedDB database file",
    "db-1.sqlite",
  ]);
  // The file is kept as it was, for the user to look at.
  assert_eq!(std::fs::read(db_file).unwrap(), b"this is not a database");
}

fn walk(dir: &Path) -> Vec<String> {
  let mut out = Vec::new();
  for e in std::fs::read_dir(dir).unwrap().flatten() {
    let p = e.path();
    if p.is_dir() {
      out.extend(walk(&p));
    } else {
      out.push(p.to_string_lossy().into_owned());
    }
  }
  out
}

#[test]
fn blob_and_file_values_keep_their_bodies_across_a_restart() {
  let dir = tempfile::tempdir().unwrap();
  let state = dir.path().join("state");
  let sw = write(dir.path(), "sw.js", "// no listeners\n");
  let client = script(
    dir.path(),
    "client.js",
    r#"const db = await openDb();
const old = await req(db.transaction('kv').objectStore('kv').get('files'));
if (old) {
  console.log('kept:', old.blob.type, await old.blob.text(), old.file.name, old.file.lastModified, await old.file.text());
} else {
  const tx = db.transaction('kv', 'readwrite');
  tx.objectStore('kv').put({
    blob: new Blob(['hello ', 'blob'], { type: 'text/plain' }),
    file: new File([new Uint8Array([0x68, 0x69])], 'hi.txt', { lastModified: 42 }),
  }, 'files');
  await done(tx);
  console.log('stored');
}"#,
  );
  let st = state.to_str().unwrap();
  let first = swharness(&["run", &sw, "--client", &client, "--state", st]);
  first.assert_lines(&["stored\n"]);
  let second = swharness(&["run", &sw, "--client", &client, "--state", st]);
  second.assert_lines(&["kept: text/plain hello blob hi.txt 42 hi\n"]);
}
