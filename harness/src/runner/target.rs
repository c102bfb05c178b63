//! Where scenarios run: a TCP endpoint, or the reference server in process.

use std::sync::Arc;

use crate::client::{ClientConfig, ClientError, Connection};
use crate::profile::Profile;
use crate::server::{Mailstore, ServerConfig, serve_duplex};
use crate::tls::{TlsClient, TlsError, TlsMode};

/// A server to run scenarios against.
#[derive(Clone)]
pub enum Target {
    /// A server at `host:port`.
    Tcp(String),
    /// A server at `host:port` that speaks TLS from the first octet
    /// (implicit TLS, RFC 8314 3.3).
    Tls {
        /// `host:port`.
        addr: String,
        /// How to shake hands.
        tls: TlsClient,
    },
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

    /// The target at `addr`, opened as the profile's `tls` mode says:
    /// implicit TLS wraps every connection, otherwise plain TCP.
    pub fn for_address(addr: &str, profile: &Profile) -> Result<Target, TlsError> {
        Ok(match profile.tls {
            TlsMode::Implicit => Target::Tls {
                addr: addr.to_string(),
                tls: TlsClient::new(&profile.tls_settings())?,
            },
            TlsMode::None | TlsMode::Starttls => Target::Tcp(addr.to_string()),
        })
    }

    /// Opens a new session.
    pub async fn connect(&self, config: ClientConfig) -> Result<Connection, ClientError> {
        match self {
            Target::Tcp(addr) => Connection::connect(addr, config).await,
            Target::Tls { addr, tls } => Connection::connect_tls(addr, config, tls).await,
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
            Target::Tls { addr, .. } => format!("{addr} (implicit TLS)"),
            Target::InProcess { .. } => "in-process reference server".into(),
        }
    }
}
