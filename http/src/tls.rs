//! TLS for every service: loads a PEM certificate chain and key into a rustls acceptor offering h2 and
//! http/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where a service's certificate and key live. Both are PEM; the chain starts with the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_chain: PathBuf,
    pub private_key: PathBuf,
}

/// Reads the files once, at startup. ALPN offers `h2` first, so TLS clients get HTTP/2 when they can.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_chain)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| tls_error(&files.cert_chain, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(&files.cert_chain, "it holds no PEM certificate".to_owned()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.private_key).map_err(|e| tls_error(&files.private_key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&files.cert_chain, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(&files.private_key, e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS certificate or key could not be loaded, or they do not belong together.
#[derive(Debug, thiserror::Error)]
#[error("could not set up TLS with {}: {reason}", path.display())]
pub struct TlsError {
    pub path: PathBuf,
    pub reason: String,
}

fn tls_error(path: &Path, reason: String) -> TlsError {
    TlsError { path: path.to_owned(), reason }
}
