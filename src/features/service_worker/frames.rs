//! `<iframe>`s: a page's nested browsing context is a window client of its
//! own (frame type "nested"), opened by navigating to the element's `src`
//! as any page is, so a service worker whose scope matches controls it.
//!
//! A swharness realm is a window on its own thread, so the frame's
//! `contentWindow` (and the frame's `parent`) cannot be the other realm's
//! objects. They are proxies (`js/scopes/41_frames.js`): each property
//! read, write or call is an operation the browser hands to the other
//! realm, which answers with a value or a handle to one of its objects;
//! the caller waits for the answer, as a same-origin WindowProxy answers at
//! once, and meanwhile still answers the other realm's operations on its
//! own objects (`Browser::request_reentrant`). A promise settles in a later
//! command.

use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use super::{clients, navigation};
use crate::platform::browser::Browser;
use crate::platform::ipc::{Command, HostError, HostResult, RealmId};

/// An operation on one of the realm's objects, for the client `from`.
#[derive(Serialize)]
struct FrameOp<'a> {
  from: &'a str,
  op: &'a Value,
}

impl Command for FrameOp<'_> {
  const KIND: &'static str = crate::platform::ipc::CMD_FRAME_OP;
}

/// A promise the realm `owner` handed out (`{p: id}`) has settled.
#[derive(Serialize)]
struct FrameSettled<'a> {
  owner: &'a str,
  promise: u64,
  ok: bool,
  value: &'a Value,
}

impl Command for FrameSettled<'_> {
  const KIND: &'static str = "frameSettled";
}

/// Resolves once the page has fired its `load` event.
#[derive(Serialize)]
struct AwaitLoad;

impl Command for AwaitLoad {
  const KIND: &'static str = "awaitLoad";
}

/// The `<iframe>` of the client realm `realm` navigates to `url` (a new
/// entry, a reload or a history traversal): the new client's id once its
/// page has loaded (the element's `load` event).
pub async fn open(
  browser: &Browser,
  realm: RealmId,
  url: &str,
  kind: navigation::NavigationType,
  post: Option<&navigation::FormPost>,
) -> HostResult {
  let parent = clients::client_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a window has iframes"))?;
  let url =
    Url::parse(url).map_err(|e| HostError::type_error(format!("bad iframe URL {url}: {e}")))?;
  let (id, update) = navigation::open_page_in(browser, url, Some(parent), kind, post).await?;
  if let Some(child) = clients::realm_of(browser, &id) {
    browser.request(child, &AwaitLoad).await?;
  }
  // The navigation's Soft Update starts once the page has the element's
  // `load`, so that what it fires (`updatefound`) comes after it.
  if let Some(scope) = update {
    let b = browser.clone();
    crate::platform::browser::after_reply(move || super::lifecycle::soft_update(&b, &scope));
  }
  Ok(json!({ "id": id }))
}

/// The `<iframe>` holding the client `id` left its document: the client
/// goes, and so do the frames inside it.
pub fn close(browser: &Browser, realm: RealmId, id: &str) {
  let Some(parent) = clients::client_of(browser, realm) else {
    return;
  };
  let held = super::with(browser, |s| {
    s.clients.get(id).and_then(|c| c.parent.as_deref()) == Some(parent.as_str())
  });
  if held {
    clients::remove_with_nested(browser, id);
  }
}

/// The frame's own navigation in the client realm `realm`
/// (`location.reload()`, `location.href = url`, or with `delta` a history
/// traversal, `history.go(delta)`): its `<iframe>`, in the parent's realm,
/// navigates again, and the element fires `load` once the new page has.
/// A top-level window's is `navigation::navigate_window_self`.
pub fn navigate_self(
  browser: &Browser,
  realm: RealmId,
  url: &str,
  reload: bool,
  delta: Option<i64>,
  post: Option<navigation::FormPost>,
) -> HostResult {
  let id = clients::client_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a window navigates"))?;
  let (kind, parent, own_url) = super::with(browser, |s| {
    let c = s.clients.get(&id)?;
    let parent = c.parent.as_ref().and_then(|p| s.clients.get(p)?.realm);
    Some((c.kind, parent, c.url.clone()))
  })
  .ok_or_else(|| HostError::invalid_state("the window is gone"))?;
  if kind != clients::ClientKind::Window {
    return Err(HostError::invalid_state("only a window navigates"));
  }
  let Some(parent_realm) = parent else {
    // A top-level window: one history entry, so a traversal does nothing.
    if delta.is_none() {
      let url =
        Url::parse(url).map_err(|_| HostError::type_error(format!("Invalid URL '{url}'")))?;
      navigation::navigate_window_self(browser, id, realm, url, &own_url, reload, post);
    }
    return Ok(Value::Null);
  };
  browser.post(
    parent_realm,
    &FrameNavigate {
      client: &id,
      url,
      reload,
      delta,
      post: post.as_ref(),
    },
  );
  Ok(Value::Null)
}

/// The `<iframe>` holding the client `client` navigates to `url`.
#[derive(Serialize)]
struct FrameNavigate<'a> {
  client: &'a str,
  url: &'a str,
  reload: bool,
  delta: Option<i64>,
  post: Option<&'a navigation::FormPost>,
}

impl Command for FrameNavigate<'_> {
  const KIND: &'static str = "frameNavigate";
}

/// Whether the windows `a` and `b` are in one frame tree (one top-level
/// window and the frames inside it, at any depth): a window reaches the
/// objects of the others through the ones it holds (a frame's frame).
fn related(browser: &Browser, a: &str, b: &str) -> bool {
  super::with(browser, |s| {
    let top_of = |x: &str| {
      let mut at = x.to_string();
      while let Some(p) = s.clients.get(&at).and_then(|c| c.parent.clone()) {
        at = p;
      }
      at
    };
    a != b && s.clients.contains_key(a) && s.clients.contains_key(b) && top_of(a) == top_of(b)
  })
}

/// One operation of the realm `realm` on an object of the client `target`
/// (its frame, or its parent), answered by that realm, even while that
/// realm waits for one of ours. Same origin only, as a WindowProxy allows.
pub async fn operate(browser: &Browser, realm: RealmId, target: &str, op: &Value) -> HostResult {
  let from = clients::client_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a window reaches frames"))?;
  if !related(browser, &from, target) {
    return Err(HostError::type_error("the frame is gone"));
  }
  let Some(target_realm) = clients::realm_of(browser, target) else {
    return Err(HostError::type_error("the frame is gone"));
  };
  if browser.realm_origin(target_realm)? != browser.realm_origin(realm)? {
    return Err(HostError::new(
      "SecurityError",
      "Blocked a frame from accessing a cross-origin frame.",
    ));
  }
  // The target runs nothing else until this realm's task ends.
  super::with(browser, |s| {
    s.frame_holds.entry(realm).or_default().insert(target_realm)
  });
  browser
    .request_reentrant(target_realm, &FrameOp { from: &from, op })
    .await
}

/// The realm `realm` has ended its task (or gone idle, or ended): the
/// realms it operated on run their own work again.
pub fn release_held_by(browser: &Browser, realm: RealmId) {
  let held = super::with(browser, |s| s.frame_holds.remove(&realm));
  for target in held.into_iter().flatten() {
    browser.post(target, &crate::platform::ipc::FrameRelease);
  }
}

/// The realm `realm` settled the promise `promise` it handed to the client
/// `to`: the value goes to that client's realm.
pub fn settle(browser: &Browser, realm: RealmId, to: &str, promise: u64, ok: bool, value: &Value) {
  let (Some(owner), Some(target)) = (
    clients::client_of(browser, realm),
    clients::realm_of(browser, to),
  ) else {
    return;
  };
  browser.post(
    target,
    &FrameSettled {
      owner: &owner,
      promise,
      ok,
      value,
    },
  );
}
