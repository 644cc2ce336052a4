//! One IndexedDB database: its own SQLite file in the origin's folder,
//! holding the schema (object stores, indexes, key generators), the
//! records and the index records. Chromium calls this the backing store.
//!
//! Keys arrive encoded (`js/indexed_db/17_idb_keys.js`) so that comparing
//! the bytes (SQLite compares BLOBs with memcmp) is the spec's "compare two
//! keys". Values are structured-clone bytes the browser never looks into:
//! the realm computes index keys and sends them with each put.
//!
//! A read/write or versionchange transaction is one SQL transaction, begun
//! when it starts and committed or rolled back when it ends; the scheduler
//! (`scheduler.rs`) lets one such transaction run at a time per database.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};

use super::keys::{hex, key_number, number_key, unhex, MAX_GENERATED};
use super::reads::{read_rows, select, Range, Read};
use crate::platform::browser::durability::Durability;
use crate::platform::ipc::{decode_base64, HostError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stores (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  key_path TEXT NOT NULL,
  auto_increment INTEGER NOT NULL,
  current_key REAL NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS indexes (
  id INTEGER PRIMARY KEY,
  store_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  key_path TEXT NOT NULL,
  is_unique INTEGER NOT NULL,
  multi_entry INTEGER NOT NULL,
  UNIQUE(store_id, name)
);
CREATE TABLE IF NOT EXISTS records (
  store_id INTEGER NOT NULL,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  inject INTEGER NOT NULL,
  blobs TEXT,
  PRIMARY KEY(store_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_records (
  index_id INTEGER NOT NULL,
  key BLOB NOT NULL,
  pk BLOB NOT NULL,
  PRIMARY KEY(index_id, key, pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_records_pk ON index_records(index_id, pk);
";

/// The keys one index gets for a stored value (none when its key path
/// does not yield a valid key). With a key to be generated, the realm
/// computed them with `placeholder` where the key goes, and the browser
/// puts the generated key in its place.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexKeys {
  pub index: String,
  pub keys: Vec<String>,
  pub placeholder: Option<String>,
}

/// One operation of a transaction's request, in order.
#[derive(Deserialize)]
#[serde(
  tag = "op",
  rename_all = "camelCase",
  rename_all_fields = "camelCase",
  deny_unknown_fields
)]
pub enum Op {
  CreateStore {
    name: String,
    key_path: Value,
    auto_increment: bool,
  },
  DeleteStore {
    store: String,
  },
  RenameStore {
    store: String,
    name: String,
  },
  CreateIndex {
    store: String,
    name: String,
    key_path: Value,
    unique: bool,
    multi_entry: bool,
  },
  DeleteIndex {
    store: String,
    index: String,
  },
  RenameIndex {
    store: String,
    index: String,
    name: String,
  },
  /// Fills a new index: (index key, primary key) pairs.
  Populate {
    store: String,
    index: String,
    entries: Vec<(String, String)>,
  },
  Put {
    store: String,
    key: Option<String>,
    value: String,
    /// The bodies of the Blobs and Files in the value, in the order the
    /// value's deserialization meets them (base64).
    blobs: Option<Vec<String>>,
    index_keys: Vec<IndexKeys>,
    no_overwrite: bool,
  },
  Read(Read),
  Count {
    store: String,
    index: Option<String>,
    #[serde(default)]
    range: Range,
  },
  Delete {
    store: String,
    #[serde(default)]
    range: Range,
  },
  Clear {
    store: String,
  },
}

pub(super) fn storage(e: rusqlite::Error) -> HostError {
  HostError::new("UnknownError", format!("IndexedDB storage failed: {e}"))
}

fn not_found(what: &str, name: &str) -> HostError {
  HostError::new("NotFoundError", format!("no {what} named '{name}'"))
}

/// One database's file and connection.
pub struct Backing {
  pub path: PathBuf,
  conn: Mutex<Connection>,
}

impl Backing {
  /// Opens (or makes, with `create`) the database file. A file that is
  /// not a database of ours is an error that names it.
  pub fn open(
    path: &Path,
    create: Option<&str>,
    durability: Durability,
  ) -> Result<Backing, HostError> {
    let fail = |e: rusqlite::Error| {
      HostError::new(
        "UnknownError",
        format!(
          "IndexedDB database file {} is unusable: {e}",
          path.display()
        ),
      )
    };
    let mut conn = Connection::open(path).map_err(fail)?;
    conn
      .execute_batch(durability.sqlite_pragmas())
      .map_err(fail)?;
    crate::platform::browser::durability::watch_commits(&conn, "indexeddb");
    if let Some(name) = create {
      // A new file gets its schema and its name in one commit: a creation
      // cut off leaves a file with no table (see `is_blank`).
      let tx = conn.transaction().map_err(fail)?;
      tx.execute_batch(SCHEMA).map_err(fail)?;
      tx.execute(
        "INSERT INTO meta (name, version) VALUES (?1, 0)",
        params![name],
      )
      .map_err(fail)?;
      tx.commit().map_err(fail)?;
    } else {
      conn.execute_batch(SCHEMA).map_err(fail)?;
    }
    let has_blobs: bool = conn
      .query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'blobs'",
        [],
        |r| r.get(0),
      )
      .map_err(fail)?;
    if !has_blobs {
      conn
        .execute_batch("ALTER TABLE records ADD COLUMN blobs TEXT")
        .map_err(fail)?;
    }
    Ok(Backing {
      path: path.to_path_buf(),
      conn: Mutex::new(conn),
    })
  }

  /// Whether the file at `path` holds no table: a creation cut off before
  /// its first commit (an empty file, or SQLite's header alone).
  pub fn is_blank(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
      return false;
    };
    conn
      .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
      })
      .is_ok_and(|n| n == 0)
  }

  fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
    self.conn.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// The database's name and version (None: not one of ours).
  pub fn meta(&self) -> Option<(String, i64)> {
    self
      .conn()
      .query_row("SELECT name, version FROM meta", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
      })
      .ok()
  }

  pub fn begin(&self) -> Result<(), HostError> {
    self
      .conn()
      .execute_batch("BEGIN IMMEDIATE")
      .map_err(storage)
  }

  pub fn commit(&self) -> Result<(), HostError> {
    self.conn().execute_batch("COMMIT").map_err(storage)
  }

  pub fn rollback(&self) {
    let _ = self.conn().execute_batch("ROLLBACK");
  }

  pub fn set_version(&self, version: i64) -> Result<(), HostError> {
    self
      .conn()
      .execute("UPDATE meta SET version = ?1", params![version])
      .map(drop)
      .map_err(storage)
  }

  /// The schema a connection sees: its stores and their indexes.
  pub fn schema(&self) -> Result<Value, HostError> {
    let conn = self.conn();
    let mut stores = Vec::new();
    let mut q = conn
      .prepare("SELECT id, name, key_path, auto_increment FROM stores ORDER BY name")
      .map_err(storage)?;
    let rows = q
      .query_map([], |r| {
        Ok((
          r.get::<_, i64>(0)?,
          r.get::<_, String>(1)?,
          r.get::<_, String>(2)?,
          r.get::<_, bool>(3)?,
        ))
      })
      .map_err(storage)?;
    for row in rows {
      let (id, name, key_path, auto) = row.map_err(storage)?;
      let mut iq = conn
        .prepare_cached(
          "SELECT name, key_path, is_unique, multi_entry FROM indexes WHERE store_id = ?1 ORDER BY name",
        )
        .map_err(storage)?;
      let indexes = iq
        .query_map(params![id], |r| {
          Ok(json!({
            "name": r.get::<_, String>(0)?,
            "keyPath": serde_json::from_str::<Value>(&r.get::<_, String>(1)?).unwrap_or(Value::Null),
            "unique": r.get::<_, bool>(2)?,
            "multiEntry": r.get::<_, bool>(3)?,
          }))
        })
        .map_err(storage)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(storage)?;
      stores.push(json!({
        "name": name,
        "keyPath": serde_json::from_str::<Value>(&key_path).unwrap_or(Value::Null),
        "autoIncrement": auto,
        "indexes": indexes,
      }));
    }
    Ok(Value::Array(stores))
  }

  /// Runs one operation; `quota_left` is what the origin may still add.
  pub fn run(&self, op: Op, quota_left: u64) -> Result<Value, HostError> {
    let conn = self.conn();
    let c = &*conn;
    match op {
      Op::CreateStore {
        name,
        key_path,
        auto_increment,
      } => {
        c.execute(
          "INSERT INTO stores (name, key_path, auto_increment) VALUES (?1, ?2, ?3)",
          params![name, key_path.to_string(), auto_increment],
        )
        .map_err(|_| HostError::new("ConstraintError", format!("object store '{name}' exists")))?;
      }
      Op::DeleteStore { store } => {
        let (id, ..) = store_row(c, &store)?;
        exec(c, "DELETE FROM index_records WHERE index_id IN (SELECT id FROM indexes WHERE store_id = ?1)", id)?;
        exec(c, "DELETE FROM indexes WHERE store_id = ?1", id)?;
        exec(c, "DELETE FROM records WHERE store_id = ?1", id)?;
        exec(c, "DELETE FROM stores WHERE id = ?1", id)?;
      }
      Op::RenameStore { store, name } => {
        let (id, ..) = store_row(c, &store)?;
        c.execute(
          "UPDATE stores SET name = ?1 WHERE id = ?2",
          params![name, id],
        )
        .map_err(|_| HostError::new("ConstraintError", format!("object store '{name}' exists")))?;
      }
      Op::CreateIndex {
        store,
        name,
        key_path,
        unique,
        multi_entry,
      } => {
        let (id, ..) = store_row(c, &store)?;
        c.execute(
          "INSERT INTO indexes (store_id, name, key_path, is_unique, multi_entry) VALUES (?1, ?2, ?3, ?4, ?5)",
          params![id, name, key_path.to_string(), unique, multi_entry],
        )
        .map_err(|_| HostError::new("ConstraintError", format!("index '{name}' exists")))?;
      }
      Op::DeleteIndex { store, index } => {
        let (_, iid, _) = index_row(c, &store, &index)?;
        exec(c, "DELETE FROM index_records WHERE index_id = ?1", iid)?;
        exec(c, "DELETE FROM indexes WHERE id = ?1", iid)?;
      }
      Op::RenameIndex { store, index, name } => {
        let (_, iid, _) = index_row(c, &store, &index)?;
        c.execute(
          "UPDATE indexes SET name = ?1 WHERE id = ?2",
          params![name, iid],
        )
        .map_err(|_| HostError::new("ConstraintError", format!("index '{name}' exists")))?;
      }
      Op::Populate {
        store,
        index,
        entries,
      } => {
        let (_, iid, unique) = index_row(c, &store, &index)?;
        for (key, pk) in entries {
          add_index_record(c, iid, unique, &unhex(&key)?, &unhex(&pk)?, &index)?;
        }
      }
      Op::Put {
        store,
        key,
        value,
        blobs,
        index_keys,
        no_overwrite,
      } => {
        let value = Stored {
          value: &value,
          blobs,
        };
        return put(c, &store, key, value, index_keys, no_overwrite, quota_left);
      }
      Op::Read(read) => return read_rows(c, &read),
      Op::Count {
        store,
        index,
        range,
      } => {
        let read = Read::all(store, index, range);
        let (sql, args) = select(c, &read, true)?;
        let n: i64 = c
          .query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0))
          .map_err(storage)?;
        return Ok(json!(n));
      }
      Op::Delete { store, range } => {
        let read = Read::all(store.clone(), None, range);
        let (id, ..) = store_row(c, &store)?;
        let (sql, args) = select(c, &read, false)?;
        let keys: Vec<Vec<u8>> = {
          let mut q = c.prepare(&sql).map_err(storage)?;
          let rows = q
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
            .map_err(storage)?;
          rows.collect::<Result<_, _>>().map_err(storage)?
        };
        for key in keys {
          delete_record(c, id, &key)?;
        }
      }
      Op::Clear { store } => {
        let (id, ..) = store_row(c, &store)?;
        exec(c, "DELETE FROM index_records WHERE index_id IN (SELECT id FROM indexes WHERE store_id = ?1)", id)?;
        exec(c, "DELETE FROM records WHERE store_id = ?1", id)?;
      }
    }
    Ok(Value::Null)
  }
}

fn exec(c: &Connection, sql: &str, id: i64) -> Result<(), HostError> {
  c.prepare_cached(sql)
    .and_then(|mut q| q.execute(params![id]))
    .map(drop)
    .map_err(storage)
}

/// A store's id, key path (JSON) and key generator (if it has one).
pub(super) fn store_row(
  c: &Connection,
  name: &str,
) -> Result<(i64, String, Option<f64>), HostError> {
  c.prepare_cached("SELECT id, key_path, auto_increment, current_key FROM stores WHERE name = ?1")
    .and_then(|mut q| {
      q.query_row(params![name], |r| {
        let auto: bool = r.get(2)?;
        Ok((r.get(0)?, r.get(1)?, auto.then_some(r.get(3)?)))
      })
      .optional()
    })
    .map_err(storage)?
    .ok_or_else(|| not_found("object store", name))
}

/// An index's store id, id and uniqueness.
pub(super) fn index_row(
  c: &Connection,
  store: &str,
  index: &str,
) -> Result<(i64, i64, bool), HostError> {
  let (sid, ..) = store_row(c, store)?;
  c.prepare_cached("SELECT id, is_unique FROM indexes WHERE store_id = ?1 AND name = ?2")
    .and_then(|mut q| {
      q.query_row(params![sid, index], |r| Ok((sid, r.get(0)?, r.get(1)?)))
        .optional()
    })
    .map_err(storage)?
    .ok_or_else(|| not_found("index", index))
}

fn add_index_record(
  c: &Connection,
  iid: i64,
  unique: bool,
  key: &[u8],
  pk: &[u8],
  name: &str,
) -> Result<(), HostError> {
  if unique {
    let taken: bool = c
      .prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM index_records WHERE index_id = ?1 AND key = ?2 AND pk != ?3)",
      )
      .and_then(|mut q| q.query_row(params![iid, key, pk], |r| r.get(0)))
      .map_err(storage)?;
    if taken {
      return Err(HostError::new(
        "ConstraintError",
        format!("unique index '{name}' already has a record with this key"),
      ));
    }
  }
  c.prepare_cached("INSERT OR IGNORE INTO index_records (index_id, key, pk) VALUES (?1, ?2, ?3)")
    .and_then(|mut q| q.execute(params![iid, key, pk]))
    .map(drop)
    .map_err(storage)
}

fn delete_record(c: &Connection, sid: i64, key: &[u8]) -> Result<(), HostError> {
  c.prepare_cached(
    "DELETE FROM index_records WHERE pk = ?2 AND index_id IN (SELECT id FROM indexes WHERE store_id = ?1)",
  )
  .and_then(|mut q| q.execute(params![sid, key]))
  .and_then(|_| c.prepare_cached("DELETE FROM records WHERE store_id = ?1 AND key = ?2"))
  .and_then(|mut q| q.execute(params![sid, key]))
  .map(drop)
  .map_err(storage)
}

/// "Store a record into an object store" (IndexedDB 3.0, 5.x), with the
/// key generator steps; returns the record's key.
/// A value to store: its structured-clone bytes and its Blobs' bodies.
struct Stored<'a> {
  value: &'a str,
  blobs: Option<Vec<String>>,
}

fn put(
  c: &Connection,
  store: &str,
  key: Option<String>,
  stored: Stored<'_>,
  index_keys: Vec<IndexKeys>,
  no_overwrite: bool,
  quota_left: u64,
) -> Result<Value, HostError> {
  let (sid, key_path, generator) = store_row(c, store)?;
  let value =
    decode_base64(stored.value).ok_or_else(|| HostError::type_error("malformed value"))?;
  let blobs = stored.blobs.map(|b| Value::from(b).to_string());
  let size = value.len() + blobs.as_ref().map_or(0, |b| b.len() * 3 / 4);
  if size as u64 > quota_left {
    return Err(HostError::new(
      "QuotaExceededError",
      "the origin's storage quota is used up",
    ));
  }
  let generated = key.is_none();
  // The generator moves on only once the record is stored: a request that
  // fails a constraint does not use up a key.
  let mut next_generated = None;
  let key = match (key, generator) {
    (Some(k), generator) => {
      let key = unhex(&k)?;
      // Step 2: a number key at or past the generator moves it on.
      if let (Some(current), Some(n)) = (generator, key_number(&key)) {
        if n >= current {
          // Past 2^53 the generator is spent (f64 cannot hold 2^53 + 1).
          let next = if n >= MAX_GENERATED {
            f64::MAX
          } else {
            n.floor() + 1.0
          };
          next_generated = Some(next);
        }
      }
      key
    }
    (None, Some(current)) => {
      if current > MAX_GENERATED {
        return Err(HostError::new(
          "ConstraintError",
          "the key generator is exhausted",
        ));
      }
      next_generated = Some(current + 1.0);
      number_key(current)
    }
    (None, None) => return Err(HostError::new("DataError", "the record has no key")),
  };
  let exists: bool = c
    .prepare_cached("SELECT EXISTS(SELECT 1 FROM records WHERE store_id = ?1 AND key = ?2)")
    .and_then(|mut q| q.query_row(params![sid, key], |r| r.get(0)))
    .map_err(storage)?;
  if exists && no_overwrite {
    return Err(HostError::new(
      "ConstraintError",
      "a record with this key already exists in the object store",
    ));
  }
  // Unique indexes are checked before anything is written.
  let mut resolved = Vec::with_capacity(index_keys.len());
  for ik in index_keys {
    let (_, iid, unique) = index_row(c, store, &ik.index)?;
    let pk = hex(&key);
    let keys = ik
      .keys
      .iter()
      .map(|k| match &ik.placeholder {
        Some(p) if generated => unhex(&k.replace(p.as_str(), &pk)),
        _ => unhex(k),
      })
      .collect::<Result<Vec<_>, _>>()?;
    resolved.push((iid, unique, keys, ik.index));
  }
  for (iid, unique, keys, name) in &resolved {
    if *unique {
      for k in keys {
        let taken: bool = c
          .prepare_cached("SELECT EXISTS(SELECT 1 FROM index_records WHERE index_id = ?1 AND key = ?2 AND pk != ?3)")
          .and_then(|mut q| q.query_row(params![iid, k, key], |r| r.get(0)))
          .map_err(storage)?;
        if taken {
          return Err(HostError::new(
            "ConstraintError",
            format!("unique index '{name}' already has a record with this key"),
          ));
        }
      }
    }
  }
  if exists {
    delete_record(c, sid, &key)?;
  }
  let inject = generated && key_path != "null";
  c.prepare_cached(
    "INSERT INTO records (store_id, key, value, inject, blobs) VALUES (?1, ?2, ?3, ?4, ?5)",
  )
  .and_then(|mut q| q.execute(params![sid, key, value, inject, blobs]))
  .map_err(storage)?;
  for (iid, unique, keys, name) in &resolved {
    for k in keys {
      add_index_record(c, *iid, *unique, k, &key, name)?;
    }
  }
  if let Some(next) = next_generated {
    exec_f(
      c,
      "UPDATE stores SET current_key = ?2 WHERE id = ?1",
      sid,
      next,
    )?;
  }
  Ok(json!(hex(&key)))
}

fn exec_f(c: &Connection, sql: &str, id: i64, f: f64) -> Result<(), HostError> {
  c.prepare_cached(sql)
    .and_then(|mut q| q.execute(params![id, f]))
    .map(drop)
    .map_err(storage)
}
