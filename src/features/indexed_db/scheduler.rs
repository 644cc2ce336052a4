//! The browser's view of an origin's databases: which exist (one SQLite
//! file each, in the origin's folder), the connections the realms hold,
//! and the transactions, started in the order the spec allows
//! (IndexedDB 3.0, "Transaction scheduling"): read-only transactions run
//! side by side, and a transaction waits for every live transaction created
//! before it whose scope overlaps its own, unless both are read-only. One
//! read/write transaction runs at a time per database (it is the file's one
//! SQL transaction); read-only ones never see its writes, since they never
//! share a store with it.
//!
//! A connection or transaction is named by its realm and the id the realm
//! gave it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::backing::Backing;
use crate::platform::browser::durability::Durability;
use crate::platform::ipc::{HostError, RealmId};

/// A connection or transaction: (realm, the realm's own id).
pub type Handle = (RealmId, u64);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
  ReadOnly,
  ReadWrite,
  VersionChange,
}

pub struct Tx {
  pub id: Handle,
  pub conn: Handle,
  pub mode: Mode,
  /// The store names; the whole database for a versionchange.
  pub scope: Vec<String>,
  started: watch::Sender<bool>,
  /// A versionchange transaction holds its database's open queue.
  pub queue_guard: Option<tokio::sync::OwnedMutexGuard<()>>,
  /// The version the database had (to delete a new one that is aborted).
  pub old_version: i64,
  /// The realm asked to commit it.
  pub committing: bool,
}

impl Tx {
  fn overlaps(&self, other: &Tx) -> bool {
    self.mode == Mode::VersionChange
      || other.mode == Mode::VersionChange
      || self.scope.iter().any(|s| other.scope.contains(s))
  }
  pub fn started_rx(&self) -> watch::Receiver<bool> {
    self.started.subscribe()
  }
  fn is_started(&self) -> bool {
    *self.started.borrow()
  }
}

pub struct Conn {
  pub id: Handle,
  /// `close()` was called: it ends when its transactions have.
  pub closing: bool,
}

/// One database: its file, connections and live transactions.
pub struct Db {
  pub name: String,
  pub backing: Arc<Backing>,
  pub version: i64,
  pub conns: Vec<Conn>,
  pub txs: Vec<Tx>,
  /// Open and delete requests take their turn here ("connection queue").
  pub queue: Arc<tokio::sync::Mutex<()>>,
  /// Told whenever a connection or transaction ends.
  pub changed: watch::Sender<u64>,
  /// The queue's turn, kept by an open request until its realm has fired
  /// its success (or error) event: the next request's `versionchange`
  /// must come after it.
  pub held: Vec<(Handle, tokio::sync::OwnedMutexGuard<()>)>,
}

impl Db {
  pub fn new(name: String, backing: Backing, version: i64) -> Db {
    Db {
      name,
      backing: Arc::new(backing),
      version,
      conns: Vec::new(),
      txs: Vec::new(),
      queue: Arc::new(tokio::sync::Mutex::new(())),
      changed: watch::channel(0).0,
      held: Vec::new(),
    }
  }

  /// Adds a transaction in creation order; the receiver says when it
  /// starts.
  pub fn add_tx(&mut self, tx: Tx) -> watch::Receiver<bool> {
    let rx = tx.started.subscribe();
    self.txs.push(tx);
    self.start_ready();
    rx
  }

  pub fn new_tx(id: Handle, conn: Handle, mode: Mode, scope: Vec<String>) -> Tx {
    Tx {
      id,
      conn,
      mode,
      scope,
      started: watch::channel(false).0,
      queue_guard: None,
      old_version: 0,
      committing: false,
    }
  }

  /// Starts every transaction the scheduling rules allow.
  pub fn start_ready(&mut self) {
    for i in 0..self.txs.len() {
      if self.txs[i].is_started() {
        continue;
      }
      let tx = &self.txs[i];
      let writer = tx.mode != Mode::ReadOnly;
      let blocked = self.txs[..i]
        .iter()
        .any(|e| tx.overlaps(e) && !(e.mode == Mode::ReadOnly && tx.mode == Mode::ReadOnly))
        || (writer
          && self
            .txs
            .iter()
            .any(|e| e.mode != Mode::ReadOnly && e.is_started()));
      if blocked {
        continue;
      }
      if writer && self.backing.begin().is_err() {
        continue;
      }
      self.txs[i].started.send_replace(true);
    }
  }

  pub fn tx(&self, id: Handle) -> Option<&Tx> {
    self.txs.iter().find(|t| t.id == id)
  }

  /// Marks a transaction as committing; the receiver says when it starts.
  pub fn mark_committing(&mut self, id: Handle) -> Option<watch::Receiver<bool>> {
    let tx = self.txs.iter_mut().find(|t| t.id == id)?;
    tx.committing = true;
    Some(tx.started.subscribe())
  }

  /// True once no started transaction made before this one is committing
  /// too: commits finish, and `complete` fires, in creation order. (One
  /// that has not started may be waiting for this one: no wait for it.)
  pub fn commit_turn(&self, id: Handle) -> bool {
    let Some(i) = self.txs.iter().position(|t| t.id == id) else {
      return true;
    };
    !self.txs[..i].iter().any(|t| t.committing && t.is_started())
  }

  /// Ends a transaction: commits (or rolls back) a writer's SQL, then lets
  /// the next ones start and ends a closing connection with no work left.
  pub fn finish_tx(&mut self, id: Handle, commit: bool) -> Result<Option<Tx>, HostError> {
    let Some(i) = self.txs.iter().position(|t| t.id == id) else {
      return Ok(None);
    };
    let tx = &self.txs[i];
    let mut result = Ok(());
    if tx.is_started() && tx.mode != Mode::ReadOnly {
      if commit {
        result = self.backing.commit();
        if result.is_err() {
          self.backing.rollback();
        }
      } else {
        self.backing.rollback();
      }
    }
    let mut tx = self.txs.remove(i);
    if let Some(guard) = tx.queue_guard.take() {
      self.held.push((tx.conn, guard));
    }
    if tx.mode == Mode::VersionChange {
      self.version = self.backing.meta().map_or(tx.old_version, |m| m.1);
    }
    self.reap();
    self.start_ready();
    result.map(|()| Some(tx))
  }

  /// Forgets closing connections whose transactions have all ended.
  pub fn reap(&mut self) {
    let txs = &self.txs;
    self
      .conns
      .retain(|c| !c.closing || txs.iter().any(|t| t.conn == c.id));
    self.changed.send_modify(|n| *n += 1);
  }

  /// The connections other than `except` that are still open.
  pub fn others_open(&self, except: Option<Handle>) -> Vec<Handle> {
    self
      .conns
      .iter()
      .filter(|c| Some(c.id) != except)
      .map(|c| c.id)
      .collect()
  }
}

/// The databases of every origin, loaded as they are first used.
pub struct Databases {
  root: PathBuf,
  durability: Durability,
  origins: Mutex<HashMap<String, Origin>>,
}

#[derive(Default)]
pub struct Origin {
  pub dbs: HashMap<String, Db>,
  next_file: u64,
  durability: Durability,
}

impl Databases {
  pub fn new(root: PathBuf, durability: Durability) -> Databases {
    Databases {
      root,
      durability,
      origins: Mutex::new(HashMap::new()),
    }
  }

  /// The folder of an origin: its serialization in hex, so that nothing
  /// an origin or a database name holds becomes part of a path.
  pub fn origin_dir(&self, origin: &str) -> PathBuf {
    self.root.join(super::keys::hex(origin.as_bytes()))
  }

  /// Runs `f` on the origin's databases, loading them on first use: each
  /// `db-N.sqlite` file with a name and a version above 0 (a file left at
  /// version 0 is a creation that never finished, and is removed).
  pub fn with<R>(&self, origin: &str, f: impl FnOnce(&mut Origin) -> R) -> Result<R, HostError> {
    let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
    if !origins.contains_key(origin) {
      let loaded = load(&self.origin_dir(origin), self.durability)?;
      origins.insert(origin.to_string(), loaded);
    }
    Ok(f(origins.get_mut(origin).expect("just loaded")))
  }

  /// Every origin's databases (for a realm that exits).
  pub fn each(&self, mut f: impl FnMut(&mut Db)) {
    let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
    for origin in origins.values_mut() {
      for db in origin.dbs.values_mut() {
        f(db);
      }
    }
  }
}

impl Origin {
  /// Makes a new database file (version 0 until its upgrade commits).
  pub fn create(&mut self, dir: &Path, name: &str) -> Result<(), HostError> {
    std::fs::create_dir_all(dir).map_err(|e| {
      HostError::new(
        "UnknownError",
        format!("cannot make {}: {e}", dir.display()),
      )
    })?;
    self.next_file += 1;
    let path = dir.join(format!("db-{}.sqlite", self.next_file));
    remove_files(&path);
    let backing = Backing::open(&path, Some(name), self.durability)?;
    self
      .dbs
      .insert(name.to_string(), Db::new(name.to_string(), backing, 0));
    Ok(())
  }

  /// Deletes a database and its file.
  pub fn remove(&mut self, name: &str) {
    if let Some(db) = self.dbs.remove(name) {
      let path = db.backing.path.clone();
      drop(db);
      remove_files(&path);
    }
  }
}

/// Removes a database file with its WAL and shared-memory files.
fn remove_files(path: &Path) {
  let _ = std::fs::remove_file(path);
  for ext in ["-wal", "-shm", "-journal"] {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    let _ = std::fs::remove_file(PathBuf::from(p));
  }
}

fn load(dir: &Path, durability: Durability) -> Result<Origin, HostError> {
  let mut origin = Origin {
    durability,
    ..Origin::default()
  };
  let Ok(entries) = std::fs::read_dir(dir) else {
    return Ok(origin);
  };
  for entry in entries.flatten() {
    let path = entry.path();
    let file = entry.file_name().to_string_lossy().into_owned();
    let Some(n) = file
      .strip_prefix("db-")
      .and_then(|f| f.strip_suffix(".sqlite"))
      .and_then(|n| n.parse::<u64>().ok())
    else {
      continue;
    };
    origin.next_file = origin.next_file.max(n);
    if Backing::is_blank(&path) {
      remove_files(&path);
      continue;
    }
    let backing = Backing::open(&path, None, durability)?;
    match backing.meta() {
      Some((name, version)) if version > 0 => {
        origin
          .dbs
          .insert(name.clone(), Db::new(name, backing, version));
      }
      Some(_) => {
        drop(backing);
        remove_files(&path);
      }
      None => {
        return Err(HostError::new(
          "UnknownError",
          format!(
            "IndexedDB database file {} is not a database of swharness",
            path.display()
          ),
        ))
      }
    }
  }
  Ok(origin)
}

/// Bytes an origin's databases take on disk.
pub fn usage(dir: &Path) -> u64 {
  std::fs::read_dir(dir)
    .map(|d| {
      d.flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
    })
    .unwrap_or(0)
}
