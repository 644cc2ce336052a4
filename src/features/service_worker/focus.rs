//! Focus (HTML, "focus update steps" and "has focus steps", as far as a
//! run models them): which client's document has focus, and when each
//! last had it (`Clients.matchAll()` sorts windows by that).

use serde::Serialize;
use serde_json::{json, Value};

use crate::platform::browser::Browser;
use crate::platform::ipc::{Command, HostError, HostResult, RealmId};

/// HTML's "focus update steps", for one window: its document lost focus
/// (`blur` at the window) or gained it (`focus`).
#[derive(Serialize)]
struct WindowFocus {
  focused: bool,
}

impl Command for WindowFocus {
  const KIND: &'static str = "windowFocus";
}

/// Focus goes to the client `id`'s document: it, and the clients whose
/// frames hold it, are the most recently focused now.
pub(super) fn give_focus(s: &mut super::SwState, id: &str) {
  s.focused = Some(id.to_string());
  s.focus_count += 1;
  let mut at = Some(id.to_string());
  while let Some(c) = at {
    at = s.clients.get(&c).and_then(|c| c.parent.clone());
    s.focus_times.insert(c, s.focus_count);
  }
}

/// HTML's "has focus steps" for the client `id`'s document: the focused
/// document is it, or is in one of its frames (at any depth).
pub(super) fn has_focus(s: &super::SwState, id: &str) -> bool {
  let mut at = s.focused.clone();
  while let Some(c) = at {
    if c == id {
      return true;
    }
    at = s.clients.get(&c).and_then(|c| c.parent.clone());
  }
  false
}

/// The focusing steps for the client `target`'s document, asked by the
/// realm `realm`: `window.focus()` (its own client) or an `<iframe>`'s
/// `focus()` (a frame of its document). Focus goes to that document, in
/// its window, which gets the system focus.
pub fn focus(browser: &Browser, realm: RealmId, target: Option<&str>) -> HostResult {
  let own = super::clients::client_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a window takes focus"))?;
  let target = target.unwrap_or(&own).to_string();
  let before = super::with(browser, |s| {
    let mine = target == own
      || s.clients.get(&target).and_then(|c| c.parent.as_deref()) == Some(own.as_str());
    if !mine || !s.clients.contains_key(&target) {
      return Err(HostError::type_error(
        "not this window nor one of its frames",
      ));
    }
    let before = s.focused.clone();
    give_focus(s, &target);
    Ok(before)
  })?;
  browser.trace("focus", json!({"client": target}));
  // The focus update steps: the window that had focus gets `blur`, the
  // one that takes it `focus` (nothing when it had it already).
  if before.as_deref() != Some(target.as_str()) {
    if let Some(realm) = before.and_then(|b| super::clients::realm_of(browser, &b)) {
      browser.post(realm, &WindowFocus { focused: false });
    }
    if let Some(realm) = super::clients::realm_of(browser, &target) {
      browser.post(realm, &WindowFocus { focused: true });
    }
  }
  Ok(Value::Null)
}
