//! The message protocol between realms (JavaScript, one thread each) and
//! the browser side: the bottom layer, used by every other and using none.
//! Realms never share JS objects: every call carries JSON, and
//! structured-clone payloads travel as serialized bytes (base64) inside it.
//!
//! A realm's call is a method (`"namespace.name"`) and its arguments; each
//! answerer decodes them once, into its own serde enum, with
//! [`decode_call`]. The browser's commands into a realm are typed too:
//! each is a struct that implements [`Command`].

use serde::de::DeserializeOwned;
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
  /// A realm thread blocked in a synchronous op that still runs the
  /// commands the browser hands it for that call (see
  /// [`Browser::request_reentrant`](crate::platform::browser::Browser::request_reentrant)).
  Serving(std::sync::mpsc::Sender<SyncMsg>),
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
      Reply::Serving(tx) => {
        let _ = tx.send(SyncMsg::Answer(result));
      }
      // Sent by the browser as a command (it needs the realm's queue).
      Reply::Ordered { .. } => {}
    }
  }
}

/// A realm call that the realm's own thread may answer, without a detour
/// through the browser's thread: given the call's arguments and where its
/// answer goes, it answers now, takes the call (and answers later), or
/// declines and gives them back for the browser. Chromium's controllee
/// talks to its controller the same way, not through the browser process:
/// a fetch event goes from the page straight to its running worker.
pub type Shortcut = std::sync::Arc<dyn Fn(Value, Reply) -> Shortcutting + Send + Sync>;

/// What a [`Shortcut`] did with a call.
pub enum Shortcutting {
  /// The answer, at once: the caller has it before it returns.
  Answered(HostResult),
  /// Taken: the answer goes to the `Reply` later.
  Taken,
  /// Declined: the call goes to the browser.
  Declined(Value, Reply),
}

/// A realm's shortcuts, by method, set by the browser (the realm's
/// `op_swh_call` looks here first).
#[derive(Default)]
pub struct Shortcuts(std::sync::Mutex<std::collections::HashMap<&'static str, Shortcut>>);

impl Shortcuts {
  pub fn set(&self, method: &'static str, shortcut: Shortcut) {
    if let Ok(mut map) = self.0.lock() {
      map.insert(method, shortcut);
    }
  }

  pub fn get(&self, method: &str) -> Option<Shortcut> {
    self.0.lock().ok()?.get(method).cloned()
  }
}

/// What a realm blocked in a serving synchronous call receives: its answer,
/// or a command to run meanwhile (a frame reaching back into it).
pub enum SyncMsg {
  Answer(HostResult),
  Run(RealmCmd),
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
  /// The realm has run all it could for now, after operating on another
  /// realm's objects ([`CMD_FRAME_OP`]): its task is over.
  Yielded { realm: RealmId },
}

pub type HostSender = mpsc::UnboundedSender<HostMsg>;

/// Declares a feature's realm calls: one enum, decoded once by
/// [`decode_call`] (tagged by `method` with its fields in `args`,
/// camelCase names, unknown fields refused). Use it as
/// `crate::platform::ipc::realm_calls! { enum Call { Get { scope: String }, ... } }`.
macro_rules! realm_calls {
  ($(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
    $(#[$meta])*
    #[derive(serde::Deserialize)]
    #[serde(
      tag = "method",
      content = "args",
      rename_all = "camelCase",
      rename_all_fields = "camelCase",
      deny_unknown_fields
    )]
    $vis enum $name { $($body)* }
  };
}
pub(crate) use realm_calls;

/// A command the browser sends into a realm: `kind` names the handler
/// registered by the realm's JavaScript, `payload` its argument.
pub struct RealmCmd {
  pub kind: String,
  pub payload: Value,
  pub reply: Option<ReplyTo>,
}

/// Where the result of a command sent into a realm goes.
pub enum ReplyTo {
  /// The browser task that waits for it.
  Waiting(oneshot::Sender<HostResult>),
  /// A function run on the realm's own thread as soon as the handler
  /// settles: it passes the result on without waking the browser (a fetch
  /// event's answer goes from the worker straight to the page).
  Then(Then),
}

impl ReplyTo {
  pub fn send(self, result: HostResult) {
    match self {
      ReplyTo::Waiting(tx) => {
        let _ = tx.send(result);
      }
      ReplyTo::Then(mut then) => {
        if let Some(f) = then.0.take() {
          f(result)
        }
      }
    }
  }
}

/// The function of [`ReplyTo::Then`]. Dropped uncalled (the realm ended
/// before it answered, or was gone already), it is called with an
/// InvalidStateError, as a dropped [`ReplyTo::Waiting`] is seen: whoever
/// waits on it is never left waiting.
pub struct Then(Option<Box<dyn FnOnce(HostResult) + Send>>);

impl Then {
  pub fn new(f: impl FnOnce(HostResult) + Send + 'static) -> Self {
    Then(Some(Box::new(f)))
  }
}

impl Drop for Then {
  fn drop(&mut self) {
    if let Some(f) = self.0.take() {
      f(Err(HostError::invalid_state("the realm ended")));
    }
  }
}

/// Decodes a realm's call into `T`, an enum tagged by `method` with its
/// fields in `args` (`#[serde(tag = "method", content = "args")]`). A
/// wrong or missing field is a TypeError that names the call and the
/// field, never a silent default.
pub fn decode_call<T: DeserializeOwned>(
  namespace: &str,
  method: &str,
  args: Value,
) -> Result<T, HostError> {
  let args = if args.is_null() {
    Value::Object(Default::default())
  } else {
    args
  };
  let tagged = serde_json::json!({ "method": method, "args": args });
  serde_path_to_error::deserialize(tagged).map_err(|e| {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    if inner.starts_with("unknown variant") {
      return HostError::type_error(format!("unknown browser call '{namespace}.{method}'"));
    }
    match path.strip_prefix("args.") {
      Some(field) => {
        HostError::type_error(format!("{namespace}.{method}: argument '{field}': {inner}"))
      }
      None => HostError::type_error(format!("{namespace}.{method}: {inner}")),
    }
  })
}

/// A command the browser sends into a realm: its payload, and the `kind`
/// its handler is registered under (`onBrowserCommand(kind, ...)` in JS,
/// or the realm thread itself for the `rust:` kinds).
pub trait Command: Serialize {
  const KIND: &'static str;
}

/// Evaluates a classic script in the realm (`CMD_EVALUATE`).
#[derive(Serialize, Deserialize)]
pub struct Evaluate {
  pub name: String,
  pub source: String,
}

impl Command for Evaluate {
  const KIND: &'static str = CMD_EVALUATE;
}

/// Ends the realm's thread (`CMD_SHUTDOWN`).
#[derive(Serialize)]
pub struct Shutdown;

impl Command for Shutdown {
  const KIND: &'static str = CMD_SHUTDOWN;
}

/// The answer to a realm's call, as a command in order with the others
/// (`CMD_REPLY`, see [`Reply::Ordered`]).
#[derive(Serialize)]
pub struct CallReply {
  pub id: u64,
  /// `{"ok": value}` or `{"error": HostError}`.
  pub result: Value,
  #[serde(rename = "keepsAlive")]
  pub keeps_alive: bool,
}

impl Command for CallReply {
  const KIND: &'static str = CMD_REPLY;
}

/// Commands the realm thread handles itself rather than in JavaScript.
pub const CMD_EVALUATE: &str = "rust:evaluate";
pub const CMD_SHUTDOWN: &str = "rust:shutdown";
/// The answer to one of the realm's calls ([`Reply::Ordered`]), handled in
/// JavaScript like any command, so that it keeps its order.
pub const CMD_REPLY: &str = "rust:reply";
/// Another realm's operation on one of the realm's objects (a frame's
/// proxy, `service_worker::frames`). Once it has run one, the realm runs
/// nothing else but such operations until [`CMD_FRAME_RELEASE`]: the realm
/// that made it is still in its task, and same-origin frames share one
/// event loop, so nothing of this realm may run before that task ends.
pub const CMD_FRAME_OP: &str = "frameOp";
/// The realm that held this one with [`CMD_FRAME_OP`] has ended its task.
pub const CMD_FRAME_RELEASE: &str = "rust:frameRelease";

/// See [`CMD_FRAME_RELEASE`].
#[derive(Serialize)]
pub struct FrameRelease;

impl Command for FrameRelease {
  const KIND: &'static str = CMD_FRAME_RELEASE;
}

/// A no-op the realm counts like any command: the browser sends it to make
/// every realm take one more turn of its event loop, so that a MessagePort
/// message already on its way is delivered before the run is found quiet.
pub const CMD_PING: &str = "rust:ping";

/// See [`CMD_PING`].
#[derive(Serialize)]
pub struct Ping;

impl Command for Ping {
  const KIND: &'static str = CMD_PING;
}

/// Standard base64 (with or without padding), as realms send bodies and
/// messages (`btoaBytes` in `js/ipc/01_host.js`).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
  let mut out = Vec::with_capacity(s.len() * 3 / 4);
  let mut acc = 0u32;
  let mut bits = 0;
  for c in s.bytes() {
    let v = match c {
      b'A'..=b'Z' => c - b'A',
      b'a'..=b'z' => c - b'a' + 26,
      b'0'..=b'9' => c - b'0' + 52,
      b'+' => 62,
      b'/' => 63,
      b'=' | b'\n' | b'\r' => continue,
      _ => return None,
    } as u32;
    acc = (acc << 6) | v;
    bits += 6;
    if bits >= 8 {
      bits -= 8;
      out.push((acc >> bits) as u8);
    }
  }
  Some(out)
}

/// Standard base64 with padding (what `atobBytes` in JS decodes).
pub fn encode_base64(bytes: &[u8]) -> String {
  const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
  for chunk in bytes.chunks(3) {
    let b = [
      chunk[0],
      *chunk.get(1).unwrap_or(&0),
      *chunk.get(2).unwrap_or(&0),
    ];
    let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
      if i <= chunk.len() {
        out.push(ABC[((n >> shift) & 63) as usize] as char);
      } else {
        out.push('=');
      }
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  realm_calls! {
    #[derive(Debug, PartialEq)]
    enum Call {
      Get { scope: String, max_age: Option<u64> },
      Names {},
    }
  }

  #[test]
  fn calls_decode_once_and_name_the_bad_field() {
    let ok: Call = decode_call("t", "get", serde_json::json!({"scope": "s", "maxAge": 3})).unwrap();
    assert_eq!(
      ok,
      Call::Get {
        scope: "s".into(),
        max_age: Some(3)
      }
    );
    let ok: Call = decode_call("t", "names", Value::Null).unwrap();
    assert_eq!(ok, Call::Names {});
    let e = decode_call::<Call>("t", "get", serde_json::json!({"scope": 1})).unwrap_err();
    assert_eq!(e.name, "TypeError");
    assert!(e.message.contains("'scope'"), "{}", e.message);
    let e = decode_call::<Call>("t", "get", serde_json::json!({"scpe": "s"})).unwrap_err();
    assert!(
      e.message.contains("scpe") || e.message.contains("scope"),
      "{}",
      e.message
    );
    let e =
      decode_call::<Call>("t", "get", serde_json::json!({"scope": "s", "extra": 1})).unwrap_err();
    assert!(e.message.contains("extra"), "{}", e.message);
    let e = decode_call::<Call>("t", "put", Value::Null).unwrap_err();
    assert_eq!(e.message, "unknown browser call 't.put'");
  }

  #[test]
  fn base64_round_trips() {
    for data in [&b""[..], b"h", b"hi", b"hi!", b"\x00\xff\x10hello"] {
      assert_eq!(decode_base64(&encode_base64(data)).unwrap(), data);
    }
    assert_eq!(encode_base64(b"hi"), "aGk=");
  }

  #[test]
  fn base64_decodes_with_and_without_padding() {
    assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
    assert_eq!(decode_base64("aGk").unwrap(), b"hi");
    assert!(decode_base64("a*").is_none());
  }
}
