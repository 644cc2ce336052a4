//! Workers (HTML, "Workers"): `new Worker(url)` in a window or a worker
//! starts a realm of its own, a `DedicatedWorkerGlobalScope`
//! (`js/scopes/92_worker_scope.js`), for the owner's `Worker`
//! object (`js/workers/23_worker.js`). `new SharedWorker(url, name)`
//! connects to the one `SharedWorkerGlobalScope` of that URL and name,
//! started if need be: the page keeps one end of a MessageChannel
//! (`worker.port`) and the worker gets the other in a `connect` event.
//!
//! The worker is a service worker client of type "worker"
//! (`service_worker::clients`): a controller matched by its URL, or its
//! owner's for a `blob:` URL; its `fetch()` goes through that controller;
//! `clients.matchAll({type: "worker"})` and `claim()` find it. It ends with
//! its owner, by `terminate()`, or by its own `close()`.
//!
//! The two ends talk through the browser, as every realm does: a message
//! is a command, so the quiet check sees it in flight. The owner names
//! its workers by a handle of its own, so it can post to a worker before
//! the browser has answered `start`; calls take effect in order.
//!
//! It may use the core and `service_worker` (for clients).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use crate::features::service_worker::clients;
use crate::platform::browser::{Browser, BrowserEvent, Feature, Owner, RealmCall, ScriptKind};
use crate::platform::engine::realm::RealmKind;
use crate::platform::ipc::{decode_call, Command, HostError, HostResult, RealmId};

crate::platform::ipc::realm_calls! {
  enum Call {
    /// `new Worker(url, options)` in the calling realm; `handle` is how
    /// that realm names the worker.
    Start {
      handle: u64,
      url: String,
      #[serde(rename = "type")]
      script_type: String,
      name: String,
    },
    /// A message (serialized with its transfers) to the worker `handle`
    /// of the calling realm, or, without a handle, from a worker to its
    /// owner.
    PostMessage { handle: Option<u64>, data: Value },
    /// `new SharedWorker(url, options)` in the calling realm: `port` (a
    /// serialized message that transfers the port) goes to the worker.
    ConnectShared {
      handle: u64,
      url: String,
      #[serde(rename = "type")]
      script_type: String,
      name: String,
      port: Value,
    },
    /// `worker.terminate()`.
    Terminate { handle: u64 },
    /// `self.close()` in the worker.
    Close {},
    /// An exception the worker's global did not handle, or (`load`) its
    /// script that could not be fetched or parsed.
    Error {
      message: String,
      filename: String,
      lineno: u32,
      colno: u32,
      load: bool,
    },
    /// `importScripts(...urls)`: the scripts' sources, in order.
    ImportScripts { urls: Vec<String> },
  }
}

/// Runs the worker's script (`type` "classic" or "module").
#[derive(Serialize)]
struct RunWorker<'a> {
  url: &'a str,
  #[serde(rename = "type")]
  script_type: &'a str,
}

impl Command for RunWorker<'_> {
  const KIND: &'static str = "runWorker";
}

/// A new connection to the shared worker: `data` holds its port.
#[derive(Serialize)]
struct SharedConnect {
  data: Value,
}

impl Command for SharedConnect {
  const KIND: &'static str = "sharedConnect";
}

/// A message for the worker's global.
#[derive(Serialize)]
struct DedicatedMessage {
  data: Value,
}

impl Command for DedicatedMessage {
  const KIND: &'static str = "dedicatedMessage";
}

/// A message for the owner's `Worker` object `handle`.
#[derive(Serialize)]
struct WorkerMessage {
  handle: u64,
  data: Value,
}

impl Command for WorkerMessage {
  const KIND: &'static str = "workerMessage";
}

/// An error the worker `handle` reports to its owner.
#[derive(Serialize)]
struct WorkerError<'a> {
  handle: u64,
  message: &'a str,
  filename: &'a str,
  lineno: u32,
  colno: u32,
  load: bool,
}

impl Command for WorkerError<'_> {
  const KIND: &'static str = "workerError";
}

/// Secure Contexts, "Is url potentially trustworthy?" for a worker's URL: a
/// `data:` URL is, and a `blob:` URL is as its origin is. (HTML: a
/// dedicated worker is a secure context when it and its owner are.)
fn secure_context(url: &Url) -> bool {
  match url.scheme() {
    "data" => true,
    "blob" => Url::parse(url.path()).is_ok_and(|inner| secure_context(&inner)),
    _ => crate::platform::net::policy::is_potentially_trustworthy(url),
  }
}

/// The owner's client and the worker's URL, checked: a worker of another
/// origin is a SecurityError at once (as Chromium throws; `data:` URLs run
/// with an opaque origin), and its type is "classic" or "module".
fn checked(
  browser: &Browser,
  realm: RealmId,
  url: &str,
  script_type: &str,
) -> Result<(String, Url), HostError> {
  let owner = clients::client_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a window or a worker starts workers"))?;
  let url = Url::parse(url)
    .map_err(|_| HostError::new("SyntaxError", format!("The URL '{url}' is invalid.")))?;
  let origin = browser.realm_origin(realm)?;
  if url.scheme() != "data" && url.origin() != origin {
    return Err(HostError::new(
      "SecurityError",
      format!(
        "Script at '{url}' cannot be accessed from origin '{}'.",
        origin.ascii_serialization()
      ),
    ));
  }
  if !matches!(script_type, "classic" | "module") {
    return Err(HostError::type_error(format!(
      "'{script_type}' is not a valid WorkerType"
    )));
  }
  Ok((owner, url))
}

/// One running dedicated worker.
struct Entry {
  owner: RealmId,
  handle: u64,
  client: String,
}

/// One running shared worker.
struct Shared {
  realm: RealmId,
  client: String,
  /// The realms that connected to it, with their handle for it.
  owners: Vec<(RealmId, u64)>,
}

#[derive(Default)]
struct State {
  /// Dedicated workers, by the worker's realm.
  workers: HashMap<RealmId, Entry>,
  /// Shared workers, by URL and name.
  shared: HashMap<(String, String), Shared>,
  /// The worker realm of each (owner realm, handle).
  by_handle: HashMap<(RealmId, u64), RealmId>,
  started: u64,
}

/// The feature.
#[derive(Default)]
pub struct Workers {
  state: Mutex<State>,
}

impl Workers {
  fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
    f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
  }

  /// HTML, "run a worker" for a dedicated worker: its realm and client,
  /// then its script.
  fn start(
    &self,
    browser: &Browser,
    realm: RealmId,
    handle: u64,
    url: &str,
    script_type: &str,
    name: &str,
  ) -> HostResult {
    let (owner, url) = checked(browser, realm, url, script_type)?;
    let (worker, id) = self.spawn(browser, realm, &owner, &url, script_type, name, false)?;
    self.with(|s| {
      s.workers.insert(
        worker,
        Entry {
          owner: realm,
          handle,
          client: id,
        },
      );
      s.by_handle.insert((realm, handle), worker);
    });
    Ok(Value::Null)
  }

  /// `new SharedWorker(url, options)`: the shared worker of this URL and
  /// name (started if there is none), which gets `port` in a `connect`
  /// event. It ends when every realm that connected to it has ended, or
  /// by its own `close()`.
  #[allow(clippy::too_many_arguments)]
  fn connect_shared(
    &self,
    browser: &Browser,
    realm: RealmId,
    handle: u64,
    url: &str,
    script_type: &str,
    name: &str,
    port: Value,
  ) -> HostResult {
    let (owner, url) = checked(browser, realm, url, script_type)?;
    let key = (url.to_string(), name.to_string());
    let running = self.with(|s| {
      let shared = s.shared.get_mut(&key)?;
      shared.owners.push((realm, handle));
      Some(shared.realm)
    });
    let worker = match running {
      Some(worker) => worker,
      None => {
        let (worker, id) = self.spawn(browser, realm, &owner, &url, script_type, name, true)?;
        self.with(|s| {
          s.shared.insert(
            key,
            Shared {
              realm: worker,
              client: id,
              owners: vec![(realm, handle)],
            },
          )
        });
        worker
      }
    };
    browser.post(worker, &SharedConnect { data: port });
    Ok(Value::Null)
  }

  /// A worker's realm and client (a dedicated worker of the client
  /// `owner`, or a shared worker), and the command that runs its script.
  #[allow(clippy::too_many_arguments)]
  fn spawn(
    &self,
    browser: &Browser,
    realm: RealmId,
    owner: &str,
    url: &Url,
    script_type: &str,
    name: &str,
    shared: bool,
  ) -> Result<(RealmId, String), HostError> {
    let controller = clients::worker_controller(browser, url, owner);
    let id = clients::new_client_id();
    let n = self.with(|s| {
      s.started += 1;
      s.started
    });
    let secure =
      secure_context(url) && browser.realm_url(realm).is_some_and(|u| secure_context(&u));
    let bootstrap = json!({
      "kind": if shared { "sharedworker" } else { "dedicatedworker" },
      "url": url.as_str(),
      "clientId": id,
      "name": name,
      "controlled": controller.is_some(),
      "chromium": browser.opts().chromium,
      "secureContext": secure,
      "online": browser.opts().net.is_online(),
      "color": crate::platform::browser::terminal::console_colors(),
    });
    let (kind, label) = if shared {
      (RealmKind::SharedWorker, format!("shared worker {n}"))
    } else {
      (RealmKind::DedicatedWorker, format!("worker {n}"))
    };
    let worker = browser
      .spawn_realm(
        kind,
        url.clone(),
        label,
        Owner::Client(id.clone()),
        bootstrap,
      )
      .map_err(|e| HostError::new("Error", format!("could not start the worker: {e}")))?;
    let parent = (!shared).then_some(owner);
    clients::add_worker_client(browser, &id, url.clone(), worker, controller, parent);
    browser.trace(
      "worker",
      json!({"id": id, "url": url.as_str(), "owner": owner, "controller": controller, "shared": shared}),
    );
    browser.post(
      worker,
      &RunWorker {
        url: url.as_str(),
        script_type,
      },
    );
    Ok((worker, id))
  }

  /// The worker in `worker` ends, with its own workers.
  fn end(&self, browser: &Browser, worker: RealmId) {
    let client = self.with(|s| {
      if let Some(e) = s.workers.remove(&worker) {
        s.by_handle.remove(&(e.owner, e.handle));
        return Some(e.client);
      }
      let key = s.shared.iter().find(|(_, e)| e.realm == worker)?.0.clone();
      s.shared.remove(&key).map(|e| e.client)
    });
    if let Some(client) = client {
      // Its realm ends with its client.
      clients::remove_with_nested(browser, &client);
    }
  }

  /// The realms a worker reports its errors to, with their handle for it:
  /// a dedicated worker's owner, or every realm connected to a shared one.
  fn owners_of(&self, worker: RealmId) -> Vec<(RealmId, u64)> {
    self.with(|s| match s.workers.get(&worker) {
      Some(e) => vec![(e.owner, e.handle)],
      None => s
        .shared
        .values()
        .find(|e| e.realm == worker)
        .map(|e| e.owners.clone())
        .unwrap_or_default(),
    })
  }

  async fn handle(&self, browser: &Browser, realm: RealmId, call: Call) -> HostResult {
    match call {
      Call::Start {
        handle,
        url,
        script_type,
        name,
      } => self.start(browser, realm, handle, &url, &script_type, &name),
      Call::ConnectShared {
        handle,
        url,
        script_type,
        name,
        port,
      } => self.connect_shared(browser, realm, handle, &url, &script_type, &name, port),
      // "postMessage(message, options)": the message goes to the other
      // end's queue (a worker that has ended drops it).
      Call::PostMessage {
        handle: Some(handle),
        data,
      } => {
        if let Some(worker) = self.with(|s| s.by_handle.get(&(realm, handle)).copied()) {
          browser.post(worker, &DedicatedMessage { data });
        }
        Ok(Value::Null)
      }
      Call::PostMessage { handle: None, data } => {
        if let Some((owner, handle)) =
          self.with(|s| s.workers.get(&realm).map(|e| (e.owner, e.handle)))
        {
          browser.post(owner, &WorkerMessage { handle, data });
        }
        Ok(Value::Null)
      }
      Call::Terminate { handle } => {
        if let Some(worker) = self.with(|s| s.by_handle.get(&(realm, handle)).copied()) {
          self.end(browser, worker);
        }
        Ok(Value::Null)
      }
      Call::Close {} => {
        self.end(browser, realm);
        Ok(Value::Null)
      }
      Call::Error {
        message,
        filename,
        lineno,
        colno,
        load,
      } => {
        for (owner, handle) in self.owners_of(realm) {
          browser.post(
            owner,
            &WorkerError {
              handle,
              message: &message,
              filename: &filename,
              lineno,
              colno,
              load,
            },
          );
        }
        Ok(Value::Null)
      }
      Call::ImportScripts { urls } => {
        let base = browser
          .realm_url(realm)
          .ok_or_else(|| HostError::invalid_state("unknown realm"))?;
        // A worker's imported scripts go through its controller, if any.
        crate::platform::net::import_scripts(&base, urls, |url| async move {
          browser.fetch_script(realm, &url, ScriptKind::Classic).await
        })
        .await
      }
    }
  }
}

impl Feature for Workers {
  fn namespace(&self) -> &'static str {
    "worker"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(async move {
      let call = decode_call::<Call>("worker", c.method, c.args)?;
      self.handle(c.browser, c.realm, call).await
    })
  }

  fn on_event(&self, browser: &Browser, event: BrowserEvent<'_>) {
    if let BrowserEvent::RealmExited { realm, .. } = event {
      // A worker whose realm ended, and the workers of an owner that did.
      self.end(browser, realm);
      let owned: Vec<RealmId> = self.with(|s| {
        // A shared worker ends when the last realm connected to it has.
        for e in s.shared.values_mut() {
          e.owners.retain(|(o, _)| *o != realm);
        }
        let unowned = s
          .shared
          .values()
          .filter(|e| e.owners.is_empty())
          .map(|e| e.realm);
        s.workers
          .iter()
          .filter(|(_, e)| e.owner == realm)
          .map(|(w, _)| *w)
          .chain(unowned)
          .collect()
      });
      for w in owned {
        self.end(browser, w);
      }
    }
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
