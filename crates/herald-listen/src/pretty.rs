//! Pretty-printing JSON for people, keeping the sender's key order.
//!
//! `serde_json::Value` sorts object keys (the workspace does not enable `preserve_order`, and
//! turning it on here would change every crate's `Value`), and a person comparing the output
//! with the sender's payload expects the same order. So this re-indents the text itself: it
//! walks the bytes once, outside strings drops whitespace and breaks lines after `{`, `[` and
//! `,`. It is only called on text that `serde_json` has already accepted as JSON.

const INDENT: &str = "  ";

/// Re-indents valid JSON text with two spaces, keys in their original order.
pub(crate) fn pretty(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Keep empty containers on one line.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|&n| n == '}' || n == ']') {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn keys_keep_their_order_and_strings_are_untouched() {
        let text = r#"{"type":"a.b", "data" : {"z":[1, 2],"a":"x, {y}: \"q\""},"e":{},"l":[ ]}"#;
        let expected = "{\n  \"type\": \"a.b\",\n  \"data\": {\n    \"z\": [\n      1,\n      2\n    ],\n    \"a\": \"x, {y}: \\\"q\\\"\"\n  },\n  \"e\": {},\n  \"l\": []\n}";
        assert_eq!(pretty(text), expected);
    }
}
