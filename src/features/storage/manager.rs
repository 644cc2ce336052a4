//! StorageManager (the Storage spec, `navigator.storage`): `estimate()`
//! sums what every feature stores for the caller's origin (Cache Storage,
//! Background Fetch bodies) against the origin's quota (`--quota`);
//! `persist()` grants persistence (a headless run has no user to ask) and
//! `persisted()` says whether it was granted, for this run.

use std::any::Any;
use std::collections::HashSet;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::json;

use crate::platform::browser::{Feature, RealmCall};
use crate::platform::ipc::{decode_call, HostResult};

crate::platform::ipc::realm_calls! {
  enum Call {
    Estimate {},
    Persist {},
    Persisted {},
  }
}

/// The feature: the origins that asked for persistence.
#[derive(Default)]
pub struct StorageManager {
  persisted: Mutex<HashSet<String>>,
}

impl Feature for StorageManager {
  fn namespace(&self) -> &'static str {
    "storage"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(async move {
      let call = decode_call::<Call>("storage", c.method, c.args)?;
      let origin = c.browser.realm_origin(c.realm)?.ascii_serialization();
      let persisted = || self.persisted.lock().unwrap_or_else(|p| p.into_inner());
      Ok(match call {
        // Storage, "estimate()", steps 5.2-5.3: usage and quota of the
        // origin's storage shelf.
        Call::Estimate {} => json!({
          "usage": c.browser.usage(&origin),
          "quota": c.browser.opts().quota,
        }),
        // Storage, "persist()": granted.
        Call::Persist {} => {
          persisted().insert(origin);
          json!(true)
        }
        Call::Persisted {} => json!(persisted().contains(&origin)),
      })
    })
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
