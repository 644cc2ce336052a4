//! BroadcastChannel (HTML, "Broadcasting to other browsing contexts"): a
//! message posted on a channel reaches every other realm of the same
//! origin (the worker and its pages), where each `BroadcastChannel` of that
//! name that is still open fires `message` (`js/broadcast_channel/`). The
//! browser only routes: it keeps no channel and no message.
//!
//! It may use the core (`browser`, `ipc`).

use std::any::Any;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::platform::browser::{Feature, RealmCall};
use crate::platform::ipc::{decode_call, Command, HostResult};

crate::platform::ipc::realm_calls! {
  enum Call {
    /// A message (structured-cloned, base64) posted on channel `name`.
    Post { name: String, data: String },
  }
}

/// A message for the realm's channels named `name`.
#[derive(Serialize)]
struct BroadcastMessage<'a> {
  name: &'a str,
  data: &'a str,
  origin: &'a str,
}

impl Command for BroadcastMessage<'_> {
  const KIND: &'static str = "broadcastMessage";
}

/// The feature.
#[derive(Default)]
pub struct BroadcastChannels;

impl Feature for BroadcastChannels {
  fn namespace(&self) -> &'static str {
    "broadcastChannel"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(async move {
      let Call::Post { name, data } = decode_call::<Call>("broadcastChannel", c.method, c.args)?;
      // "postMessage(message)", steps 4-6: every other realm of the same
      // origin (the sender's own other channels are its own business).
      let (browser, realm) = (c.browser, c.realm);
      let origin = browser.realm_origin(realm)?;
      let serialized = origin.ascii_serialization();
      for other in browser.realm_ids() {
        if other != realm
          && browser
            .realm_url(other)
            .is_some_and(|u| u.origin() == origin)
        {
          browser.post(
            other,
            &BroadcastMessage {
              name: &name,
              data: &data,
              origin: &serialized,
            },
          );
        }
      }
      Ok(Value::Null)
    })
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
