//! The realms the browser owns: starting them, sending them commands, and
//! what the browser knows of each (its label, URL and owner).

use serde_json::Value;

use super::{Browser, Owner, RealmEntry};
use crate::platform::engine::realm::{self, RealmKind, RealmSpec};
use crate::platform::ipc::{Command, HostError, HostResult, RealmCmd, RealmId, Shutdown};

impl Browser {
  /// Starts a realm; its label prefixes its console output.
  pub fn spawn_realm(
    &self,
    kind: RealmKind,
    url: url::Url,
    label: String,
    owner: Owner,
    bootstrap: Value,
  ) -> anyhow::Result<RealmId> {
    let id = self.with_state(|s| {
      let id = s.next_realm;
      s.next_realm += 1;
      id
    });
    let shortcuts = std::sync::Arc::<crate::platform::ipc::Shortcuts>::default();
    let handle = realm::spawn(
      RealmSpec {
        id,
        kind,
        url: url.clone(),
        bootstrap,
        net: self.inner.opts.net.config.clone(),
        cookies: self.inner.opts.net.cookies().clone(),
        shortcuts: shortcuts.clone(),
      },
      self.inner.host_tx.clone(),
    )?;
    self.with_state(|s| {
      s.realms.insert(
        id,
        RealmEntry {
          handle,
          label,
          url,
          owner,
          sent: 0,
          idle_at: None,
          serving: None,
          shortcuts,
        },
      );
    });
    Ok(id)
  }

  /// Sends a command without waiting for its result; false if the realm
  /// has ended.
  pub fn post<C: Command>(&self, realm: RealmId, cmd: &C) -> bool {
    let payload = serde_json::to_value(cmd).unwrap_or(Value::Null);
    self.with_state(|s| {
      let Some(entry) = s.realms.get_mut(&realm) else {
        return false;
      };
      entry.sent += 1;
      entry.handle.send(RealmCmd {
        kind: C::KIND.into(),
        payload,
        reply: None,
      })
    })
  }

  /// Sends a command to every realm.
  pub fn broadcast<C: Command>(&self, cmd: &C) {
    for realm in self.realm_ids() {
      self.post(realm, cmd);
    }
  }

  /// Sends a command and waits for the realm's handler to settle.
  pub async fn request<C: Command>(&self, realm: RealmId, cmd: &C) -> HostResult {
    let payload = serde_json::to_value(cmd).unwrap_or(Value::Null);
    let rx = self.with_state(|s| {
      let entry = s.realms.get_mut(&realm)?;
      entry.sent += 1;
      Some(entry.handle.request(C::KIND, payload))
    });
    match rx {
      Some(rx) => rx
        .await
        .unwrap_or_else(|_| Err(HostError::invalid_state("the realm ended"))),
      None => Err(HostError::invalid_state("the realm has ended")),
    }
  }

  /// Sends a command whose result goes to `then`, called on the realm's
  /// thread as soon as its handler settles (with an error if the realm
  /// has ended): the answer reaches its destination without a detour
  /// through the browser's thread.
  pub fn request_then<C: Command>(
    &self,
    realm: RealmId,
    cmd: &C,
    then: impl FnOnce(HostResult) + Send + 'static,
  ) {
    let then = crate::platform::ipc::ReplyTo::Then(crate::platform::ipc::Then::new(then));
    let payload = serde_json::to_value(cmd).unwrap_or(Value::Null);
    let handle = self.with_state(|s| {
      let entry = s.realms.get_mut(&realm)?;
      entry.sent += 1;
      Some(entry.handle.clone())
    });
    // Sent outside the state's lock: `then` may run at once, and it may
    // take the lock.
    match handle {
      Some(handle) => handle.request_to(C::KIND, payload, then),
      None => then.send(Err(HostError::invalid_state("the realm has ended"))),
    }
  }

  /// [`request`](Self::request), for a command that may run while the
  /// realm is blocked in a serving synchronous call of its own (a frame
  /// operation: the realm's own frame reaching back into it): then it runs
  /// inside that call, as a same-thread callback would, instead of waiting
  /// in the queue behind it.
  pub async fn request_reentrant<C: Command>(&self, realm: RealmId, cmd: &C) -> HostResult {
    let serving = self.with_state(|s| s.realms.get(&realm).and_then(|r| r.serving.clone()));
    let Some(serving) = serving else {
      return self.request(realm, cmd).await;
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cmd = RealmCmd {
      kind: C::KIND.into(),
      payload: serde_json::to_value(cmd).unwrap_or(Value::Null),
      reply: Some(crate::platform::ipc::ReplyTo::Waiting(tx)),
    };
    if serving
      .send(crate::platform::ipc::SyncMsg::Run(cmd))
      .is_err()
    {
      return Err(HostError::invalid_state("the realm has ended"));
    }
    rx.await
      .unwrap_or_else(|_| Err(HostError::invalid_state("the realm ended")))
  }

  /// Records that `realm` is blocked in a serving synchronous call (None:
  /// no longer).
  pub(super) fn set_serving(
    &self,
    realm: RealmId,
    serving: Option<std::sync::mpsc::Sender<crate::platform::ipc::SyncMsg>>,
  ) {
    self.with_state(|s| {
      if let Some(r) = s.realms.get_mut(&realm) {
        r.serving = serving;
      }
    });
  }

  /// Lets `realm` answer its calls of `method` on its own thread with
  /// `shortcut` (see [`Shortcut`](crate::platform::ipc::Shortcut)).
  pub fn set_shortcut(
    &self,
    realm: RealmId,
    method: &'static str,
    shortcut: crate::platform::ipc::Shortcut,
  ) {
    let shortcuts = self.with_state(|s| s.realms.get(&realm).map(|r| r.shortcuts.clone()));
    if let Some(shortcuts) = shortcuts {
      shortcuts.set(method, shortcut);
    }
  }

  /// Ends a realm's thread.
  pub fn shutdown_realm(&self, realm: RealmId) {
    self.post(realm, &Shutdown);
  }

  pub fn realm_ids(&self) -> Vec<RealmId> {
    self.with_state(|s| s.realms.keys().copied().collect())
  }

  pub fn realm_label(&self, realm: RealmId) -> String {
    self.with_state(|s| {
      s.realms
        .get(&realm)
        .map(|r| r.label.clone())
        .unwrap_or_else(|| format!("realm {realm}"))
    })
  }

  /// The URL of the realm's global: the client's URL or the worker's script.
  pub fn realm_url(&self, realm: RealmId) -> Option<url::Url> {
    self.with_state(|s| s.realms.get(&realm).map(|r| r.url.clone()))
  }

  /// The origin of the realm's global (an InvalidStateError for a realm
  /// that has ended).
  pub fn realm_origin(&self, realm: RealmId) -> Result<url::Origin, HostError> {
    self
      .realm_url(realm)
      .map(|u| u.origin())
      .ok_or_else(|| HostError::invalid_state("unknown realm"))
  }

  pub fn realm_owner(&self, realm: RealmId) -> Option<Owner> {
    self.with_state(|s| s.realms.get(&realm).map(|r| r.owner.clone()))
  }

  /// How many commands the realm has been sent (to tell later whether it
  /// stayed idle since, see [`Browser::idle_since`]).
  pub fn commands_sent(&self, realm: RealmId) -> Option<u64> {
    self.with_state(|s| s.realms.get(&realm).map(|r| r.sent))
  }

  /// Whether the realm is idle and has been sent nothing since `sent`.
  pub fn idle_since(&self, realm: RealmId, sent: Option<u64>) -> bool {
    self.with_state(|s| {
      s.realms
        .get(&realm)
        .is_some_and(|r| Some(r.sent) == sent && r.idle_at == sent)
    })
  }

  /// Takes the realm off the browser's list once its thread has ended.
  pub(super) fn forget_realm(&self, realm: RealmId) -> Option<Owner> {
    self.with_state(|s| s.realms.remove(&realm).map(|r| r.owner))
  }

  pub(super) fn mark_idle(&self, realm: RealmId, received: u64) {
    self.with_state(|s| {
      if let Some(entry) = s.realms.get_mut(&realm) {
        entry.idle_at = Some(received);
      }
    });
  }
}
