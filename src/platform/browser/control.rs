//! The core's own realm calls (`browser.*`): the network switch and
//! permissions that the simulated browser UI controls (`swharness.*` in
//! client realms, `--offline`, `--permission`), script and module loading,
//! stored bodies, and a test page's report.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::{Browser, BrowserEvent, ScriptKind};
use crate::platform::ipc::{decode_call, Command, HostError, HostResult, RealmId};

/// A permission's state, as `navigator.permissions` and testdriver see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

crate::platform::ipc::realm_calls! {
  enum Call {
    SetOnline {
      online: bool,
    },
    SetPermission {
      name: String,
      state: String,
    },
    PermissionQuery {
      name: String,
    },
    /// A module script or its import (the realm's module loader).
    FetchModule {
      url: String,
    },
    /// A page's external classic script.
    FetchScript {
      url: String,
    },
    /// The file behind a stored body's token (`op_swh_read_body`).
    BodyPath {
      token: String,
    },
    /// A test page's testharness.js report (`swharness wpt`).
    PageReport {
      json: String,
    },
  }
}

/// `navigator.onLine` and the `online`/`offline` events in every realm.
#[derive(Serialize)]
pub struct NetworkState {
  pub online: bool,
}

impl Command for NetworkState {
  const KIND: &'static str = "networkState";
}

pub(super) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  match decode_call::<Call>("browser", method, args)? {
    Call::SetOnline { online } => {
      set_online(browser, online);
      Ok(Value::Null)
    }
    Call::SetPermission { name, state } => {
      let state = PermissionState::parse(&state)
        .ok_or_else(|| HostError::type_error("state must be granted, denied or prompt"))?;
      browser.with_state(|s| s.permissions.insert(name.clone(), state));
      browser.trace("permission", json!({"name": name, "state": state.as_str()}));
      Ok(Value::Null)
    }
    Call::PermissionQuery { name } => Ok(json!(browser.permission(&name).as_str())),
    Call::FetchModule { url } => fetch_script(browser, realm, &url, ScriptKind::Module).await,
    Call::FetchScript { url } => fetch_script(browser, realm, &url, ScriptKind::Classic).await,
    Call::BodyPath { token } => browser
      .body_path(&token)
      .map(|p| json!(p.to_string_lossy()))
      .ok_or_else(|| HostError::type_error("the body is no longer available")),
    Call::PageReport { json } => match &browser.opts().page_report {
      Some(tx) => {
        let _ = tx.send(json);
        Ok(Value::Null)
      }
      None => Err(HostError::invalid_state("this run collects no page report")),
    },
  }
}

/// A page's script or module import: a `data:` URL's text, else through
/// [`Browser::fetch_script`].
async fn fetch_script(
  browser: &Browser,
  realm: RealmId,
  url: &str,
  kind: ScriptKind,
) -> HostResult {
  let url = Url::parse(url).map_err(|_| HostError::type_error("Invalid script URL"))?;
  if url.scheme() == "data" {
    return data_url_text(&url).map(|t| json!(t));
  }
  Ok(json!(browser.fetch_script(realm, &url, kind).await?))
}

/// Switches the whole browser on- or offline.
pub fn set_online(browser: &Browser, online: bool) {
  let changed = browser.opts().net.is_online() != online;
  browser.opts().net.set_online(online);
  browser.notify(BrowserEvent::OnlineChanged(online));
  browser.record_ui_action(json!({"action": "setOnline", "online": online}));
  if changed {
    // Every realm: navigator.onLine, the online/offline event, fetch().
    browser.broadcast(&NetworkState { online });
  }
}

/// The text of a `data:` URL (a page's inline module script is imported as
/// one): percent-decoded, or base64-decoded after `;base64`.
fn data_url_text(url: &Url) -> Result<String, HostError> {
  let bad = || HostError::type_error(format!("Invalid data: URL '{url}'"));
  let rest = &url.as_str()["data:".len()..];
  let (header, data) = rest.split_once(',').ok_or_else(bad)?;
  let bytes: Vec<u8> = if header.trim_end().to_ascii_lowercase().ends_with(";base64") {
    let text: String = percent_encoding::percent_decode_str(data)
      .decode_utf8_lossy()
      .chars()
      .filter(|c| !c.is_ascii_whitespace())
      .collect();
    crate::platform::ipc::decode_base64(&text).ok_or_else(bad)?
  } else {
    percent_encoding::percent_decode_str(data).collect()
  };
  String::from_utf8(bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn data_urls_decode() {
    let u = |s: &str| Url::parse(s).unwrap();
    assert_eq!(
      data_url_text(&u("data:text/javascript,a%20%3D%201")).unwrap(),
      "a = 1"
    );
    assert_eq!(
      data_url_text(&u("data:text/javascript;base64,YSA9IDE=")).unwrap(),
      "a = 1"
    );
    assert!(data_url_text(&u("data:text/javascript;base64,*")).is_err());
  }
}
