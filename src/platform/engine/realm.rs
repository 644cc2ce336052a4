//! A realm: one JavaScript global scope (a service worker or a window
//! client) running on its own thread with its own runtime, like a renderer.
//! The thread runs the event loop, takes commands from the browser, and
//! tells the browser when it has nothing left to do.

use std::task::Poll;

use deno_core::{v8, JsRuntime, PollEventLoopOptions};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::platform::engine::ops::{Dispatcher, RealmCtx};
use crate::platform::ipc::{
  Evaluate, HostError, HostMsg, HostResult, HostSender, RealmCmd, RealmId, ReplyTo, CMD_EVALUATE,
  CMD_FRAME_OP, CMD_FRAME_RELEASE, CMD_PING, CMD_REPLY, CMD_SHUTDOWN,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RealmKind {
  ServiceWorker,
  Window,
  /// A dedicated worker's global (`new Worker(url)`).
  DedicatedWorker,
  /// A shared worker's global (`new SharedWorker(url)`).
  SharedWorker,
}

/// What a realm starts with; `bootstrap` is handed to `99_main.js`.
pub struct RealmSpec {
  /// Host overrides and certificates for the realm's own `fetch()`.
  pub net: crate::platform::net::NetConfig,
  /// The browser's cookie jar, for the realm's `fetch()` and
  /// `document.cookie`.
  pub cookies: std::sync::Arc<crate::platform::net::cookies::CookieJar>,
  pub id: RealmId,
  pub kind: RealmKind,
  pub url: url::Url,
  pub bootstrap: Value,
  /// The calls the browser lets this realm answer on its own thread.
  pub shortcuts: std::sync::Arc<crate::platform::ipc::Shortcuts>,
}

/// The browser's handle on a running realm.
#[derive(Clone)]
pub struct RealmHandle {
  pub id: RealmId,
  pub kind: RealmKind,
  tx: mpsc::UnboundedSender<RealmCmd>,
}

impl RealmHandle {
  /// Sends a command; false if the realm has ended.
  pub fn send(&self, cmd: RealmCmd) -> bool {
    self.tx.send(cmd).is_ok()
  }

  /// Sends a command and returns a receiver for the handler's result.
  pub fn request(&self, kind: &str, payload: Value) -> oneshot::Receiver<HostResult> {
    let (tx, rx) = oneshot::channel();
    self.request_to(kind, payload, ReplyTo::Waiting(tx));
    rx
  }

  /// Sends a command whose result goes to `reply` (an error if the realm
  /// has ended).
  pub fn request_to(&self, kind: &str, payload: Value, reply: ReplyTo) {
    let cmd = RealmCmd {
      kind: kind.to_string(),
      payload,
      reply: Some(reply),
    };
    if let Err(mpsc::error::SendError(cmd)) = self.tx.send(cmd) {
      if let Some(reply) = cmd.reply {
        reply.send(Err(HostError::invalid_state("the realm has ended")));
      }
    }
  }
}

/// What a realm's thread needs to run: its spec, the browser, and the
/// browser's commands.
type RealmStart = (RealmSpec, HostSender, mpsc::UnboundedReceiver<RealmCmd>);

/// The thread [`prewarm`] started, waiting for its realm.
static WARM: std::sync::Mutex<Option<std::sync::mpsc::Sender<RealmStart>>> =
  std::sync::Mutex::new(None);

/// Starts the next realm's thread now and makes its runtime there (most of
/// a realm's start: restoring the startup snapshot), while the caller goes
/// on with the browser's own start; the next [`spawn`] hands it its realm.
/// A run calls this first thing, so the two starts overlap on two cores.
pub fn prewarm() {
  let (tx, rx) = std::sync::mpsc::channel::<RealmStart>();
  let spawned = std::thread::Builder::new()
    .name("realm".into())
    .stack_size(REALM_STACK)
    .spawn(move || {
      let rt = current_thread_runtime();
      let (loader, target) = crate::platform::engine::module_loader::HostModuleLoader::unbound();
      let runtime = {
        let _guard = rt.enter();
        crate::platform::engine::new_runtime(
          None,
          Some(std::rc::Rc::new(loader)),
          &crate::platform::net::NetConfig::default(),
        )
      };
      // No realm came (the run ended first): nothing to do.
      let Ok((spec, host, cmds)) = rx.recv() else {
        return;
      };
      let _ = target.set((spec.id, host.clone()));
      {
        // What `new_runtime` would have been given for this realm: its
        // URL, its network settings, and a clock that starts now.
        let state = runtime.op_state();
        let mut state = state.borrow_mut();
        state.put(deno_web::Location(spec.url.clone()));
        state.put(crate::platform::engine::fetch_options(&spec.net));
        state.put(deno_web::StartTime::default());
      }
      realm_thread(rt, move || runtime, spec, host, cmds);
    });
  if spawned.is_ok() {
    *WARM.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
  }
}

const REALM_STACK: usize = 8 << 20;

fn current_thread_runtime() -> tokio::runtime::Runtime {
  tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .expect("a current-thread runtime")
}

/// Starts a realm: on the thread [`prewarm`] made ready, or a new one.
pub fn spawn(spec: RealmSpec, host: HostSender) -> std::io::Result<RealmHandle> {
  let (tx, rx) = mpsc::unbounded_channel();
  let handle = RealmHandle {
    id: spec.id,
    kind: spec.kind,
    tx,
  };
  let mut start = (spec, host, rx);
  let warm = WARM.lock().unwrap_or_else(|e| e.into_inner()).take();
  if let Some(warm) = warm {
    match warm.send(start) {
      Ok(()) => return Ok(handle),
      // The warm thread is gone (its runtime failed): start afresh.
      Err(std::sync::mpsc::SendError(back)) => start = back,
    }
  }
  let (spec, host, rx) = start;
  std::thread::Builder::new()
    .name(format!("realm-{}", spec.id))
    .stack_size(REALM_STACK)
    .spawn(move || {
      let rt = current_thread_runtime();
      let loader =
        crate::platform::engine::module_loader::HostModuleLoader::new(spec.id, host.clone());
      let (url, net) = (spec.url.clone(), spec.net.clone());
      realm_thread(
        rt,
        move || {
          crate::platform::engine::new_runtime(Some(url), Some(std::rc::Rc::new(loader)), &net)
        },
        spec,
        host,
        rx,
      );
    })?;
  Ok(handle)
}

/// A realm's thread, once its runtime is made: runs the realm, reports a
/// panic as an uncaught error, and tells the browser it has ended.
fn realm_thread(
  rt: tokio::runtime::Runtime,
  make_runtime: impl FnOnce() -> JsRuntime,
  spec: RealmSpec,
  host: HostSender,
  rx: mpsc::UnboundedReceiver<RealmCmd>,
) {
  let id = spec.id;
  let exit_host = host.clone();
  let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    let runtime = {
      let _guard = rt.enter();
      make_runtime()
    };
    rt.block_on(run_realm(runtime, spec, host, rx))
  }));
  if let Err(panic) = result {
    let text = panic
      .downcast_ref::<String>()
      .cloned()
      .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
      .unwrap_or_else(|| "unknown panic".into());
    let _ = exit_host.send(HostMsg::Uncaught {
      realm: id,
      text: format!("internal error: the realm crashed: {text}"),
    });
  }
  let _ = exit_host.send(HostMsg::Exited { realm: id });
}

async fn run_realm(
  mut runtime: JsRuntime,
  spec: RealmSpec,
  host: HostSender,
  mut rx: mpsc::UnboundedReceiver<RealmCmd>,
) {
  runtime.op_state().borrow_mut().put(RealmCtx {
    id: spec.id,
    host: host.clone(),
    shortcuts: spec.shortcuts.clone(),
  });
  runtime.op_state().borrow_mut().put(spec.cookies.clone());
  let boot = format!(
    "globalThis[Symbol.for('swharness.bootstrap')]({})",
    serde_json::to_string(&spec.bootstrap).unwrap_or_else(|_| "null".into())
  );
  if let Err(e) = runtime.execute_script("ext:swharness/bootstrap", boot) {
    let _ = host.send(HostMsg::Uncaught {
      realm: spec.id,
      text: format!("internal error: bootstrap failed: {e}"),
    });
    return;
  }

  runtime
    .op_state()
    .borrow_mut()
    .put(PendingReplies::default());
  runtime
    .op_state()
    .borrow_mut()
    .put(OutstandingCalls::default());
  runtime
    .op_state()
    .borrow_mut()
    .put(OperatedOnFrames::default());
  runtime.op_state().borrow_mut().put(PortTurns::default());
  let mut received: u64 = 0;
  let mut reported_idle = false;
  let mut settling = false;
  let id = spec.id;
  // Held by another realm's task (see `CMD_FRAME_OP`): only its operations
  // run; the other commands wait in `deferred`, in order.
  let mut held = false;
  let mut deferred = std::collections::VecDeque::<RealmCmd>::new();

  std::future::poll_fn(|cx| loop {
    let mut progressed = false;
    loop {
      let next = if held { None } else { deferred.pop_front() };
      let cmd = match next {
        Some(cmd) => cmd,
        None => match rx.poll_recv(cx) {
          Poll::Ready(Some(cmd)) => cmd,
          Poll::Ready(None) => return Poll::Ready(()),
          Poll::Pending => break,
        },
      };
      if held
        && cmd.kind != CMD_FRAME_OP
        && cmd.kind != CMD_FRAME_RELEASE
        && cmd.kind != CMD_SHUTDOWN
      {
        deferred.push_back(cmd);
        continue;
      }
      received += 1;
      progressed = true;
      if cmd.kind == CMD_FRAME_RELEASE {
        held = false;
        continue;
      }
      if cmd.kind == CMD_PING {
        continue;
      }
      if cmd.kind == CMD_REPLY {
        let keeps_alive = cmd.payload["keepsAlive"] == Value::Bool(true);
        let state = runtime.op_state();
        let mut state = state.borrow_mut();
        state.borrow_mut::<OutstandingCalls>().answered(keeps_alive);
      }
      if cmd.kind == CMD_SHUTDOWN {
        if let Some(reply) = cmd.reply {
          reply.send(Ok(Value::Null));
        }
        return Poll::Ready(());
      }
      let frame_op = cmd.kind == CMD_FRAME_OP;
      handle_cmd(&mut runtime, cmd);
      held |= frame_op;
    }
    if progressed {
      reported_idle = false;
      settling = false;
    }
    // This realm's own work waits until the realm holding it ends its task
    // (having yielded first: two realms may hold each other).
    if held {
      yield_frames(&mut runtime, &host, id);
      return Poll::Pending;
    }
    let event_loop = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
    yield_frames(&mut runtime, &host, id);
    let awaiting_replies = {
      let state = runtime.op_state();
      let state = state.borrow();
      !state.borrow::<PendingReplies>().0.is_empty()
        || state.borrow::<OutstandingCalls>().keeping_alive > 0
    };
    match event_loop {
      Poll::Ready(Err(e)) => {
        let _ = host.send(HostMsg::Uncaught {
          realm: id,
          text: crate::platform::engine::errors::format_core_error(&e),
        });
        continue;
      }
      Poll::Ready(Ok(())) if progressed => continue,
      Poll::Ready(Ok(())) => {
        if !awaiting_replies && !reported_idle {
          // A port's receive completes in deno_core's op driver, a task of
          // this thread's runtime that runs only while this one waits: once
          // the realm has used MessagePorts, it lets that task have a turn
          // before it says it is idle, so that a message already sent to it
          // is delivered first (see `PortTurns`).
          if !settling && runtime.op_state().borrow().borrow::<PortTurns>().0 > 0 {
            settling = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
          }
          settling = false;
          reported_idle = true;
          let _ = host.send(HostMsg::Idle {
            realm: id,
            received,
          });
        }
        return Poll::Pending;
      }
      Poll::Pending => {
        reported_idle = false;
        settling = false;
        return Poll::Pending;
      }
    }
  })
  .await;
}

/// A task that operated on another realm's objects has ended: the browser
/// lets that realm run its own work again (`CMD_FRAME_RELEASE`).
fn yield_frames(runtime: &mut JsRuntime, host: &HostSender, id: RealmId) {
  let state = runtime.op_state();
  if std::mem::take(&mut state.borrow_mut().borrow_mut::<OperatedOnFrames>().0) {
    let _ = host.send(HostMsg::Yielded { realm: id });
  }
}

/// Counts this realm's MessagePort activity (`op_swh_port_activity`): a
/// realm that has used ports waits one turn of its thread's runtime before
/// it reports idle, as a port's receive does not keep it busy.
#[derive(Default)]
pub struct PortTurns(pub u64);

/// Set when the realm has operated on another realm's objects since it
/// last yielded (`op_swh_host_sync_serving`).
#[derive(Default)]
pub struct OperatedOnFrames(pub bool);

/// Runs one command: evaluation is done here; everything else goes to the
/// dispatcher installed by `99_main.js`, which answers through
/// `op_swh_reply` once the handler's promise settles.
fn handle_cmd(runtime: &mut JsRuntime, cmd: RealmCmd) {
  if cmd.kind == CMD_EVALUATE {
    let result = match serde_json::from_value::<Evaluate>(cmd.payload) {
      Ok(Evaluate { name, source }) => runtime
        .execute_script(name, source)
        .map(|_| Value::Null)
        .map_err(|e| {
          HostError::new(
            "Error",
            crate::platform::engine::errors::format_js_error(&e),
          )
        }),
      Err(e) => Err(HostError::type_error(format!("bad evaluate command: {e}"))),
    };
    if let Some(reply) = cmd.reply {
      reply.send(result);
    }
    return;
  }
  let state = runtime.op_state();
  let dispatcher = state
    .borrow()
    .try_borrow::<Dispatcher>()
    .map(|d| d.0.clone());
  let Some(dispatcher) = dispatcher else {
    if let Some(reply) = cmd.reply {
      reply.send(Err(HostError::invalid_state("the realm has no dispatcher")));
    }
    return;
  };
  let call_id = match cmd.reply {
    Some(reply) => state.borrow_mut().borrow_mut::<PendingReplies>().add(reply),
    None => 0,
  };
  let args = {
    deno_core::scope!(scope, runtime);
    let kind = v8::String::new(scope, &cmd.kind).expect("string");
    let payload = v8::String::new(scope, &cmd.payload.to_string()).expect("string");
    let id = v8::Number::new(scope, call_id as f64);
    [
      v8::Global::new(scope, kind.cast::<v8::Value>()),
      v8::Global::new(scope, payload.cast::<v8::Value>()),
      v8::Global::new(scope, id.cast::<v8::Value>()),
    ]
  };
  // The call runs now; its result comes back through `op_swh_reply`.
  drop(runtime.call_with_args(&dispatcher, &args));
  // A command is a task: its microtasks run before the next one starts.
  deno_core::scope!(scope, runtime);
  scope.perform_microtask_checkpoint();
}

/// The realm's calls to the browser still unanswered: those that keep it
/// alive, and all of them, each with a signal for when there are none
/// left (see `op_swh_keepalive`).
#[derive(Default)]
pub struct OutstandingCalls {
  pub keeping_alive: u64,
  pub all: u64,
  pub none_keeping_alive: std::rc::Rc<tokio::sync::Notify>,
  pub none: std::rc::Rc<tokio::sync::Notify>,
}

impl OutstandingCalls {
  /// A call went out.
  pub fn called(&mut self, keeps_alive: bool) {
    self.all += 1;
    if keeps_alive {
      self.keeping_alive += 1;
    }
  }

  /// Its answer came back.
  pub fn answered(&mut self, keeps_alive: bool) {
    self.all = self.all.saturating_sub(1);
    if self.all == 0 {
      self.none.notify_waiters();
    }
    if keeps_alive {
      self.keeping_alive = self.keeping_alive.saturating_sub(1);
      if self.keeping_alive == 0 {
        self.none_keeping_alive.notify_waiters();
      }
    }
  }
}

/// Replies owed to the browser for commands still being handled in JS.
#[derive(Default)]
pub struct PendingReplies(pub std::collections::HashMap<u64, ReplyTo>, u64);

impl PendingReplies {
  pub(crate) fn add(&mut self, reply: ReplyTo) -> u64 {
    self.1 += 1;
    self.0.insert(self.1, reply);
    self.1
  }

  /// Settles call `id` with the JSON the dispatcher produced.
  pub fn settle(&mut self, id: u64, text: &str) {
    if let Some(reply) = self.0.remove(&id) {
      reply.send(decode_reply(text));
    }
  }
}

fn decode_reply(text: &str) -> HostResult {
  let v: Value = serde_json::from_str(text)
    .map_err(|e| HostError::new("Error", format!("bad reply from the realm: {e}")))?;
  if let Some(err) = v.get("error") {
    let err: HostError = serde_json::from_value(err.clone())
      .unwrap_or_else(|_| HostError::new("Error", err.to_string()));
    return Err(err);
  }
  Ok(v.get("ok").cloned().unwrap_or(Value::Null))
}
