//! The ops our JavaScript calls: console output, calls to the browser side,
//! the dispatcher through which the browser calls in, and body streaming.

use std::cell::RefCell;
use std::rc::Rc;

use deno_core::{op2, v8, OpState};
use deno_error::JsErrorBox;
use serde_json::Value;

use crate::platform::ipc::{
  HostError, HostMsg, HostResult, HostSender, RealmId, Reply, Shortcutting,
};

/// Per-realm state kept in the op state.
#[derive(Clone)]
pub struct RealmCtx {
  pub id: RealmId,
  pub host: HostSender,
  pub shortcuts: std::sync::Arc<crate::platform::ipc::Shortcuts>,
}

impl RealmCtx {
  /// Sends the realm's call `method(args)` to the browser, its answer to
  /// go to `reply`; false if the browser has shut down.
  fn call(&self, method: String, args: Value, reply: Reply) -> bool {
    self
      .host
      .send(HostMsg::Call {
        realm: self.id,
        method,
        args,
        reply,
      })
      .is_ok()
  }
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
/// Returns "" then, "!" if the browser has shut down, or the answer itself
/// (`{"ok": ...}` or `{"error": ...}`) when a shortcut gave it at once.
#[op2]
#[string]
pub fn op_swh_call(
  state: &mut OpState,
  #[string] method: String,
  #[string] args: String,
  #[number] id: u64,
  keeps_alive: bool,
) -> Result<String, JsErrorBox> {
  let args = parse_args(&args)?;
  let ctx = state.borrow::<RealmCtx>().clone();
  let reply = Reply::Ordered { id, keeps_alive };
  // A shortcut only while no other call is unanswered: the browser has
  // then done all the realm asked before (posted its messages, say), and
  // what the shortcut does comes after it.
  let idle = state
    .borrow::<crate::platform::engine::realm::OutstandingCalls>()
    .all
    == 0;
  let shortcut = if idle {
    ctx.shortcuts.get(&method)
  } else {
    None
  };
  let outcome = match shortcut {
    Some(shortcut) => shortcut(args, reply),
    None => Shortcutting::Declined(args, reply),
  };
  let sent = match outcome {
    Shortcutting::Answered(result) => return Ok(encode(result)),
    Shortcutting::Taken => true,
    Shortcutting::Declined(args, reply) => ctx.call(method, args, reply),
  };
  if !sent {
    return Ok("!".into());
  }
  state
    .borrow_mut::<crate::platform::engine::realm::OutstandingCalls>()
    .called(keeps_alive);
  Ok(String::new())
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
      let calls = state.borrow::<crate::platform::engine::realm::OutstandingCalls>();
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
  crate::platform::ipc::encode_base64(bytes)
}

/// Fetch's bad-port list, for the checks `fetch()` makes in JavaScript
/// (the browser side checks redirects against the same list).
#[op2]
#[serde]
pub fn op_swh_bad_ports() -> Vec<u16> {
  crate::platform::net::policy::BAD_PORTS.to_vec()
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
  let (needed, names) = crate::platform::net::cors::preflight_needed(&method, &headers);
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
  crate::platform::net::cors::check_response(&origin, &headers, credentials)
    .err()
    .unwrap_or_default()
}

type Jar = std::sync::Arc<crate::platform::net::cookies::CookieJar>;

fn parse_url(url: &str) -> Result<url::Url, JsErrorBox> {
  url::Url::parse(url).map_err(|e| JsErrorBox::type_error(format!("invalid URL {url}: {e}")))
}

/// The `Cookie` header of a realm's request to `url` made by `initiator`
/// (the realm's URL), or "" when no cookie goes. The caller asks only
/// when Fetch's credentials mode lets cookies go.
#[op2]
#[string]
pub fn op_swh_cookie_header(
  state: &mut OpState,
  #[string] url: String,
  #[string] initiator: String,
) -> Result<String, JsErrorBox> {
  let (url, initiator) = (parse_url(&url)?, url::Url::parse(&initiator).ok());
  let cx = crate::platform::net::cookies::Context {
    initiator: initiator.as_ref(),
    top_level_get: false,
  };
  Ok(
    state
      .borrow::<Jar>()
      .header_for(&url, cx)
      .unwrap_or_default(),
  )
}

/// Keeps the cookies (`Set-Cookie` values) of a response to a realm's
/// request to `url`.
#[op2]
pub fn op_swh_cookie_store(
  state: &mut OpState,
  #[string] url: String,
  #[string] initiator: String,
  #[serde] values: Vec<String>,
) -> Result<(), JsErrorBox> {
  let (url, initiator) = (parse_url(&url)?, url::Url::parse(&initiator).ok());
  let cx = crate::platform::net::cookies::Context {
    initiator: initiator.as_ref(),
    top_level_get: false,
  };
  state
    .borrow::<Jar>()
    .store_from(&url, values.iter().map(String::as_str), cx);
  Ok(())
}

/// `document.cookie` of the document at `url` (`text` None) or its
/// assignment.
#[op2]
#[string]
pub fn op_swh_document_cookie(
  state: &mut OpState,
  #[string] url: String,
  #[string] text: Option<String>,
) -> Result<String, JsErrorBox> {
  let url = parse_url(&url)?;
  let jar = state.borrow::<Jar>();
  match text {
    Some(text) => {
      jar.set_document_cookie(&url, &text);
      Ok(String::new())
    }
    None => Ok(jar.document_cookie(&url)),
  }
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
  crate::platform::net::cors::check_preflight(
    &origin,
    status,
    &headers,
    &method,
    &names,
    credentials,
  )
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
  if !ctx.call(method, args, Reply::Sync(tx)) {
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
  let args = serde_json::json!({ "token": token });
  if !ctx.call("browser.bodyPath".into(), args, Reply::Async(tx)) {
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
    .borrow_mut::<crate::platform::engine::realm::PendingReplies>()
    .settle(id, json);
}

/// MessagePort messages posted or delivered in this process, by every
/// realm: a receiving port does not keep its realm busy, so the run's quiet
/// check makes every realm take one more turn and is satisfied only when
/// this count did not move meanwhile (`Browser::wait_quiet`).
static PORT_ACTIVITY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The count of MessagePort messages posted or delivered so far.
pub fn port_activity() -> u64 {
  PORT_ACTIVITY.load(std::sync::atomic::Ordering::SeqCst)
}

/// A MessagePort of this realm started receiving, or posted or delivered
/// a message (`message`), see `js/engine/05_message_ports.js`.
#[op2(fast)]
pub fn op_swh_port_activity(state: &mut OpState, message: bool) {
  if message {
    PORT_ACTIVITY.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
  }
  if let Some(turns) = state.try_borrow_mut::<crate::platform::engine::realm::PortTurns>() {
    turns.0 += 1;
  }
}

/// Transferred objects (MessagePorts, ...) between `op_swh_transfer_park`
/// and `op_swh_transfer_adopt`: a message that transfers them goes to
/// another realm (another thread) through the browser as JSON, and they
/// wait here under a token it carries.
static PARKED: std::sync::LazyLock<
  std::sync::Mutex<std::collections::HashMap<u64, Vec<deno_web::Transferable>>>,
> = std::sync::LazyLock::new(Default::default);
static NEXT_PARKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Takes a message's transferables (deno_web's `serializeJsMessageData`
/// list) out of this realm; the token they wait under.
#[op2]
#[number]
pub fn op_swh_transfer_park(
  state: &mut OpState,
  #[serde] transferables: serde_json::Value,
) -> Result<u64, JsErrorBox> {
  let list = serde_json::from_value(transferables)
    .map_err(|e| JsErrorBox::type_error(format!("bad transfer list: {e}")))?;
  let parked = deno_web::deserialize_js_transferables(state, list)
    .map_err(|e| JsErrorBox::new("DataCloneError", e.to_string()))?;
  let token = NEXT_PARKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
  PARKED
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .insert(token, parked);
  Ok(token)
}

/// Puts the transferables parked under `token` into this realm: the list
/// deno_web's `deserializeJsMessageData` takes.
#[op2]
#[serde]
pub fn op_swh_transfer_adopt(
  state: &mut OpState,
  #[number] token: u64,
) -> Result<serde_json::Value, JsErrorBox> {
  let parked = PARKED
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .remove(&token)
    .ok_or_else(|| JsErrorBox::type_error("the transferred objects are gone"))?;
  let list = parked
    .into_iter()
    .map(|t| match t {
      deno_web::Transferable::Resource(name, tx) => {
        let rid = state.resource_table.add_rc_dyn(tx.receive());
        serde_json::json!({"kind": "resource", "data": [name, rid]})
      }
      deno_web::Transferable::MultiResource(name, txs) => {
        let rids: Vec<_> = txs
          .into_iter()
          .map(|tx| state.resource_table.add_rc_dyn(tx.receive()))
          .collect();
        serde_json::json!({"kind": "multiResource", "data": [name, rids]})
      }
      deno_web::Transferable::ArrayBuffer(id) => {
        serde_json::json!({"kind": "arrayBuffer", "data": id})
      }
    })
    .collect();
  Ok(serde_json::Value::Array(list))
}

/// `op_swh_host_sync` for a call during which the realm still runs the
/// commands the browser hands it for that call (`SyncMsg::Run`: a frame
/// operation from a frame this realm is waiting for), each through the
/// dispatcher, inside this op, as a same-thread callback would run.
#[op2(reentrant)]
#[string]
pub fn op_swh_host_sync_serving<'s, 'i>(
  scope: &mut v8::PinScope<'s, 'i>,
  state: Rc<RefCell<OpState>>,
  #[string] method: String,
  #[string] args: String,
) -> Result<String, JsErrorBox> {
  let args = parse_args(&args)?;
  let (ctx, dispatcher) = {
    let s = state.borrow();
    (
      s.borrow::<RealmCtx>().clone(),
      s.try_borrow::<Dispatcher>().map(|d| d.0.clone()),
    )
  };
  let (tx, rx) = std::sync::mpsc::channel();
  let gone = || encode(Err(HostError::invalid_state("the browser has shut down")));
  if let Some(flag) = state
    .borrow_mut()
    .try_borrow_mut::<crate::platform::engine::realm::OperatedOnFrames>()
  {
    flag.0 = true;
  }
  if !ctx.call(method, args, Reply::Serving(tx)) {
    return Ok(gone());
  }
  loop {
    let cmd = match rx.recv() {
      Err(_) => return Ok(gone()),
      Ok(crate::platform::ipc::SyncMsg::Answer(result)) => return Ok(encode(result)),
      Ok(crate::platform::ipc::SyncMsg::Run(cmd)) => cmd,
    };
    let Some(dispatcher) = &dispatcher else {
      if let Some(reply) = cmd.reply {
        reply.send(Err(HostError::invalid_state("the realm has no dispatcher")));
      }
      continue;
    };
    let id = match cmd.reply {
      Some(reply) => state
        .borrow_mut()
        .borrow_mut::<crate::platform::engine::realm::PendingReplies>()
        .add(reply),
      None => 0,
    };
    let f = v8::Local::new(scope, dispatcher);
    let kind = v8::String::new(scope, &cmd.kind).expect("string");
    let payload = v8::String::new(scope, &cmd.payload.to_string()).expect("string");
    let id = v8::Number::new(scope, id as f64);
    let undefined = v8::undefined(scope);
    // The dispatcher catches what its handler throws and answers through
    // `op_swh_reply`.
    f.call(
      scope,
      undefined.into(),
      &[kind.into(), payload.into(), id.into()],
    );
  }
}
