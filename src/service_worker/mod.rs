//! Service workers: registrations, their lifecycle, and clients.

pub mod clients;
pub mod lifecycle;
