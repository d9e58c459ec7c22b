//! HTTPS on the listener (#14 item 4): rustls with the `ring` provider, HTTP/1.1 over TLS 1.2
//! and 1.3. The certificate chain and the key come from PEM files (`--tls-cert`,
//! `--tls-key`); anything wrong with them is one line at start. SIGHUP reads both again
//! ([`Certificate::reload`]): a renewed certificate is served without a restart.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

/// What is wrong with the certificate or the key.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is missing, unreadable, or holds no PEM certificate.
    Cert {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file is missing, unreadable, or holds no PEM private key.
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, or is unsupported).
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Cert { path, reason } => {
                write!(f, "--tls-cert {}: {reason}", path.display())
            }
            TlsError::Key { path, reason } => write!(f, "--tls-key {}: {reason}", path.display()),
            TlsError::Config(e) => write!(f, "--tls-cert/--tls-key: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// An acceptor for the certificate chain in `cert` and the private key in `key` (PEM).
///
/// # Errors
/// [`TlsError`].
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    Certificate::load(cert, key)?.acceptor()
}

/// The certificate chain and key every handshake is answered with, read from their PEM files
/// and replaceable while serving: [`Certificate::reload`] (what SIGHUP does) reads both files
/// again and swaps the pair whole, so a renewed certificate is served without a restart.
/// Handshakes already under way finish with the pair they started with.
pub struct Certificate {
    current: RwLock<Arc<CertifiedKey>>,
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The paths only: never the key.
        f.debug_struct("Certificate")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Reads the chain in `cert` and the private key in `key` (PEM), which must match.
    ///
    /// # Errors
    /// [`TlsError`], naming the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = read_pair(cert, key, &provider)?;
        Ok(Arc::new(Certificate {
            current: RwLock::new(Arc::new(pair)),
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
        }))
    }

    /// Reads both files again; on success the new pair answers every later handshake. On an
    /// error the pair in use stays.
    ///
    /// # Errors
    /// [`TlsError`], naming the file.
    pub fn reload(&self) -> Result<(), TlsError> {
        let pair = read_pair(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pair);
        Ok(())
    }

    /// An acceptor answering with this certificate as it is at each handshake: HTTP/1.1 over
    /// TLS 1.2 and 1.3.
    ///
    /// # Errors
    /// [`TlsError::Config`] if the provider offers no safe protocol version.
    pub fn acceptor(self: Arc<Self>) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::clone(&self.provider);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// The chain and key from their files, checked to match (as `with_single_cert` checks them).
fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_err = |reason: String| TlsError::Cert {
        path: cert.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no PEM certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(TlsError::Config)
}
