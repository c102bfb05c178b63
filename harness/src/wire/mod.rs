//! The SMTP wire format, without I/O: server replies, client commands and
//! the reply-code catalogue.
//!
//! Nothing here knows about scenarios, sockets or verdicts. The parsers take
//! byte slices and answer "here is a value", "need more bytes" or a typed
//! error, so every layer above can feed them whatever the network delivers.

pub mod catalogue;
pub mod command;
pub mod reply;

pub use command::{Command, CommandError};
pub use reply::{EnhancedStatus, Reply, ReplyError, ReplyParser};
