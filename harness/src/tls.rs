//! TLS for both ends, with rustls and its *ring* provider, always passed
//! explicitly (never the process-default provider, so no second provider
//! can make rustls panic).
//!
//! - Client: [`TlsClient`] — a connector plus the server name, verifying
//!   the certificate against a CA file or the bundled Mozilla roots, or not
//!   at all ([`TlsClientSettings::verify`] off, for self-signed test
//!   servers; handshake signatures are still checked).
//! - Server: [`ServerTls`] — an acceptor with a self-signed certificate
//!   made by rcgen at start-up.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How the harness opens connections to a target (the profile's `tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP; a scenario's `T: starttls` step is graded UNSUPPORTED.
    None,
    /// Plain TCP; scenarios upgrade with `T: starttls` where they say so, and
    /// the extension probe upgrades to learn the keywords offered under TLS.
    #[default]
    Starttls,
    /// TLS from the first octet (RFC 8314 3.3, "implicit TLS").
    Implicit,
}

/// Why TLS could not be set up (configuration, not the handshake).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The SNI / verification name is neither a DNS name nor an IP address.
    #[error("`{0}` is not a valid TLS server name (DNS name or IP address)")]
    ServerName(String),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rcgen could not make the self-signed certificate.
    #[error("generating the self-signed certificate: {0}")]
    Certificate(String),
}

/// The rustls provider used everywhere in this crate.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Client-side TLS settings, from the target profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientSettings {
    /// Check the certificate chain and name; off accepts any certificate.
    pub verify: bool,
    /// The name sent as SNI and checked against the certificate; an IP
    /// address sends no SNI (RFC 6066 3) and is checked against IP SANs.
    pub server_name: String,
    /// PEM file of trust anchors; `None` uses the bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
}

/// What a finished handshake negotiated, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// e.g. `TLSv1.3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

impl fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.version, self.cipher)
    }
}

impl TlsInfo {
    /// Reads the negotiated parameters off a rustls connection.
    pub fn of(common: &rustls::CommonState) -> TlsInfo {
        let version = match common.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "unknown version".to_string(),
        };
        let cipher = common
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_else(|| "unknown cipher".into());
        TlsInfo { version, cipher }
    }
}

/// A ready-to-use client TLS configuration.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Builds the client configuration.
    pub fn new(settings: &TlsClientSettings) -> Result<TlsClient, TlsError> {
        let provider = provider();
        let server_name = ServerName::try_from(settings.server_name.clone())
            .map_err(|_| TlsError::ServerName(settings.server_name.clone()))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = if settings.verify {
            let mut roots = rustls::RootCertStore::empty();
            match &settings.ca_file {
                Some(path) => {
                    let ca_error = |message: String| TlsError::CaFile {
                        path: path.display().to_string(),
                        message,
                    };
                    let certs = CertificateDer::pem_file_iter(path)
                        .map_err(|e| ca_error(e.to_string()))?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| ca_error(e.to_string()))?;
                    let (added, _) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        return Err(ca_error("no usable certificate in the file".into()));
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCertificateCheck { provider }))
                .with_no_client_auth()
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The connector.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// The name given as SNI and verified.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }
}

/// Accepts any certificate (test servers are self-signed), but still checks
/// that the server signed the handshake with the certificate's key.
#[derive(Debug)]
struct NoCertificateCheck {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The reference server's TLS: an acceptor and its certificate.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    certificate: CertificateDer<'static>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificate_octets", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

/// Names in the default certificate: the reference server's hostname and loopback.
pub const DEFAULT_CERT_NAMES: &[&str] = &["mx.example.test", "localhost", "127.0.0.1", "::1"];

impl ServerTls {
    /// Generates a fresh self-signed certificate for `names` (DNS names or
    /// IP addresses) with an ECDSA P-256 key.
    pub fn self_signed(names: &[&str]) -> Result<ServerTls, TlsError> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        let certificate = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![certificate.clone()], key)?;
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate,
        })
    }

    /// The self-signed certificate for [`DEFAULT_CERT_NAMES`], made once per
    /// process on first use and shared by every default server configuration.
    pub fn default_self_signed() -> Option<ServerTls> {
        static SHARED: OnceLock<Option<ServerTls>> = OnceLock::new();
        SHARED
            .get_or_init(|| ServerTls::self_signed(DEFAULT_CERT_NAMES).ok())
            .clone()
    }

    /// The acceptor.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The certificate (DER), e.g. to trust it in a client.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The certificate as PEM, for a client's CA file.
    pub fn certificate_pem(&self) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(self.certificate.as_ref());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }
}
