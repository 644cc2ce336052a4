//! Background Fetch (the Background Fetch spec), laid out as Chromium's
//! `content/browser/background_fetch/`, one file per role:
//! - `service`: the data manager and scheduler: fetches in SQLite
//!   (`store`), a bounded number downloading at once, pause offline,
//!   resume after a restart;
//! - `download` and `send`: the job controller of one record (HTTP-redirect
//!   fetch hop by hop, `Range` resume, content codings in `codings`, the
//!   body to its file in `body_writer`);
//! - `context`: the glue to the browser: progress to the realms, the final
//!   events into the service worker exactly once;
//! - `calls`: what the realms ask (`backgroundFetch.*`), decoded once;
//! - `ui`: the UI delegate: the download UI's line, the user's click and
//!   cancel.
//!
//! It may use the core (`browser`, `ipc`, `engine`), `net`, `storage` and
//! `service_worker` (to dispatch its events).

mod body_writer;
mod calls;
mod codings;
mod context;
mod download;
mod scheduler;
mod send;
mod service;
mod store;
pub mod types;
mod ui;

use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::platform::browser::{Browser, BrowserEvent, Feature, RealmCall};
use crate::platform::ipc::{HostError, HostResult};
pub use service::*;
pub use types::*;

/// Background Fetch's own options (`--retry-backoff-ms`,
/// `--max-active-fetches`, `--max-parallel-downloads`).
#[derive(Clone, Debug)]
pub struct Options {
  /// The wait before the first retry after a network error (doubled for
  /// each further retry).
  pub retry_backoff: Duration,
  /// Fetches and downloads at once.
  pub limits: Limits,
}

impl Default for Options {
  fn default() -> Self {
    Options {
      retry_backoff: Duration::from_millis(200),
      limits: Limits::default(),
    }
  }
}

/// The feature: the engine, made when the browser starts.
pub struct BackgroundFetch {
  options: Options,
  service: OnceLock<Arc<BgFetchService>>,
}

impl BackgroundFetch {
  pub fn new(options: Options) -> Self {
    BackgroundFetch {
      options,
      service: OnceLock::new(),
    }
  }
}

/// The running engine.
pub(crate) fn service(browser: &Browser) -> Result<Arc<BgFetchService>, HostError> {
  browser
    .feature::<BackgroundFetch>()
    .and_then(|f| f.service.get().cloned())
    .ok_or_else(|| HostError::invalid_state("Background Fetch is not running"))
}

impl Feature for BackgroundFetch {
  fn namespace(&self) -> &'static str {
    "backgroundFetch"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(calls::handle(c.browser, c.realm, c.method, c.args))
  }

  fn start(&self, browser: &Browser) -> anyhow::Result<()> {
    let svc = context::open(browser, &self.options)?;
    let _ = self.service.set(svc.clone());
    context::start(browser, &svc)
  }

  fn pending(&self) -> Option<String> {
    let busy = self.service.get().is_some_and(|s| s.busy());
    busy.then(|| "background fetches downloading".to_string())
  }

  fn body_path(&self, token: &str) -> Option<std::path::PathBuf> {
    self.service.get()?.body_path(token)
  }

  fn usage(&self, origin: &str) -> u64 {
    self.service.get().map_or(0, |s| s.usage_of(origin))
  }

  fn on_event(&self, browser: &Browser, event: BrowserEvent<'_>) {
    let Some(svc) = self.service.get() else {
      return;
    };
    match event {
      BrowserEvent::OnlineChanged(online) => svc.set_online(online),
      // Final events owed from before a restart, once the worker is up.
      BrowserEvent::WorkerActivated { scope } => context::deliver_owed(browser, Some(scope)),
      // The registration is gone: its fetches end silently.
      BrowserEvent::RegistrationGone { scope } => svc.forget_scope(scope),
      BrowserEvent::RealmExited { realm, .. } => svc.begin_all_of(realm),
      BrowserEvent::RealmIdle(_) | BrowserEvent::RealmYielded(_) => {}
    }
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
