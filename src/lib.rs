//! swharness: a headless, Chromium-style service-worker runtime with the
//! Background Fetch API.
//!
//! Like Chromium, it is split in two: realms run JavaScript (one thread and
//! one engine each, see [`realm`]), and the browser side ([`browser`])
//! owns registrations, storage, the network, downloads and the UI.

pub mod bgfetch;
pub mod bgfetch_host;
pub mod browser;
pub mod cache_storage;
pub mod calls;
pub mod cli;
pub mod clients;
pub mod control;
pub mod engine;
pub mod errors;
pub mod fetch_policy;
pub mod host;
pub mod module_loader;
pub mod net;
pub mod ops;
pub mod realm;
pub mod referrer;
pub mod run;
pub mod service_worker;
pub mod static_server;
pub mod store;
pub mod trace;
pub mod ui;
pub mod wpt;
