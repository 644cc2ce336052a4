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

use crate::ipc::{decode_base64, encode_base64, HostError};

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

/// The tag of a number key (`17_idb_keys.js` encodes the others).
const NUMBER_TAG: u8 = 0x10;
/// 2^53: a key generator past it is exhausted.
const MAX_GENERATED: f64 = 9007199254740992.0;

/// An encoded key: a number in the key order's bytes.
fn number_key(n: f64) -> Vec<u8> {
  let bits = n.to_bits();
  let ordered = if n < 0.0 { !bits } else { bits | (1 << 63) };
  let mut out = vec![NUMBER_TAG];
  out.extend_from_slice(&ordered.to_be_bytes());
  out
}

/// The number an encoded key holds, if it is a number key.
fn key_number(key: &[u8]) -> Option<f64> {
  let bytes: [u8; 8] = key.strip_prefix(&[NUMBER_TAG])?.try_into().ok()?;
  let ordered = u64::from_be_bytes(bytes);
  let bits = if ordered >> 63 == 1 {
    ordered & !(1 << 63)
  } else {
    !ordered
  };
  Some(f64::from_bits(bits))
}

pub fn hex(bytes: &[u8]) -> String {
  const DIGITS: &[u8; 16] = b"0123456789abcdef";
  let mut s = String::with_capacity(bytes.len() * 2);
  for b in bytes {
    s.push(DIGITS[(b >> 4) as usize] as char);
    s.push(DIGITS[(b & 15) as usize] as char);
  }
  s
}

pub fn unhex(s: &str) -> Result<Vec<u8>, HostError> {
  let bad = || HostError::new("DataError", "malformed encoded key");
  if !s.len().is_multiple_of(2) {
    return Err(bad());
  }
  (0..s.len())
    .step_by(2)
    .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
    .collect()
}

/// A key range, encoded: absent bounds are unbounded.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Range {
  pub lower: Option<String>,
  pub upper: Option<String>,
  #[serde(default)]
  pub lower_open: bool,
  #[serde(default)]
  pub upper_open: bool,
}

/// A position of a cursor (or a target to reach): an index key and the
/// primary key of the record (the same key for a store).
#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Position {
  pub key: String,
  pub primary_key: Option<String>,
}

/// One read: `get`, `getKey`, `getAll`, `getAllKeys`, and each step of a
/// cursor are all "the first `limit` records after `after` in `direction`
/// within `range`, at or past `target`, skipping `skip`".
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Read {
  pub store: String,
  pub index: Option<String>,
  #[serde(default)]
  pub range: Range,
  /// "next", "nextunique", "prev" or "prevunique".
  #[serde(default = "next")]
  pub direction: String,
  pub after: Option<Position>,
  pub target: Option<Position>,
  #[serde(default)]
  pub skip: u32,
  pub limit: Option<u32>,
  #[serde(default)]
  pub values: bool,
}

fn next() -> String {
  "next".into()
}

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

fn storage(e: rusqlite::Error) -> HostError {
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
  pub fn open(path: &Path, create: Option<&str>) -> Result<Backing, HostError> {
    let fail = |e: rusqlite::Error| {
      HostError::new(
        "UnknownError",
        format!(
          "IndexedDB database file {} is unusable: {e}",
          path.display()
        ),
      )
    };
    let conn = Connection::open(path).map_err(fail)?;
    conn
      .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
      .map_err(fail)?;
    conn.execute_batch(SCHEMA).map_err(fail)?;
    if let Some(name) = create {
      conn
        .execute(
          "INSERT INTO meta (name, version) VALUES (?1, 0)",
          params![name],
        )
        .map_err(fail)?;
    }
    Ok(Backing {
      path: path.to_path_buf(),
      conn: Mutex::new(conn),
    })
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
        index_keys,
        no_overwrite,
      } => {
        return put(c, &store, key, &value, index_keys, no_overwrite, quota_left);
      }
      Op::Read(read) => return read_rows(c, &read),
      Op::Count {
        store,
        index,
        range,
      } => {
        let read = Read {
          store,
          index,
          range,
          direction: next(),
          after: None,
          target: None,
          skip: 0,
          limit: None,
          values: false,
        };
        let (sql, args) = select(c, &read, true)?;
        let n: i64 = c
          .query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0))
          .map_err(storage)?;
        return Ok(json!(n));
      }
      Op::Delete { store, range } => {
        let read = Read {
          store: store.clone(),
          index: None,
          range,
          direction: next(),
          after: None,
          target: None,
          skip: 0,
          limit: None,
          values: false,
        };
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
fn store_row(c: &Connection, name: &str) -> Result<(i64, String, Option<f64>), HostError> {
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
fn index_row(c: &Connection, store: &str, index: &str) -> Result<(i64, i64, bool), HostError> {
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
fn put(
  c: &Connection,
  store: &str,
  key: Option<String>,
  value: &str,
  index_keys: Vec<IndexKeys>,
  no_overwrite: bool,
  quota_left: u64,
) -> Result<Value, HostError> {
  let (sid, key_path, generator) = store_row(c, store)?;
  let value = decode_base64(value).ok_or_else(|| HostError::type_error("malformed value"))?;
  if value.len() as u64 > quota_left {
    return Err(HostError::new(
      "QuotaExceededError",
      "the origin's storage quota is used up",
    ));
  }
  let generated = key.is_none();
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
          exec_f(
            c,
            "UPDATE stores SET current_key = ?2 WHERE id = ?1",
            sid,
            next,
          )?;
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
      exec_f(
        c,
        "UPDATE stores SET current_key = ?2 WHERE id = ?1",
        sid,
        current + 1.0,
      )?;
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
  c.prepare_cached("INSERT INTO records (store_id, key, value, inject) VALUES (?1, ?2, ?3, ?4)")
    .and_then(|mut q| q.execute(params![sid, key, value, inject]))
    .map_err(storage)?;
  for (iid, unique, keys, name) in &resolved {
    for k in keys {
      add_index_record(c, *iid, *unique, k, &key, name)?;
    }
  }
  Ok(json!(hex(&key)))
}

fn exec_f(c: &Connection, sql: &str, id: i64, f: f64) -> Result<(), HostError> {
  c.prepare_cached(sql)
    .and_then(|mut q| q.execute(params![id, f]))
    .map(drop)
    .map_err(storage)
}

/// The SQL of a read: rows of (key, primary key), or their count.
fn select(
  c: &Connection,
  r: &Read,
  count: bool,
) -> Result<(String, Vec<rusqlite::types::Value>), HostError> {
  use rusqlite::types::Value as V;
  let (sid, ..) = store_row(c, &r.store)?;
  let mut args: Vec<V> = Vec::new();
  let (table, id, pk) = match &r.index {
    None => ("records", sid, "key"),
    Some(index) => ("index_records", index_row(c, &r.store, index)?.1, "pk"),
  };
  let id_col = if r.index.is_none() {
    "store_id"
  } else {
    "index_id"
  };
  let mut sql = vec![format!("{id_col} = ?")];
  args.push(V::Integer(id));
  let mut bound = |op: &str, hexkey: &Option<String>, args: &mut Vec<V>| -> Result<(), HostError> {
    if let Some(k) = hexkey {
      sql.push(format!("key {op} ?"));
      args.push(V::Blob(unhex(k)?));
    }
    Ok(())
  };
  bound(
    if r.range.lower_open { ">" } else { ">=" },
    &r.range.lower,
    &mut args,
  )?;
  bound(
    if r.range.upper_open { "<" } else { "<=" },
    &r.range.upper,
    &mut args,
  )?;
  let forward = r.direction.starts_with("next");
  let unique = r.direction.ends_with("unique");
  let (gt, ge) = if forward { (">", ">=") } else { ("<", "<=") };
  // Past the cursor's position: by key, then (in an index, for duplicate
  // keys) by primary key.
  let mut step =
    |pos: &Option<Position>, strict: bool, args: &mut Vec<V>| -> Result<(), HostError> {
      let Some(p) = pos else { return Ok(()) };
      let key = unhex(&p.key)?;
      match (&r.index, &p.primary_key, unique) {
        (Some(_), Some(pkey), false) => {
          let op = if strict { gt } else { ge };
          sql.push(format!("(key {gt} ? OR (key = ? AND pk {op} ?))"));
          args.push(V::Blob(key.clone()));
          args.push(V::Blob(key));
          args.push(V::Blob(unhex(pkey)?));
        }
        _ => {
          sql.push(format!("key {} ?", if strict { gt } else { ge }));
          args.push(V::Blob(key));
        }
      }
      Ok(())
    };
  step(&r.after, true, &mut args)?;
  step(&r.target, false, &mut args)?;
  let filter = sql.join(" AND ");
  let dir = if forward { "ASC" } else { "DESC" };
  let body = if unique && r.index.is_some() {
    format!("SELECT key, MIN(pk) AS pk FROM {table} WHERE {filter} GROUP BY key ORDER BY key {dir}")
  } else {
    format!("SELECT key, {pk} AS pk FROM {table} WHERE {filter} ORDER BY key {dir}, pk {dir}")
  };
  let text = if count {
    format!("SELECT COUNT(*) FROM ({body})")
  } else {
    let limit = r.limit.map_or(-1, i64::from);
    format!("{body} LIMIT {limit} OFFSET {}", r.skip)
  };
  Ok((text, args))
}

/// The rows of a read: `{key, primaryKey, value?, inject?}`, keys in hex
/// and values in base64.
fn read_rows(c: &Connection, r: &Read) -> Result<Value, HostError> {
  let (sid, ..) = store_row(c, &r.store)?;
  let (sql, args) = select(c, r, false)?;
  let mut q = c.prepare_cached(&sql).map_err(storage)?;
  let rows = q
    .query_map(rusqlite::params_from_iter(args.iter()), |row| {
      Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
    })
    .map_err(storage)?;
  let mut out = Vec::new();
  let mut vq = c
    .prepare_cached("SELECT value, inject FROM records WHERE store_id = ?1 AND key = ?2")
    .map_err(storage)?;
  for row in rows {
    let (key, pk) = row.map_err(storage)?;
    let mut item = json!({ "key": hex(&key), "primaryKey": hex(&pk) });
    if r.values {
      let (value, inject): (Vec<u8>, bool) = vq
        .query_row(params![sid, pk], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(storage)?;
      item["value"] = json!(encode_base64(&value));
      item["inject"] = json!(inject);
    }
    out.push(item);
  }
  Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn number_keys_sort_as_numbers() {
    let ns = [
      f64::NEG_INFINITY,
      -1e300,
      -2.5,
      -1.0,
      0.0,
      1e-300,
      1.0,
      2.5,
      1e300,
      f64::INFINITY,
    ];
    for w in ns.windows(2) {
      assert!(number_key(w[0]) < number_key(w[1]), "{} < {}", w[0], w[1]);
    }
    for n in ns {
      assert_eq!(key_number(&number_key(n)), Some(n));
    }
  }
}
