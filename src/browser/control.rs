//! The simulated browser UI and network controls (`swharness.*` in client
//! realms, CLI flags): offline switch, user click and cancel of a
//! background fetch, and the state the download UI shows.

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::ipc::{HostError, HostResult, RealmId};

pub(crate) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  match method {
    "setOnline" => {
      let online = args["online"] == json!(true);
      set_online(browser, online);
      Ok(Value::Null)
    }
    "click" => {
      crate::background_fetch::context::user_click(
        browser,
        realm,
        args["id"].as_str().unwrap_or(""),
      )
      .await
    }
    "cancel" => {
      crate::background_fetch::context::user_cancel(
        browser,
        realm,
        args["id"].as_str().unwrap_or(""),
      )
      .await
    }
    "uiState" => {
      crate::background_fetch::context::ui_state(browser, realm, args["id"].as_str().unwrap_or(""))
    }
    _ => Err(HostError::type_error(format!(
      "unknown control call '{method}'"
    ))),
  }
}

/// Switches the whole browser on- or offline.
pub fn set_online(browser: &Browser, online: bool) {
  let changed = browser.opts().net.is_online() != online;
  browser.opts().net.set_online(online);
  crate::background_fetch::context::set_online(browser, online);
  browser.record_ui_action(json!({"action": "setOnline", "online": online}));
  if changed {
    // Every realm: navigator.onLine, the online/offline event, fetch().
    let realms: Vec<_> = browser.with_state(|s| s.realms.keys().copied().collect());
    for r in realms {
      browser.post(r, "networkState", json!({ "online": online }));
    }
  }
}
