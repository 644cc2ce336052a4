//! Reads: `get`, `getKey`, `getAll`, `getAllKeys`, `count` and each step
//! of a cursor are one query, "the first rows after a position, in a
//! direction, within a range". Cursors keep no state here: a step names
//! the position it continues from, so records added or removed meanwhile
//! are seen as the spec says.

use rusqlite::{params, Connection};
use serde::Deserialize;
use serde_json::{json, Value};

use super::backing::{index_row, storage, store_row};
use super::keys::{hex, unhex};
use crate::platform::ipc::{encode_base64, HostError};

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
  /// Stop once the values read add up to this many bytes (at least one
  /// row is read): a cursor's read-ahead stays small for large values.
  pub budget: Option<u64>,
}

impl Read {
  /// Every row of a store (or index) within `range`, in key order.
  pub(super) fn all(store: String, index: Option<String>, range: Range) -> Read {
    Read {
      store,
      index,
      range,
      direction: next(),
      after: None,
      target: None,
      skip: 0,
      limit: None,
      values: false,
      budget: None,
    }
  }
}

pub(super) fn next() -> String {
  "next".into()
}

/// The SQL of a read: rows of (key, primary key), or their count.
pub(super) fn select(
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
pub(super) fn read_rows(c: &Connection, r: &Read) -> Result<Value, HostError> {
  let (sid, ..) = store_row(c, &r.store)?;
  let (sql, args) = select(c, r, false)?;
  let mut q = c.prepare_cached(&sql).map_err(storage)?;
  let rows = q
    .query_map(rusqlite::params_from_iter(args.iter()), |row| {
      Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
    })
    .map_err(storage)?;
  let mut out = Vec::new();
  let mut spent = 0u64;
  let mut vq = c
    .prepare_cached("SELECT value, inject, blobs FROM records WHERE store_id = ?1 AND key = ?2")
    .map_err(storage)?;
  for row in rows {
    let (key, pk) = row.map_err(storage)?;
    let mut item = json!({ "key": hex(&key), "primaryKey": hex(&pk) });
    if r.values {
      let (value, inject, blobs): (Vec<u8>, bool, Option<String>) = vq
        .query_row(params![sid, pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(storage)?;
      spent += value.len() as u64;
      item["value"] = json!(encode_base64(&value));
      item["inject"] = json!(inject);
      if let Some(b) = blobs {
        item["blobs"] = serde_json::from_str(&b).unwrap_or(Value::Null);
      }
    }
    out.push(item);
    if r.budget.is_some_and(|b| spent >= b) {
      break;
    }
  }
  Ok(Value::Array(out))
}
