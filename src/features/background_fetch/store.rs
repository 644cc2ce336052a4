//! SQLite persistence for Background Fetch: one row per fetch and per
//! record; every state change is one statement or one transaction.
//! A fetch row is a Background Fetch "background fetch" (its id, totals,
//! result, failure reason, title, icons); a record row is a "background
//! fetch record": its request and its "response data" (the body is a file).

use crate::platform::browser::durability::Durability;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::types::{Phase, RecordState, RegistrationState, RequestSpec, ResponseMeta};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fetches (
  uid TEXT PRIMARY KEY,
  scope TEXT NOT NULL,
  id TEXT NOT NULL,
  title TEXT NOT NULL,
  icons TEXT NOT NULL,
  download_total INTEGER NOT NULL,
  upload_total INTEGER NOT NULL,
  uploaded INTEGER NOT NULL,
  downloaded INTEGER NOT NULL,
  result TEXT NOT NULL,
  failure_reason TEXT NOT NULL,
  phase TEXT NOT NULL,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  uid TEXT NOT NULL,
  idx INTEGER NOT NULL,
  request TEXT NOT NULL,
  status INTEGER,
  status_text TEXT NOT NULL DEFAULT '',
  headers TEXT NOT NULL DEFAULT '[]',
  url TEXT NOT NULL DEFAULT '',
  validator TEXT NOT NULL DEFAULT '',
  body_file TEXT NOT NULL,
  body_len INTEGER NOT NULL DEFAULT 0,
  complete INTEGER NOT NULL DEFAULT 0,
  settled INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  PRIMARY KEY (uid, idx)
);
CREATE INDEX IF NOT EXISTS fetches_by_phase ON fetches (phase, seq);
CREATE INDEX IF NOT EXISTS fetches_by_id ON fetches (scope, id, seq);
";

const COLUMNS: &str = "uid, scope, id, title, icons, download_total, upload_total, uploaded, downloaded, result, failure_reason, phase";

pub struct Store {
  pub conn: Connection,
}

pub struct RecordRow {
  pub state: RecordState,
  pub body_file: String,
  pub validator: String,
}

impl Store {
  pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<Store> {
    let path = dir.join("bgfetch.sqlite");
    let conn = Connection::open(&path)?;
    conn
      .execute_batch(durability.sqlite_pragmas())
      .and_then(|_| conn.execute_batch(SCHEMA))
      .map_err(|e| {
        anyhow::anyhow!(
          "the Background Fetch database {} is unreadable or corrupt ({e}); move it away to start afresh",
          path.display()
        )
      })?;
    crate::platform::browser::durability::watch_commits(&conn, "bgfetch");
    Ok(Store { conn })
  }

  /// Background Fetch, "fetch(id, requests, options)", steps 6.4-6.6 (the
  /// records) and 8.13 (the fetch joins the registration's active fetches).
  pub fn insert(
    &mut self,
    s: &RegistrationState,
    records: &[(RequestSpec, String)],
  ) -> rusqlite::Result<()> {
    let tx = self.conn.transaction()?;
    let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM fetches", [], |r| {
      r.get(0)
    })?;
    tx.execute(
      "INSERT INTO fetches VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
      params![
        s.uid,
        s.scope,
        s.id,
        s.title,
        s.icons.to_string(),
        s.download_total as i64,
        s.upload_total as i64,
        s.uploaded as i64,
        s.downloaded as i64,
        s.result,
        s.failure_reason,
        s.phase.as_str(),
        seq
      ],
    )?;
    for (i, (req, file)) in records.iter().enumerate() {
      tx.execute(
        "INSERT INTO records (uid, idx, request, body_file) VALUES (?1, ?2, ?3, ?4)",
        params![
          s.uid,
          i as i64,
          serde_json::to_string(req).unwrap_or_default(),
          file
        ],
      )?;
    }
    tx.commit()
  }

  pub fn save_state(&self, s: &RegistrationState) -> rusqlite::Result<()> {
    self.conn.execute(
      // The first failure stays, and so does the phase `finished` (a state
      // copied before them must not undo them).
      "UPDATE fetches SET uploaded = ?2, downloaded = ?3,
         result = CASE WHEN failure_reason = '' THEN ?4 ELSE result END,
         failure_reason = CASE WHEN failure_reason = '' THEN ?5 ELSE failure_reason END,
         phase = CASE WHEN phase = 'finished' THEN phase ELSE ?6 END,
         title = ?7, icons = ?8 WHERE uid = ?1",
      params![
        s.uid,
        s.uploaded as i64,
        s.downloaded as i64,
        s.result,
        s.failure_reason,
        s.phase.as_str(),
        s.title,
        s.icons.to_string()
      ],
    )?;
    Ok(())
  }

  /// The fetch's failure, kept as soon as it is set, so that a restart
  /// does not lose it (the first failure wins).
  /// Background Fetch, "perform a background fetch", steps 5.3 and 8.5.
  pub fn save_failure(&self, uid: &str, reason: &str) -> rusqlite::Result<()> {
    self.conn.execute(
      "UPDATE fetches SET result = 'failure', failure_reason = ?2 WHERE uid = ?1 AND failure_reason = ''",
      params![uid, reason],
    )?;
    Ok(())
  }

  /// The fetches that are not finished (whose records are available), in
  /// the order they were made. Finished ones stay stored (the download UI
  /// shows the newest of an id) but are read only one at a time, so a
  /// long history costs nothing here.
  pub fn unfinished(&self) -> rusqlite::Result<Vec<RegistrationState>> {
    self.select(
      "WHERE phase IN ('active', 'completed', 'event-dispatched') ORDER BY seq",
      [],
    )
  }

  /// The fetch `uid`, whatever its phase.
  pub fn by_uid(&self, uid: &str) -> rusqlite::Result<Option<RegistrationState>> {
    Ok(self.select("WHERE uid = ?1", [uid])?.pop())
  }

  /// The newest fetch of `id` in `scope`, whatever its phase.
  pub fn newest(&self, scope: &str, id: &str) -> rusqlite::Result<Option<RegistrationState>> {
    Ok(
      self
        .select(
          "WHERE scope = ?1 AND id = ?2 ORDER BY seq DESC LIMIT 1",
          [scope, id],
        )?
        .pop(),
    )
  }

  fn select<P: rusqlite::Params>(
    &self,
    filter: &str,
    params: P,
  ) -> rusqlite::Result<Vec<RegistrationState>> {
    let mut stmt = self
      .conn
      .prepare_cached(&format!("SELECT {COLUMNS} FROM fetches {filter}"))?;
    let rows = stmt.query_map(params, |r| {
      let phase = Phase::parse(&r.get::<_, String>(11)?);
      Ok(RegistrationState {
        uid: r.get(0)?,
        scope: r.get(1)?,
        id: r.get(2)?,
        title: r.get(3)?,
        icons: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
        download_total: r.get::<_, i64>(5)? as u64,
        upload_total: r.get::<_, i64>(6)? as u64,
        uploaded: r.get::<_, i64>(7)? as u64,
        downloaded: r.get::<_, i64>(8)? as u64,
        result: r.get(9)?,
        failure_reason: r.get(10)?,
        records_available: phase != Phase::Finished,
        phase,
      })
    })?;
    rows.collect()
  }

  pub fn records(&self, uid: &str) -> rusqlite::Result<Vec<RecordRow>> {
    let mut stmt = self.conn.prepare(
      "SELECT idx, request, status, status_text, headers, url, body_file, body_len, complete, settled, error, validator
       FROM records WHERE uid = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map(params![uid], |r| {
      let index: i64 = r.get(0)?;
      let request: RequestSpec = serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default();
      let status: Option<i64> = r.get(2)?;
      let body_file: String = r.get(6)?;
      let body_len = r.get::<_, i64>(7)? as u64;
      let complete = r.get::<_, i64>(8)? != 0;
      let response = status.map(|status| -> rusqlite::Result<ResponseMeta> {
        Ok(ResponseMeta {
          url: r.get(5)?,
          status: status as u16,
          status_text: r.get(3)?,
          headers: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
          body_token: format!("bgfetch:{uid}:{index}"),
          body_len,
          complete,
        })
      });
      Ok(RecordRow {
        state: RecordState {
          index: index as usize,
          request,
          response: response.transpose()?,
          settled: r.get::<_, i64>(9)? != 0,
          error: r.get(10)?,
        },
        body_file,
        validator: r.get(11)?,
      })
    })?;
    rows.collect()
  }

  pub fn body_file(&self, uid: &str, index: usize) -> Option<String> {
    self
      .conn
      .query_row(
        "SELECT body_file FROM records WHERE uid = ?1 AND idx = ?2",
        params![uid, index as i64],
        |r| r.get(0),
      )
      .optional()
      .ok()
      .flatten()
  }

  /// Background Fetch, "complete a record", step 11's "process response"
  /// step 4: the record's response data keeps the response (not its body).
  pub fn save_response(
    &self,
    uid: &str,
    index: usize,
    meta: &ResponseMeta,
    validator: &str,
  ) -> rusqlite::Result<()> {
    self.conn.execute(
      "UPDATE records SET status = ?3, status_text = ?4, headers = ?5, url = ?6, validator = ?7, body_len = ?8, complete = ?9 WHERE uid = ?1 AND idx = ?2",
      params![
        uid,
        index as i64,
        meta.status as i64,
        meta.status_text,
        serde_json::to_string(&meta.headers).unwrap_or_default(),
        meta.url,
        validator,
        meta.body_len as i64,
        meta.complete as i64
      ],
    )?;
    Ok(())
  }

  pub fn save_progress(&self, uid: &str, index: usize, body_len: u64) -> rusqlite::Result<()> {
    self.conn.execute(
      "UPDATE records SET body_len = ?3 WHERE uid = ?1 AND idx = ?2",
      params![uid, index as i64, body_len as i64],
    )?;
    Ok(())
  }

  /// The record's result is set: it has settled ("complete a record").
  pub fn settle(
    &self,
    uid: &str,
    index: usize,
    complete: bool,
    error: Option<&str>,
  ) -> rusqlite::Result<()> {
    self.conn.execute(
      "UPDATE records SET settled = 1, complete = ?3, error = ?4 WHERE uid = ?1 AND idx = ?2",
      params![uid, index as i64, complete as i64, error],
    )?;
    Ok(())
  }
}
