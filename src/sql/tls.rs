//! TLS for the SQL endpoint, from a PEM certificate chain and key. pgwire negotiates it
//! (`SSLRequest`) with rustls; the certificate is read once at start, so a bad file stops the
//! server with a message naming it rather than failing each connection.

use std::path::Path;
use std::sync::Arc;

use datafusion_postgres::pgwire;
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::SqlError;

/// The acceptor for `certificate` and `key` (PEM files).
pub fn acceptor(certificate: &Path, key: &Path) -> Result<TlsAcceptor, SqlError> {
    let failed = |path: &Path, reason: String| SqlError::Tls { path: path.display().to_string(), reason };
    let chain_pem = std::fs::read(certificate).map_err(|e| failed(certificate, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(certificate, format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(failed(certificate, "holds no certificate".into()));
    }
    let key_pem = std::fs::read(key).map_err(|e| failed(key, e.to_string()))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| failed(key, format!("not a PEM private key ({e})")))?;
    // The provider is named rather than taken from a process-wide default, which other
    // crates in the process could install differently.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(certificate, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| failed(key, format!("does not match the certificate or is unusable ({e})")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
