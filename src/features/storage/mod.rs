//! Storage that belongs to an origin: the browser's SQLite database
//! (`database`: service worker registrations and Cache Storage, one
//! transaction per change), Cache Storage (`cache_storage`), and the lock
//! that keeps one process per state directory (`lock`), and StorageManager
//! (`manager`). IndexedDB
//! and StorageManager go here.
//!
//! It may use the core (`browser`, `ipc`) and `net`.

pub mod cache_storage;
pub mod database;
#[cfg(target_os = "linux")]
pub mod lock;
pub mod manager;
