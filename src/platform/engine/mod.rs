//! Creates a JavaScript runtime for one realm: Deno's Web extensions
//! (`deno_webidl`, `deno_web`, `deno_crypto`, `deno_fetch`) plus our own `swharness`
//! extension, whose modules under `js/` assemble the global scope.

use std::net::SocketAddr;
use std::sync::Arc;

use deno_core::{JsRuntime, RuntimeOptions};
use deno_fetch::dns::{Resolve, Resolving};
use deno_tls::rustls::RootCertStore;
use deno_tls::RootCertStoreProvider;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};

use crate::platform::net::NetConfig;

pub mod errors;
pub mod module_loader;
pub mod ops;
pub mod realm;

deno_core::extension!(
  deno_net,
  lazy_loaded_js = [dir "js/shims", "02_tls.js"],
);

deno_core::extension!(
  swharness,
  deps = [deno_webidl, deno_web, deno_crypto, deno_fetch],
  ops = [
    ops::op_swh_console,
    ops::op_swh_report_uncaught,
    ops::op_swh_keepalive,
    ops::op_swh_park,
    ops::op_swh_host_sync,
    ops::op_swh_call,
    ops::op_swh_set_dispatcher,
    ops::op_swh_read_body,
    ops::op_swh_bad_ports,
    ops::op_swh_base64_encode,
    ops::op_swh_transfer_park,
    ops::op_swh_host_sync_serving,
    ops::op_swh_transfer_adopt,
    ops::op_swh_cors_preflight,
    ops::op_swh_cookie_header,
    ops::op_swh_cookie_store,
    ops::op_swh_document_cookie,
    ops::op_swh_cors_check,
    ops::op_swh_cors_check_preflight,
    ops::op_swh_reply,
    ops::op_swh_port_activity,
  ],
  esm_entry_point = "ext:swharness/scopes/99_main.js",
  esm = [
    dir "js",
    "engine/00_web_globals.js",
    "ipc/01_host.js",
    "engine/02_idl.js",
    "engine/05_message_ports.js",
    "net/03_network.js",
    "net/04_cors.js",
    "net/06_event_source.js",
    "service_worker/10_extendable_events.js",
    "service_worker/11_service_worker.js",
    "service_worker/12_clients.js",
    "service_worker/14_fetch_event.js",
    "storage/13_cache_storage.js",
    "broadcast_channel/15_broadcast_channel.js",
    "storage/16_storage_manager.js",
    "indexed_db/17_idb_keys.js",
    "indexed_db/18_idb_transaction.js",
    "indexed_db/19_idb_stores.js",
    "indexed_db/21_indexed_db.js",
    "indexed_db/22_idb_cursors.js",
    "background_fetch/20_background_fetch.js",
    "workers/23_worker.js",
    "xhr/24_xhr.js",
    "browser/30_control.js",
    "scopes/40_document.js",
    "scopes/41_frames.js",
    "scopes/42_forms.js",
    "scopes/90_service_worker_scope.js",
    "scopes/91_window_scope.js",
    "scopes/92_worker_scope.js",
    "scopes/99_main.js",
  ],
);

include!(concat!(env!("OUT_DIR"), "/embedded_js.rs"));

/// Swaps each extension file that deno_core would read from its source
/// tree for the text embedded at build time (build.rs), so that the binary
/// runs without those trees.
fn embed(mut ext: deno_core::Extension) -> deno_core::Extension {
  use deno_core::{ExtensionFileSource, ExtensionFileSourceCode};
  use std::collections::HashMap;
  static BY_PATH: std::sync::OnceLock<HashMap<&'static str, deno_core::FastStaticString>> =
    std::sync::OnceLock::new();
  let by_path = BY_PATH.get_or_init(|| EMBEDDED_JS.iter().copied().collect());
  let swap = |files: &mut std::borrow::Cow<'static, [ExtensionFileSource]>| {
    let embedded = |f: &ExtensionFileSource| match &f.code {
      ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) => by_path.get(path).copied(),
      _ => None,
    };
    if files.iter().any(|f| embedded(f).is_some()) {
      *files = files
        .iter()
        .map(|f| match embedded(f) {
          Some(code) => ExtensionFileSource::new(f.specifier, code),
          None => f.clone(),
        })
        .collect();
    }
  };
  swap(&mut ext.js_files);
  swap(&mut ext.esm_files);
  swap(&mut ext.lazy_loaded_js_files);
  swap(&mut ext.lazy_loaded_esm_files);
  ext
}

/// Every JavaScript file of an extension.
fn source_files(
  ext: &deno_core::Extension,
) -> impl Iterator<Item = &deno_core::ExtensionFileSource> {
  ext
    .js_files
    .iter()
    .chain(ext.esm_files.iter())
    .chain(ext.lazy_loaded_js_files.iter())
    .chain(ext.lazy_loaded_esm_files.iter())
}

/// Permissions for `deno_fetch`: network access is decided by the browser
/// side (our request checks), so the runtime's own checks allow everything.
fn fetch_permissions() -> deno_permissions::PermissionsContainer {
  let parser = deno_permissions::RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys);
  deno_permissions::PermissionsContainer::allow_all(Arc::new(parser))
}

/// Host names resolved to fixed addresses (the WPT hosts), others through
/// the system resolver.
#[derive(Debug)]
struct OverrideResolver {
  overrides: Vec<(String, SocketAddr)>,
  system: GaiResolver,
}

impl Resolve for OverrideResolver {
  fn resolve(&self, name: Name) -> Resolving {
    let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
    if let Some((_, addr)) = self.overrides.iter().find(|(h, _)| *h == host) {
      let addrs = vec![*addr].into_iter();
      return Box::pin(async move { Ok(addrs) });
    }
    let mut system = self.system.clone();
    Box::pin(async move {
      let addrs: Vec<SocketAddr> = tower_service::Service::call(&mut system, name)
        .await
        .map_err(std::io::Error::other)?
        .collect();
      Ok(addrs.into_iter())
    })
  }
}

/// The web roots plus the extra CA certificates of the network config.
struct RootStore(RootCertStore);

impl RootCertStoreProvider for RootStore {
  fn get_or_try_init(&self) -> Result<&RootCertStore, deno_error::JsErrorBox> {
    Ok(&self.0)
  }
}

pub(crate) fn fetch_options(net: &NetConfig) -> deno_fetch::Options {
  let mut options = deno_fetch::Options {
    user_agent: format!("swharness/{}", env!("CARGO_PKG_VERSION")),
    ..Default::default()
  };
  if !net.resolve.is_empty() {
    options.resolver = deno_fetch::dns::Resolver::custom(Arc::new(OverrideResolver {
      overrides: net
        .resolve
        .iter()
        .map(|(h, a)| (h.to_ascii_lowercase(), *a))
        .collect(),
      system: GaiResolver::new(),
    }));
  }
  if !net.extra_root_certs_pem.is_empty() {
    let mut store = deno_tls::create_default_root_cert_store();
    for pem in &net.extra_root_certs_pem {
      let mut reader = std::io::BufReader::new(pem.as_slice());
      for cert in deno_tls::rustls_pemfile::certs(&mut reader).flatten() {
        let _ = store.add(cert);
      }
    }
    options.root_cert_store_provider = Some(Arc::new(RootStore(store)));
  }
  options
}

fn extensions(location: Option<url::Url>, net: &NetConfig) -> Vec<deno_core::Extension> {
  let mut all = deno_extensions(location, net);
  all.push(embed(swharness::init()));
  all
}

/// Deno's Web extensions alone, without ours (`js/`): every realm's base,
/// and what the startup benchmark's `floor` measures.
pub fn deno_extensions(location: Option<url::Url>, net: &NetConfig) -> Vec<deno_core::Extension> {
  // Both of rustls's crypto back ends are linked (through reqwest and
  // deno_tls), so rustls cannot pick one by itself.
  let _ = deno_tls::rustls::crypto::aws_lc_rs::default_provider().install_default();
  let fetch_options = fetch_options(net);
  [
    deno_webidl::deno_webidl::init(),
    deno_web::deno_web::init(
      BLOBS.clone(),
      location,
      false,
      deno_web::InMemoryBroadcastChannel::default(),
    ),
    deno_crypto::deno_crypto::init(None),
    deno_net::init(),
    deno_fetch::deno_fetch::init(fetch_options),
  ]
  .into_iter()
  .map(embed)
  .collect()
}

/// Builds a runtime with every extension, from the startup snapshot when
/// there is one (see [`startup_snapshot`]); the realm's own state (its host
/// channel) is put into the op state by the caller. `net` gives the realm's
/// own `fetch()` the browser's host overrides and trusted certificates.
pub fn new_runtime(
  location: Option<url::Url>,
  module_loader: Option<std::rc::Rc<dyn deno_core::ModuleLoader>>,
  net: &NetConfig,
) -> JsRuntime {
  new_runtime_from(location, module_loader, net, startup_snapshot())
}

/// Like [`new_runtime`], starting from `snapshot` (made by
/// [`create_snapshot`]) when given.
pub fn new_runtime_from(
  location: Option<url::Url>,
  module_loader: Option<std::rc::Rc<dyn deno_core::ModuleLoader>>,
  net: &NetConfig,
  snapshot: Option<&'static [u8]>,
) -> JsRuntime {
  let runtime = JsRuntime::new(RuntimeOptions {
    module_loader,
    extensions: extensions(location, net),
    startup_snapshot: snapshot,
    // Where a MessagePort's postMessage(data, [buffer]) keeps the buffers
    // it transfers (and detaches) until the other port receives them: one
    // store for every realm, since a port may be in another realm.
    shared_array_buffer_store: Some(TRANSFERRED_BUFFERS.clone()),
    ..Default::default()
  });
  runtime.op_state().borrow_mut().put(fetch_permissions());
  runtime
}

static TRANSFERRED_BUFFERS: std::sync::LazyLock<deno_core::SharedArrayBufferStore> =
  std::sync::LazyLock::new(Default::default);

/// The blobs of every realm, and their `blob:` URLs: a Blob that is
/// structured-cloned names its parts here, and the realm that receives it
/// (a frame, a worker) reads them from the same store (HTML's blob URL
/// store is shared by the realms of an agent cluster too).
static BLOBS: std::sync::LazyLock<Arc<deno_web::BlobStore>> =
  std::sync::LazyLock::new(Default::default);

/// A startup snapshot of a runtime with every extension loaded (the global
/// scope assembled up to the bootstrap), for [`new_runtime_from`].
pub fn create_snapshot() -> Box<[u8]> {
  create_snapshot_of(extensions(None, &NetConfig::default()))
}

/// A startup snapshot of a runtime with just `extensions` loaded.
pub fn create_snapshot_of(extensions: Vec<deno_core::Extension>) -> Box<[u8]> {
  let runtime = deno_core::JsRuntimeForSnapshot::new(RuntimeOptions {
    extensions,
    ..Default::default()
  });
  runtime.snapshot()
}

/// The startup snapshot for this binary, loaded once per process from the
/// cache directory, or made and stored there on first use (a few seconds,
/// once per build); `None` if it cannot be had, and the runtime is then
/// assembled from source (about 50 ms more per realm).
///
/// `SWHARNESS_SNAPSHOT=0` turns it off; `SWHARNESS_CACHE_DIR` sets where
/// it is kept (default `$XDG_CACHE_HOME/swharness`, `~/.cache/swharness`).
/// Only the QuickJS engine uses it (`--features v8` assembles from source).
pub fn startup_snapshot() -> Option<&'static [u8]> {
  static SNAPSHOT: std::sync::OnceLock<Option<&'static [u8]>> = std::sync::OnceLock::new();
  *SNAPSHOT.get_or_init(|| {
    if cfg!(feature = "v8") || std::env::var_os("SWHARNESS_SNAPSHOT").is_some_and(|v| v == "0") {
      return None;
    }
    let path = snapshot_path()?;
    let bytes = match std::fs::read(&path) {
      Ok(b) if b.len() > 1024 => b.into_boxed_slice(),
      _ => make_snapshot_file(&path)?,
    };
    Some(Box::leak(bytes))
  })
}

/// `CACHE/snapshot-VERSION-KEY.bin`. The key names this very binary (the
/// extensions' JavaScript is embedded in it, see [`embed`]) and any source
/// still read from disk (its path, size and modification time).
fn snapshot_path() -> Option<std::path::PathBuf> {
  use std::hash::{Hash, Hasher};
  let dir = cache_dir()?;
  let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
  let mut h = std::collections::hash_map::DefaultHasher::new();
  exe.len().hash(&mut h);
  exe.modified().ok()?.hash(&mut h);
  for ext in extensions(None, &NetConfig::default()) {
    for file in source_files(&ext) {
      file.specifier.hash(&mut h);
      if let deno_core::ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) = &file.code {
        path.hash(&mut h);
        let meta = std::fs::metadata(path).ok()?;
        meta.len().hash(&mut h);
        meta.modified().ok()?.hash(&mut h);
      }
    }
  }
  Some(dir.join(format!(
    "snapshot-{}-{:016x}.bin",
    env!("CARGO_PKG_VERSION"),
    h.finish()
  )))
}

/// swharness's cache directory: `$SWHARNESS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/swharness`, else `~/.cache/swharness`.
fn cache_dir() -> Option<std::path::PathBuf> {
  Some(match std::env::var_os("SWHARNESS_CACHE_DIR") {
    Some(d) => std::path::PathBuf::from(d),
    None => match std::env::var_os("XDG_CACHE_HOME") {
      Some(d) if !d.is_empty() => std::path::PathBuf::from(d).join("swharness"),
      _ => std::path::PathBuf::from(std::env::var_os("HOME")?)
        .join(".cache")
        .join("swharness"),
    },
  })
}

/// The most the engine's bytecode cache may hold before it is trimmed.
const BYTECODE_CACHE_MAX: u64 = 64 << 20;

/// The engine (QuickJS behind v8x) caches compiled scripts on disk and
/// never removes any (hundreds of MB after a few days of test runs). Keep
/// that cache in ours (`CACHE/bytecode`) and trim it, oldest first, to
/// [`BYTECODE_CACHE_MAX`] in the background. Must be called before any
/// other thread starts (it sets an environment variable); does nothing when
/// the user configured the engine's cache (`V82JSC_BC_CACHE_DIR`,
/// `V82JSC_NO_BC_CACHE`).
pub fn configure_bytecode_cache() {
  if std::env::var_os("V82JSC_BC_CACHE_DIR").is_some()
    || std::env::var_os("V82JSC_NO_BC_CACHE").is_some()
  {
    return;
  }
  let Some(dir) = cache_dir().map(|d| d.join("bytecode")) else {
    return;
  };
  std::env::set_var("V82JSC_BC_CACHE_DIR", &dir);
  // Listing the cache costs a stat per file (12,000 files took ~30 ms of
  // system time, as much as the rest of a start): at most every 10 min.
  let marker = dir.join(".trimmed");
  let recent = std::fs::metadata(&marker)
    .and_then(|m| m.modified())
    .is_ok_and(|t| {
      t.elapsed()
        .is_ok_and(|e| e < std::time::Duration::from_secs(600))
    });
  if recent {
    return;
  }
  std::thread::spawn(move || {
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(&marker, b"");
    trim_dir(&dir, BYTECODE_CACHE_MAX);
  });
}

/// Removes the oldest files of `dir` until it holds at most 3/4 of `max`
/// bytes, if it holds more than `max`.
fn trim_dir(dir: &std::path::Path, max: u64) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  let mut files: Vec<(std::time::SystemTime, u64, std::path::PathBuf)> = entries
    .flatten()
    .filter_map(|e| {
      let m = e.metadata().ok().filter(|m| m.is_file())?;
      Some((
        m.modified().unwrap_or(std::time::UNIX_EPOCH),
        m.len(),
        e.path(),
      ))
    })
    .collect();
  let mut total: u64 = files.iter().map(|f| f.1).sum();
  if total <= max {
    return;
  }
  files.sort_by_key(|f| f.0);
  for (_, len, path) in files {
    if total <= max / 4 * 3 {
      break;
    }
    if std::fs::remove_file(&path).is_ok() {
      total = total.saturating_sub(len);
    }
  }
}

/// The environment variable that makes the binary write a snapshot to the
/// file it names and exit (see [`write_snapshot_if_asked`]).
pub const WRITE_SNAPSHOT_ENV: &str = "SWHARNESS_WRITE_SNAPSHOT";

/// Called first thing by `main`: in the child that makes a snapshot,
/// writes it and returns the exit code.
pub fn write_snapshot_if_asked() -> Option<i32> {
  let path = std::env::var_os(WRITE_SNAPSHOT_ENV)?;
  Some(match std::fs::write(&path, create_snapshot()) {
    Ok(()) => 0,
    Err(e) => {
      eprintln!("swharness: could not write the snapshot: {e}");
      1
    }
  })
}

/// Makes the snapshot in a child process of this binary: a failure there
/// (the engine aborts rather than unwinds) must not end the user's run.
fn snapshot_in_child(out: &std::path::Path) -> Result<(), String> {
  let exe = std::env::current_exe().map_err(|e| e.to_string())?;
  let is_ours = exe
    .file_stem()
    .is_some_and(|n| n.to_string_lossy().starts_with("swharness"));
  if !is_ours {
    // Embedded in another program: make it here.
    return std::panic::catch_unwind(create_snapshot)
      .map_err(|_| "the engine panicked".to_string())
      .and_then(|b| std::fs::write(out, b).map_err(|e| e.to_string()));
  }
  let output = std::process::Command::new(exe)
    .env(WRITE_SNAPSHOT_ENV, out)
    .stdin(std::process::Stdio::null())
    .output()
    .map_err(|e| e.to_string())?;
  if output.status.success() {
    Ok(())
  } else {
    let err = String::from_utf8_lossy(&output.stderr);
    Err(format!(
      "{}: {}",
      output.status,
      err.lines().take(5).collect::<Vec<_>>().join(" | ")
    ))
  }
}

/// Makes the snapshot and stores it at `path` (atomically, by rename),
/// removing all but the newest few snapshots of other builds. While another process is making it
/// (a fresh lock file), gives up rather than wait.
fn make_snapshot_file(path: &std::path::Path) -> Option<Box<[u8]>> {
  let dir = path.parent()?;
  std::fs::create_dir_all(dir).ok()?;
  let lock = path.with_extension("lock");
  let fresh = |p: &std::path::Path| {
    std::fs::metadata(p)
      .and_then(|m| m.modified())
      .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() < 60))
  };
  let locked = std::fs::OpenOptions::new()
    .write(true)
    .create_new(true)
    .open(&lock);
  if locked.is_err() {
    if fresh(&lock) {
      return None;
    }
    // A stale lock from a process that died: take it over.
    std::fs::write(&lock, b"").ok()?;
  }
  let failed = path.with_extension("failed");
  if failed.exists() {
    // This build cannot make one (see the file); do not try every run.
    let _ = std::fs::remove_file(&lock);
    return None;
  }
  let tmp = path.with_extension(format!("tmp{}", std::process::id()));
  let bytes = match snapshot_in_child(&tmp) {
    Ok(()) => std::fs::read(&tmp).ok().map(Vec::into_boxed_slice),
    Err(why) => {
      let _ = std::fs::write(&failed, format!("{why}\n"));
      None
    }
  };
  let Some(bytes) = bytes else {
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(&lock);
    return None;
  };
  let stored = std::fs::rename(&tmp, path);
  if stored.is_err() {
    let _ = std::fs::remove_file(&tmp);
  } else if let Ok(entries) = std::fs::read_dir(dir) {
    // Keep a few snapshots of other builds (a debug and a release binary
    // take turns), newest first; remove the rest.
    let mut others: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
      .flatten()
      .filter(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("snapshot-") && name.ends_with(".bin") && e.path() != path
      })
      .map(|e| {
        let t = e.metadata().and_then(|m| m.modified());
        (t.unwrap_or(std::time::UNIX_EPOCH), e.path())
      })
      .collect();
    others.sort_by_key(|o| std::cmp::Reverse(o.0));
    for (_, p) in others.into_iter().skip(3) {
      let _ = std::fs::remove_file(p);
    }
    remove_leftovers(dir, std::time::Duration::from_secs(600));
  }
  let _ = std::fs::remove_file(&lock);
  Some(bytes)
}

/// Removes what processes killed while making a snapshot left in `dir`:
/// half-written `snapshot-*.tmpPID` files (3-4 MB each) and lock files,
/// once older than `age` (a process making one now keeps its files fresh).
fn remove_leftovers(dir: &std::path::Path, age: std::time::Duration) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  for e in entries.flatten() {
    let name = e.file_name();
    let name = name.to_string_lossy();
    let leftover = name.starts_with("snapshot-")
      && (name.ends_with(".lock")
        || name
          .rsplit_once(".tmp")
          .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())));
    let old = e
      .metadata()
      .and_then(|m| m.modified())
      .is_ok_and(|t| t.elapsed().is_ok_and(|el| el >= age));
    if leftover && old {
      let _ = std::fs::remove_file(e.path());
    }
  }
}

#[cfg(test)]
mod tests {
  /// A killed snapshot maker's temporary and lock files go once stale;
  /// fresh ones (another process making it now) and snapshots stay.
  #[test]
  fn stale_snapshot_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let make = |name: &str, stale: bool| {
      let p = dir.path().join(name);
      let f = std::fs::File::create(&p).unwrap();
      if stale {
        f.set_modified(old).unwrap();
      }
      p
    };
    let gone = [
      make("snapshot-0.1.0-aa.tmp24652", true),
      make("snapshot-0.1.0-aa.lock", true),
    ];
    let kept = [
      make("snapshot-0.1.0-bb.tmp7889", false),
      make("snapshot-0.1.0-bb.lock", false),
      make("snapshot-0.1.0-cc.bin", true),
      make("snapshot-0.1.0-cc.tmpx", true),
      make("other.tmp1", true),
    ];
    super::remove_leftovers(dir.path(), std::time::Duration::from_secs(600));
    for p in gone {
      assert!(!p.exists(), "{} stayed", p.display());
    }
    for p in kept {
      assert!(p.exists(), "{} was removed", p.display());
    }
  }

  /// A runtime never needs the source trees the binary was built from.
  #[test]
  fn every_extension_file_is_in_the_binary() {
    let mut files = 0;
    for ext in super::extensions(None, &crate::platform::net::NetConfig::default()) {
      for file in super::source_files(&ext) {
        files += 1;
        assert!(
          file.is_runtime_loadable(),
          "{} ({}) would be read from disk: {:?}",
          file.specifier,
          ext.name,
          file.code
        );
      }
    }
    assert!(files > 40, "only {files} extension files");
  }

  #[test]
  fn trim_dir_removes_the_oldest_files_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
    for i in 0..10u64 {
      let p = dir.path().join(format!("f{i}"));
      std::fs::write(&p, vec![0u8; 1000]).unwrap();
      let f = std::fs::File::options().write(true).open(&p).unwrap();
      f.set_modified(t0 + std::time::Duration::from_secs(i))
        .unwrap();
    }
    // Under the limit: nothing goes.
    super::trim_dir(dir.path(), 10_000);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 10);
    // Over it: down to 3/4 of the limit, oldest first.
    super::trim_dir(dir.path(), 8_000);
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
      .unwrap()
      .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
      .collect();
    left.sort();
    assert_eq!(left, ["f4", "f5", "f6", "f7", "f8", "f9"]);
  }
}
