//! The browser core, as Chromium's browser process is to its renderers: it
//! owns every realm (one JavaScript thread each, see `engine::realm`),
//! routes their calls to the features that answer them (`router`), keeps
//! the permissions and the network switch (`control`), traces what happens
//! (`trace`), and decides when the whole run is quiet.
//!
//! It may use `ipc`, `net` and `engine`. It knows no feature by name: a
//! feature plugs in through [`Feature`] (calls by namespace, events, the
//! quiet check, stored bodies) and is listed once, in `crate::features`.

pub mod control;
pub mod durability;
mod feature;
mod realms;
mod router;
pub mod terminal;
pub mod trace;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Notify};

pub use control::PermissionState;
pub use feature::{
  BrowserEvent, Feature, RealmCall, ScriptKind, SubresourceFetch, SubresourceRequest,
  SubresourceResponse,
};
pub use router::{after_reply, take_answer, Answer};

use crate::platform::engine::realm::RealmHandle;
use crate::platform::ipc::{HostMsg, RealmId};
use crate::platform::net::Net;
use trace::Trace;

/// A service worker version, as the owner of the realm that runs it.
pub type VersionId = u64;

/// Everything a run is configured with that the core itself uses; a
/// feature's own options go to the feature (`crate::features::Options`).
pub struct BrowserOptions {
  pub state_dir: PathBuf,
  pub trace: Trace,
  pub net: Net,
  /// Permissions' states at start (`--permission NAME=STATE`).
  pub permissions: Vec<(String, PermissionState)>,
  /// Follow Chromium where it diverges from the spec.
  pub chromium: bool,
  /// Storage quota of an origin, in bytes (`--quota`).
  pub quota: u64,
  /// How much to wait for the disk (`--durability`).
  pub durability: durability::Durability,
  pub offline: bool,
  /// Where a test page's `__swharnessWptReport(json)` goes (`swharness wpt`).
  pub page_report: Option<tokio::sync::mpsc::UnboundedSender<String>>,
  /// Print realms' console output and uncaught errors (else only traced).
  pub echo_console: bool,
}

/// Default quota of an origin: 1 GiB, like a modest browser profile.
pub const DEFAULT_QUOTA: u64 = 1 << 30;

/// What a realm belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
  /// A service worker version's global.
  Worker(VersionId),
  /// A window client, by its client id.
  Client(String),
}

struct RealmEntry {
  handle: RealmHandle,
  label: String,
  url: url::Url,
  owner: Owner,
  /// Commands sent to the realm, and how many it had taken when it last
  /// said it was idle: it is idle only while the two agree.
  sent: u64,
  idle_at: Option<u64>,
  /// Set while the realm is blocked in a serving synchronous call.
  serving: Option<std::sync::mpsc::Sender<crate::platform::ipc::SyncMsg>>,
  /// The calls the realm may answer on its own thread.
  shortcuts: std::sync::Arc<crate::platform::ipc::Shortcuts>,
}

struct State {
  next_realm: RealmId,
  realms: HashMap<RealmId, RealmEntry>,
  busy: u64,
  uncaught: u64,
  permissions: HashMap<String, PermissionState>,
}

struct Inner {
  opts: BrowserOptions,
  host_tx: mpsc::UnboundedSender<HostMsg>,
  state: Mutex<State>,
  quiet: Notify,
  features: Vec<Box<dyn Feature>>,
}

#[derive(Clone)]
pub struct Browser {
  inner: Arc<Inner>,
}

/// A [`Browser`] that does not keep it alive: for what the browser's own
/// state holds (a realm's shortcut), which would otherwise make a cycle.
#[derive(Clone)]
pub struct WeakBrowser(std::sync::Weak<Inner>);

impl WeakBrowser {
  pub fn upgrade(&self) -> Option<Browser> {
    self.0.upgrade().map(|inner| Browser { inner })
  }
}

/// Counts a browser-side task as pending work until dropped.
pub struct BusyGuard(Browser);

impl Drop for BusyGuard {
  fn drop(&mut self) {
    self.0.with_state(|s| s.busy -= 1);
    self.0.check_quiet();
  }
}

impl Browser {
  /// Makes the state directory, the features (`install`, in the order
  /// they start) and the message loop, then starts each feature.
  pub async fn start(
    opts: BrowserOptions,
    install: impl FnOnce(&BrowserOptions) -> anyhow::Result<Vec<Box<dyn Feature>>>,
  ) -> anyhow::Result<Browser> {
    std::fs::create_dir_all(&opts.state_dir)?;
    let features = install(&opts)?;
    let permissions = opts.permissions.iter().cloned().collect();
    let (host_tx, host_rx) = mpsc::unbounded_channel();
    let browser = Browser {
      inner: Arc::new(Inner {
        opts,
        host_tx,
        state: Mutex::new(State {
          next_realm: 1,
          realms: HashMap::new(),
          busy: 0,
          uncaught: 0,
          permissions,
        }),
        quiet: Notify::new(),
        features,
      }),
    };
    tokio::spawn(router::message_loop(browser.clone(), host_rx));
    for f in &browser.inner.features {
      f.start(&browser)?;
    }
    Ok(browser)
  }

  fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
    let mut guard = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
  }

  /// The feature of type `T`, if the run has it.
  pub fn feature<T: Feature>(&self) -> Option<&T> {
    self
      .inner
      .features
      .iter()
      .find_map(|f| f.as_any().downcast_ref::<T>())
  }

  /// Tells every feature of an event.
  pub fn notify(&self, event: BrowserEvent<'_>) {
    for f in &self.inner.features {
      f.on_event(self, event);
    }
  }

  /// The file behind a body token, from the feature that gave it out.
  pub fn body_path(&self, token: &str) -> Option<PathBuf> {
    self.inner.features.iter().find_map(|f| f.body_path(token))
  }

  /// A request the browser makes for the realm: the first feature's
  /// answer (the realm's controller), or None for the network.
  pub async fn fetch_subresource(
    &self,
    realm: RealmId,
    request: &SubresourceRequest<'_>,
  ) -> Option<Result<SubresourceResponse, crate::platform::ipc::HostError>> {
    for f in &self.inner.features {
      if let SubresourceFetch::Answered(result) = f.fetch_subresource(self, realm, request).await {
        return Some(result);
      }
    }
    None
  }

  /// A script the realm loads as a subresource ([`ScriptKind`]): from the
  /// first feature that answers it (the realm's controller), else from
  /// the network. Either must give an OK status (unless opaque) and a
  /// JavaScript MIME type, as HTML checks a script's response.
  pub async fn fetch_script(
    &self,
    realm: RealmId,
    url: &url::Url,
    kind: ScriptKind,
  ) -> Result<String, crate::platform::ipc::HostError> {
    let module = kind == ScriptKind::Module;
    let headers = [("accept".to_string(), "*/*".to_string())];
    let request = SubresourceRequest {
      method: "GET",
      url,
      headers: &headers,
      body: None,
      // HTML: a classic script without `crossorigin` is fetched `no-cors`
      // with credentials; a module script `cors`, credentials
      // `same-origin`.
      mode: if module { "cors" } else { "no-cors" },
      credentials: if module { "same-origin" } else { "include" },
      destination: "script",
    };
    match self.fetch_subresource(realm, &request).await {
      Some(answer) => script_text(url, answer?),
      None => self.inner.opts.net.fetch_classic_script(url, false).await,
    }
  }

  /// Bytes every feature stores for the origin.
  pub fn usage(&self, origin: &str) -> u64 {
    self
      .inner
      .features
      .iter()
      .map(|f| f.usage(origin))
      .fold(0, u64::saturating_add)
  }

  pub fn trace(&self, kind: &str, fields: Value) {
    self.inner.opts.trace.record(kind, fields);
  }

  pub fn opts(&self) -> &BrowserOptions {
    &self.inner.opts
  }

  pub fn downgrade(&self) -> WeakBrowser {
    WeakBrowser(Arc::downgrade(&self.inner))
  }

  pub fn busy(&self) -> BusyGuard {
    self.with_state(|s| s.busy += 1);
    BusyGuard(self.clone())
  }

  /// Number of uncaught script errors so far.
  pub fn uncaught_errors(&self) -> u64 {
    self.with_state(|s| s.uncaught)
  }

  /// Counts an uncaught script error (the run then exits with 1).
  pub fn count_uncaught(&self) {
    self.with_state(|s| s.uncaught += 1);
  }

  /// True when no realm has anything to run, no command is in flight and
  /// no browser-side work (jobs, events, downloads) is pending.
  pub fn is_quiet(&self) -> bool {
    self.inner.features.iter().all(|f| f.pending().is_none())
      && self.with_state(|s| s.busy == 0 && s.realms.values().all(|r| r.idle_at == Some(r.sent)))
  }

  /// What is keeping the run from being quiet, for the timeout message.
  pub fn pending_summary(&self) -> String {
    let mut parts: Vec<String> = self
      .inner
      .features
      .iter()
      .filter_map(|f| f.pending())
      .collect();
    self.with_state(|s| {
      if s.busy > 0 {
        parts.push(format!("{} browser task(s)", s.busy));
      }
      let mut busy: Vec<&str> = s
        .realms
        .values()
        .filter(|r| r.idle_at != Some(r.sent))
        .map(|r| r.label.as_str())
        .collect();
      busy.sort();
      for label in busy {
        parts.push(format!("[{label}] still running"));
      }
    });
    if parts.is_empty() {
      "nothing".into()
    } else {
      parts.join(", ")
    }
  }

  pub fn check_quiet(&self) {
    if self.is_quiet() {
      self.inner.quiet.notify_waiters();
    }
  }

  /// Waits until the run is quiet (see `is_quiet`) and no MessagePort
  /// message is on its way. A port that receives does not keep its realm
  /// busy, so a realm may have reported idle before a message for it was
  /// posted: once the run looks quiet, every realm is made to take one
  /// more turn ([`Ping`](crate::platform::ipc::Ping)), and the run is quiet only if
  /// no port message was posted or delivered meanwhile.
  pub async fn wait_quiet(&self) {
    loop {
      self.wait_quiet_once().await;
      let before = crate::platform::engine::ops::port_activity();
      if before == 0 {
        return;
      }
      self.broadcast(&crate::platform::ipc::Ping);
      self.wait_quiet_once().await;
      if crate::platform::engine::ops::port_activity() == before {
        return;
      }
    }
  }

  async fn wait_quiet_once(&self) {
    loop {
      let notified = self.inner.quiet.notified();
      tokio::pin!(notified);
      notified.as_mut().enable();
      if self.is_quiet() {
        // Give in-flight reports one more turn before deciding.
        tokio::task::yield_now().await;
        if self.is_quiet() {
          return;
        }
      }
      tokio::select! {
        _ = &mut notified => {}
        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
      }
    }
  }

  /// Ends every realm.
  pub async fn shutdown(&self) {
    let ids: Vec<RealmId> = self.with_state(|s| s.realms.keys().copied().collect());
    for id in ids {
      self.shutdown_realm(id);
    }
  }

  pub fn permission(&self, name: &str) -> PermissionState {
    self.with_state(|s| {
      s.permissions
        .get(name)
        .copied()
        .unwrap_or(PermissionState::Prompt)
    })
  }

  /// What the simulated browser UI did, for the trace (kind `ui`).
  pub fn record_ui_action(&self, action: Value) {
    self.trace("ui", action);
  }
}

/// HTML's checks of a script's response ([`crate::platform::net::check_script_response`];
/// an opaque response's status and type are not known); then its text.
fn script_text(
  url: &url::Url,
  r: SubresourceResponse,
) -> Result<String, crate::platform::ipc::HostError> {
  if !r.opaque {
    crate::platform::net::check_script_response(
      url,
      r.status,
      r.header("content-type").unwrap_or(""),
    )?;
  }
  Ok(String::from_utf8_lossy(&r.body).into_owned())
}
