//! The ops our JavaScript calls: console output, calls to the browser side,
//! the dispatcher through which the browser calls in, and body streaming.

use std::cell::RefCell;
use std::rc::Rc;

use deno_core::{op2, v8, OpState};
use deno_error::JsErrorBox;
use serde_json::Value;

use crate::ipc::{HostError, HostMsg, HostResult, HostSender, RealmId, Reply};

/// Per-realm state kept in the op state.
#[derive(Clone)]
pub struct RealmCtx {
  pub id: RealmId,
  pub host: HostSender,
}

/// The JS function the browser calls into (set once by `99_main.js`).
pub struct Dispatcher(pub v8::Global<v8::Function>);

fn encode(result: HostResult) -> String {
  match result {
    Ok(v) => serde_json::json!({ "ok": v }).to_string(),
    Err(e) => serde_json::json!({ "error": e }).to_string(),
  }
}

fn parse_args(json: &str) -> Result<Value, JsErrorBox> {
  serde_json::from_str(json).map_err(|e| JsErrorBox::type_error(e.to_string()))
}

#[op2(fast)]
pub fn op_swh_console(state: &mut OpState, level: u32, #[string] text: &str) {
  let ctx = state.borrow::<RealmCtx>();
  let _ = ctx.host.send(HostMsg::Console {
    realm: ctx.id,
    level,
    text: text.to_string(),
  });
}

/// An exception a script did not catch (an event listener threw, say),
/// reported as the page's error handling reports it: the run counts it and
/// prints it, and the task that threw goes on (deno_core's own
/// `reportUnhandledException` would end the realm's current task).
#[op2(fast)]
pub fn op_swh_report_uncaught(state: &mut OpState, #[string] text: &str) {
  let ctx = state.borrow::<RealmCtx>();
  let _ = ctx.host.send(HostMsg::Uncaught {
    realm: ctx.id,
    text: text.to_string(),
  });
}

/// Starts a call whose answer comes back as a `rust:reply` command with
/// this `id`, in order with the browser's other commands (an op's result
/// would be delivered by its own task, possibly after later commands).
/// False if the browser has shut down.
#[op2(fast)]
pub fn op_swh_call(
  state: &mut OpState,
  #[string] method: String,
  #[string] args: String,
  #[number] id: u64,
  keeps_alive: bool,
) -> Result<bool, JsErrorBox> {
  let args = parse_args(&args)?;
  let ctx = state.borrow::<RealmCtx>().clone();
  let sent = ctx
    .host
    .send(HostMsg::Call {
      realm: ctx.id,
      method,
      args,
      reply: Reply::Ordered { id, keeps_alive },
    })
    .is_ok();
  if sent {
    state
      .borrow_mut::<crate::engine::realm::OutstandingCalls>()
      .called(keeps_alive);
  }
  Ok(sent)
}

/// Pending while the realm has calls outstanding (those that keep it
/// alive, or all of them): the engine then sees work in progress, so that
/// a module's top-level await on a call is waiting, not stalled. The JS
/// side unrefs the promise for calls that do not keep the realm alive.
#[op2]
pub async fn op_swh_keepalive(state: Rc<RefCell<OpState>>, keeping_alive: bool) {
  loop {
    let zero = {
      let state = state.borrow();
      let calls = state.borrow::<crate::engine::realm::OutstandingCalls>();
      match keeping_alive {
        true if calls.keeping_alive > 0 => calls.none_keeping_alive.clone(),
        false if calls.all > 0 => calls.none.clone(),
        _ => return,
      }
    };
    zero.notified().await;
  }
}

/// Base64 of bytes, as an ordinary string. deno_web's encoder hands a
/// result over 8 KiB to the engine as an external string, which the
/// QuickJS backend (v8x) keeps in a table it never empties: every large
/// message, cache body or IndexedDB value encoded that way stayed in
/// memory for the realm's life.
#[op2]
#[string]
pub fn op_swh_base64_encode(#[buffer] bytes: &[u8]) -> String {
  crate::ipc::encode_base64(bytes)
}

/// Fetch's bad-port list, for the checks `fetch()` makes in JavaScript
/// (the browser side checks redirects against the same list).
#[op2]
#[serde]
pub fn op_swh_bad_ports() -> Vec<u16> {
  crate::net::policy::BAD_PORTS.to_vec()
}

/// Fetch's CORS-preflight condition for a realm's own request: the
/// CORS-unsafe request-header names (sorted, lowercase) when a preflight is
/// needed, `None` when not (`net::cors`, as Background Fetch uses it).
#[op2]
#[serde]
pub fn op_swh_cors_preflight(
  #[string] method: String,
  #[serde] headers: Vec<(String, String)>,
) -> Option<Vec<String>> {
  let (needed, names) = crate::net::cors::preflight_needed(&method, &headers);
  needed.then_some(names)
}

/// Fetch's "CORS check" of a response for the serialized `origin`: why it
/// fails, or "" when it passes.
#[op2]
#[string]
pub fn op_swh_cors_check(
  #[string] origin: String,
  #[serde] headers: Vec<(String, String)>,
  credentials: bool,
) -> String {
  crate::net::cors::check_response(&origin, &headers, credentials)
    .err()
    .unwrap_or_default()
}

/// The checks of a CORS-preflight response: why it fails, or "".
#[op2]
#[string]
pub fn op_swh_cors_check_preflight(
  #[string] origin: String,
  #[smi] status: u32,
  #[serde] headers: Vec<(String, String)>,
  #[string] method: String,
  #[serde] names: Vec<String>,
  credentials: bool,
) -> String {
  let status = u16::try_from(status).unwrap_or(0);
  crate::net::cors::check_preflight(&origin, status, &headers, &method, &names, credentials)
    .err()
    .unwrap_or_default()
}

/// Never resolves. Client modules start one, unref'd: with it pending, the
/// engine does not take a top-level await that waits for a message or an
/// event for a stalled module (a page may wait for the browser), while an
/// unref'd op does not keep the realm busy.
#[op2]
pub async fn op_swh_park() {
  std::future::pending::<()>().await
}

/// The synchronous form, for the few calls the platform makes blocking
/// (`importScripts`, `swharness.uiState`).
#[op2]
#[string]
pub fn op_swh_host_sync(
  state: &mut OpState,
  #[string] method: String,
  #[string] args: String,
) -> Result<String, JsErrorBox> {
  let args = parse_args(&args)?;
  let ctx = state.borrow::<RealmCtx>().clone();
  let (tx, rx) = std::sync::mpsc::channel();
  let sent = ctx.host.send(HostMsg::Call {
    realm: ctx.id,
    method,
    args,
    reply: Reply::Sync(tx),
  });
  if sent.is_err() {
    return Ok(encode(Err(HostError::invalid_state(
      "the browser has shut down",
    ))));
  }
  let result = rx
    .recv()
    .unwrap_or_else(|_| Err(HostError::invalid_state("the browser has shut down")));
  Ok(encode(result))
}

#[op2]
pub fn op_swh_set_dispatcher(state: &mut OpState, #[scoped] f: v8::Global<v8::Function>) {
  state.put(Dispatcher(f));
}

/// Reads up to `len` bytes at `offset` of a stored response body; the
/// browser side names the body by an opaque token, never a path from JS.
#[op2]
#[buffer]
pub async fn op_swh_read_body(
  state: Rc<RefCell<OpState>>,
  #[string] token: String,
  #[number] offset: u64,
  #[number] len: u64,
) -> Result<Vec<u8>, JsErrorBox> {
  let ctx = state.borrow().borrow::<RealmCtx>().clone();
  let (tx, rx) = tokio::sync::oneshot::channel();
  let sent = ctx.host.send(HostMsg::Call {
    realm: ctx.id,
    method: "browser.bodyPath".into(),
    args: serde_json::json!({ "token": token }),
    reply: Reply::Async(tx),
  });
  if sent.is_err() {
    return Err(JsErrorBox::type_error("the browser has shut down"));
  }
  let path = rx
    .await
    .map_err(|_| JsErrorBox::type_error("the browser has shut down"))?
    .map_err(|e| JsErrorBox::type_error(e.message))?;
  let path = path.as_str().unwrap_or_default().to_string();
  read_chunk(&path, offset, len.min(1 << 20))
    .await
    .map_err(|e| JsErrorBox::type_error(format!("could not read a stored body: {e}")))
}

async fn read_chunk(path: &str, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
  use tokio::io::{AsyncReadExt, AsyncSeekExt};
  let mut file = tokio::fs::File::open(path).await?;
  file.seek(std::io::SeekFrom::Start(offset)).await?;
  let mut buf = vec![0u8; len as usize];
  let mut filled = 0;
  while filled < buf.len() {
    let n = file.read(&mut buf[filled..]).await?;
    if n == 0 {
      break;
    }
    filled += n;
  }
  buf.truncate(filled);
  Ok(buf)
}

/// The dispatcher's answer to a browser command (see `realm::handle_cmd`).
#[op2(fast)]
pub fn op_swh_reply(state: &mut OpState, #[number] id: u64, #[string] json: &str) {
  state
    .borrow_mut::<crate::engine::realm::PendingReplies>()
    .settle(id, json);
}
