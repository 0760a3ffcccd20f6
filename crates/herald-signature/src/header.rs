//! Parsing the `webhook-signature` header into the entries a verifier can check, within caps.
//!
//! The header is attacker-controlled and every entry it holds is work for the verifier, so the
//! parser refuses a header longer than [`MAX_SIGNATURE_HEADER_BYTES`] before looking inside it
//! and one with more than [`MAX_SIGNATURE_ENTRIES`] entries before decoding any: a refusal
//! costs no more than a normal request. The spec's own use is one entry per live secret
//! during a rotation, a handful at most. Entries of unknown versions (`v2,…`) or with
//! undecodable base64 are skipped, not failed, so a sender may add schemes beside ours; they
//! still count towards the cap, because counting is what keeps the work bounded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::VerifyError;

/// Most entries of `webhook-signature` a verifier considers (by default); more is refused.
pub const MAX_SIGNATURE_ENTRIES: usize = 16;

/// Longest `webhook-signature` value accepted, in bytes (8 KiB); longer is refused unread.
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 8 * 1024;

/// One understood entry of `webhook-signature`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureEntry {
    /// `v1,<base64>`: an HMAC-SHA256 (any decoded length; a wrong length simply never matches).
    Symmetric(Vec<u8>),
    /// `v1a,<base64>`: an Ed25519 signature.
    Asymmetric(Vec<u8>),
}

/// Parses a `webhook-signature` value into its understood entries, in order, refusing a value
/// over [`MAX_SIGNATURE_HEADER_BYTES`] or with more than `max_entries` entries.
///
/// ```
/// use herald_signature::{SignatureEntry, parse_signature_header};
///
/// let entries = parse_signature_header("v1,AQI= v2,zzz v1a,Aw==", 16).unwrap();
/// assert_eq!(
///     entries,
///     [SignatureEntry::Symmetric(vec![1, 2]), SignatureEntry::Asymmetric(vec![3])]
/// );
/// ```
pub fn parse_signature_header(
    header: &str,
    max_entries: usize,
) -> Result<Vec<SignatureEntry>, VerifyError> {
    if header.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(VerifyError::SignatureHeaderTooLong {
            length: header.len(),
            limit: MAX_SIGNATURE_HEADER_BYTES,
        });
    }
    // Counting first (a linear scan of at most 8 KiB) means nothing is decoded for a header
    // that is refused anyway.
    let count = header.split_whitespace().count();
    if count > max_entries {
        return Err(VerifyError::TooManySignatures {
            count,
            limit: max_entries,
        });
    }
    let entries = header
        .split_whitespace()
        .filter_map(|entry| {
            let (version, encoded) = entry.split_once(',')?;
            let make = match version {
                "v1" => SignatureEntry::Symmetric,
                "v1a" => SignatureEntry::Asymmetric,
                _ => return None,
            };
            STANDARD.decode(encoded).ok().map(make)
        })
        .collect();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_over_the_length_cap_is_refused_unread() {
        let header = "v1,AA== ".repeat(MAX_SIGNATURE_HEADER_BYTES / 8 + 1);
        assert!(matches!(
            parse_signature_header(&header, usize::MAX),
            Err(VerifyError::SignatureHeaderTooLong { limit: 8192, .. })
        ));
    }

    #[test]
    fn more_entries_than_the_cap_are_refused_counting_unknown_ones() {
        let header = "v9,x ".repeat(17);
        assert_eq!(
            parse_signature_header(&header, 16),
            Err(VerifyError::TooManySignatures {
                count: 17,
                limit: 16
            })
        );
        assert_eq!(parse_signature_header(&"v9,x ".repeat(16), 16), Ok(vec![]));
    }
}
