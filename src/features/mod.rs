//! The features of the browser, in the order they start: the one place
//! that names them all. Adding a feature is one line here, its own folder,
//! and its JavaScript under `js/` (see ARCHITECTURE.md).

pub mod background_fetch;
pub mod broadcast_channel;
pub mod indexed_db;
pub mod service_worker;
pub mod storage;
pub mod workers;
pub mod xhr;

use std::sync::Arc;
use std::time::Duration;

use crate::features::broadcast_channel::BroadcastChannels;
use crate::features::indexed_db::IndexedDb;
use crate::features::service_worker::ServiceWorkers;
use crate::features::storage::cache_storage::CacheStorage;
use crate::features::storage::database::Store;
use crate::features::storage::manager::StorageManager;
use crate::features::workers::Workers;
use crate::features::xhr::Xhr;
use crate::platform::browser::{BrowserOptions, Feature};
use background_fetch::BackgroundFetch;

/// The features' own options (the core's are in [`BrowserOptions`]).
#[derive(Clone, Debug, Default)]
pub struct Options {
  /// Stop an idle service worker after this long (`--sw-idle-timeout`).
  pub sw_idle_timeout: Option<Duration>,
  pub background_fetch: background_fetch::Options,
}

/// Makes every feature, for [`crate::platform::browser::Browser::start`].
pub fn install(browser: &BrowserOptions, opts: &Options) -> anyhow::Result<Vec<Box<dyn Feature>>> {
  let store = Arc::new(Store::open(&browser.state_dir, browser.durability)?);
  Ok(vec![
    Box::new(ServiceWorkers::open(store.clone(), opts.sw_idle_timeout)?),
    Box::new(CacheStorage::new(store)),
    Box::new(BackgroundFetch::new(opts.background_fetch.clone())),
    Box::new(BroadcastChannels),
    Box::new(StorageManager::default()),
    Box::new(IndexedDb::new(&browser.state_dir, browser.durability)),
    Box::new(Workers::default()),
    Box::new(Xhr),
  ])
}
