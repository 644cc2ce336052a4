//! Background Fetch: the engine that stores and downloads fetches
//! (`service`, `download`, `send`, `store`) and its glue to the browser
//! (`context`).

mod codings;
pub mod context;
mod download;
mod send;
mod service;
mod store;
pub mod types;

pub use service::*;
pub use types::*;
