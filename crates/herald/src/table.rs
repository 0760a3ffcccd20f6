//! Printing for people: aligned tables for lists, `field: value` blocks for
//! one object.
//!
//! Everything here takes `serde_json::Value` and a list of field names, so a
//! field the server adds later still shows in `show` output (after the known
//! ones) without a CLI change. Stdout may be a closed pipe (`| head`); writes
//! ignore that instead of panicking.
//!
//! A table fits the terminal: long URLs and errors are cut with `…`, ids and
//! times never. Piped output is not cut (scripts want whole values; `--json`
//! is there for the rest), and `COLUMNS` overrides the width either way.
//! Nothing here colours output, so nothing ANSI reaches a pipe.

use std::io::Write;

use serde_json::Value;

/// A column of a list: its header, what it shows, and whether it may be cut short (with `…`)
/// to fit the terminal. Ids and times never are: people copy them into the next command.
pub struct Column {
    pub header: &'static str,
    source: Source,
    shrinks: bool,
}

/// Where a column's cells come from.
enum Source {
    /// A field, else a fallback field when that one is missing or null (for a field the
    /// server may name either way, such as a delivery's attempt count).
    Field(&'static str, Option<&'static str>),
    /// Text made from the whole item (`None` shows as `-`), for a cell that reads several
    /// fields, such as a delivery's last error.
    Computed(fn(&Value) -> Option<String>),
}

impl Column {
    /// May be cut short to fit the terminal's width.
    pub const fn shrinks(mut self) -> Self {
        self.shrinks = true;
        self
    }

    /// The JSON field this column shows, if it shows one field (the tests check that list and
    /// `show` orders agree).
    #[cfg(test)]
    pub fn field(&self) -> Option<&'static str> {
        match self.source {
            Source::Field(field, _) => Some(field),
            Source::Computed(_) => None,
        }
    }

    fn text(&self, item: &Value) -> String {
        match &self.source {
            Source::Field(field, fallback) => {
                let present = |field: &str| item.get(field).filter(|v| !v.is_null());
                cell(present(field).or_else(|| fallback.and_then(present)))
            }
            Source::Computed(make) => make(item).map_or_else(|| "-".to_owned(), |t| safe(&t)),
        }
    }
}

/// A column showing one field.
pub const fn col(header: &'static str, field: &'static str) -> Column {
    Column {
        header,
        source: Source::Field(field, None),
        shrinks: false,
    }
}

/// A column showing `field`, else `fallback`.
pub const fn col_or(header: &'static str, field: &'static str, fallback: &'static str) -> Column {
    Column {
        header,
        source: Source::Field(field, Some(fallback)),
        shrinks: false,
    }
}

/// A column whose cells `make` writes from the whole item.
pub const fn computed(header: &'static str, make: fn(&Value) -> Option<String>) -> Column {
    Column {
        header,
        source: Source::Computed(make),
        shrinks: false,
    }
}

/// One cell: strings bare, `null` or missing as `-`, arrays of scalars
/// comma-joined, anything else as compact JSON. Control characters are escaped: a URL or an
/// error message comes from outside and must not move the cursor or colour the terminal.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => safe(s),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => safe(&other.to_string()),
    }
}

/// `text` with control characters (newlines, escape sequences) written as `\n`, `\u{1b}`.
fn safe(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

/// A table of `items`, one row each, with the given columns, cut to `width` columns (see
/// [`fit`]) when a width is given.
pub fn list(items: &[Value], columns: &[Column], width: Option<usize>) -> String {
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let mut rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| c.text(item)).collect())
        .collect();
    if let Some(width) = width {
        let shrinks: Vec<bool> = columns.iter().map(|c| c.shrinks).collect();
        fit(&headers, &mut rows, &shrinks, width);
    }
    render(&headers, &rows)
}

/// The narrowest a shrinking column gets: enough to tell values apart.
const MIN_SHRUNK: usize = 12;
/// Between two columns, as [`render`] writes them.
const GAP: usize = 2;

/// Cuts the cells of shrinking columns with `…` until the table fits in `width` columns:
/// the widest shrinking column gives up one column at a time, so long URLs and errors shrink
/// before short ones, and none gets narrower than its header or [`MIN_SHRUNK`]. Columns that
/// do not shrink (ids, times) are never cut; if they alone are too wide, the table is too.
pub fn fit(headers: &[&str], rows: &mut [Vec<String>], shrinks: &[bool], width: usize) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows.iter() {
        for (w, text) in widths.iter_mut().zip(row) {
            *w = (*w).max(text.chars().count());
        }
    }
    let floor = |i: usize| headers[i].chars().count().max(MIN_SHRUNK);
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    while total(&widths) > width {
        let widest = (0..widths.len())
            .filter(|&i| shrinks.get(i).copied().unwrap_or(false) && widths[i] > floor(i))
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    for row in rows.iter_mut() {
        for (text, &w) in row.iter_mut().zip(&widths) {
            if text.chars().count() > w {
                *text = text
                    .chars()
                    .take(w.saturating_sub(1))
                    .chain(['…'])
                    .collect();
            }
        }
    }
}

/// How wide a table on stdout may be: `COLUMNS` when set (as `ls` and `git` read it), else the
/// terminal's width; `None` (no limit) when stdout is not a terminal, so a pipe or a file gets
/// whole values for `grep` and `cut`.
pub fn stdout_width() -> Option<usize> {
    let columns = std::env::var("COLUMNS").ok();
    width_from(columns.as_deref(), || {
        use std::io::IsTerminal;
        let stdout = std::io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0))
    })
}

fn width_from(columns: Option<&str>, terminal: impl FnOnce() -> Option<usize>) -> Option<usize> {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or_else(terminal)
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
    fn control_characters_in_cells_are_escaped() {
        assert_eq!(cell(Some(&json!("a\u{1b}[31mb\nc"))), "a\\u{1b}[31mb\\nc");
    }

    #[test]
    fn long_shrinking_cells_are_cut_with_an_ellipsis_to_fit() {
        let columns = [col("ID", "id"), col("URL", "url").shrinks()];
        let items = [json!({"id": "dlv_1", "url": "https://example.com/a/very/long/path"})];

        let text = list(&items, &columns, Some(24));

        assert_eq!(text, "ID     URL\ndlv_1  https://example.…\n");
        assert!(text.lines().all(|l| l.chars().count() <= 24), "{text}");
    }

    #[test]
    fn the_widest_shrinking_column_gives_way_first_and_ids_never() {
        let mut rows = vec![vec![
            "dlv_0123456789".to_owned(),
            "short-ish value".to_owned(),
            "a much much longer value than that".to_owned(),
        ]];
        fit(&["ID", "A", "B"], &mut rows, &[false, true, true], 50);
        assert_eq!(rows[0][0], "dlv_0123456789");
        assert_eq!(rows[0][1], "short-ish value");
        assert_eq!(rows[0][2].chars().count(), 50 - 14 - 15 - 4);
        assert!(rows[0][2].ends_with('…'));
    }

    #[test]
    fn no_width_keeps_whole_values() {
        let columns = [col("URL", "url").shrinks()];
        let url = "https://example.com/".repeat(10);
        assert!(list(&[json!({"url": url})], &columns, None).contains(&url));
    }

    #[test]
    fn columns_env_wins_over_the_terminal_and_garbage_is_ignored() {
        assert_eq!(width_from(Some("80"), || Some(200)), Some(80));
        assert_eq!(width_from(Some("wide"), || Some(200)), Some(200));
        assert_eq!(width_from(Some("0"), || None), None);
        assert_eq!(width_from(None, || None), None);
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
