//! The one interface between the browser core and its features. The core
//! knows a feature only through this trait: the realm calls it answers
//! (by namespace), the work that keeps the run from being quiet, the
//! bodies it stores, and the events of the browser it wants to hear of.
//! Features find each other by type ([`super::Browser::feature`]).

use std::any::Any;
use std::path::PathBuf;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Browser, Owner};
use crate::platform::ipc::{HostResult, RealmId};

/// A realm's call for a feature: who asked, the method (without the
/// namespace) and its arguments, to decode with `ipc::decode_call`.
pub struct RealmCall<'a> {
  pub browser: &'a Browser,
  pub realm: RealmId,
  pub method: &'a str,
  pub args: Value,
}

/// Something that happened in the browser, told to every feature.
#[derive(Debug, Clone, Copy)]
pub enum BrowserEvent<'a> {
  /// The network went on- or offline (`swharness.setOnline`, `--offline`).
  OnlineChanged(bool),
  /// A realm has nothing left to run.
  RealmIdle(RealmId),
  /// A realm that operated on another realm's objects has ended its task
  /// (`ipc::HostMsg::Yielded`).
  RealmYielded(RealmId),
  /// A realm's thread has ended.
  RealmExited { realm: RealmId, owner: &'a Owner },
  /// A registration's worker became active (after install, or at start).
  WorkerActivated { scope: &'a str },
  /// A registration was unregistered.
  RegistrationGone { scope: &'a str },
}

/// A script a realm loads as a subresource: a page's `<script>` or
/// `importScripts()` in a dedicated or shared worker (classic), or a
/// module script and its static and dynamic imports (module). HTML fetches
/// a classic script with mode `no-cors`, a module script with `cors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
  Classic,
  Module,
}

/// A request the browser makes for a realm, rather than the realm's own
/// `fetch()`: a script it loads ([`super::Browser::fetch_script`]), or a
/// synchronous XMLHttpRequest. Its fields are Fetch's.
pub struct SubresourceRequest<'a> {
  pub method: &'a str,
  pub url: &'a url::Url,
  pub headers: &'a [(String, String)],
  pub body: Option<&'a [u8]>,
  pub mode: &'a str,
  pub credentials: &'a str,
  pub destination: &'a str,
}

/// A whole response to a [`SubresourceRequest`].
pub struct SubresourceResponse {
  pub status: u16,
  pub status_text: String,
  pub headers: Vec<(String, String)>,
  /// The response's URL ("" when it has none: the request's, then).
  pub url: String,
  /// An opaque response (to a `no-cors` request): status and headers
  /// are hidden.
  pub opaque: bool,
  pub body: Vec<u8>,
}

impl SubresourceResponse {
  /// The value of header `name`.
  pub fn header(&self, name: &str) -> Option<&str> {
    self
      .headers
      .iter()
      .find(|(n, _)| n.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
  }
}

/// A feature's answer to [`Feature::fetch_subresource`].
pub enum SubresourceFetch {
  /// Not answered here: the network (or the next feature) answers.
  Network,
  /// The response, or the network error it is.
  Answered(Result<SubresourceResponse, crate::platform::ipc::HostError>),
}

pub trait Feature: Any + Send + Sync {
  /// The prefix of the feature's realm calls: `"cacheStorage"` answers
  /// `"cacheStorage.put"`.
  fn namespace(&self) -> &'static str;

  /// Answers one realm call.
  fn call<'a>(&'a self, call: RealmCall<'a>) -> BoxFuture<'a, HostResult>;

  /// Runs once the browser is up (work left from an earlier run resumes).
  fn start(&self, _browser: &Browser) -> anyhow::Result<()> {
    Ok(())
  }

  /// Work in progress that keeps the run from being quiet, said as the
  /// timeout message says it; None when there is none.
  fn pending(&self) -> Option<String> {
    None
  }

  /// The file behind a body token the feature gave out.
  fn body_path(&self, _token: &str) -> Option<PathBuf> {
    None
  }

  /// Bytes the feature stores for the origin (serialized, as
  /// `https://host:port`), for `navigator.storage.estimate()`.
  fn usage(&self, _origin: &str) -> u64 {
    0
  }

  /// A request the browser makes for the realm `realm`, which a feature
  /// may answer instead of the network (its controller's fetch event).
  fn fetch_subresource<'a>(
    &'a self,
    _browser: &'a Browser,
    _realm: RealmId,
    _request: &'a SubresourceRequest<'a>,
  ) -> BoxFuture<'a, SubresourceFetch> {
    Box::pin(std::future::ready(SubresourceFetch::Network))
  }

  /// Hears of an event of the browser.
  fn on_event(&self, _browser: &Browser, _event: BrowserEvent<'_>) {}

  /// For [`super::Browser::feature`].
  fn as_any(&self) -> &dyn Any;
}
