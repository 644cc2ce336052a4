//! The scheduler: which fetches download now. A new fetch waits for the
//! realm that made it (`begin`), then for one of the `--max-active-fetches`
//! slots, taken in the order the fetches were made; a cancelled fetch that
//! waits winds down without one. (Chromium's BackgroundFetchScheduler.)

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::types::*;
use super::{BgFetchService, Running};
use crate::platform::ipc::RealmId;

impl BgFetchService {
  /// Starts a fetch's downloads; with `made_by`, once that realm calls
  /// [`BgFetchService::begin`] (or goes away).
  pub(crate) fn spawn_fetch(self: &Arc<Self>, state: RegistrationState, made_by: Option<RealmId>) {
    // A fetch stored as failed by an abort or a limit (its records' ends
    // cut off by a crash) resumes cancelled: its records settle as
    // aborted, as they would have.
    let cancel = watch::Sender::new(super::service::cancels(&state.failure_reason));
    let uid = state.uid.clone();
    self
      .running
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .insert(
        uid.clone(),
        Running {
          state,
          last_progress: Instant::now(),
          progress_owed: false,
          unlanded: 0,
          cancel,
        },
      );
    if let Some(realm) = made_by {
      self
        .held
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(uid, realm);
      return;
    }
    self.launch(uid);
  }

  /// The downloads of a fetch its realm held (`uid`) begin: the realm has
  /// run the task in which fetch() resolved, so whatever it asked then
  /// (`get(id)`, say) saw the fetch active, however fast the downloads
  /// would be. (Chromium starts downloads about 2 s after fetch().)
  pub(crate) fn begin(self: &Arc<Self>, uid: &str) {
    let held = self
      .held
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .remove(uid);
    if held.is_some() {
      self.launch(uid.to_string());
    }
  }

  /// The fetches a realm held begin: it has gone.
  pub(crate) fn begin_all_of(self: &Arc<Self>, realm: RealmId) {
    let uids: Vec<String> = {
      let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
      let uids = held
        .iter()
        .filter(|(_, r)| **r == realm)
        .map(|(u, _)| u.clone())
        .collect();
      held.retain(|_, r| *r != realm);
      uids
    };
    for uid in uids {
      self.launch(uid);
    }
  }

  fn launch(self: &Arc<Self>, uid: String) {
    // Fetches take the slots in the order they were made: one decided
    // here, not by which spawned task the executor polls first.
    {
      let mut slots = self.fetch_slots.lock().unwrap_or_else(|p| p.into_inner());
      if slots.free == 0 {
        slots.waiting.push_back(uid);
        return;
      }
      slots.free -= 1;
    }
    let svc = self.clone();
    tokio::spawn(async move {
      let mut uid = uid;
      loop {
        let cancel = svc
          .running
          .lock()
          .unwrap_or_else(|p| p.into_inner())
          .get(&uid)
          .map(|r| r.cancel.subscribe());
        if let Some(cancel) = cancel {
          svc.run_fetch(&uid, cancel).await;
        }
        // The slot goes to the next fetch waiting, or back to the pool.
        let mut slots = svc.fetch_slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.waiting.pop_front() {
          Some(next) => uid = next,
          None => {
            slots.free += 1;
            return;
          }
        }
      }
    });
  }

  /// A fetch cancelled (aborted) while it waits for a slot (or for its
  /// realm to begin it) leaves the queue
  /// and winds down at once: its records end as aborted without a
  /// download, so its final event does not wait for a slot, and offline it
  /// does not keep the run busy waiting for one.
  /// ("Perform a background fetch", step 7: the abort all flag ends every
  /// record, downloading or not.)
  pub(crate) fn wind_down_if_waiting(self: &Arc<Self>, uid: &str) {
    let was_waiting = {
      let mut slots = self.fetch_slots.lock().unwrap_or_else(|p| p.into_inner());
      let before = slots.waiting.len();
      slots.waiting.retain(|w| w != uid);
      slots.waiting.len() != before
    };
    // (Or for its realm to begin it.)
    let was_held = self
      .held
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .remove(uid)
      .is_some();
    let cancel = self
      .running
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .get(uid)
      .map(|r| r.cancel.subscribe());
    if let (true, Some(cancel)) = (was_waiting || was_held, cancel) {
      let svc = self.clone();
      let uid = uid.to_string();
      tokio::spawn(async move { svc.run_fetch(&uid, cancel).await });
    }
  }
}
