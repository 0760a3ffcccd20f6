//! Printing for people: aligned tables for lists, `field: value` blocks for
//! one object.
//!
//! Everything here takes `serde_json::Value` and a list of field names, so a
//! field the server adds later still shows in `show` output (after the known
//! ones) without a CLI change. Stdout may be a closed pipe (`| head`); writes
//! ignore that instead of panicking.

use std::io::Write;

use serde_json::Value;

/// A column of a list: its header, the JSON field it shows, and a field
/// to show when that one is missing or null (for a field the server may
/// name either way, such as a delivery's attempt count).
pub struct Column {
    pub header: &'static str,
    pub field: &'static str,
    pub fallback: Option<&'static str>,
}

impl Column {
    fn value<'a>(&self, item: &'a Value) -> Option<&'a Value> {
        let present = |field: &str| item.get(field).filter(|v| !v.is_null());
        present(self.field).or_else(|| self.fallback.and_then(present))
    }
}

/// A column showing one field.
pub const fn col(header: &'static str, field: &'static str) -> Column {
    Column {
        header,
        field,
        fallback: None,
    }
}

/// A column showing `field`, else `fallback`.
pub const fn col_or(header: &'static str, field: &'static str, fallback: &'static str) -> Column {
    Column {
        header,
        field,
        fallback: Some(fallback),
    }
}

/// One cell: strings bare, `null` or missing as `-`, arrays of scalars
/// comma-joined, anything else as compact JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Renders rows under headers, columns padded to their widest cell and
/// separated by two spaces; the last column is not padded.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, (text, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(text);
            } else {
                let pad = width - text.chars().count();
                out.push_str(text);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    }
    out
}

/// A table of `items`, one row each, with the given columns.
pub fn list(items: &[Value], columns: &[Column]) -> String {
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(c.value(item))).collect())
        .collect();
    render(&headers, &rows)
}

/// One object as aligned `field: value` lines: the `first` fields in that
/// order (when present), then every other field alphabetically, except
/// those in `skip` (shown separately by the caller).
pub fn object(value: &Value, first: &[&str], skip: &[&str]) -> String {
    let Some(map) = value.as_object() else {
        return format!("{value}\n");
    };
    let mut keys: Vec<&str> = first
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k) && !skip.contains(k))
        .collect();
    let mut rest: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !first.contains(k) && !skip.contains(k))
        .collect();
    rest.sort_unstable();
    keys.extend(rest);
    let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for key in keys {
        let pad = width - key.chars().count();
        out.push_str(&format!(
            "{key}:{} {}\n",
            " ".repeat(pad),
            cell(map.get(key))
        ));
    }
    out
}

/// Writes to stdout; a closed pipe ends the output quietly.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let text = render(
            &["ID", "NAME"],
            &[
                vec!["t_1".into(), "a".into()],
                vec!["t_22".into(), "b".into()],
            ],
        );
        assert_eq!(text, "ID    NAME\nt_1   a\nt_22  b\n");
    }

    #[test]
    fn cells_show_null_as_dash_and_join_arrays() {
        assert_eq!(cell(Some(&Value::Null)), "-");
        assert_eq!(cell(None), "-");
        assert_eq!(cell(Some(&json!(["a.b", "c.*"]))), "a.b,c.*");
        assert_eq!(cell(Some(&json!({"k": 1}))), r#"{"k":1}"#);
    }

    #[test]
    fn object_lists_known_fields_first_then_the_rest() {
        let text = object(
            &json!({"z": 1, "id": "x", "name": "n", "secret": "s"}),
            &["id", "name"],
            &["secret"],
        );
        assert_eq!(text, "id:   x\nname: n\nz:    1\n");
    }
}
