//! Property-based tests of the `webhook-signature` parser and the verifier around it: they never
//! panic, their work is bounded by the caps whatever the input, and they accept what `sign`
//! produces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_signature::{
    MAX_SIGNATURE_ENTRIES, MAX_SIGNATURE_HEADER_BYTES, Secret, SignatureEntry, Verifier,
    VerifyError, parse_signature_header, sign_header,
};
use proptest::prelude::*;

/// Headers shaped like real ones (versions, commas, base64, spaces) as well as arbitrary text.
fn header() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        "v1a?,[A-Za-z0-9+/=]{0,90}",
        "v[0-9],[ -~]{0,20}",
        "[ -~]{0,30}",
        "\\PC{0,10}",
    ];
    prop::collection::vec(entry, 0..40).prop_map(|entries| entries.join(" "))
}

proptest! {
    #[test]
    fn the_parser_never_panics_and_returns_at_most_the_cap(text in header(), cap in 1usize..32) {
        match parse_signature_header(&text, cap) {
            Ok(entries) => prop_assert!(entries.len() <= cap),
            Err(VerifyError::TooManySignatures { count, limit }) => {
                prop_assert_eq!(limit, cap);
                prop_assert!(count > cap);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn arbitrary_text_never_panics_and_long_headers_are_refused(text in "\\PC{0,12000}") {
        let result = parse_signature_header(&text, MAX_SIGNATURE_ENTRIES);
        if text.len() > MAX_SIGNATURE_HEADER_BYTES {
            let refused = matches!(result, Err(VerifyError::SignatureHeaderTooLong { .. }));
            prop_assert!(refused);
        }
    }

    #[test]
    fn the_verifier_never_panics_on_any_header(
        text in header(),
        id in "\\PC{0,20}",
        timestamp in "[0-9-]{0,12}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let verifier = Verifier::new(vec![Secret::generate().into()]);
        let _ = verifier.verify(&id, &timestamp, &text, &body, 1_000);
    }

    #[test]
    fn what_sign_header_produces_parses_back_and_verifies(
        count in 1usize..=MAX_SIGNATURE_ENTRIES,
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in 0i64..4_000_000_000,
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let secrets: Vec<Secret> = (0..count).map(|_| Secret::generate()).collect();
        let refs: Vec<&Secret> = secrets.iter().collect();
        let header = sign_header(&refs, &id, timestamp, &body);
        let entries = parse_signature_header(&header, MAX_SIGNATURE_ENTRIES).unwrap();
        prop_assert_eq!(entries.len(), count);
        for (entry, text) in entries.iter().zip(header.split(' ')) {
            let SignatureEntry::Symmetric(mac) = entry else {
                return Err(TestCaseError::fail("a v1 entry parsed as another kind"));
            };
            prop_assert_eq!(format!("v1,{}", STANDARD.encode(mac)), text);
        }
        for secret in secrets {
            Verifier::new(vec![secret.into()])
                .verify(&id, &timestamp.to_string(), &header, &body, timestamp)
                .unwrap();
        }
    }
}
