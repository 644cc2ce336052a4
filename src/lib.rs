//! swharness: a headless, Chromium-style service-worker runtime with the
//! Background Fetch API. See ARCHITECTURE.md for the map of the layers.

pub mod background_fetch;
pub mod broadcast_channel;
pub mod browser;
pub mod cli;
pub mod engine;
pub mod features;
pub mod indexed_db;
pub mod ipc;
pub mod net;
pub mod service_worker;
pub mod storage;
pub mod workers;
pub mod wpt;
pub mod xhr;
