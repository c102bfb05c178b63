//! Where scenarios run: a TCP endpoint, or the reference server in process.

use std::sync::Arc;

use crate::client::{ClientConfig, ClientError, Connection};
use crate::server::{Mailstore, ServerConfig, serve_duplex};

/// A server to run scenarios against.
#[derive(Clone)]
pub enum Target {
    /// A server at `host:port`.
    Tcp(String),
    /// The reference server over an in-memory pipe, one session per connection.
    InProcess {
        /// Its configuration.
        config: Arc<ServerConfig>,
        /// Where it keeps accepted messages.
        store: Mailstore,
    },
}

impl Target {
    /// The reference server in process, with the given configuration.
    pub fn in_process(config: ServerConfig) -> Target {
        Target::InProcess {
            config: Arc::new(config),
            store: Mailstore::default(),
        }
    }

    /// Opens a new session.
    pub async fn connect(&self, config: ClientConfig) -> Result<Connection, ClientError> {
        match self {
            Target::Tcp(addr) => Connection::connect(addr, config).await,
            Target::InProcess {
                config: server,
                store,
            } => Ok(Connection::new(
                Box::new(serve_duplex(server.clone(), store.clone())),
                config,
            )),
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp(addr) => addr.clone(),
            Target::InProcess { .. } => "in-process reference server".into(),
        }
    }
}
