//! Shared helpers for the integration tests.

pub mod fault_server;
pub mod run;
