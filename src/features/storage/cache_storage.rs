//! Cache Storage (Service Workers spec, "Cache" and "CacheStorage"), per
//! origin, in the browser's SQLite database with bodies as files beside it
//! (names are generated, never taken from URLs). The realms' calls
//! (`cacheStorage.*`) are decoded once into [`Call`].
//!
//! A cache is a "request response list"; an origin's caches are its "name to
//! cache map" (the spec keys it by storage key). Step numbers are those of the
//! Service Workers spec's method steps and of "Query Cache", "Request Matches
//! Cached Item" and "Batch Cache Operations".

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};

use super::database::Store;
use crate::platform::browser::durability;
use crate::platform::browser::{Browser, Feature, RealmCall};
use crate::platform::ipc::{decode_call, HostError, HostResult, RealmId};

/// The feature: Cache Storage in the browser's database.
pub struct CacheStorage {
  store: Arc<Store>,
}

impl CacheStorage {
  pub fn new(store: Arc<Store>) -> Self {
    CacheStorage { store }
  }
}

impl Feature for CacheStorage {
  fn namespace(&self) -> &'static str {
    "cacheStorage"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(handle(c.browser, &self.store, c.realm, c.method, c.args))
  }

  /// The bodies of the origin's cache entries.
  fn usage(&self, origin: &str) -> u64 {
    self
      .store
      .with(|c| {
        c.query_row(
          "SELECT COALESCE(SUM(e.body_len), 0) FROM cache_entries e
           JOIN caches c ON e.cache_id = c.id WHERE c.origin = ?1",
          params![origin],
          |r| r.get::<_, i64>(0),
        )
      })
      .map_or(0, |n| n.max(0) as u64)
  }

  /// A cache entry's body (`cache:ID`).
  fn body_path(&self, token: &str) -> Option<std::path::PathBuf> {
    body_path(&self.store, token.strip_prefix("cache:")?.parse().ok()?)
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}

/// What `Cache.put` stores: the request, the response and its body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutArgs {
  cache: String,
  url: String,
  method: String,
  request_headers: Value,
  response_url: String,
  status: i64,
  status_text: String,
  headers: Value,
  /// The body, base64; or the token of a stored body to copy.
  body: Option<String>,
  body_token: Option<String>,
}

/// The query of `match`, `matchAll`, `keys` and `delete`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QueryArgs {
  /// The cache to look in; every cache of the origin if None.
  cache: Option<String>,
  url: Option<String>,
  method: Option<String>,
  ignore_search: bool,
  ignore_method: bool,
}

crate::platform::ipc::realm_calls! {
  enum Call {
    Open { cache: String },
    Has { cache: String },
    DeleteCache { cache: String },
    Names {},
    Put(Box<PutArgs>),
    Match(QueryArgs),
    Keys(QueryArgs),
    Delete(QueryArgs),
  }
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
  fn from(args: &QueryArgs) -> Query {
    Query {
      url: args.url.as_deref().map(|s| strip_fragment(s).to_string()),
      method: args.method.clone(),
      ignore_search: args.ignore_search,
      ignore_method: args.ignore_method,
    }
  }
  /// Service Workers, "Request Matches Cached Item", steps 2-5: the URLs are
  /// equal without fragments (and without queries if `ignoreSearch`). Its
  /// steps 6-8 (`Vary`) are not applied, and `ignoreVary` is not supported.
  fn matches(&self, url: &str, method: &str) -> bool {
    // (The method steps' check, e.g. `Cache.matchAll`, step 2.1.2, and
    // `Cache.delete`, step 2.2; "Request Matches Cached Item", step 1, always
    // passes, as put() stores GETs only.)
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

fn cache_id(store: &Store, origin: &str, name: &str) -> Result<Option<i64>, HostError> {
  store
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

/// A cache's "request response list", in the order entries were added.
fn entries(store: &Store, cache: i64) -> Result<Vec<Entry>, HostError> {
  store
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
pub fn body_path(store: &Store, entry: i64) -> Option<std::path::PathBuf> {
  let file: Option<String> = store
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
  file.map(|f| store.body_dir().join(f))
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

async fn handle(
  browser: &Browser,
  store: &Store,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  let call = decode_call::<Call>("cacheStorage", method, args)?;
  let origin = browser.realm_origin(realm)?.ascii_serialization();
  match call {
    // `CacheStorage.open(cacheName)`, step 2: the cache of that name, else a
    // new request response list set in the name to cache map.
    Call::Open { cache } => {
      ensure_cache(store, &origin, &cache)?;
      Ok(Value::Null)
    }
    // `CacheStorage.has(cacheName)`, step 2.
    Call::Has { cache } => Ok(json!(cache_id(store, &origin, &cache)?.is_some())),
    // `CacheStorage.delete(cacheName)`: false if there is no such cache (step
    // 2.1), else remove it from the name to cache map (2.3.1) and resolve true.
    Call::DeleteCache { cache } => {
      let Some(id) = cache_id(store, &origin, &cache)? else {
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
    // `CacheStorage.keys()`, step 2.1: the names in the order they were added.
    Call::Names {} => store
      .with(|c| {
        let mut stmt = c.prepare("SELECT name FROM caches WHERE origin = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![origin], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
      })
      .map(|v| json!(v))
      .map_err(storage_err),
    Call::Put(args) => put(browser, store, &origin, *args).await,
    // `Cache.matchAll(request, options)`, step 5 (`Cache.match` takes the
    // first), and `CacheStorage.match(request, options)`.
    Call::Match(args) => find(store, &origin, &args, response_json),
    // `Cache.keys(request, options)`, step 5.
    Call::Keys(args) => find(store, &origin, &args, |e| {
      json!({"url": e.url, "method": e.method,
             "headers": serde_json::from_str::<Value>(&e.request_headers).unwrap_or(json!([]))})
    }),
    // `Cache.delete(request, options)`: a "delete" operation for "Batch Cache
    // Operations" (steps 4.2.5.1-4.2.5.2: "Query Cache", then remove each
    // match); true if it removed any.
    Call::Delete(args) => {
      let q = Query::from(&args);
      let Some(id) = cache_id(store, &origin, &args.cache.unwrap_or_default())? else {
        return Ok(json!(false));
      };
      let doomed: Vec<Entry> = entries(store, id)?
        .into_iter()
        .filter(|e| q.matches(&e.url, &e.method))
        .collect();
      for e in &doomed {
        remove_entry(store, e.id)?;
      }
      Ok(json!(!doomed.is_empty()))
    }
  }
}

/// The stored response for a GET of `url` in the origin's caches (or in
/// the cache `name` only), as `responseFromStored` takes it: a static
/// route's "cache" source.
pub fn lookup(store: &Store, origin: &str, name: Option<&str>, url: &str) -> Option<Value> {
  let args = QueryArgs {
    cache: name.map(str::to_string),
    url: Some(url.to_string()),
    method: Some("GET".into()),
    ignore_search: false,
    ignore_method: false,
  };
  let found = find(store, origin, &args, response_json).ok()?;
  found.as_array()?.first().cloned()
}

/// The entries that match a query, in the caches' order, each as `show`
/// makes it.
/// Service Workers, "Query Cache", steps 5-6, over one cache or, without a
/// cache name, over every cache in order (`CacheStorage.match`, step 2).
fn find(
  store: &Store,
  origin: &str,
  args: &QueryArgs,
  show: impl Fn(&Entry) -> Value,
) -> HostResult {
  let q = Query::from(args);
  let caches: Vec<i64> = match &args.cache {
    Some(n) => cache_id(store, origin, n)?.into_iter().collect(),
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
    for e in entries(store, id)? {
      if q.matches(&e.url, &e.method) {
        out.push(show(&e));
      }
    }
  }
  Ok(Value::Array(out))
}

fn remove_entry(store: &Store, id: i64) -> Result<(), HostError> {
  let path = body_path(store, id);
  store
    .with(|c| c.execute("DELETE FROM cache_entries WHERE id = ?1", params![id]))
    .map_err(storage_err)?;
  if let Some(p) = path {
    let _ = std::fs::remove_file(p);
  }
  Ok(())
}

/// Creates the cache `name` of `origin` unless it exists.
fn ensure_cache(store: &Store, origin: &str, name: &str) -> Result<(), HostError> {
  store
    .with(|c| {
      c.execute(
        "INSERT OR IGNORE INTO caches (origin, name) VALUES (?1, ?2)",
        params![origin, name],
      )
    })
    .map_err(storage_err)?;
  Ok(())
}

/// Service Workers, `Cache.put(request, response)`: the body is written
/// first, then the entry replaces any with the same URL in one step.
/// "Batch Cache Operations" for one "put" operation: steps 4.2.6.6-4.2.6.8
/// ("Query Cache" for the request, remove the matches, append the new entry).
/// A failed write is an UnknownError here, not the QuotaExceededError of
/// step 4.2.6.9.
async fn put(browser: &Browser, store: &Store, origin: &str, args: PutArgs) -> HostResult {
  let PutArgs {
    cache: name,
    url,
    method,
    request_headers,
    response_url,
    status,
    status_text,
    headers,
    body,
    body_token,
  } = args;
  ensure_cache(store, origin, &name)?;
  let id = cache_id(store, origin, &name)?.ok_or_else(|| HostError::invalid_state("no cache"))?;
  let url = strip_fragment(&url).to_string();
  let file = new_body_file();
  let path = store.body_dir().join(&file);
  durability::reached("cache-put");
  // The body: copied from a stored body (a Background Fetch record or
  // another cache entry) on disk, or given inline.
  let body_len = if let Some(token) = body_token {
    let src = browser
      .body_path(&token)
      .ok_or_else(|| HostError::type_error("the response body is no longer available"))?;
    tokio::fs::copy(&src, &path)
      .await
      .map_err(|e| storage_err(e.into()))?
  } else {
    let data = body.unwrap_or_default();
    let bytes = crate::platform::ipc::decode_base64(&data)
      .ok_or_else(|| HostError::type_error("bad body encoding"))?;
    tokio::fs::write(&path, &bytes)
      .await
      .map_err(|e| storage_err(e.into()))?;
    bytes.len() as u64
  };
  // Step 4.2.6.6: the entries whose request matches (same URL).
  let old: Vec<Entry> = entries(store, id)?
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
          method,
          request_headers.to_string(),
          response_url,
          status,
          status_text,
          headers.to_string(),
          file,
          body_len as i64,
        ],
      )
    })
    .map_err(storage_err)?;
  // Step 4.2.6.7: removed once the new entry is in.
  for e in old {
    remove_entry(store, e.id)?;
  }
  durability::reached("cache-put.done");
  Ok(Value::Null)
}
