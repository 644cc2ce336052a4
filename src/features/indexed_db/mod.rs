//! IndexedDB 3.0, the browser side: it owns the databases, as Chromium's
//! browser process does, so a service worker and its pages share them.
//! Each database is one SQLite file under `STATE/indexeddb/ORIGIN/`
//! ([`backing`]); [`scheduler`] keeps the connections and starts the
//! transactions. The realms (`js/indexed_db/`) hold the API objects: they
//! validate arguments, encode keys, compute index keys, and send each
//! transaction's requests here in order, in batches.
//!
//! It may use the core (`browser`, `ipc`).

mod backing;
mod keys;
mod reads;
mod scheduler;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Value};
use std::any::Any;
use tokio::sync::watch;

use crate::platform::browser::{Browser, BrowserEvent, Feature, RealmCall};
use crate::platform::ipc::{decode_call, Command, HostError, HostResult, RealmId};
use backing::Op;
use scheduler::{Databases, Db, Handle, Mode};

crate::platform::ipc::realm_calls! {
  enum Call {
    /// `open(name, version)`: `conn` and `tx` are the ids the realm gives
    /// the connection and its upgrade transaction; `request` names the
    /// request for `blocked`.
    Open { name: String, version: Option<i64>, conn: u64, tx: u64, request: u64 },
    DeleteDatabase { name: String, request: u64 },
    Databases {},
    Close { name: String, conn: u64 },
    /// The realm has fired the open request's last event: the next
    /// request for the database may go on.
    Opened { name: String, conn: u64 },
    Begin { name: String, conn: u64, tx: u64, mode: String, scope: Vec<String> },
    /// A transaction's next requests, run in order once it has started.
    Run { name: String, tx: u64, ops: Vec<Value> },
    Commit { name: String, tx: u64 },
    Abort { name: String, tx: u64 },
  }
}

/// "Fire a version change event named versionchange" at a realm's open
/// connections; the answer lists those that are now closing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionChange<'a> {
  name: &'a str,
  conns: Vec<u64>,
  old_version: i64,
  new_version: Option<i64>,
}

impl Command for VersionChange<'_> {
  const KIND: &'static str = "idbVersionChange";
}

/// The `blocked` event for an open or delete request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blocked {
  request: u64,
  old_version: i64,
  new_version: Option<i64>,
}

impl Command for Blocked {
  const KIND: &'static str = "idbBlocked";
}

/// The feature.
pub struct IndexedDb {
  dbs: Databases,
}

impl IndexedDb {
  pub fn new(
    state_dir: &std::path::Path,
    durability: crate::platform::browser::durability::Durability,
  ) -> IndexedDb {
    IndexedDb {
      dbs: Databases::new(state_dir.join("indexeddb"), durability),
    }
  }

  fn db<R>(&self, origin: &str, name: &str, f: impl FnOnce(&mut Db) -> R) -> Result<R, HostError> {
    self
      .dbs
      .with(origin, |o| o.dbs.get_mut(name).map(f))?
      .ok_or_else(|| {
        HostError::invalid_state(format!("the database '{name}' is closed or deleted"))
      })
  }

  /// "Open a database connection" (IndexedDB 3.0, 4.1).
  async fn open(&self, c: &RealmCall<'_>, origin: &str, call: Call) -> HostResult {
    let Call::Open {
      name,
      version,
      conn,
      tx,
      request,
    } = call
    else {
      unreachable!()
    };
    let dir = self.dbs.origin_dir(origin);
    let queue = self.dbs.with(origin, |o| {
      if !o.dbs.contains_key(&name) {
        o.create(&dir, &name)?;
      }
      Ok::<_, HostError>(o.dbs[&name].queue.clone())
    })??;
    let guard = queue.lock_owned().await;
    // It may have been deleted while this request waited.
    let current = self.dbs.with(origin, |o| {
      if !o.dbs.contains_key(&name) {
        o.create(&dir, &name)?;
      }
      Ok::<_, HostError>(o.dbs[&name].version)
    })??;
    let requested = version.unwrap_or(current.max(1));
    if requested < current {
      return Err(HostError::new(
        "VersionError",
        format!(
          "the requested version ({requested}) is less than the existing version ({current})"
        ),
      ));
    }
    let me = (c.realm, conn);
    self.db(origin, &name, |db| {
      db.conns.push(scheduler::Conn {
        id: me,
        closing: false,
      })
    })?;
    if requested == current {
      let schema = self.db(origin, &name, |db| {
        db.held.push((me, guard));
        db.backing.schema()
      })??;
      return Ok(
        json!({ "version": current, "oldVersion": current, "upgrade": false, "schema": schema }),
      );
    }
    // "Upgrade a database": the others are asked to close, then the
    // versionchange transaction runs alone.
    self
      .version_change(
        c.browser,
        origin,
        &name,
        Some(me),
        current,
        Some(requested),
        (c.realm, request),
      )
      .await?;
    let mut started = self.db(origin, &name, |db| {
      let mut t = Db::new_tx((c.realm, tx), me, Mode::VersionChange, Vec::new());
      t.queue_guard = Some(guard);
      t.old_version = current;
      db.add_tx(t)
    })?;
    wait_started(&mut started).await?;
    let schema = self.db(origin, &name, |db| {
      db.backing.set_version(requested)?;
      db.backing.schema()
    })??;
    Ok(json!({ "version": requested, "oldVersion": current, "upgrade": true, "schema": schema }))
  }

  /// Sends `versionchange` to the other open connections, `blocked` to
  /// the request if any stays open, and waits until all have closed.
  #[allow(clippy::too_many_arguments)]
  async fn version_change(
    &self,
    browser: &Browser,
    origin: &str,
    name: &str,
    except: Option<Handle>,
    old_version: i64,
    new_version: Option<i64>,
    request: Handle,
  ) -> Result<(), HostError> {
    let others = self.db(origin, name, |db| db.others_open(except))?;
    let mut realms: Vec<RealmId> = others.iter().map(|h| h.0).collect();
    realms.sort_unstable();
    realms.dedup();
    // "If any of the connections are still not closed" once their events
    // have been fired: what each realm answered then, not what later
    // close() calls (a setTimeout in the listener) have done since.
    let mut still_open = false;
    for realm in realms {
      let conns = others
        .iter()
        .filter(|h| h.0 == realm)
        .map(|h| h.1)
        .collect();
      let answer = browser
        .request(
          realm,
          &VersionChange {
            name,
            conns,
            old_version,
            new_version,
          },
        )
        .await
        .unwrap_or(Value::Null);
      let closed: Vec<u64> = serde_json::from_value(answer["closed"].clone()).unwrap_or_default();
      still_open |= others
        .iter()
        .any(|h| h.0 == realm && !closed.contains(&h.1) && browser.realm_url(realm).is_some());
      self.db(origin, name, |db| {
        for c in db
          .conns
          .iter_mut()
          .filter(|c| c.id.0 == realm && closed.contains(&c.id.1))
        {
          c.closing = true;
        }
        db.reap();
      })?;
    }
    if still_open {
      browser.post(
        request.0,
        &Blocked {
          request: request.1,
          old_version,
          new_version,
        },
      );
    }
    loop {
      let (mut changed, open) = self.db(origin, name, |db| {
        (db.changed.subscribe(), !db.others_open(except).is_empty())
      })?;
      if !open {
        return Ok(());
      }
      let _ = changed.changed().await;
    }
  }

  /// "Delete a database" (4.2): its old version (0 if there was none).
  async fn delete(
    &self,
    c: &RealmCall<'_>,
    origin: &str,
    name: String,
    request: u64,
  ) -> HostResult {
    let Some(queue) = self
      .dbs
      .with(origin, |o| o.dbs.get(&name).map(|d| d.queue.clone()))?
    else {
      return Ok(json!(0));
    };
    let _guard = queue.lock_owned().await;
    let Ok(version) = self.db(origin, &name, |db| db.version) else {
      return Ok(json!(0));
    };
    self
      .version_change(
        c.browser,
        origin,
        &name,
        None,
        version,
        None,
        (c.realm, request),
      )
      .await?;
    self.dbs.with(origin, |o| o.remove(&name))?;
    Ok(json!(version))
  }

  async fn run(
    &self,
    origin: &str,
    name: &str,
    tx: Handle,
    ops: Vec<Value>,
    quota: u64,
  ) -> HostResult {
    let mut started = self
      .db(origin, name, |db| db.tx(tx).map(|t| t.started_rx()))?
      .ok_or_else(inactive)?;
    wait_started(&mut started).await?;
    let backing = self
      .db(origin, name, |db| db.tx(tx).map(|_| db.backing.clone()))?
      .ok_or_else(inactive)?;
    let used = scheduler::usage(&self.dbs.origin_dir(origin));
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
      let result = serde_json::from_value::<Op>(op)
        .map_err(|e| HostError::type_error(format!("indexedDB.run: {e}")))
        .and_then(|op| backing.run(op, quota.saturating_sub(used)));
      results.push(match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": e }),
      });
    }
    Ok(Value::Array(results))
  }

  /// Ends a transaction; an aborted upgrade of a new database deletes it.
  fn finish(&self, origin: &str, name: &str, tx: Handle, commit: bool) -> HostResult {
    let ended = self.db(origin, name, |db| db.finish_tx(tx, commit))??;
    if let Some(t) = ended {
      if t.mode == Mode::VersionChange && t.old_version == 0 && !commit {
        self.dbs.with(origin, |o| o.remove(name))?;
      }
    }
    Ok(Value::Null)
  }
}

fn inactive() -> HostError {
  HostError::new("TransactionInactiveError", "the transaction has finished")
}

/// Waits for a transaction to start.
async fn wait_started(rx: &mut watch::Receiver<bool>) -> Result<(), HostError> {
  rx.wait_for(|s| *s).await.map(drop).map_err(|_| {
    HostError::new(
      "AbortError",
      "the transaction was aborted before it started",
    )
  })
}

impl Feature for IndexedDb {
  fn namespace(&self) -> &'static str {
    "indexedDB"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(async move {
      let call = decode_call::<Call>("indexedDB", c.method, c.args.clone())?;
      let origin = c.browser.realm_origin(c.realm)?.ascii_serialization();
      let r = c.realm;
      match call {
        Call::Open { .. } => self.open(&c, &origin, call).await,
        Call::DeleteDatabase { name, request } => self.delete(&c, &origin, name, request).await,
        Call::Databases {} => self.dbs.with(&origin, |o| {
          let mut list: Vec<_> = o
            .dbs
            .values()
            .filter(|d| d.version > 0)
            .map(|d| json!({ "name": d.name, "version": d.version }))
            .collect();
          list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
          Value::Array(list)
        }),
        Call::Close { name, conn } => {
          let _ = self.db(&origin, &name, |db| {
            for c in db.conns.iter_mut().filter(|c| c.id == (r, conn)) {
              c.closing = true;
            }
            db.reap();
          });
          Ok(Value::Null)
        }
        Call::Opened { name, conn } => {
          let _ = self.db(&origin, &name, |db| db.held.retain(|h| h.0 != (r, conn)));
          Ok(Value::Null)
        }
        Call::Begin {
          name,
          conn,
          tx,
          mode,
          scope,
        } => {
          let mode = match mode.as_str() {
            "readonly" => Mode::ReadOnly,
            "readwrite" => Mode::ReadWrite,
            _ => {
              return Err(HostError::type_error(format!(
                "bad transaction mode '{mode}'"
              )))
            }
          };
          self.db(&origin, &name, |db| {
            if !db.conns.iter().any(|c| c.id == (r, conn) && !c.closing) {
              return Err(HostError::invalid_state(
                "the database connection is closing",
              ));
            }
            db.add_tx(Db::new_tx((r, tx), (r, conn), mode, scope));
            Ok(Value::Null)
          })?
        }
        Call::Run { name, tx, ops } => {
          self
            .run(&origin, &name, (r, tx), ops, c.browser.opts().quota)
            .await
        }
        Call::Commit { name, tx } => {
          // Marked at once, in the order the realm asked.
          let mut started = self
            .db(&origin, &name, |db| db.mark_committing((r, tx)))?
            .ok_or_else(inactive)?;
          wait_started(&mut started).await?;
          loop {
            let (mut changed, turn) = self.db(&origin, &name, |db| {
              (db.changed.subscribe(), db.commit_turn((r, tx)))
            })?;
            if turn {
              break;
            }
            let _ = changed.changed().await;
          }
          self.finish(&origin, &name, (r, tx), true)
        }
        Call::Abort { name, tx } => self.finish(&origin, &name, (r, tx), false),
      }
    })
  }

  fn usage(&self, origin: &str) -> u64 {
    scheduler::usage(&self.dbs.origin_dir(origin))
  }

  /// A realm that ends aborts its transactions and closes its connections.
  fn on_event(&self, _browser: &Browser, event: BrowserEvent<'_>) {
    if let BrowserEvent::RealmExited { realm, .. } = event {
      self.dbs.each(|db| {
        let mine: Vec<Handle> = db
          .txs
          .iter()
          .filter(|t| t.id.0 == realm)
          .map(|t| t.id)
          .collect();
        for t in mine {
          let _ = db.finish_tx(t, false);
        }
        db.conns.retain(|c| c.id.0 != realm);
        db.held.retain(|h| h.0 .0 != realm);
        db.reap();
        db.start_ready();
      });
    }
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
