//! The browser side: owns every realm, routes their calls, keeps the
//! service worker registry, and decides when the whole run is quiet.

pub mod control;
pub mod router;
pub mod terminal;
pub mod trace;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use crate::browser::trace::Trace;
use crate::engine::realm::{self, RealmHandle, RealmKind, RealmSpec};
use crate::ipc::{HostError, HostMsg, HostResult, RealmCmd, RealmId, Reply};
use crate::net::Net;
use crate::service_worker::lifecycle::{Registry, VersionId};
use crate::storage::database::Store;

/// A permission's state, as `navigator.permissions` and testdriver see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionState {
  Granted,
  Denied,
  Prompt,
}

impl PermissionState {
  pub fn parse(s: &str) -> Option<Self> {
    match s {
      "granted" => Some(Self::Granted),
      "denied" => Some(Self::Denied),
      "prompt" => Some(Self::Prompt),
      _ => None,
    }
  }
  pub fn as_str(self) -> &'static str {
    match self {
      Self::Granted => "granted",
      Self::Denied => "denied",
      Self::Prompt => "prompt",
    }
  }
}

/// Everything a run is configured with.
pub struct BrowserOptions {
  pub state_dir: PathBuf,
  pub trace: Trace,
  pub net: Net,
  /// Background Fetch permission (`--permission background-fetch=…`).
  pub bgfetch_permission: PermissionState,
  /// Follow Chromium where it diverges from the spec.
  pub chromium: bool,
  pub quota: u64,
  pub offline: bool,
  /// Stop a service worker after this long without events (None: never).
  pub sw_idle_timeout: Option<Duration>,
  /// Where a test page's `__swharnessWptReport(json)` goes (`swharness wpt`).
  pub page_report: Option<tokio::sync::mpsc::UnboundedSender<String>>,
  /// Print realms' console output and uncaught errors (else only traced).
  pub echo_console: bool,
  /// Background Fetch: the wait before the first retry after a network
  /// error (doubled for each further retry).
  pub retry_backoff: Duration,
  /// Background Fetch: fetches and downloads at once.
  pub bgfetch_limits: crate::background_fetch::Limits,
}

pub(crate) struct RealmEntry {
  pub handle: RealmHandle,
  pub label: String,
  pub sent: u64,
  pub idle_at: Option<u64>,
}

pub(crate) struct State {
  pub next_realm: RealmId,
  pub next_client_label: u64,
  pub realms: HashMap<RealmId, RealmEntry>,
  pub owners: HashMap<RealmId, Owner>,
  pub busy: u64,
  pub uncaught: u64,
  pub permissions: HashMap<String, PermissionState>,
  pub registry: Registry,
  pub clients: HashMap<String, crate::service_worker::clients::Client>,
  pub client_order: Vec<String>,
  pub ui_actions: Vec<Value>,
}

/// What a realm belongs to.
#[derive(Clone, Debug)]
pub(crate) enum Owner {
  Worker(VersionId),
  Client(String),
}

pub(crate) struct Inner {
  pub opts: BrowserOptions,
  pub host_tx: mpsc::UnboundedSender<HostMsg>,
  pub state: Mutex<State>,
  pub store: Store,
  pub quiet: Notify,
  pub start_lock: tokio::sync::Mutex<()>,
  pub bgfetch: std::sync::OnceLock<Arc<crate::background_fetch::BgFetchService>>,
}

#[derive(Clone)]
pub struct Browser {
  pub(crate) inner: Arc<Inner>,
}

/// Counts a browser-side task as pending work until dropped.
pub(crate) struct BusyGuard(Browser);

impl Drop for BusyGuard {
  fn drop(&mut self) {
    self.0.with_state(|s| s.busy -= 1);
    self.0.check_quiet();
  }
}

impl Browser {
  /// Opens the state directory and starts the message loop.
  pub async fn start(opts: BrowserOptions) -> anyhow::Result<Browser> {
    std::fs::create_dir_all(&opts.state_dir)?;
    let store = Store::open(&opts.state_dir)?;
    let registry = Registry::load(&store)?;
    let mut permissions = HashMap::new();
    permissions.insert("background-fetch".to_string(), opts.bgfetch_permission);
    let (host_tx, host_rx) = mpsc::unbounded_channel();
    let browser = Browser {
      inner: Arc::new(Inner {
        opts,
        host_tx,
        state: Mutex::new(State {
          next_realm: 1,
          next_client_label: 1,
          realms: HashMap::new(),
          owners: HashMap::new(),
          busy: 0,
          uncaught: 0,
          permissions,
          registry,
          clients: HashMap::new(),
          client_order: Vec::new(),
          ui_actions: Vec::new(),
        }),
        store,
        quiet: Notify::new(),
        start_lock: tokio::sync::Mutex::new(()),
        bgfetch: std::sync::OnceLock::new(),
      }),
    };
    tokio::spawn(browser.clone().message_loop(host_rx));
    crate::background_fetch::context::start(&browser).await?;
    Ok(browser)
  }

  pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
    let mut guard = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
  }

  pub fn trace(&self, kind: &str, fields: Value) {
    self.inner.opts.trace.record(kind, fields);
  }

  pub(crate) fn opts(&self) -> &BrowserOptions {
    &self.inner.opts
  }

  pub(crate) fn busy(&self) -> BusyGuard {
    self.with_state(|s| s.busy += 1);
    BusyGuard(self.clone())
  }

  /// Number of uncaught script errors so far.
  pub fn uncaught_errors(&self) -> u64 {
    self.with_state(|s| s.uncaught)
  }

  /// Starts a realm; its label prefixes its console output.
  pub(crate) fn spawn_realm(
    &self,
    kind: RealmKind,
    url: url::Url,
    label: String,
    owner: Owner,
    bootstrap: Value,
  ) -> anyhow::Result<RealmId> {
    let id = self.with_state(|s| {
      let id = s.next_realm;
      s.next_realm += 1;
      id
    });
    let handle = realm::spawn(
      RealmSpec {
        id,
        kind,
        url,
        bootstrap,
        net: self.inner.opts.net.config.clone(),
      },
      self.inner.host_tx.clone(),
    )?;
    self.with_state(|s| {
      s.realms.insert(
        id,
        RealmEntry {
          handle,
          label,
          sent: 0,
          idle_at: None,
        },
      );
      s.owners.insert(id, owner);
    });
    Ok(id)
  }

  /// Sends a command without waiting for its result.
  pub(crate) fn post(&self, realm: RealmId, kind: &str, payload: Value) -> bool {
    self.with_state(|s| {
      let Some(entry) = s.realms.get_mut(&realm) else {
        return false;
      };
      entry.sent += 1;
      entry.handle.send(RealmCmd {
        kind: kind.into(),
        payload,
        reply: None,
      })
    })
  }

  /// Sends a command and waits for the realm's handler to settle.
  pub(crate) async fn request(&self, realm: RealmId, kind: &str, payload: Value) -> HostResult {
    let rx = self.with_state(|s| {
      let entry = s.realms.get_mut(&realm)?;
      entry.sent += 1;
      Some(entry.handle.request(kind, payload))
    });
    match rx {
      Some(rx) => rx
        .await
        .unwrap_or_else(|_| Err(HostError::invalid_state("the realm ended"))),
      None => Err(HostError::invalid_state("the realm has ended")),
    }
  }

  /// Ends a realm's thread.
  pub(crate) fn shutdown_realm(&self, realm: RealmId) {
    self.post(realm, realm::CMD_SHUTDOWN, Value::Null);
  }

  pub(crate) fn realm_label(&self, realm: RealmId) -> String {
    self.with_state(|s| {
      s.realms
        .get(&realm)
        .map(|r| r.label.clone())
        .unwrap_or_else(|| format!("realm {realm}"))
    })
  }

  async fn message_loop(self, mut rx: mpsc::UnboundedReceiver<HostMsg>) {
    while let Some(msg) = rx.recv().await {
      match msg {
        HostMsg::Call {
          realm,
          method,
          args,
          reply,
        } => {
          let guard = self.busy();
          let browser = self.clone();
          let mut call = Box::pin(async move {
            let result = crate::browser::router::handle(&browser, realm, &method, args).await;
            if let Err(e) = &result {
              browser.trace(
                "call-error",
                json!({"realm": realm, "method": method, "error": e}),
              );
            }
            match reply {
              Reply::Ordered { id, keeps_alive } => {
                let result = match result {
                  Ok(v) => json!({"ok": v}),
                  Err(e) => json!({"error": e}),
                };
                browser.post(
                  realm,
                  crate::engine::realm::CMD_REPLY,
                  json!({"id": id, "result": result, "keepsAlive": keeps_alive}),
                );
              }
              reply => reply.send(result),
            }
            drop(guard);
          });
          // Each call runs here up to its first wait, so that calls take
          // effect in the order they were made (messages stay in order);
          // the rest goes on in its own task. A later poll brings its own
          // waker, as futures allow.
          let waker = futures::task::noop_waker();
          let mut cx = std::task::Context::from_waker(&waker);
          if call.as_mut().poll(&mut cx).is_pending() {
            tokio::spawn(call);
          }
        }
        HostMsg::Console { realm, level, text } => {
          let label = self.realm_label(realm);
          self.trace(
            "console",
            json!({"realm": label, "level": level, "text": text}),
          );
          let text = text.strip_suffix('\n').unwrap_or(&text);
          let prefixed: String = text.lines().map(|l| format!("[{label}] {l}\n")).collect();
          let prefixed = if prefixed.is_empty() {
            format!("[{label}] \n")
          } else {
            prefixed
          };
          use std::io::Write;
          if !self.inner.opts.echo_console {
          } else if level >= 2 {
            let _ = std::io::stderr().write_all(prefixed.as_bytes());
          } else {
            crate::browser::terminal::print_stdout(&prefixed);
          }
        }
        HostMsg::Idle { realm, received } => {
          self.with_state(|s| {
            if let Some(entry) = s.realms.get_mut(&realm) {
              entry.idle_at = Some(received);
            }
          });
          self.check_quiet();
          crate::service_worker::lifecycle::on_realm_idle(&self, realm);
        }
        HostMsg::Uncaught { realm, text } => {
          let label = self.realm_label(realm);
          self.with_state(|s| s.uncaught += 1);
          self.trace("uncaught", json!({"realm": label, "text": text}));
          if self.inner.opts.echo_console {
            eprintln!("[{label}] Uncaught {text}");
          }
        }
        HostMsg::Exited { realm } => {
          let owner = self.with_state(|s| {
            s.realms.remove(&realm);
            s.owners.remove(&realm)
          });
          if let Some(Owner::Worker(v)) = owner {
            crate::service_worker::lifecycle::on_worker_exited(&self, v, realm);
          }
          self.check_quiet();
        }
      }
    }
  }

  /// True when no realm has anything to run, no command is in flight and
  /// no browser-side work (jobs, events, downloads) is pending.
  pub fn is_quiet(&self) -> bool {
    let bg_busy = crate::background_fetch::context::busy(self);
    !bg_busy
      && self.with_state(|s| s.busy == 0 && s.realms.values().all(|r| r.idle_at == Some(r.sent)))
  }

  /// What is keeping the run from being quiet, for the timeout message.
  pub fn pending_summary(&self) -> String {
    let mut parts = Vec::new();
    if crate::background_fetch::context::busy(self) {
      parts.push("background fetches downloading".to_string());
    }
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

  pub(crate) fn check_quiet(&self) {
    if self.is_quiet() {
      self.inner.quiet.notify_waiters();
    }
  }

  /// Waits until the run is quiet (see `is_quiet`).
  pub async fn wait_quiet(&self) {
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

  pub(crate) fn permission(&self, name: &str) -> PermissionState {
    self.with_state(|s| {
      s.permissions
        .get(name)
        .copied()
        .unwrap_or(PermissionState::Prompt)
    })
  }

  pub(crate) fn record_ui_action(&self, action: Value) {
    self.trace("ui", action.clone());
    self.with_state(|s| s.ui_actions.push(action));
  }
}
