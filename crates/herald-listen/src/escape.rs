//! Escaping what a sender controls before it reaches a terminal.
//!
//! Ids, event types, headers, bodies, paths and problem details all come from whoever can
//! reach the port; printed raw, an ESC or CSI sequence could recolour, hide or rewrite lines,
//! set the window title or (on some terminals) write to the clipboard, and a CR could make a
//! `rejected` line look `verified`. So every C0 and C1 control, DEL, and the Unicode bidi
//! overrides (which reorder text on screen) are shown as visible escapes. This is done at the
//! last moment, in the output only: the data forwarded and handed to hooks stays byte for
//! byte. JSON output is already escaped by serde for C0; [`json_line`] adds DEL, C1 and bidi,
//! which serde leaves raw, as `\uXXXX` (still the same JSON value).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw.
fn dangerous(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape_with(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| dangerous(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if keep(c) || !dangerous(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// For one-line fields (id, type, header values, reasons): every control is escaped.
pub(crate) fn line(text: &str) -> Cow<'_, str> {
    escape_with(text, |_| false)
}

/// For multi-line text (a body, a command's output): line feeds and tabs stay, the rest is
/// escaped.
pub(crate) fn block(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c == '\n' || c == '\t')
}

/// A serialised JSON line with DEL, C1 controls and bidi overrides as `\uXXXX` escapes. Such
/// characters can only occur inside JSON strings, where the escape means the same character.
pub(crate) fn json_line(json: String) -> String {
    if !json.chars().any(dangerous) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if dangerous(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_osc_cr_and_c1_are_made_visible_in_a_line() {
        assert_eq!(line("a\u{1b}[31mb\rc"), "a\\x1b[31mb\\rc");
        assert_eq!(line("\u{1b}]0;title\u{7}"), "\\x1b]0;title\\x07");
        assert_eq!(line("\u{9b}2J\u{7f}"), "\\x9b2J\\x7f");
        assert_eq!(line("x\u{202e}y"), "x\\u{202e}y");
        assert!(matches!(line("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_block_keeps_its_lines_and_tabs() {
        assert_eq!(block("a\n\tb\u{1b}c\r\n"), "a\n\tb\\x1bc\\r\n");
    }

    #[test]
    fn json_lines_escape_what_serde_leaves_raw_and_stay_the_same_value() {
        let value = serde_json::json!({"t": "\u{1b}[2J\u{9b}\u{7f}\u{202e}"});
        let escaped = json_line(value.to_string());
        assert!(escaped.chars().all(|c| !dangerous(c)), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
