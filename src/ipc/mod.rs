//! The message protocol between realms (JavaScript, one thread each) and
//! the browser side. Realms never share JS objects: every call carries
//! JSON, and structured-clone payloads travel as serialized bytes inside it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// Identifies one realm (a service worker version's global or a client).
pub type RealmId = u64;

/// An error as JavaScript sees it: `name` selects the constructor
/// (`TypeError`, `RangeError`, or a DOMException name such as
/// `InvalidStateError`), `message` its text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostError {
  pub name: String,
  pub message: String,
}

impl HostError {
  pub fn new(name: &str, message: impl Into<String>) -> Self {
    HostError {
      name: name.to_string(),
      message: message.into(),
    }
  }
  pub fn type_error(message: impl Into<String>) -> Self {
    Self::new("TypeError", message)
  }
  pub fn invalid_state(message: impl Into<String>) -> Self {
    Self::new("InvalidStateError", message)
  }
}

impl std::fmt::Display for HostError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "{}: {}", self.name, self.message)
  }
}

impl From<anyhow::Error> for HostError {
  fn from(e: anyhow::Error) -> Self {
    HostError::new("Error", format!("{e:#}"))
  }
}

pub type HostResult = Result<Value, HostError>;

/// Where the answer to a realm's call goes: an awaiting promise, or a
/// realm thread blocked in a synchronous op (such as `importScripts`).
pub enum Reply {
  Async(oneshot::Sender<HostResult>),
  Sync(std::sync::mpsc::Sender<HostResult>),
  /// As a command to the realm (`rust:reply`), in order with the
  /// commands the browser sends after it: the call's id, and whether the
  /// pending call keeps the realm alive.
  Ordered {
    id: u64,
    keeps_alive: bool,
  },
}

impl Reply {
  pub fn send(self, result: HostResult) {
    match self {
      Reply::Async(tx) => {
        let _ = tx.send(result);
      }
      Reply::Sync(tx) => {
        let _ = tx.send(result);
      }
      // Sent by the browser as a command (it needs the realm's queue).
      Reply::Ordered { .. } => {}
    }
  }
}

/// Messages a realm sends to the browser.
pub enum HostMsg {
  Call {
    realm: RealmId,
    method: String,
    args: Value,
    reply: Reply,
  },
  Console {
    realm: RealmId,
    level: u32,
    text: String,
  },
  /// The realm has nothing left to run; `received` counts the commands it
  /// has taken so far, so the browser can tell a stale report.
  Idle { realm: RealmId, received: u64 },
  /// A script error the page did not handle (uncaught exception or
  /// unhandled rejection), already formatted with its stack.
  Uncaught { realm: RealmId, text: String },
  /// The realm's thread has ended.
  Exited { realm: RealmId },
}

pub type HostSender = mpsc::UnboundedSender<HostMsg>;

/// A command the browser sends into a realm: `kind` names the handler
/// registered by the realm's JavaScript, `payload` its argument.
pub struct RealmCmd {
  pub kind: String,
  pub payload: Value,
  pub reply: Option<oneshot::Sender<HostResult>>,
}
