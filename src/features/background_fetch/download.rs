//! Downloading one fetch: its records in parallel (bounded), each streamed
//! to its body file; offline pauses and resumes with `Range`/`If-Range`.
//! Background Fetch, "perform a background fetch" and "complete a record".

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::{watch, Semaphore};

use super::body_writer::{BodyWriter, WRITE_EVERY};
use super::codings;
use super::send::{send, SendOptions, Sent};
use super::types::*;
use super::{AtWork, BgFetchService, Running};

/// Why a body stopped before its end.
enum Interrupt {
  Offline,
  Error,
}

/// What [`BgFetchService::throttle`] decided.
enum Publish {
  Now(Box<RegistrationState>),
  Later(std::time::Duration),
  Owed,
}

enum Outcome {
  Done,
  BadStatus,
  /// Why (for the trace).
  NetworkError(String),
  Cancelled,
}

impl BgFetchService {
  /// "Perform a background fetch", steps 5-8.7 (steps 8.8-8.13 in context.rs).
  pub(super) async fn run_fetch(self: &Arc<Self>, uid: &str, cancel: watch::Receiver<bool>) {
    let records = self.db(|s| s.records(uid)).unwrap_or_default();
    let per_fetch = Arc::new(Semaphore::new(self.config.max_parallel_downloads.max(1)));
    let mut tasks = Vec::new();
    for rec in records.into_iter().filter(|r| !r.state.settled) {
      let svc = self.clone();
      let uid = uid.to_string();
      let cancel = cancel.clone();
      let sem = per_fetch.clone();
      tasks.push(tokio::spawn(async move {
        let _permit = sem.acquire_owned().await;
        let _working = AtWork::new(&svc);
        let outcome = svc.download_record(&uid, &rec, cancel).await;
        let mut why = None;
        // Steps 5.2-5.3: the record's result sets the fetch's failure reason.
        let (complete, error) = match outcome {
          Outcome::Done => (true, None),
          Outcome::BadStatus => {
            svc.set_failure(&uid, "bad-status", false);
            (true, None)
          }
          Outcome::NetworkError(reason) => {
            // The other records go on (their responses stay readable), as
            // with a bad status.
            svc.set_failure(&uid, "fetch-error", false);
            why = Some(reason);
            (false, Some("network"))
          }
          Outcome::Cancelled => (false, Some("aborted")),
        };
        let _ = svc.db(|s| s.settle(&uid, rec.state.index, complete, error));
        svc.record_settled(&uid, rec.state.index, why);
      }));
    }
    for t in tasks {
      let _ = t.await;
    }
    // Every record settled (step 6): the fetch is complete (steps 8.5-8.6).
    let state = {
      let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
      let Some(r) = running.get_mut(uid) else {
        return;
      };
      if r.state.failure_reason.is_empty() {
        r.state.result = "success".into();
      }
      r.state.phase = Phase::Completed;
      r.visible()
    };
    let forgotten = self
      .forgotten
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .remove(uid);
    let mut state = state;
    if forgotten {
      // Its registration is gone: no event, and the records are released.
      state.phase = Phase::Finished;
      state.records_available = false;
    }
    // Step 8.7: "update background fetch instances".
    self.publish_progress(state.clone());
    if !forgotten {
      // Announce completion before leaving the running set, so that there
      // is never a moment when the fetch looks idle but its event is owed.
      self.emit(BgFetchEvent::Completed(state));
    }
    self
      .running
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .remove(uid);
  }

  /// Saves a fetch's state and tells the browser ("update background fetch instances").
  fn publish_progress(&self, st: RegistrationState) {
    let _ = self.db(|s| s.save_state(&st));
    self.emit(BgFetchEvent::Progress(st));
  }

  /// Decides, with the fetch's counters just changed, whether to publish
  /// its state now or after the throttle's interval (then once, with what
  /// it is by then), or not at all because an update is already owed.
  fn throttle(&self, r: &mut Running) -> Publish {
    let since = r.last_progress.elapsed();
    if since >= self.config.progress_interval {
      r.last_progress = Instant::now();
      Publish::Now(Box::new(r.visible()))
    } else if !r.progress_owed {
      r.progress_owed = true;
      Publish::Later(self.config.progress_interval - since)
    } else {
      Publish::Owed
    }
  }

  fn publish(self: &Arc<Self>, uid: &str, decision: Publish) {
    match decision {
      Publish::Now(st) => self.publish_progress(*st),
      // The throttle delays an update, never drops it: a download that
      // stalls still reports what it has.
      Publish::Later(wait) => {
        let svc = self.clone();
        let uid = uid.to_string();
        tokio::spawn(async move {
          tokio::time::sleep(wait).await;
          let st = {
            let mut running = svc.running.lock().unwrap_or_else(|p| p.into_inner());
            // Once complete, the final update has gone out.
            let Some(r) = running
              .get_mut(&uid)
              .filter(|r| r.state.phase == Phase::Active)
            else {
              return;
            };
            r.progress_owed = false;
            r.last_progress = Instant::now();
            r.visible()
          };
          svc.publish_progress(st);
        });
      }
      Publish::Owed => {}
    }
  }

  /// Counts `delta` more bytes (fewer when negative). Bytes that would go
  /// over downloadTotal or the quota are not counted: the fetch fails and
  /// false says not to store them.
  /// "Complete a record", step 11's "process response" steps 6.1 and 6.4.
  fn add_downloaded(self: &Arc<Self>, uid: &str, delta: i64) -> bool {
    let mut failed = None;
    let decision = {
      let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
      let Some(r) = running.get_mut(uid) else {
        return false;
      };
      let downloaded = (r.state.downloaded as i64 + delta).max(0) as u64;
      let over_total = r.state.download_total > 0 && downloaded > r.state.download_total;
      let over_quota = downloaded > self.config.quota_bytes;
      if delta > 0 && (over_total || over_quota) {
        if r.state.failure_reason.is_empty() {
          r.state.result = "failure".into();
          let reason = if over_total {
            "download-total-exceeded"
          } else {
            "quota-exceeded"
          };
          r.state.failure_reason = reason.into();
          r.cancel.send_replace(true);
          failed = Some(reason);
        }
        None
      } else {
        r.state.downloaded = downloaded;
        if delta > 0 {
          // Reported once in the file (`landed`).
          r.unlanded += delta as u64;
          return true;
        }
        Some(self.throttle(r))
      }
    };
    let Some(decision) = decision else {
      if let Some(reason) = failed {
        self.keep_failure(uid, reason);
      }
      return false;
    };
    self.publish(uid, decision);
    true
  }

  /// `n` more bytes of a body are in its file: they count in what is
  /// reported ("update background fetch instances").
  fn landed(self: &Arc<Self>, uid: &str, n: u64) {
    let decision = {
      let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
      let Some(r) = running.get_mut(uid) else {
        return;
      };
      r.unlanded = r.unlanded.saturating_sub(n);
      self.throttle(r)
    };
    self.publish(uid, decision);
  }

  /// "Complete a record": wait while "temporarily unavailable"; false once aborted.
  async fn wait_online(&self, cancel: &mut watch::Receiver<bool>) -> bool {
    let mut online = self.online.subscribe();
    loop {
      if *cancel.borrow() {
        return false;
      }
      if *online.borrow_and_update() {
        return true;
      }
      // Parked: this record no longer keeps the engine busy offline.
      self.leave_work();
      tokio::select! {
        _ = online.changed() => {}
        _ = cancel.changed() => {}
      }
      self
        .working
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
  }

  /// Background Fetch, "complete a record"; "response N" below is step N of step
  /// 11's "process response". Retries with backoff are Chromium's, not the spec's.
  async fn download_record(
    self: &Arc<Self>,
    uid: &str,
    rec: &super::store::RecordRow,
    mut cancel: watch::Receiver<bool>,
  ) -> Outcome {
    let index = rec.state.index;
    let req = &rec.state.request;
    let path = self.config.dir.join("bodies").join(&rec.body_file);
    let body = crate::platform::ipc::decode_base64(&req.body).unwrap_or_default();
    let mut validator = rec.validator.clone();
    let mut retries = 0u32;
    // Fetch, "main fetch", step 7: a blocked request is a network error.
    if let Some(why) = &req.blocked {
      return Outcome::NetworkError(why.clone());
    }
    let body = bytes::Bytes::from(body);
    // URLs whose preflight passed (kept across retries).
    let mut preflighted = std::collections::HashSet::new();
    // The most of the body any attempt (retry, redirect) has sent so far.
    let upload_high = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let upload = |piece: bytes::Bytes| self.upload_body(uid, piece, upload_high.clone());
    loop {
      // Step 15: each pass is a new attempt; offline, wait (response 1.1 and 8.1).
      if !self.wait_online(&mut cancel).await {
        return Outcome::Cancelled;
      }
      // Going offline from here on interrupts this request.
      let mut offline = self.went_offline.subscribe();
      // What is on disk already counts (a resume after pause or restart).
      let have = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
      // Steps 7-8: rangeStart and a Range header (here GET only, with If-Range).
      let resumable = have > 0 && req.method == "GET" && !validator.is_empty();
      let opts = SendOptions {
        body: &body,
        range: resumable.then_some((have, validator.as_str())),
        upload: &upload,
        cookies: self.net.cookies(),
      };
      // Step 11: fetch; steps 13-14: the abort all flag ends it as "aborted".
      let sent = tokio::select! {
        r = send(self.net.client_no_redirects(), req, opts, &mut preflighted) => r,
        _ = cancel.changed() => return Outcome::Cancelled,
        _ = offline.changed() => continue,
      };
      let resp = match sent {
        Sent::Response(r) => r,
        // Nothing of a response that fails CORS is kept (response 1.2: "fetch-error").
        Sent::Refused(why) => return Outcome::NetworkError(why),
        Sent::Failed(e) => {
          let first_contact = retries == 0 && have == 0;
          match self
            .after_send_error(&e, first_contact, &mut retries, &mut cancel)
            .await
          {
            Some(outcome) => return outcome,
            None => continue,
          }
        }
      };
      let status = resp.status().as_u16();
      let partial = status == 206 && resumable;
      let headers = header_pairs(&resp);
      let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
      // A coded body is stored decoded (one in a coding we cannot undo, as
      // it came); it cannot resume with Range, which counts coded bytes.
      let codings = codings::parse(header("content-encoding").as_deref()).unwrap_or_default();
      // Response 2: "validate a partial response" (spec: "fetch-error"; here, start over).
      if partial && (content_range_start(&headers) != Some(have) || !codings.is_empty()) {
        // A range that does not continue what is on disk (or a range of
        // a coded body, which is stored decoded) cannot be appended:
        // start over without Range (not a retry).
        validator.clear();
        let _ = tokio::fs::write(&path, b"").await;
        self.add_downloaded(uid, -(have as i64));
        continue;
      }
      if !partial {
        validator = header("etag")
          .filter(|e| !e.starts_with("W/"))
          .or_else(|| header("last-modified"))
          .filter(|_| codings.is_empty())
          .unwrap_or_default();
      }
      let mut meta = ResponseMeta {
        url: resp.url().to_string(),
        status: if partial { 200 } else { status },
        status_text: resp.status().canonical_reason().unwrap_or("").to_string(),
        headers: headers.clone(),
        body_token: format!("bgfetch:{uid}:{index}"),
        body_len: if partial { have } else { 0 },
        complete: false,
      };
      if partial {
        // Keep the headers of the first response, as a whole body has.
        if let Some(prev) = self
          .db(|s| s.records(uid))
          .ok()
          .and_then(|v| v.into_iter().find(|r| r.state.index == index))
          .and_then(|r| r.state.response)
        {
          meta.headers = prev.headers;
          meta.status_text = prev.status_text;
        }
      } else if have > 0 {
        // The server sent the whole body again: start over and keep
        // `downloaded` exact (response 3: the old response data is "redundant").
        self.add_downloaded(uid, -(have as i64));
      }
      // Response 7.2: "bad-status".
      if !(200..300).contains(&status) {
        // Chromium keeps the status and headers of a failed record, with
        // an empty body (upstream WPT expects '').
        let _ = tokio::fs::write(&path, b"").await;
        meta.complete = true;
        let _ = self.db(|s| s.save_response(uid, index, &meta, ""));
        return Outcome::BadStatus;
      }
      let _ = self.db(|s| s.save_response(uid, index, &meta, &validator));
      let file = if partial {
        std::fs::OpenOptions::new().append(true).open(&path)
      } else {
        std::fs::File::create(&path)
      };
      let Ok(file) = file else {
        self.fail(uid, "quota-exceeded");
        return Outcome::Cancelled;
      };
      let landed = {
        let (svc, uid) = (self.clone(), uid.to_string());
        move |n| svc.landed(&uid, n)
      };
      let mut writer = BodyWriter::new(file, landed);
      let raw = resp
        .bytes_stream()
        .map(|r| r.map_err(std::io::Error::other));
      let mut stream = codings::decode(&codings, raw.boxed());
      let mut len = meta.body_len;
      let base = meta.body_len;
      let mut saved = Instant::now();
      let interrupted = loop {
        let due = writer.due();
        let next = tokio::select! {
          n = stream.next() => n,
          _ = cancel.changed() => { let _ = writer.finish().await; return Outcome::Cancelled; }
          _ = offline.changed() => break Some(Interrupt::Offline),
          // No chunk for a while (a stall): what came so far goes to disk.
          _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => {
            if writer.flush().await.is_err() {
              self.fail(uid, "quota-exceeded");
              return Outcome::Cancelled;
            }
            continue;
          }
        };
        match next {
          Some(Ok(chunk)) => {
            // Counted (and checked against the limits) before it is
            // stored: a fetch over its limits keeps nothing beyond them (response 6).
            if !self.add_downloaded(uid, chunk.len() as i64) {
              let _ = writer.finish().await;
              return Outcome::Cancelled;
            }
            len += chunk.len() as u64;
            // Response 6.2-6.3: append the bytes; a failed write is "quota-exceeded".
            match writer.push(chunk).await {
              Ok(false) => {}
              // A batch reached the file: remember how far the body got,
              // now and then (a resume goes by the file's length; this is
              // for what the store shows meanwhile).
              Ok(true) => {
                if saved.elapsed() >= WRITE_EVERY {
                  saved = Instant::now();
                  let _ = self.db(|s| s.save_progress(uid, index, base + writer.written));
                }
              }
              Err(_) => {
                self.fail(uid, "quota-exceeded");
                return Outcome::Cancelled;
              }
            }
          }
          Some(Err(_)) => break Some(Interrupt::Error),
          None => break None,
        }
      };
      // The body is not fsynced while it downloads: after a kill it is in
      // the page cache, and a resume goes by what is on disk. Waiting for
      // the disk would hold downloads to its writeback rate (see
      // benches/README.md). A complete body is, before the record says so
      // (unless `--durability relaxed`).
      let finished = match writer.finish().await {
        Ok(()) if interrupted.is_none() && self.config.durability.strict() => writer.sync().await,
        other => other,
      };
      if finished.is_err() {
        self.fail(uid, "quota-exceeded");
        return Outcome::Cancelled;
      }
      let _ = self.db(|s| s.save_progress(uid, index, len));
      match interrupted {
        // Offline: wait until online, then resume from what is on disk (response 8.1)
        // (not a retry).
        Some(Interrupt::Offline) => continue,
        // A dropped connection or a short body: retry, resuming (spec 8.2: "fetch-error").
        Some(Interrupt::Error) if *self.online.borrow() => {
          if !self.backoff(&mut retries, &mut cancel).await {
            return self.gave_up(&cancel, "the connection broke off mid-body");
          }
          continue;
        }
        Some(Interrupt::Error) => continue,
        None => {}
      }
      // Response 7.3: done normally, "success".
      meta.body_len = len;
      meta.complete = true;
      let _ = self.db(|s| s.save_response(uid, index, &meta, &validator));
      return Outcome::Done;
    }
  }

  /// After a request (or its preflight) could not be sent: None to try
  /// again (offline: once online; otherwise after a backoff), or how the
  /// record ends. No server to talk to on first contact (the name does not
  /// resolve, nothing listens) is a network error at once, as Fetch has
  /// it; only a connection that breaks is worth retrying.
  /// (Background Fetch, "complete a record", response 1.1-1.2; retries are Chromium's.)
  async fn after_send_error(
    &self,
    e: &reqwest::Error,
    first_contact: bool,
    retries: &mut u32,
    cancel: &mut watch::Receiver<bool>,
  ) -> Option<Outcome> {
    if !*self.online.borrow() {
      return None;
    }
    if e.is_connect() && first_contact {
      return Some(Outcome::NetworkError(format!(
        "could not connect: {}",
        crate::platform::net::error_chain(e)
      )));
    }
    if !self.backoff(retries, cancel).await {
      return Some(self.gave_up(cancel, &crate::platform::net::error_chain(e)));
    }
    None
  }

  /// Counts a retry and waits before it (doubling each time); false when
  /// the retries are used up or the fetch was cancelled meanwhile.
  async fn backoff(&self, retries: &mut u32, cancel: &mut watch::Receiver<bool>) -> bool {
    *retries += 1;
    if *retries > self.config.max_retries {
      return false;
    }
    let wait = self.config.retry_base * 2u32.pow(*retries - 1);
    let slept = tokio::select! {
      _ = tokio::time::sleep(wait) => true,
      _ = cancel.wait_for(|c| *c) => false,
    };
    slept && !*cancel.borrow()
  }

  /// How a record ends once its retries are used up (`last`: the last
  /// error), or cancelled meanwhile.
  fn gave_up(&self, cancel: &watch::Receiver<bool>, last: &str) -> Outcome {
    if *cancel.borrow() {
      Outcome::Cancelled
    } else {
      Outcome::NetworkError(format!(
        "gave up after {} retries: {last}",
        self.config.max_retries
      ))
    }
  }

  fn add_uploaded(self: &Arc<Self>, uid: &str, delta: i64) {
    let decision = {
      let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
      let Some(r) = running.get_mut(uid) else {
        return;
      };
      let uploaded = (r.state.uploaded as i64 + delta).max(0) as u64;
      r.state.uploaded = uploaded.min(r.state.upload_total);
      self.throttle(r)
    };
    self.publish(uid, decision);
  }

  /// A request body streamed in 64 KiB pieces, counted as uploaded when the
  /// connection takes them ("process request body"). A body sent again (a
  /// retry, a 307/308) counts only past the most an earlier attempt sent
  /// (`high`): `uploaded` counts each byte once and never goes down.
  fn upload_body(
    self: &Arc<Self>,
    uid: &str,
    body: bytes::Bytes,
    high: Arc<std::sync::atomic::AtomicU64>,
  ) -> reqwest::Body {
    const PIECE: usize = 64 << 10;
    let svc = self.clone();
    let uid = uid.to_string();
    let pieces: Vec<bytes::Bytes> = (0..body.len())
      .step_by(PIECE)
      .map(|at| body.slice(at..(at + PIECE).min(body.len())))
      .collect();
    let mut sent = 0u64;
    let stream = futures::stream::iter(pieces).map(move |piece| {
      sent += piece.len() as u64;
      let before = high.fetch_max(sent, std::sync::atomic::Ordering::SeqCst);
      if sent > before {
        svc.add_uploaded(&uid, (sent - before) as i64);
      }
      Ok::<_, std::io::Error>(piece)
    });
    reqwest::Body::wrap_stream(stream)
  }
}

/// The first byte position of a `Content-Range: bytes FIRST-LAST/LENGTH`.
/// Background Fetch, "extract content-range values", step 4 (first-byte-pos).
fn content_range_start(headers: &[(String, String)]) -> Option<u64> {
  let value = headers
    .iter()
    .find(|(k, _)| k.eq_ignore_ascii_case("content-range"))?
    .1
    .trim();
  let range = value.strip_prefix("bytes")?.trim_start();
  range.split('-').next()?.trim().parse().ok()
}

pub(super) fn header_pairs(resp: &reqwest::Response) -> Vec<(String, String)> {
  resp
    .headers()
    .iter()
    .map(|(k, v)| {
      (
        k.to_string(),
        String::from_utf8_lossy(v.as_bytes()).into_owned(),
      )
    })
    .collect()
}
