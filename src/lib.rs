//! swharness: a headless, Chromium-style service-worker runtime with the
//! Background Fetch API. See ARCHITECTURE.md for the map of the layers.

pub mod app;
pub mod features;
pub mod platform;
