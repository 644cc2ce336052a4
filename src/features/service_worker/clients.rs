//! Window clients: the pages of a run. Each `--client` script runs in its
//! own window realm; `clients.openWindow()` adds a window that the
//! simulated UI opened (it has a URL but runs no script).
//!
//! Spec: Service Workers, the `Clients` and `Client` method steps; a client
//! here is a "service worker client" (a window client).

use serde_json::{json, Value};
use url::Url;

use serde::Serialize;

use super::focus::{give_focus, has_focus};
use super::lifecycle::ControllerChange;
use super::navigation::{FormPost, NavigationType};
use super::registry::{VersionId, WorkerState};
use crate::platform::browser::{Browser, Owner};
use crate::platform::engine::realm::RealmKind;
use crate::platform::ipc::{Command, Evaluate, HostError, HostResult, RealmId};

/// Runs a page's classic scripts in document order, then its load event.
#[derive(Serialize)]
struct RunClassicScripts {
  steps: Vec<Value>,
}

impl Command for RunClassicScripts {
  const KIND: &'static str = "runClassicScripts";
}

/// Runs the page's module script from its URL.
#[derive(Serialize)]
struct RunModule<'a> {
  url: &'a str,
}

impl Command for RunModule<'_> {
  const KIND: &'static str = "runModule";
}

/// A message for the client's `navigator.serviceWorker`.
#[derive(Serialize)]
struct Message {
  data: Value,
  source: Value,
  origin: Option<String>,
}

impl Command for Message {
  const KIND: &'static str = "message";
}

pub struct Client {
  pub id: String,
  pub url: Url,
  pub realm: Option<RealmId>,
  pub controller: Option<VersionId>,
  /// Content-Security-Policy texts the document set (`<meta http-equiv>`).
  pub csp: Vec<String>,
  /// The client whose `<iframe>` holds this one (see `frames`), or that
  /// owns this dedicated worker.
  pub parent: Option<String>,
  /// A window, or a dedicated worker (`crate::features::workers`).
  pub kind: ClientKind,
}

/// The two kinds of client a run has.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientKind {
  Window,
  /// A dedicated worker's global.
  Worker,
  /// A shared worker's global.
  SharedWorker,
}

impl Client {
  /// What "Create Window Client" gives a realm: the frame type ("Get Frame
  /// Type": "nested" in an iframe, else "top-level"), visibility state and
  /// focus state (`focused`: see [`has_focus`]).
  pub fn info(&self, focused: bool) -> Value {
    if self.kind != ClientKind::Window {
      // "Create Client": a worker client has no window state.
      return json!({
        "id": self.id,
        "url": self.url.as_str(),
        "type": if self.kind == ClientKind::Worker { "worker" } else { "sharedworker" },
        "frameType": "none",
      });
    }
    json!({
      "id": self.id,
      "url": self.url.as_str(),
      "type": "window",
      "frameType": if self.parent.is_some() { "nested" } else { "top-level" },
      "visibilityState": "visible",
      "focused": focused,
    })
  }
}

pub fn new_client_id() -> String {
  let mut bytes = [0u8; 16];
  getrandom_fill(&mut bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
  format!(
    "{}-{}-{}-{}-{}",
    &h[0..8],
    &h[8..12],
    &h[12..16],
    &h[16..20],
    &h[20..32]
  )
}

fn getrandom_fill(buf: &mut [u8]) {
  use std::io::Read;
  if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
    if f.read_exact(buf).is_ok() {
      return;
    }
  }
  let seed = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map(|d| d.as_nanos())
    .unwrap_or(0);
  for (i, b) in buf.iter_mut().enumerate() {
    *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
  }
}

/// The active worker that controls a new client at `url`, if any.
/// (The client's "active service worker": "Match Service Worker
/// Registration" for its URL, if that registration has an active worker.)
pub(super) fn controller_for(browser: &Browser, url: &Url) -> Option<VersionId> {
  super::with(browser, |s| {
    let r = s.registry.match_scope(url)?;
    let a = r.active?;
    let v = s.registry.versions.get(&a)?;
    matches!(v.state, WorkerState::Activated | WorkerState::Activating).then_some(a)
  })
}

fn add_client(browser: &Browser, url: Url, realm: Option<RealmId>) -> String {
  let id = new_client_id();
  let controller = controller_for(browser, &url);
  register_client(browser, &id, url, realm, controller, false);
  id
}

/// Adds a client to the browser's list (the first window gets focus if
/// `focus_first`) and traces it.
fn register_client(
  browser: &Browser,
  id: &str,
  url: Url,
  realm: Option<RealmId>,
  controller: Option<VersionId>,
  focus_first: bool,
) {
  super::with(browser, |s| {
    let focus = focus_first && s.clients.is_empty();
    s.clients.insert(
      id.to_string(),
      Client {
        id: id.to_string(),
        url: url.clone(),
        realm,
        controller,
        csp: Vec::new(),
        parent: None,
        kind: ClientKind::Window,
      },
    );
    s.client_order.push(id.to_string());
    if focus {
      give_focus(s, id);
    }
  });
  browser.trace(
    "client",
    json!({"id": id, "url": url.as_str(), "controller": controller}),
  );
}

/// Opens a window client at `url` and runs `source` in it.
/// How a client's script is run.
pub enum ClientScript {
  /// A module script (`<script type=module>`), loaded from its URL.
  Module,
  /// A classic script with this source.
  Classic(String),
  /// A page's classic scripts in document order (`{"url"}` or
  /// `{"source", "name"}` objects), then its load event.
  Page {
    title: Option<String>,
    steps: Vec<Value>,
    /// The body's text (`document.body.textContent`).
    text: String,
    /// `document.contentType`.
    content_type: String,
  },
}

pub async fn open_client(
  browser: &Browser,
  url: Url,
  script: ClientScript,
) -> Result<String, HostError> {
  let controller = controller_for(browser, &url);
  open_client_as(
    browser,
    url,
    new_client_id(),
    controller,
    script,
    Vec::new(),
    None,
  )
  .await
}

/// Opens the window client `id` at `url`, controlled by `controller`, with
/// its document's CSP, and runs `script` in it; `parent` is the client
/// whose `<iframe>` holds it.
pub(super) async fn open_client_as(
  browser: &Browser,
  url: Url,
  id: String,
  controller: Option<VersionId>,
  script: ClientScript,
  csp: Vec<String>,
  parent: Option<String>,
) -> Result<String, HostError> {
  let label = super::with(browser, |s| {
    let n = s.next_client_label;
    s.next_client_label += 1;
    format!("client {n}")
  });
  let worker = super::with(browser, |s| s.registry.worker_snapshot(controller));
  let bootstrap = json!({
    "kind": "window",
    "url": url.as_str(),
    "clientId": id,
    "parentClient": parent,
    "controller": worker,
    "chromium": browser.opts().chromium,
    "secureContext": crate::platform::net::policy::is_potentially_trustworthy(&url),
    "online": browser.opts().net.is_online(),
    "color": crate::platform::browser::terminal::console_colors(),
    "pageReport": browser.opts().page_report.is_some(),
    "title": match &script {
      ClientScript::Page { title, .. } => title.clone(),
      _ => None,
    },
    "bodyText": match &script {
      ClientScript::Page { text, .. } => text.as_str(),
      _ => "",
    },
    "contentType": match &script {
      ClientScript::Page { content_type, .. } => content_type.as_str(),
      _ => "text/html",
    },
  });
  let realm = browser
    .spawn_realm(
      RealmKind::Window,
      url.clone(),
      label,
      Owner::Client(id.clone()),
      bootstrap,
    )
    .map_err(|e| HostError::new("Error", format!("could not start the client: {e}")))?;
  register_client(browser, &id, url.clone(), Some(realm), controller, true);
  super::with(browser, |s| {
    if let Some(c) = s.clients.get_mut(&id) {
      c.csp = csp;
      c.parent = parent;
    }
  });
  let result = match script {
    ClientScript::Classic(source) => {
      browser
        .request(
          realm,
          &Evaluate {
            name: url.to_string(),
            source,
          },
        )
        .await
    }
    ClientScript::Page { steps, .. } => {
      browser.post(realm, &RunClassicScripts { steps });
      Ok(Value::Null)
    }
    ClientScript::Module => {
      browser.post(realm, &RunModule { url: url.as_str() });
      Ok(Value::Null)
    }
  };
  if let Err(e) = result {
    browser.count_uncaught();
    eprintln!("[{}] Uncaught {}", browser.realm_label(realm), e.message);
    browser.trace("uncaught", json!({"client": id, "text": e.message}));
  }
  Ok(id)
}

/// The client `id` goes (its frame removed, its worker terminated), and so
/// do the clients inside it: its frames and workers, at any depth. Their
/// realms end, and the registrations they leave may activate a waiting
/// worker.
pub fn remove_with_nested(browser: &Browser, id: &str) {
  let mut gone = vec![id.to_string()];
  let mut realms = Vec::new();
  let mut released = Vec::new();
  super::with(browser, |s| {
    let parent = s.clients.get(id).and_then(|c| c.parent.clone());
    let mut i = 0;
    while i < gone.len() {
      let nested: Vec<String> = s
        .clients
        .values()
        .filter(|c| c.parent.as_deref() == Some(gone[i].as_str()))
        .map(|c| c.id.clone())
        .collect();
      gone.extend(nested);
      i += 1;
    }
    // Focus in a frame that goes moves to the document that held it.
    if s.focused.as_ref().is_some_and(|f| gone.contains(f)) {
      s.focused = parent;
    }
    for g in &gone {
      if let Some(c) = s.clients.remove(g) {
        realms.extend(c.realm);
        released.extend(c.controller);
      }
      s.client_order.retain(|c| c != g);
    }
  });
  super::lifecycle::clients_released(browser, released);
  for r in realms {
    browser.shutdown_realm(r);
  }
}

/// The controller of a new dedicated worker at `url` owned by the client
/// `owner`: its owner's for a `blob:` URL (HTML's "inherit the
/// controller"), else the active worker of the registration its URL
/// matches (Handle Fetch for a non-subresource request).
pub fn worker_controller(browser: &Browser, url: &Url, owner: &str) -> Option<VersionId> {
  if url.scheme() == "blob" {
    return super::with(browser, |s| s.clients.get(owner).and_then(|c| c.controller));
  }
  controller_for(browser, url)
}

/// Adds the client `id` of a worker (realm `realm`): a dedicated worker
/// that the client `owner` started, which ends with it
/// (`remove_with_nested`), or a shared worker (no owner).
pub fn add_worker_client(
  browser: &Browser,
  id: &str,
  url: Url,
  realm: RealmId,
  controller: Option<VersionId>,
  owner: Option<&str>,
) {
  register_client(browser, id, url, Some(realm), controller, false);
  super::with(browser, |s| {
    if let Some(c) = s.clients.get_mut(id) {
      c.parent = owner.map(str::to_string);
      c.kind = if owner.is_some() {
        ClientKind::Worker
      } else {
        ClientKind::SharedWorker
      };
    }
  });
}

pub fn client_of(browser: &Browser, realm: RealmId) -> Option<String> {
  match browser.realm_owner(realm)? {
    Owner::Client(id) => Some(id),
    Owner::Worker(_) => None,
  }
}

/// The Content-Security-Policy texts of the realm's document (none for a
/// worker).
pub fn csp_of(browser: &Browser, realm: RealmId) -> Vec<String> {
  let Some(id) = client_of(browser, realm) else {
    return Vec::new();
  };
  super::with(browser, |s| {
    s.clients
      .get(&id)
      .map(|c| c.csp.clone())
      .unwrap_or_default()
  })
}

/// The realm of the client `id`, if it runs one.
pub fn realm_of(browser: &Browser, id: &str) -> Option<RealmId> {
  super::with(browser, |s| s.clients.get(id).and_then(|c| c.realm))
}

/// `clients.matchAll(options)` for the worker `version`.
/// Service Workers, `matchAll(options)`, step 2.2: the clients of the
/// worker's origin (the spec: storage key), without those it does not
/// control unless `includeUncontrolled` (2.2.3), of the type asked (2.5):
/// "window", "worker" (dedicated workers), "sharedworker" (none here) or
/// "all". Windows come first, sorted as the spec sorts them: those that
/// have had focus, most recently focused first, then the others in
/// creation order; then the workers, in creation order.
pub fn match_all(
  browser: &Browser,
  version: VersionId,
  include_uncontrolled: bool,
  client_type: &str,
) -> Value {
  let wanted = |k: ClientKind| match client_type {
    "all" => true,
    "window" => k == ClientKind::Window,
    "worker" => k == ClientKind::Worker,
    "sharedworker" => k == ClientKind::SharedWorker,
    _ => false,
  };
  super::with(browser, |s| {
    let origin = s
      .registry
      .versions
      .get(&version)
      .map(|v| v.script_url.origin());
    let mut matched: Vec<&Client> = s
      .client_order
      .iter()
      .filter_map(|id| s.clients.get(id))
      .filter(|c| wanted(c.kind))
      .filter(|c| Some(c.url.origin()) == origin)
      .filter(|c| include_uncontrolled || c.controller == Some(version))
      .collect();
    // Stable: equal keys keep creation order.
    matched.sort_by_key(|c| {
      (
        c.kind != ClientKind::Window,
        std::cmp::Reverse(s.focus_times.get(&c.id).copied()),
      )
    });
    let list: Vec<Value> = matched
      .iter()
      .map(|c| c.info(has_focus(s, &c.id)))
      .collect();
    Value::Array(list)
  })
}

/// Service Workers, `get(id)`, step 2.1: the client with that id. Differs:
/// any client of the run, where the spec looks only at those of the worker's
/// storage key.
pub fn get(browser: &Browser, id: &str) -> Value {
  super::with(browser, |s| {
    s.clients
      .get(id)
      .map(|c| c.info(has_focus(s, id)))
      .unwrap_or(Value::Null)
  })
}

/// `clients.openWindow(url)`: the simulated UI opens a window.
/// Service Workers, `openWindow(url)`: steps 1-2 (parse the URL, here
/// against the script URL; failure is a TypeError), 7 (a new top-level
/// browsing context navigated to it), 7.2.7.1 (another origin resolves
/// with null) and 7.2.7.2-7.2.7.3 ("Create Window Client"). Not checked:
/// step 3 (`about:blank`) and step 4 (user activation).
pub async fn open_window(browser: &Browser, version: VersionId, url: &str) -> HostResult {
  let base = super::with(browser, |s| {
    s.registry
      .versions
      .get(&version)
      .map(|v| v.script_url.clone())
  });
  let base = base.ok_or_else(|| HostError::invalid_state("the worker is gone"))?;
  let url = base
    .join(url)
    .map_err(|_| HostError::type_error(format!("Invalid URL '{url}'")))?;
  browser.record_ui_action(json!({"action": "openWindow", "url": url.as_str(), "worker": version}));
  navigated_window(browser, url, &base, NavigationType::Push, None).await
}

/// A window the worker opened or navigated, at `url`: of another origin
/// than the worker (`base`), it is listed but not loaded, and the worker
/// gets null; otherwise it navigates (through the worker whose scope
/// matches) and runs the page it gets, and the worker gets its client.
async fn navigated_window(
  browser: &Browser,
  url: Url,
  base: &Url,
  kind: NavigationType,
  post: Option<&FormPost>,
) -> HostResult {
  if url.origin() != base.origin() {
    add_client(browser, url, None);
    return Ok(Value::Null);
  }
  let id = super::navigation::open_page_as(browser, url, kind, post).await?;
  Ok(get(browser, &id))
}

/// Service Workers, WindowClient.navigate(url): the window of client `id`,
/// which the worker `version` must control (step 4), navigates to `url`
/// (resolved against the worker's script URL, step 2): its document and
/// realm are replaced by the page the navigation loads, a new client.
pub async fn navigate(browser: &Browser, version: VersionId, id: &str, url: &str) -> HostResult {
  let (base, client) = super::with(browser, |s| {
    let base = s
      .registry
      .versions
      .get(&version)
      .map(|v| v.script_url.clone());
    let client = s.clients.get(id).map(|c| (c.controller, c.realm));
    (base, client)
  });
  let base = base.ok_or_else(|| HostError::invalid_state("the worker is gone"))?;
  let url = base
    .join(url)
    .map_err(|_| HostError::type_error(format!("Invalid URL '{url}'")))?;
  if url.as_str() == "about:blank" {
    return Err(HostError::type_error(
      "navigate() to about:blank is not allowed",
    ));
  }
  let Some((controller, realm)) = client else {
    return Err(HostError::type_error("The client is gone"));
  };
  if controller != Some(version) {
    return Err(HostError::type_error(
      "This service worker is not the client's active service worker.",
    ));
  }
  browser.record_ui_action(json!({"action": "navigate", "client": id, "url": url.as_str()}));
  replace_window(browser, id, realm, url, &base, NavigationType::Push, None).await
}

/// The window of client `id` (its realm `realm`) navigates to `url`: its
/// document and realm are replaced by the page the navigation loads, a
/// new client that keeps the window's focus (of another origin than
/// `base`, it is listed but not loaded: null).
pub(super) async fn replace_window(
  browser: &Browser,
  id: &str,
  realm: Option<RealmId>,
  url: Url,
  base: &Url,
  kind: NavigationType,
  post: Option<&FormPost>,
) -> HostResult {
  // The old document goes away.
  let (released, had_focus) = super::with(browser, |s| {
    s.client_order.retain(|c| c != id);
    let had_focus = s.focused.as_deref() == Some(id);
    (s.clients.remove(id).and_then(|c| c.controller), had_focus)
  });
  super::lifecycle::clients_released(browser, released);
  if let Some(realm) = realm {
    browser.shutdown_realm(realm);
  }
  let new = navigated_window(browser, url, base, kind, post).await?;
  // The window keeps its focus: its new document has it.
  if let (true, Some(new_id)) = (had_focus, new["id"].as_str()) {
    super::with(browser, |s| give_focus(s, new_id));
  }
  Ok(new)
}

/// `clients.claim()`: the worker becomes the controller of every client in
/// its scope.
/// Service Workers, `claim()`: step 1 (only an active worker; else an
/// InvalidStateError), 3.1 (each client), 3.1.4-3.1.5 (whose "Match Service
/// Worker Registration" is the worker's registration: the longest scope
/// that prefixes the client's URL), 3.1.6.2 (set its active service
/// worker) and 3.1.6.3 ("Notify Controller Change").
/// The URL `claim()` matches a client's registration by: its own, or for
/// a worker at a `blob:` URL (which takes its owner's controller) its
/// owner's, as Chromium does.
fn claim_url<'a>(s: &'a super::SwState, c: &'a Client) -> &'a Url {
  let mut at = c;
  while at.url.scheme() == "blob" {
    match at.parent.as_ref().and_then(|p| s.clients.get(p)) {
      Some(owner) => at = owner,
      None => break,
    }
  }
  &at.url
}

pub fn claim(browser: &Browser, version: VersionId) -> HostResult {
  let mut released = Vec::new();
  let claimed: Vec<RealmId> = super::with(browser, |s| {
    let Some(v) = s.registry.versions.get(&version) else {
      return Err(HostError::invalid_state("the worker is gone"));
    };
    if v.state != WorkerState::Activated && v.state != WorkerState::Activating {
      return Err(HostError::invalid_state(
        "Only the active worker can claim clients.",
      ));
    }
    let scope = v.scope.clone();
    let matching: Vec<String> = s
      .clients
      .values()
      .filter(|c| {
        s.registry
          .match_scope(claim_url(s, c))
          .is_some_and(|r| r.scope == scope)
      })
      .map(|c| c.id.clone())
      .collect();
    let mut out = Vec::new();
    for id in matching {
      let Some(c) = s.clients.get_mut(&id) else {
        continue;
      };
      if c.controller != Some(version) {
        released.extend(c.controller.replace(version));
        if let Some(r) = c.realm {
          out.push(r);
        }
      }
    }
    Ok(out)
  })?;
  // The registrations those clients leave may activate their waiting
  // worker now.
  super::lifecycle::clients_released(browser, released);
  let worker = super::with(browser, |s| s.registry.worker_snapshot(Some(version)));
  for realm in claimed {
    browser.post(
      realm,
      &ControllerChange {
        worker: worker.clone(),
      },
    );
  }
  Ok(Value::Null)
}

/// `Client.postMessage` from the worker to a client.
/// Service Workers, `Client.postMessage(message, options)`, step 4: find the
/// target client (4.2-4.3) and add a task to its client message queue that
/// dispatches `message` with the origin and source (4.5).
pub fn post_to_client(
  browser: &Browser,
  version: VersionId,
  client: &str,
  data: Value,
) -> HostResult {
  let (realm, worker, origin) = super::with(browser, |s| {
    let realm = s.clients.get(client).and_then(|c| c.realm);
    let worker = s.registry.worker_snapshot(Some(version));
    let origin = s
      .registry
      .versions
      .get(&version)
      .map(|v| v.script_url.origin().ascii_serialization());
    (realm, worker, origin)
  });
  browser.trace(
    "message",
    json!({"from": "worker", "worker": version, "to": client}),
  );
  if let Some(realm) = realm {
    browser.post(
      realm,
      &Message {
        data,
        source: worker,
        origin,
      },
    );
  }
  Ok(Value::Null)
}
