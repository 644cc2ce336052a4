//! Storage that belongs to an origin: the browser's SQLite database
//! (`database`: service worker registrations and Cache Storage, one
//! transaction per change) and Cache Storage (`cache_storage`). IndexedDB
//! and StorageManager go here.
//!
//! It may use the core (`browser`, `ipc`) and `net`.

pub mod cache_storage;
pub mod database;
