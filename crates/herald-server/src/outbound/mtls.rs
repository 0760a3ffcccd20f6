//! mTLS to the endpoint: a subscription's client certificate and key, which Herald presents,
//! and an optional CA bundle that pins the endpoint's server certificate.
//!
//! Two jobs: checking the PEM a subscriber gives before it is stored ([`check_identity`],
//! [`check_ca_bundle`]: it parses, it is a certificate and a private key, it is not too
//! large), and building the per-subscription HTTP client that carries them ([`client`]),
//! which `Outbound` caches. What the API shows of a certificate is [`CertificateInfo`]:
//! its SHA-256 fingerprint and expiry, never the key.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::pem::Pem;

/// The largest PEM accepted for a certificate chain, a key or a CA bundle.
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// Why a subscription's TLS material was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MtlsError {
    /// Larger than [`MAX_PEM_BYTES`].
    #[error("{0} is larger than {MAX_PEM_BYTES} bytes")]
    TooLarge(&'static str),
    /// No PEM block of the kind expected.
    #[error("{0} holds no PEM block '-----BEGIN {1}-----'")]
    Missing(&'static str, &'static str),
    /// A certificate block that does not parse as X.509.
    #[error("{0} holds a certificate that is not valid X.509: {1}")]
    BadCertificate(&'static str, String),
    /// The HTTP client refused the pair (a key it cannot use).
    #[error("the certificate and private key cannot be used together: {0}")]
    Unusable(String),
}

/// What the API shows of a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// SHA-256 of the (first) certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
    /// When it expires.
    pub not_after: OffsetDateTime,
}

fn blocks(pem: &str, field: &'static str) -> Result<Vec<Pem>, MtlsError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(MtlsError::TooLarge(field));
    }
    // Unparsable blocks end the iteration; what came before them is what counts.
    Ok(Pem::iter_from_buffer(pem.as_bytes())
        .map_while(Result::ok)
        .collect())
}

/// The certificates of `pem` (at least one), each parsed; the first one's info.
fn certificates(pem: &str, field: &'static str) -> Result<CertificateInfo, MtlsError> {
    let certs: Vec<Pem> = blocks(pem, field)?
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .collect();
    let mut first = None;
    for cert in &certs {
        let parsed = cert
            .parse_x509()
            .map_err(|error| MtlsError::BadCertificate(field, error.to_string()))?;
        first.get_or_insert_with(|| CertificateInfo {
            fingerprint_sha256: Sha256::digest(&cert.contents)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            not_after: parsed.validity().not_after.to_datetime(),
        });
    }
    first.ok_or(MtlsError::Missing(field, "CERTIFICATE"))
}

/// Checks a client certificate chain and its private key; answers the certificate's info.
pub fn check_identity(certificate: &str, private_key: &str) -> Result<CertificateInfo, MtlsError> {
    let info = certificates(certificate, "certificate")?;
    let has_key = blocks(private_key, "private_key")?
        .iter()
        .any(|block| block.label.ends_with("PRIVATE KEY"));
    if !has_key {
        return Err(MtlsError::Missing("private_key", "PRIVATE KEY"));
    }
    reqwest::Identity::from_pem(identity_pem(certificate, private_key).as_bytes())
        .map_err(|error| MtlsError::Unusable(error.to_string()))?;
    Ok(info)
}

/// Checks a CA bundle: one or more certificates.
pub fn check_ca_bundle(bundle: &str) -> Result<(), MtlsError> {
    certificates(bundle, "server_ca").map(|_| ())
}

/// The info of a stored certificate (it was checked when stored).
pub fn info(certificate: &str) -> Option<CertificateInfo> {
    certificates(certificate, "certificate").ok()
}

fn identity_pem(certificate: &str, private_key: &str) -> String {
    format!("{}\n{}\n", certificate.trim(), private_key.trim())
}

/// A subscription's TLS material, as the client needs it.
pub struct ClientTls<'a> {
    /// The client certificate chain and its key, if any.
    pub identity: Option<(&'a str, &'a str)>,
    /// The CA bundle that replaces the public roots, if any.
    pub server_ca: Option<&'a str>,
}

impl ClientTls<'_> {
    /// A key for the cache: the same material gives the same client.
    pub fn cache_key(&self) -> String {
        let mut hash = Sha256::new();
        if let Some((cert, key)) = self.identity {
            hash.update(cert);
            hash.update([0]);
            hash.update(key);
        }
        hash.update([1]);
        if let Some(ca) = self.server_ca {
            hash.update(ca);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `builder` with the subscription's identity and pinned CAs.
pub fn client(
    builder: reqwest::ClientBuilder,
    tls: &ClientTls<'_>,
) -> Result<reqwest::Client, MtlsError> {
    let mut builder = builder;
    if let Some((cert, key)) = tls.identity {
        let identity = reqwest::Identity::from_pem(identity_pem(cert, key).as_bytes())
            .map_err(|error| MtlsError::Unusable(error.to_string()))?;
        builder = builder.identity(identity);
    }
    if let Some(bundle) = tls.server_ca {
        let roots = reqwest::Certificate::from_pem_bundle(bundle.as_bytes())
            .map_err(|error| MtlsError::BadCertificate("server_ca", error.to_string()))?;
        builder = builder.tls_built_in_root_certs(false);
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    builder
        .build()
        .map_err(|error| MtlsError::Unusable(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_pem_is_refused_naming_the_field() {
        assert_eq!(
            check_identity("hello", "world").unwrap_err(),
            MtlsError::Missing("certificate", "CERTIFICATE")
        );
        assert_eq!(
            check_ca_bundle(&"x".repeat(MAX_PEM_BYTES + 1)).unwrap_err(),
            MtlsError::TooLarge("server_ca")
        );
    }
}
