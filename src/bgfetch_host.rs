//! Glue between the Background Fetch engine and the rest of the browser.
//! (Being filled in: the engine lands in `bgfetch/`.)

use serde_json::Value;

use crate::browser::Browser;
use crate::host::{HostError, HostResult, RealmId};

pub(crate) async fn start(_browser: &Browser) -> anyhow::Result<()> {
  Ok(())
}

pub(crate) fn busy(_browser: &Browser) -> bool {
  false
}

pub(crate) fn on_worker_activated(_browser: &Browser, _scope: &str) {}

pub(crate) async fn handle(
  _browser: &Browser,
  _realm: RealmId,
  method: &str,
  _args: Value,
) -> HostResult {
  Err(HostError::type_error(format!(
    "unknown call bgfetch.{method}"
  )))
}

pub(crate) async fn user_click(_browser: &Browser, _realm: RealmId, id: &str) -> HostResult {
  Err(HostError::type_error(format!("no background fetch '{id}'")))
}

pub(crate) async fn user_cancel(_browser: &Browser, _realm: RealmId, id: &str) -> HostResult {
  Err(HostError::type_error(format!("no background fetch '{id}'")))
}

pub(crate) fn ui_state(_browser: &Browser, _realm: RealmId, _id: &str) -> HostResult {
  Ok(Value::Null)
}

pub(crate) fn set_online(_browser: &Browser, _online: bool) {}

/// The file behind a body token (`cache:N` or a Background Fetch body).
pub(crate) fn resolve_body_token(browser: &Browser, token: &str) -> Option<std::path::PathBuf> {
  let id = token.strip_prefix("cache:")?.parse().ok()?;
  crate::cache_storage::body_path(browser, id)
}
