//! Storage: the browser's SQLite database and Cache Storage.

pub mod cache_storage;
pub mod database;
