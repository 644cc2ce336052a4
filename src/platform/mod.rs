//! The platform every feature stands on, bottom to top: the protocol
//! between realms and the browser (`ipc`), the network stack (`net`), the
//! JavaScript engine and its realms (`engine`), and the browser core
//! (`browser`). See ARCHITECTURE.md.

pub mod browser;
pub mod engine;
pub mod ipc;
pub mod net;
