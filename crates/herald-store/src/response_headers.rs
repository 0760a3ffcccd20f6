//! An attempt's response headers as Herald records them: bounded, because they come from a
//! stranger's endpoint (at most [`ResponseHeaders::MAX_COUNT`] headers and
//! [`ResponseHeaders::MAX_BYTES`] of names and values; the rest is left out), names lowercased,
//! values as lossy UTF-8. The value is the JSON text the store writes (an array of
//! `[name, value]` pairs): the dispatcher serialises it once from the response in hand, and
//! only readers (the API, the Hub) parse it. Values are shown escaped wherever they appear.

use serde::{Deserialize, Serialize};

/// The recorded headers of one response; see the module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResponseHeaders(String);

impl ResponseHeaders {
    /// The most headers recorded per response.
    pub const MAX_COUNT: usize = 32;
    /// The most bytes of names and values recorded per response.
    pub const MAX_BYTES: usize = 4096;

    /// Keeps headers in the order given until either bound is reached.
    pub fn bounded<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut kept: Vec<(String, String)> = Vec::new();
        let mut bytes = 0;
        for (name, value) in headers {
            let size = name.len() + value.len();
            if kept.len() == Self::MAX_COUNT || bytes + size > Self::MAX_BYTES {
                break;
            }
            bytes += size;
            kept.push((
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        }
        // A list of string pairs always serialises.
        Self(serde_json::to_string(&kept).unwrap_or_else(|_| "[]".to_owned()))
    }

    /// Headers as the store holds them (written by [`Self::bounded`]).
    pub(crate) fn from_stored(json: String) -> Self {
        Self(json)
    }

    /// The JSON text the store writes.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The `(name, value)` pairs, in the order the endpoint sent them; none if the stored
    /// text is not such a list.
    pub fn pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_bounds_lowercased() {
        let many: Vec<(String, Vec<u8>)> = (0..40)
            .map(|n| (format!("X-Header-{n}"), b"v".to_vec()))
            .collect();
        let headers =
            ResponseHeaders::bounded(many.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        let pairs = headers.pairs();
        assert_eq!(pairs.len(), ResponseHeaders::MAX_COUNT);
        assert_eq!(pairs[0], ("x-header-0".to_owned(), "v".to_owned()));

        let big = vec![b'a'; 3000];
        let headers = ResponseHeaders::bounded([
            ("a", big.as_slice()),
            ("b", big.as_slice()),
            ("c", &b"1"[..]),
        ]);
        assert_eq!(headers.pairs().len(), 1, "the second would pass 4 KiB");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_kept_lossily() {
        let headers = ResponseHeaders::bounded([("x", &b"caf\xe9"[..])]);
        assert_eq!(headers.pairs()[0].1, "caf\u{fffd}");
    }
}
