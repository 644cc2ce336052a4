//! The browser's own SQLite database in the state directory: service
//! worker registrations and Cache Storage. (Background Fetch keeps its own
//! database beside it.) Every change is one transaction.

use crate::platform::browser::durability::Durability;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

pub struct Store {
  conn: Mutex<Connection>,
  dir: PathBuf,
}

/// A persisted registration: its active worker's script is kept so that a
/// restart does not need the network to start the worker again.
pub struct StoredRegistration {
  pub id: i64,
  pub scope: String,
  pub script_url: String,
  pub script_source: String,
  /// The scripts it imported (`importScripts`) when it was installed, as
  /// (URL, source) pairs: an update compares them, and the installed
  /// worker imports them from here.
  pub imported: Vec<(String, String)>,
  /// Navigation preload: on, and its header's value.
  pub preload_enabled: bool,
  pub preload_header: String,
  /// The static routes its worker added while it installed (JSON).
  pub routes: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sw_registrations (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL UNIQUE,
  script_url TEXT NOT NULL,
  script_source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS caches (
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  name TEXT NOT NULL,
  UNIQUE(origin, name)
);
CREATE TABLE IF NOT EXISTS cache_entries (
  id INTEGER PRIMARY KEY,
  cache_id INTEGER NOT NULL REFERENCES caches(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  request_headers TEXT NOT NULL,
  response_url TEXT NOT NULL,
  status INTEGER NOT NULL,
  status_text TEXT NOT NULL,
  response_headers TEXT NOT NULL,
  body_file TEXT,
  body_len INTEGER NOT NULL
);
";

impl Store {
  pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<Store> {
    let path = dir.join("browser.sqlite");
    let conn = Connection::open(&path)
      .with_context(|| format!("could not open the state database {}", path.display()))?;
    conn
      .execute_batch(durability.sqlite_pragmas())
      .and_then(|_| conn.execute_batch("PRAGMA foreign_keys=ON;"))
      .and_then(|_| conn.execute_batch(SCHEMA))
      .and_then(|_| add_columns(&conn))
      .with_context(|| {
        format!(
          "the state database {} is unreadable or corrupt (move it away to start afresh)",
          path.display()
        )
      })?;
    std::fs::create_dir_all(dir.join("cache_bodies"))?;
    crate::platform::browser::durability::watch_commits(&conn, "browser");
    let store = Store {
      conn: Mutex::new(conn),
      dir: dir.to_path_buf(),
    };
    store.remove_unknown_bodies();
    Ok(store)
  }

  /// Removes the body files no cache entry names: a put cut off between
  /// writing its body and committing its entry, or a removal between
  /// deleting the entry and its file (the run holds the directory's lock,
  /// so no other process is writing one).
  fn remove_unknown_bodies(&self) {
    let Ok(known) = self.with(|c| {
      let mut stmt =
        c.prepare("SELECT body_file FROM cache_entries WHERE body_file IS NOT NULL")?;
      let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
      rows.collect::<rusqlite::Result<std::collections::HashSet<String>>>()
    }) else {
      return;
    };
    for entry in std::fs::read_dir(self.body_dir())
      .into_iter()
      .flatten()
      .flatten()
    {
      let name = entry.file_name().to_string_lossy().into_owned();
      if !known.contains(&name) {
        let _ = std::fs::remove_file(entry.path());
      }
    }
  }

  pub fn with<R>(
    &self,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
  ) -> anyhow::Result<R> {
    let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
    Ok(f(&mut conn)?)
  }

  pub fn body_dir(&self) -> PathBuf {
    self.dir.join("cache_bodies")
  }

  pub fn registrations(&self) -> anyhow::Result<Vec<StoredRegistration>> {
    self.with(|c| {
      let mut stmt = c.prepare(
        "SELECT id, scope, script_url, script_source, imported, preload_enabled, preload_header,
           routes
         FROM sw_registrations ORDER BY id",
      )?;
      let rows = stmt.query_map([], |r| {
        let imported: String = r.get(4)?;
        Ok(StoredRegistration {
          id: r.get(0)?,
          scope: r.get(1)?,
          script_url: r.get(2)?,
          script_source: r.get(3)?,
          // A list that does not parse is as if nothing was imported.
          imported: serde_json::from_str(&imported).unwrap_or_default(),
          preload_enabled: r.get(5)?,
          preload_header: r.get(6)?,
          routes: r.get(7)?,
        })
      })?;
      rows.collect()
    })
  }

  /// Records the registration's active worker; returns its id.
  pub fn save_registration(
    &self,
    scope: &str,
    script_url: &str,
    source: &str,
    imported: &[(String, String)],
    routes: &str,
  ) -> anyhow::Result<i64> {
    let imported = serde_json::to_string(imported)?;
    self.with(|c| {
      let tx = c.transaction()?;
      tx.execute(
        "INSERT INTO sw_registrations (scope, script_url, script_source, imported, routes)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(scope) DO UPDATE SET script_url = excluded.script_url,
           script_source = excluded.script_source, imported = excluded.imported,
           routes = excluded.routes",
        params![scope, script_url, source, imported, routes],
      )?;
      let id: i64 = tx.query_row(
        "SELECT id FROM sw_registrations WHERE scope = ?1",
        params![scope],
        |r| r.get(0),
      )?;
      tx.commit()?;
      Ok(id)
    })
  }

  /// Records a registration's navigation preload state.
  pub fn save_navigation_preload(
    &self,
    scope: &str,
    enabled: bool,
    header: &str,
  ) -> anyhow::Result<()> {
    self.with(|c| {
      c.execute(
        "UPDATE sw_registrations SET preload_enabled = ?2, preload_header = ?3 WHERE scope = ?1",
        params![scope, enabled, header],
      )?;
      Ok(())
    })
  }

  pub fn delete_registration(&self, scope: &str) -> anyhow::Result<()> {
    self.with(|c| {
      c.execute(
        "DELETE FROM sw_registrations WHERE scope = ?1",
        params![scope],
      )?;
      Ok(())
    })
  }

  pub fn registration_id(&self, scope: &str) -> anyhow::Result<Option<i64>> {
    self.with(|c| {
      c.query_row(
        "SELECT id FROM sw_registrations WHERE scope = ?1",
        params![scope],
        |r| r.get(0),
      )
      .optional()
    })
  }
}

/// State directories made before these columns existed get them (with
/// their defaults).
fn add_columns(conn: &Connection) -> rusqlite::Result<()> {
  for (name, decl) in [
    ("imported", "TEXT NOT NULL DEFAULT '[]'"),
    ("preload_enabled", "INTEGER NOT NULL DEFAULT 0"),
    ("preload_header", "TEXT NOT NULL DEFAULT 'true'"),
    ("routes", "TEXT NOT NULL DEFAULT '[]'"),
  ] {
    let has = conn
      .prepare("SELECT 1 FROM pragma_table_info('sw_registrations') WHERE name = ?1")?
      .exists([name])?;
    if !has {
      conn.execute_batch(&format!(
        "ALTER TABLE sw_registrations ADD COLUMN {name} {decl}"
      ))?;
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn an_older_state_database_gets_the_new_columns() {
    let dir = tempfile::tempdir().unwrap();
    {
      let c = Connection::open(dir.path().join("browser.sqlite")).unwrap();
      c.execute_batch(
        "CREATE TABLE sw_registrations (id INTEGER PRIMARY KEY, scope TEXT NOT NULL UNIQUE,
           script_url TEXT NOT NULL, script_source TEXT NOT NULL);
         INSERT INTO sw_registrations (scope, script_url, script_source)
           VALUES ('https://a.test/', 'https://a.test/sw.js', 'x');",
      )
      .unwrap();
    }
    let store = Store::open(dir.path(), Durability::Relaxed).unwrap();
    let regs = store.registrations().unwrap();
    assert_eq!(regs.len(), 1);
    assert!(regs[0].imported.is_empty());
    assert!(!regs[0].preload_enabled);
    assert_eq!(regs[0].preload_header, "true");
    store
      .save_navigation_preload("https://a.test/", true, "v")
      .unwrap();
    let regs = store.registrations().unwrap();
    assert!(regs[0].preload_enabled);
    assert_eq!(regs[0].preload_header, "v");
  }
}
