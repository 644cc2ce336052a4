//! The browser's message loop: a realm's call goes to the feature whose
//! namespace prefixes its method (`"cacheStorage.put"` to Cache Storage,
//! `"browser.*"` to the core's own `control`), and its answer back to the
//! realm; console output, idle reports, uncaught errors and ended realms
//! are handled here too.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use serde_json::json;
use tokio::sync::mpsc;

use super::{Browser, BrowserEvent, Owner};
use crate::platform::ipc::{CallReply, HostError, HostMsg, HostResult, RealmId, Reply};

type Deferred = Box<dyn FnOnce() + Send>;

tokio::task_local! {
  /// What the realm call being answered left for after its answer.
  static AFTER_REPLY: RefCell<Vec<Deferred>>;
  /// The answer to the realm call being handled, until a handler takes it
  /// ([`take_answer`]).
  static ANSWER: RefCell<Option<Answer>>;
}

/// The answer owed to a realm's call, sent once with [`Answer::send`]:
/// the router sends it when the call's handler returns, unless the
/// handler took it with [`take_answer`] to send it from elsewhere. Until
/// then the run is not quiet.
pub struct Answer {
  browser: Browser,
  realm: RealmId,
  method: String,
  reply: Reply,
  busy: Option<super::BusyGuard>,
}

impl Answer {
  /// The answer owed to `realm`'s call of `method`. A call that keeps its
  /// realm alive keeps the run from being quiet until it is answered;
  /// one that may wait indefinitely (`hostCallUnref`: `ready`, a record's
  /// `responseReady`) does not.
  pub fn new(browser: &Browser, realm: RealmId, method: &str, reply: Reply) -> Answer {
    let keeps_alive = !matches!(
      reply,
      Reply::Ordered {
        keeps_alive: false,
        ..
      }
    );
    Answer {
      browser: browser.clone(),
      realm,
      method: method.to_string(),
      reply,
      busy: keeps_alive.then(|| browser.busy()),
    }
  }

  /// Whether it keeps the run from being quiet.
  fn keeps_alive(&self) -> bool {
    self.busy.is_some()
  }

  pub fn send(self, result: HostResult) {
    let Answer {
      browser: b,
      realm,
      method,
      reply,
      busy: _busy,
    } = self;
    if let Err(e) = &result {
      b.trace(
        "call-error",
        json!({"realm": realm, "method": method, "error": e}),
      );
    }
    match reply {
      Reply::Ordered { id, keeps_alive } => {
        let result = match result {
          Ok(v) => json!({"ok": v}),
          Err(e) => json!({"error": e}),
        };
        b.post(
          realm,
          &CallReply {
            id,
            result,
            keeps_alive,
          },
        );
      }
      reply => {
        if matches!(reply, Reply::Serving(_)) {
          b.set_serving(realm, None);
        }
        reply.send(result)
      }
    }
  }
}

/// Takes the answer to the realm call being handled, for the handler to
/// send itself, from any thread (a fetch event's answer goes from the
/// worker's thread straight to the page). What the handler then returns
/// is dropped, and what it left for [`after_reply`] runs when it returns.
/// None outside a realm's call, or if taken already.
pub fn take_answer() -> Option<Answer> {
  ANSWER.try_with(|a| a.borrow_mut().take()).ok().flatten()
}

/// Runs `f` once the answer to the realm call being handled has been
/// posted to its realm, so that the realm sees what `f` sends after the
/// answer (Service Workers, "Install": the job promise resolves in a task
/// queued before the one that fires `updatefound`). Outside a realm's call
/// (the CLI's own registration), at once.
pub fn after_reply(f: impl FnOnce() + Send + 'static) {
  if AFTER_REPLY.try_with(|_| ()).is_ok() {
    AFTER_REPLY.with(|q| q.borrow_mut().push(Box::new(f)));
  } else {
    f();
  }
}

/// Answers one realm call.
async fn route(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: serde_json::Value,
) -> HostResult {
  let Some((namespace, name)) = method.split_once('.') else {
    return Err(HostError::type_error(format!(
      "unknown browser call '{method}'"
    )));
  };
  if namespace == "browser" {
    return super::control::handle(browser, realm, name, args).await;
  }
  match browser
    .inner
    .features
    .iter()
    .find(|f| f.namespace() == namespace)
  {
    Some(feature) => {
      feature
        .call(super::RealmCall {
          browser,
          realm,
          method: name,
          args,
        })
        .await
    }
    None => Err(HostError::type_error(format!(
      "unknown browser call '{method}'"
    ))),
  }
}

pub(super) async fn message_loop(browser: Browser, mut rx: mpsc::UnboundedReceiver<HostMsg>) {
  while let Some(msg) = rx.recv().await {
    match msg {
      HostMsg::Call {
        realm,
        method,
        args,
        reply,
      } => {
        if let Reply::Serving(tx) = &reply {
          browser.set_serving(realm, Some(tx.clone()));
        }
        let b = browser.clone();
        let answer = Answer::new(&browser, realm, &method, reply);
        // Held until what the call left for after its answer has run.
        let guard = answer.keeps_alive().then(|| browser.busy());
        let call = async move {
          // A panic in a handler answers the call with an error (the
          // realm would otherwise wait for ever) and counts as uncaught.
          let result = AssertUnwindSafe(route(&b, realm, &method, args))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
              b.count_uncaught();
              Err(HostError::new(
                "Error",
                format!("internal error in {method}: {}", panic_text(&*panic)),
              ))
            });
          if let Some(answer) = take_answer() {
            answer.send(result);
          }
          for f in AFTER_REPLY.with(|q| std::mem::take(&mut *q.borrow_mut())) {
            f();
          }
          drop(guard);
        };
        let mut call = Box::pin(AFTER_REPLY.scope(
          RefCell::default(),
          ANSWER.scope(RefCell::new(Some(answer)), call),
        ));
        // Each call runs here up to its first wait, so that calls take
        // effect in the order they were made (messages stay in order);
        // the rest goes on in its own task. A later poll brings its own
        // waker, as futures allow.
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        if call.as_mut().poll(&mut cx).is_pending() {
          tokio::spawn(call);
        }
      }
      HostMsg::Console { realm, level, text } => console(&browser, realm, level, &text),
      HostMsg::Yielded { realm } => browser.notify(BrowserEvent::RealmYielded(realm)),
      HostMsg::Idle { realm, received } => {
        browser.mark_idle(realm, received);
        browser.check_quiet();
        browser.notify(BrowserEvent::RealmIdle(realm));
      }
      HostMsg::Uncaught { realm, text } => {
        let label = browser.realm_label(realm);
        browser.count_uncaught();
        browser.trace("uncaught", json!({"realm": label, "text": text}));
        if browser.opts().echo_console {
          eprintln!("[{label}] Uncaught {text}");
        }
      }
      HostMsg::Exited { realm } => {
        if let Some(owner) = browser.forget_realm(realm) {
          let owner: &Owner = &owner;
          browser.notify(BrowserEvent::RealmExited { realm, owner });
        }
        browser.check_quiet();
      }
    }
  }
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
  panic
    .downcast_ref::<String>()
    .cloned()
    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
    .unwrap_or_else(|| "unknown panic".into())
}

/// A realm's console output: traced, and printed with the realm's label
/// (warnings and errors to stderr).
fn console(browser: &Browser, realm: RealmId, level: u32, text: &str) {
  let label = browser.realm_label(realm);
  browser.trace(
    "console",
    json!({"realm": label, "level": level, "text": text}),
  );
  if !browser.opts().echo_console {
    return;
  }
  let text = text.strip_suffix('\n').unwrap_or(text);
  let prefixed: String = text.lines().map(|l| format!("[{label}] {l}\n")).collect();
  let prefixed = if prefixed.is_empty() {
    format!("[{label}] \n")
  } else {
    prefixed
  };
  if level >= 2 {
    use std::io::Write;
    let _ = std::io::stderr().write_all(prefixed.as_bytes());
  } else {
    super::terminal::print_stdout(&prefixed);
  }
}
