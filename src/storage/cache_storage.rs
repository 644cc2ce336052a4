//! Cache Storage, per origin, in the browser's SQLite database with bodies
//! as files beside it (names are generated, never taken from URLs).

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::ipc::{HostError, HostResult, RealmId};

fn origin_of(browser: &Browser, realm: RealmId) -> Result<String, HostError> {
  crate::browser::router::realm_url(browser, realm)
    .map(|u| u.origin().ascii_serialization())
    .ok_or_else(|| HostError::invalid_state("unknown realm"))
}

fn storage_err(e: anyhow::Error) -> HostError {
  HostError::new("UnknownError", format!("Cache Storage failed: {e:#}"))
}

fn strip_search(url: &str) -> &str {
  let end = url.find(['?', '#']).unwrap_or(url.len());
  &url[..end]
}

fn strip_fragment(url: &str) -> &str {
  let end = url.find('#').unwrap_or(url.len());
  &url[..end]
}

struct Query {
  url: Option<String>,
  method: Option<String>,
  ignore_search: bool,
  ignore_method: bool,
}

impl Query {
  fn from(args: &Value) -> Query {
    Query {
      url: args["url"].as_str().map(|s| strip_fragment(s).to_string()),
      method: args["method"].as_str().map(str::to_string),
      ignore_search: args["ignoreSearch"] == json!(true),
      ignore_method: args["ignoreMethod"] == json!(true),
    }
  }
  fn matches(&self, url: &str, method: &str) -> bool {
    // A stored entry is always a GET; a query for another method matches
    // nothing unless ignoreMethod is set.
    if !self.ignore_method && self.method.as_deref().is_some_and(|m| m != "GET") {
      return false;
    }
    let _ = method;
    match &self.url {
      None => true,
      Some(q) if self.ignore_search => strip_search(q) == strip_search(url),
      Some(q) => q == url,
    }
  }
}

fn cache_id(browser: &Browser, origin: &str, name: &str) -> Result<Option<i64>, HostError> {
  browser
    .inner
    .store
    .with(|c| {
      c.query_row(
        "SELECT id FROM caches WHERE origin = ?1 AND name = ?2",
        params![origin, name],
        |r| r.get(0),
      )
      .optional()
    })
    .map_err(storage_err)
}

struct Entry {
  id: i64,
  url: String,
  method: String,
  request_headers: String,
  response_url: String,
  status: i64,
  status_text: String,
  response_headers: String,
  body_len: i64,
}

fn entries(browser: &Browser, cache: i64) -> Result<Vec<Entry>, HostError> {
  browser
    .inner
    .store
    .with(|c| {
      let mut stmt = c.prepare(
        "SELECT id, url, method, request_headers, response_url, status, status_text, response_headers, body_len
         FROM cache_entries WHERE cache_id = ?1 ORDER BY id",
      )?;
      let rows = stmt.query_map(params![cache], |r| {
        Ok(Entry {
          id: r.get(0)?,
          url: r.get(1)?,
          method: r.get(2)?,
          request_headers: r.get(3)?,
          response_url: r.get(4)?,
          status: r.get(5)?,
          status_text: r.get(6)?,
          response_headers: r.get(7)?,
          body_len: r.get(8)?,
        })
      })?;
      rows.collect()
    })
    .map_err(storage_err)
}

fn response_json(e: &Entry) -> Value {
  json!({
    "url": e.response_url,
    "status": e.status,
    "statusText": e.status_text,
    "headers": serde_json::from_str::<Value>(&e.response_headers).unwrap_or(json!([])),
    "bodyToken": format!("cache:{}", e.id),
    "bodyLen": e.body_len,
  })
}

/// The file holding a cache entry's body.
pub fn body_path(browser: &Browser, entry: i64) -> Option<std::path::PathBuf> {
  let file: Option<String> = browser
    .inner
    .store
    .with(|c| {
      c.query_row(
        "SELECT body_file FROM cache_entries WHERE id = ?1",
        params![entry],
        |r| r.get(0),
      )
      .optional()
    })
    .ok()
    .flatten()
    .flatten();
  file.map(|f| browser.inner.store.body_dir().join(f))
}

fn new_body_file() -> String {
  use std::sync::atomic::{AtomicU64, Ordering};
  static N: AtomicU64 = AtomicU64::new(0);
  let nanos = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map(|d| d.as_nanos())
    .unwrap_or(0);
  format!(
    "{nanos:x}-{}-{}.body",
    std::process::id(),
    N.fetch_add(1, Ordering::Relaxed)
  )
}

pub(crate) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  let origin = origin_of(browser, realm)?;
  let name = args["cache"].as_str().map(str::to_string);
  let store = &browser.inner.store;
  match method {
    "open" => {
      ensure_cache(browser, &origin, &name.unwrap_or_default())?;
      Ok(Value::Null)
    }
    "has" => Ok(json!(cache_id(
      browser,
      &origin,
      &name.unwrap_or_default()
    )?
    .is_some())),
    "deleteCache" => {
      let Some(id) = cache_id(browser, &origin, &name.unwrap_or_default())? else {
        return Ok(json!(false));
      };
      let files: Vec<String> = store
        .with(|c| {
          let tx = c.transaction()?;
          let files = {
            let mut stmt = tx.prepare(
              "SELECT body_file FROM cache_entries WHERE cache_id = ?1 AND body_file IS NOT NULL",
            )?;
            let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
          };
          tx.execute("DELETE FROM cache_entries WHERE cache_id = ?1", params![id])?;
          tx.execute("DELETE FROM caches WHERE id = ?1", params![id])?;
          tx.commit()?;
          Ok(files)
        })
        .map_err(storage_err)?;
      for f in files {
        let _ = std::fs::remove_file(store.body_dir().join(f));
      }
      Ok(json!(true))
    }
    "names" => store
      .with(|c| {
        let mut stmt = c.prepare("SELECT name FROM caches WHERE origin = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![origin], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
      })
      .map(|v| json!(v))
      .map_err(storage_err),
    "put" => put(browser, &origin, &name.unwrap_or_default(), &args).await,
    "match" | "keys" => {
      let q = Query::from(&args);
      let caches: Vec<i64> = match name {
        Some(n) => cache_id(browser, &origin, &n)?.into_iter().collect(),
        None => store
          .with(|c| {
            let mut stmt = c.prepare("SELECT id FROM caches WHERE origin = ?1 ORDER BY id")?;
            let rows = stmt.query_map(params![origin], |r| r.get::<_, i64>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
          })
          .map_err(storage_err)?,
      };
      let mut out = Vec::new();
      for id in caches {
        for e in entries(browser, id)? {
          if q.matches(&e.url, &e.method) {
            out.push(if method == "match" {
              response_json(&e)
            } else {
              json!({"url": e.url, "method": e.method,
                     "headers": serde_json::from_str::<Value>(&e.request_headers).unwrap_or(json!([]))})
            });
          }
        }
      }
      Ok(Value::Array(out))
    }
    "delete" => {
      let q = Query::from(&args);
      let Some(id) = cache_id(browser, &origin, &name.unwrap_or_default())? else {
        return Ok(json!(false));
      };
      let doomed: Vec<Entry> = entries(browser, id)?
        .into_iter()
        .filter(|e| q.matches(&e.url, &e.method))
        .collect();
      for e in &doomed {
        remove_entry(browser, e.id)?;
      }
      Ok(json!(!doomed.is_empty()))
    }
    _ => Err(HostError::type_error(format!(
      "unknown cache call '{method}'"
    ))),
  }
}

fn remove_entry(browser: &Browser, id: i64) -> Result<(), HostError> {
  let path = body_path(browser, id);
  browser
    .inner
    .store
    .with(|c| c.execute("DELETE FROM cache_entries WHERE id = ?1", params![id]))
    .map_err(storage_err)?;
  if let Some(p) = path {
    let _ = std::fs::remove_file(p);
  }
  Ok(())
}

/// Creates the cache `name` of `origin` unless it exists.
fn ensure_cache(browser: &Browser, origin: &str, name: &str) -> Result<(), HostError> {
  browser
    .inner
    .store
    .with(|c| {
      c.execute(
        "INSERT OR IGNORE INTO caches (origin, name) VALUES (?1, ?2)",
        params![origin, name],
      )
    })
    .map_err(storage_err)?;
  Ok(())
}

async fn put(browser: &Browser, origin: &str, name: &str, args: &Value) -> HostResult {
  let store = &browser.inner.store;
  ensure_cache(browser, origin, name)?;
  let id = cache_id(browser, origin, name)?.ok_or_else(|| HostError::invalid_state("no cache"))?;
  let url = strip_fragment(args["url"].as_str().unwrap_or("")).to_string();
  let file = new_body_file();
  let path = store.body_dir().join(&file);
  // The body: copied from a stored body (a Background Fetch record or
  // another cache entry) on disk, or given inline.
  let body_len = if let Some(token) = args["bodyToken"].as_str() {
    let src = crate::background_fetch::context::resolve_body_token(browser, token)
      .ok_or_else(|| HostError::type_error("the response body is no longer available"))?;
    tokio::fs::copy(&src, &path)
      .await
      .map_err(|e| storage_err(e.into()))?
  } else {
    let data = args["body"].as_str().unwrap_or("");
    let bytes = decode_base64(data).ok_or_else(|| HostError::type_error("bad body encoding"))?;
    tokio::fs::write(&path, &bytes)
      .await
      .map_err(|e| storage_err(e.into()))?;
    bytes.len() as u64
  };
  let old: Vec<Entry> = entries(browser, id)?
    .into_iter()
    .filter(|e| e.url == url)
    .collect();
  store
    .with(|c| {
      c.execute(
        "INSERT INTO cache_entries (cache_id, url, method, request_headers, response_url, status, status_text, response_headers, body_file, body_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
          id,
          url,
          args["method"].as_str().unwrap_or("GET"),
          args["requestHeaders"].to_string(),
          args["responseUrl"].as_str().unwrap_or(""),
          args["status"].as_i64().unwrap_or(200),
          args["statusText"].as_str().unwrap_or(""),
          args["headers"].to_string(),
          file,
          body_len as i64,
        ],
      )
    })
    .map_err(storage_err)?;
  for e in old {
    remove_entry(browser, e.id)?;
  }
  Ok(Value::Null)
}

/// Standard base64 (with or without padding).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
  let mut out = Vec::with_capacity(s.len() * 3 / 4);
  let mut acc = 0u32;
  let mut bits = 0;
  for c in s.bytes() {
    let v = match c {
      b'A'..=b'Z' => c - b'A',
      b'a'..=b'z' => c - b'a' + 26,
      b'0'..=b'9' => c - b'0' + 52,
      b'+' => 62,
      b'/' => 63,
      b'=' | b'\n' | b'\r' => continue,
      _ => return None,
    } as u32;
    acc = (acc << 6) | v;
    bits += 6;
    if bits >= 8 {
      bits -= 8;
      out.push((acc >> bits) as u8);
    }
  }
  Some(out)
}
