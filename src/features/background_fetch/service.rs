//! The browser side of Background Fetch: stores fetches (SQLite + body
//! files), downloads their records with a bounded number running at once,
//! streams bodies to disk, pauses offline and resumes with `Range`, resumes
//! unfinished fetches after a restart, and reports progress and completion.
//!
//! Spec: Background Fetch (WICG), <https://wicg.github.io/background-fetch/>.
//! This file keeps each registration's "active background fetches" and the
//! method steps that read or change them; "perform a background fetch" and
//! "complete a record" run in `download.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::store;
use super::types::*;
use crate::platform::browser::durability::Durability;
use crate::platform::ipc::RealmId;
use crate::platform::net::Net;

pub struct BgFetchConfig {
  pub dir: PathBuf,
  pub quota_bytes: u64,
  pub max_active_fetches: usize,
  pub max_parallel_downloads: usize,
  pub progress_interval: Duration,
  pub max_retries: u32,
  pub retry_base: Duration,
  pub durability: Durability,
}

/// A fetch being downloaded: its live state, shared by its record tasks.
pub(crate) struct Running {
  pub state: RegistrationState,
  pub last_progress: Instant,
  /// A progress update was held back by the throttle and is scheduled.
  pub progress_owed: bool,
  /// Bytes counted in `state.downloaded` (for the limits) that are not in
  /// their body file yet: what is reported leaves them out.
  pub unlanded: u64,
  /// The fetch's stop switch. Set with `send_replace`: a fetch waiting for
  /// a slot has no receiver yet, and `send` would drop the value.
  pub cancel: watch::Sender<bool>,
}

impl Running {
  /// The state to report: `downloaded` counts the bytes in the body files
  /// (what a restart finds), not those still on their way to the disk.
  pub fn visible(&self) -> RegistrationState {
    let mut st = self.state.clone();
    st.downloaded = st.downloaded.saturating_sub(self.unlanded);
    st
  }
}

/// The `max_active_fetches` slots: how many are free, and the fetches
/// waiting for one, in the order they were made (a fetch that finishes
/// hands its slot to the first of them).
pub(crate) struct FetchSlots {
  pub free: usize,
  pub waiting: std::collections::VecDeque<String>,
}

pub struct BgFetchService {
  pub(crate) config: BgFetchConfig,
  pub(crate) store: Mutex<store::Store>,
  pub(crate) net: Net,
  pub(crate) running: Mutex<HashMap<String, Running>>,
  pub(crate) online: watch::Sender<bool>,
  /// Bumped every time the network goes offline, so that a download sees
  /// an offline spell even when it is already over (a watch on `online`
  /// alone keeps only the latest value).
  pub(crate) went_offline: watch::Sender<u64>,
  pub(crate) fetch_slots: Mutex<FetchSlots>,
  events: Mutex<Option<mpsc::UnboundedSender<BgFetchEvent>>>,
  settled: tokio::sync::Notify,
  /// Completed events sent but not yet taken up by the browser.
  unacked: std::sync::atomic::AtomicUsize,
  /// Fetches of unregistered registrations: they end without an event.
  pub(crate) forgotten: Mutex<std::collections::HashSet<String>>,
  /// Fetches whose final event is being delivered (one delivery at a time).
  delivering: Mutex<std::collections::HashSet<String>>,
  /// New fetches whose downloads wait for the realm that made them (see
  /// [`BgFetchService::begin`]), by the realm.
  pub(crate) held: Mutex<HashMap<String, RealmId>>,
  /// Record tasks at work: not waiting for a permit nor, offline, for the
  /// network. Offline, the engine is idle only once this is 0 (a record
  /// that was interrupted is still writing out its body).
  pub(crate) working: std::sync::atomic::AtomicUsize,
}

/// Whether a failure ends the fetch's downloads (the abort all flag), as an
/// abort or a limit does; a bad status or a network error lets the other
/// records finish.
pub(crate) fn cancels(failure_reason: &str) -> bool {
  matches!(
    failure_reason,
    "aborted" | "download-total-exceeded" | "quota-exceeded"
  )
}

/// What `fetch(id, requests, options)` asks for.
pub struct NewFetch<'a> {
  pub scope: &'a str,
  pub id: &'a str,
  pub requests: Vec<RequestSpec>,
  pub title: String,
  pub icons: serde_json::Value,
  pub download_total: u64,
}

/// Whether a fetch is among the registration's "active background
/// fetches": from fetch() until every record has settled, but no longer
/// once abort() (or the user) aborted it, as abort() removes it at once.
/// Only an active fetch holds its id.
/// Stands in for Background Fetch, "contains background fetch", steps 1-4
/// (the map holds this very fetch under its id).
fn is_active(s: &RegistrationState) -> bool {
  s.phase == Phase::Active && s.failure_reason != "aborted"
}

fn new_uid() -> String {
  let mut b = [0u8; 12];
  if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
    use std::io::Read;
    let _ = f.read_exact(&mut b);
  }
  b.iter().map(|x| format!("{x:02x}")).collect()
}

impl BgFetchService {
  pub fn open(config: BgFetchConfig, net: Net) -> anyhow::Result<Arc<Self>> {
    std::fs::create_dir_all(config.dir.join("bodies"))?;
    let store = store::Store::open(&config.dir, config.durability)?;
    let online = net.is_online();
    let slots = config.max_active_fetches.max(1);
    Ok(Arc::new(BgFetchService {
      store: Mutex::new(store),
      net,
      running: Mutex::new(HashMap::new()),
      online: watch::Sender::new(online),
      went_offline: watch::Sender::new(0),
      fetch_slots: Mutex::new(FetchSlots {
        free: slots,
        waiting: std::collections::VecDeque::new(),
      }),
      events: Mutex::new(None),
      settled: tokio::sync::Notify::new(),
      unacked: std::sync::atomic::AtomicUsize::new(0),
      forgotten: Mutex::new(std::collections::HashSet::new()),
      delivering: Mutex::new(std::collections::HashSet::new()),
      held: Mutex::new(HashMap::new()),
      working: std::sync::atomic::AtomicUsize::new(0),
      config,
    }))
  }

  pub(crate) fn db<R>(&self, f: impl FnOnce(&mut store::Store) -> R) -> R {
    let mut g = self.store.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g)
  }

  pub fn subscribe(&self) -> mpsc::UnboundedReceiver<BgFetchEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    *self.events.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    rx
  }

  /// Called by the subscriber once it has taken up a Completed event.
  pub fn ack_completed(&self) {
    self
      .unacked
      .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
  }

  pub(crate) fn emit(&self, e: BgFetchEvent) {
    if matches!(e, BgFetchEvent::Completed(_)) {
      self
        .unacked
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    if let Some(tx) = &*self.events.lock().unwrap_or_else(|p| p.into_inner()) {
      let _ = tx.send(e);
    }
  }

  /// Resumes every fetch that was still downloading when the process ended.
  pub fn resume_all(self: &Arc<Self>) -> anyhow::Result<()> {
    let all = self.db(|s| s.unfinished())?;
    for mut st in all.into_iter().filter(|s| s.phase == Phase::Active) {
      // `downloaded` is what is on disk: counters saved before a crash may
      // lag behind the bodies.
      let rows = self.db(|s| s.records(&st.uid)).unwrap_or_default();
      st.downloaded = rows
        .iter()
        .filter(|r| {
          r.state
            .response
            .as_ref()
            .is_some_and(|m| (200..300).contains(&m.status))
        })
        .map(|r| {
          std::fs::metadata(self.config.dir.join("bodies").join(&r.body_file))
            .map(|m| m.len())
            .unwrap_or(0)
        })
        .sum();
      // A record that has its response sent its whole request body; the
      // saved counter may lag behind (or count an upload cut off since).
      let sent: u64 = rows
        .iter()
        .filter(|r| r.state.response.is_some())
        .map(|r| {
          crate::platform::ipc::decode_base64(&r.state.request.body).map_or(0, |b| b.len() as u64)
        })
        .sum();
      st.uploaded = st.uploaded.max(sent).min(st.upload_total);
      // A fetch that was cancelled (aborted, over its total or the quota)
      // goes on winding down (`spawn_fetch` starts it cancelled): its
      // records end as aborted, without waiting for a slot.
      let cancelled = cancels(&st.failure_reason);
      let uid = st.uid.clone();
      self.spawn_fetch(st, None);
      if cancelled {
        self.wind_down_if_waiting(&uid);
      }
    }
    Ok(())
  }

  /// The unfinished fetches (finished ones are read one at a time).
  fn all(&self) -> Vec<RegistrationState> {
    let mut list = self.db(|s| s.unfinished()).unwrap_or_default();
    let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
    for s in list.iter_mut() {
      if let Some(r) = running.get(&s.uid) {
        *s = r.visible();
      }
    }
    list
  }

  pub fn state(&self, uid: &str) -> Option<RegistrationState> {
    if let Some(r) = self
      .running
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .get(uid)
    {
      return Some(r.visible());
    }
    self.db(|s| s.by_uid(uid)).ok().flatten()
  }

  /// Bytes stored by fetches that still hold their records.
  fn used_bytes(&self) -> u64 {
    self
      .all()
      .iter()
      .filter(|s| s.phase != Phase::Finished)
      .map(|s| s.downloaded.max(s.download_total) + s.upload_total)
      .sum()
  }

  /// What the origin's unfinished fetches keep on disk: the bodies so far
  /// and the request bodies.
  pub fn usage_of(&self, origin: &str) -> u64 {
    self
      .all()
      .iter()
      .filter(|s| s.phase != Phase::Finished)
      .filter(|s| {
        url::Url::parse(&s.scope).is_ok_and(|u| u.origin().ascii_serialization() == origin)
      })
      .map(|s| s.downloaded.saturating_add(s.upload_total))
      .fold(0, u64::saturating_add)
  }

  pub fn available_bytes(&self) -> u64 {
    self.config.quota_bytes.saturating_sub(self.used_bytes())
  }

  pub fn start(
    self: &Arc<Self>,
    new: NewFetch<'_>,
    made_by: Option<RealmId>,
  ) -> Result<RegistrationState, BgFetchError> {
    let NewFetch {
      scope,
      id,
      requests,
      title,
      icons,
      download_total,
    } = new;
    // Only an active fetch holds its id: once complete (even while its
    // final event runs) or aborted, the id may be used again.
    // Background Fetch, "fetch(id, requests, options)", step 8.5: an id that
    // is in the active background fetches rejects with a TypeError.
    if self.active(scope, id).is_some() {
      return Err(BgFetchError::TypeError(format!(
        "There already is a registration for the given id ('{id}')."
      )));
    }
    // Step 8.8: uploadTotal is the total bytes of the request bodies.
    let upload_total: u64 = requests
      .iter()
      .map(|r| crate::platform::ipc::decode_base64(&r.body).map_or(0, |b| b.len() as u64))
      .sum();
    // A downloadTotal near 2^64 must not wrap around to a small number.
    let requested = download_total.saturating_add(upload_total);
    let available = self.available_bytes();
    // Step 8.9: storing the requests would exceed the quota. Checked up front,
    // and counting downloadTotal too (the spec counts the stored requests).
    if requested > available {
      return Err(BgFetchError::QuotaExceeded {
        requested,
        available,
      });
    }
    // Step 8.12: the new background fetch (records, totals, icons, title).
    let state = RegistrationState {
      uid: new_uid(),
      scope: scope.to_string(),
      id: id.to_string(),
      upload_total,
      uploaded: 0,
      download_total,
      downloaded: 0,
      result: String::new(),
      failure_reason: String::new(),
      records_available: true,
      title,
      icons,
      phase: Phase::Active,
    };
    let records: Vec<(RequestSpec, String)> = requests
      .into_iter()
      .map(|r| (r, format!("{}.body", new_uid())))
      .collect();
    // Step 8.13: set bgFetchMap[id] to bgFetch (persisted).
    self.db(|s| s.insert(&state, &records))?;
    // Step 8.16: in parallel, "perform a background fetch" with bgFetch
    // (once the realm that made it has run the task fetch() resolved in).
    self.spawn_fetch(state.clone(), made_by);
    Ok(state)
  }

  /// The active fetch with this id, if there is one (at most one can be).
  /// Background Fetch, "get(id)", steps 2-3: active background fetches[id].
  pub fn active(&self, scope: &str, id: &str) -> Option<RegistrationState> {
    self
      .all()
      .into_iter()
      .find(|s| s.scope == scope && s.id == id && is_active(s))
  }

  /// The newest fetch with this id, whatever its phase (what the download
  /// UI shows for it).
  pub fn newest(&self, scope: &str, id: &str) -> Option<RegistrationState> {
    let stored = self.db(|s| s.newest(scope, id)).ok().flatten()?;
    self.state(&stored.uid)
  }

  /// Ids of the registration's active fetches.
  /// Background Fetch, "getIds()", step 2: the keys of active background fetches.
  pub fn get_ids(&self, scope: &str) -> Vec<String> {
    self
      .all()
      .into_iter()
      .filter(|s| s.scope == scope && is_active(s))
      .map(|s| s.id)
      .collect()
  }

  /// The registration of `scope` is gone: its fetches stop, and no event
  /// is owed for them (there is no worker left to receive it). Their
  /// records are released.
  /// Background Fetch, "Privacy and bandwidth usage": clearing a service worker
  /// registration clears all its background fetches.
  pub fn forget_scope(self: &Arc<Self>, scope: &str) {
    for st in self.all() {
      if st.scope != scope || st.phase == Phase::Finished {
        continue;
      }
      let running = self.set_failure(&st.uid, "aborted", true)
        || self
          .running
          .lock()
          .unwrap_or_else(|p| p.into_inner())
          .contains_key(&st.uid);
      if running {
        self
          .forgotten
          .lock()
          .unwrap_or_else(|p| p.into_inner())
          .insert(st.uid.clone());
      }
      // Stored at once, also for a fetch still winding down: after a
      // restart it must not resume (a new registration may have the scope).
      self.set_phase(&st.uid, Phase::Finished);
    }
  }

  /// Aborts a fetch that is still downloading; false otherwise.
  /// Background Fetch, "abort()", step 3: false if the active background
  /// fetches do not contain the fetch (3.3); otherwise it leaves them (3.4:
  /// `is_active` is false once aborted), abort() resolves true (3.5) and the
  /// abort all flag is set (3.6: `cancel`).
  pub fn abort(self: &Arc<Self>, uid: &str) -> bool {
    self.fail(uid, "aborted")
  }

  /// Ends a running fetch with `reason` (the first failure wins).
  pub(crate) fn fail(self: &Arc<Self>, uid: &str, reason: &str) -> bool {
    self.set_failure(uid, reason, true)
  }

  /// Records the fetch's failure (the first one wins); `cancel` stops the
  /// records still downloading (a bad status lets them finish, so that
  /// they stay readable).
  /// Background Fetch, "perform a background fetch", steps 5.3 and 8.5: the
  /// result becomes "failure" with the failure reason. `cancel` is the abort
  /// all flag (step 7 sets it for an immediate failure).
  pub(crate) fn set_failure(self: &Arc<Self>, uid: &str, reason: &str, cancel: bool) -> bool {
    let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
    let Some(r) = running.get_mut(uid) else {
      return false;
    };
    if !r.state.failure_reason.is_empty() {
      return false;
    }
    r.state.result = "failure".into();
    r.state.failure_reason = reason.into();
    if cancel {
      r.cancel.send_replace(true);
    }
    drop(running);
    self.keep_failure(uid, reason);
    if cancel {
      self.wind_down_if_waiting(uid);
    }
    true
  }

  /// Stores a failure as soon as it is set: progress is saved only now and
  /// then, and a fetch resumed after a restart must end as it would have.
  pub(crate) fn keep_failure(&self, uid: &str, reason: &str) {
    let _ = self.db(|s| s.save_failure(uid, reason));
  }

  pub fn records(&self, uid: &str) -> Vec<RecordState> {
    self
      .db(|s| s.records(uid))
      .unwrap_or_default()
      .into_iter()
      .map(|r| r.state)
      .collect()
  }

  /// Waits until record `index` has settled: its response, or why it has
  /// none ("aborted", "network").
  /// Background Fetch, "create record objects", step 2.8: responseReady
  /// waits for the response; an unexposable one rejects, with an AbortError
  /// if its result is "aborted" (2.8.3), else a TypeError (2.8.4).
  pub async fn record_response(&self, uid: &str, index: usize) -> Result<ResponseMeta, String> {
    loop {
      let notified = self.settled.notified();
      let Some(rec) = self.records(uid).into_iter().find(|r| r.index == index) else {
        return Err("aborted".into());
      };
      if rec.settled {
        return rec
          .response
          .filter(|r| r.complete || r.status >= 300 || r.status < 200)
          .ok_or_else(|| rec.error.unwrap_or_else(|| "aborted".into()));
      }
      notified.await;
    }
  }

  pub fn body_path(&self, token: &str) -> Option<PathBuf> {
    let rest = token.strip_prefix("bgfetch:")?;
    let (uid, index) = rest.rsplit_once(':')?;
    let file = self.db(|s| s.body_file(uid, index.parse().ok()?))?;
    Some(self.config.dir.join("bodies").join(file))
  }

  /// Offline, every resource is "temporarily unavailable" (Background Fetch,
  /// "Infrastructure"): downloads wait for the network.
  pub fn set_online(&self, online: bool) {
    let was = self.online.send_replace(online);
    if was && !online {
      self.went_offline.send_modify(|n| *n += 1);
    }
  }

  pub fn set_phase(&self, uid: &str, phase: Phase) -> Option<RegistrationState> {
    let mut st = self.state(uid)?;
    st.phase = phase;
    // Background Fetch, "perform a background fetch", step 8.13.2: unset the
    // records available flag.
    if phase == Phase::Finished {
      st.records_available = false;
    }
    let _ = self.db(|s| s.save_state(&st));
    Some(st)
  }

  /// Background Fetch, "updateUI(options)", steps 5-6: the icons and title
  /// that are present replace the fetch's.
  pub fn update_ui(&self, uid: &str, title: Option<String>, icons: Option<serde_json::Value>) {
    if let Some(mut st) = self.state(uid) {
      if let Some(t) = title {
        st.title = t;
      }
      if let Some(i) = icons {
        st.icons = i;
      }
      if let Some(r) = self
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(uid)
      {
        r.state.title = st.title.clone();
        r.state.icons = st.icons.clone();
      }
      let _ = self.db(|s| s.save_state(&st));
    }
  }

  /// Takes on the delivery of a fetch's final event: false if another
  /// delivery is under way or the event was delivered.
  pub fn claim_final_event(&self, uid: &str) -> bool {
    let owed = self
      .state(uid)
      .is_some_and(|s| matches!(s.phase, Phase::Completed | Phase::EventDispatched));
    owed
      && self
        .delivering
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(uid.to_string())
  }

  /// Ends a delivery taken on with [`Self::claim_final_event`].
  pub fn release_final_event(&self, uid: &str) {
    self
      .delivering
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .remove(uid);
  }

  /// Fetches whose final event is still owed (after a restart too).
  pub fn owed_final_events(&self) -> Vec<RegistrationState> {
    self
      .all()
      .into_iter()
      .filter(|s| matches!(s.phase, Phase::Completed | Phase::EventDispatched))
      .collect()
  }

  /// True while a fetch downloads (a fetch paused offline is idle).
  pub fn busy(&self) -> bool {
    let online = *self.online.borrow();
    // A cancelled fetch (aborted, or failed with the abort all flag set)
    // is winding down: its records settle even offline. Other failures
    // (`bad-status`, `fetch-error`) let the remaining records go on, and
    // offline those are paused like any other download.
    self.unacked.load(std::sync::atomic::Ordering::SeqCst) > 0
      || self.working.load(std::sync::atomic::Ordering::SeqCst) > 0
      || self
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .any(|r| online || *r.cancel.borrow())
  }

  /// One record task fewer at work; the last one tells the browser.
  pub(crate) fn leave_work(&self) {
    if self
      .working
      .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
      == 1
    {
      self.emit(BgFetchEvent::Idle);
    }
  }

  /// A record is settled; `error` says why it ended in a network error.
  pub(crate) fn record_settled(&self, uid: &str, index: usize, error: Option<String>) {
    self.settled.notify_waiters();
    self.emit(BgFetchEvent::RecordSettled {
      uid: uid.to_string(),
      index,
      error,
    });
  }
}

/// A record task at work (see `BgFetchService::working`) until dropped.
pub(crate) struct AtWork<'a>(&'a BgFetchService);

impl<'a> AtWork<'a> {
  pub(crate) fn new(svc: &'a BgFetchService) -> Self {
    svc
      .working
      .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    AtWork(svc)
  }
}

impl Drop for AtWork<'_> {
  fn drop(&mut self) {
    self.0.leave_work();
  }
}
