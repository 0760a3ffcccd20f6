//! Every SQL statement both backends run, each written once: its text with `$1..$n`
//! placeholders and its arguments, as one Rust item (a function returning a [`Statement`]).
//!
//! It owns the shared SQL text and nothing else: it never touches a connection (each backend
//! has one helper that runs a [`Sql`]: rusqlite for SQLite, sqlx for PostgreSQL) and never
//! decodes a row (that is [`crate::rows`], whose column lists the statements splice in). Why
//! `$N`: PostgreSQL requires it, and SQLite reads `$N` as a parameter named `$N`, which the
//! SQLite helper binds by that number, so one text serves both. Statements that only one
//! dialect can say (`FOR UPDATE SKIP LOCKED`, `ON CONFLICT` on an expression index,
//! `pg_notify`, `starts_with` against `substr`, `unnest` and `json_each` lists, `INDEXED BY`)
//! live in their backend's module, each written once there. Texts are `&'static str`
//! (`concat!` with the column macros of [`crate::rows`]), so the SQLite writer's cached
//! statements cost no allocation per call; arguments borrow what they bind.

pub(crate) mod catalog;
pub(crate) mod events;
pub(crate) mod feed;
pub(crate) mod hub;
pub(crate) mod notices;
pub(crate) mod queue;
pub(crate) mod recovery;
pub(crate) mod relay;
pub(crate) mod retention;
pub(crate) mod sealing;
pub(crate) mod support;

/// One bound value: text, an integer, or a typed null (PostgreSQL wants a null's type).
#[derive(Clone, Debug)]
pub(crate) enum Arg<'a> {
    /// Borrowed text, or a text null.
    Text(Option<&'a str>),
    /// Text built for this call (JSON of a list or map).
    Owned(Option<String>),
    /// A 64-bit integer, or an integer null.
    Int(Option<i64>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Arg::Text(Some(value))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Arg::Text(value)
    }
}

impl From<String> for Arg<'_> {
    fn from(value: String) -> Self {
        Arg::Owned(Some(value))
    }
}

impl From<Option<String>> for Arg<'_> {
    fn from(value: Option<String>) -> Self {
        Arg::Owned(value)
    }
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(value: Option<i64>) -> Self {
        Arg::Int(value)
    }
}

impl Arg<'_> {
    /// The text bound, if this is text.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Arg::Text(value) => *value,
            Arg::Owned(value) => value.as_deref(),
            Arg::Int(_) => None,
        }
    }
}

/// A statement a backend can run: its text and its arguments (`$N` is `args()[N - 1]`).
pub(crate) trait Sql {
    /// The SQL text.
    fn text(&self) -> &str;
    /// The arguments, in placeholder-number order.
    fn args(&self) -> &[Arg<'_>];
}

/// A statement with a fixed text and `N` arguments (no allocation to build one).
#[derive(Debug)]
pub(crate) struct Statement<'a, const N: usize> {
    /// The text, with `$1..$N`.
    pub(crate) sql: &'static str,
    /// The arguments.
    pub(crate) args: [Arg<'a>; N],
}

impl<const N: usize> Sql for Statement<'_, N> {
    fn text(&self) -> &str {
        self.sql
    }

    fn args(&self) -> &[Arg<'_>] {
        &self.args
    }
}

/// Builds `Statement { sql, args: [a.into(), …] }`.
macro_rules! statement {
    ($sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::statements::Statement { sql: $sql, args: [$($crate::statements::Arg::from($arg)),*] }
    };
}
pub(crate) use statement;

/// A statement whose text depends on its arguments (optional filters), numbering its
/// placeholders as they are bound.
#[derive(Debug)]
pub(crate) struct Built<'a> {
    sql: String,
    args: Vec<Arg<'a>>,
}

impl<'a> Built<'a> {
    /// Starts with `head` (text without placeholders).
    pub(crate) fn new(head: &str) -> Self {
        Self {
            sql: head.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends the next placeholder, bound to `arg`.
    pub(crate) fn bind(&mut self, arg: impl Into<Arg<'a>>) -> &mut Self {
        self.args.push(arg.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }
}

impl Sql for Built<'_> {
    fn text(&self) -> &str {
        &self.sql
    }

    fn args(&self) -> &[Arg<'_>] {
        &self.args
    }
}

/// The number `N` of a placeholder named `$N` (SQLite's name for it), if it is one.
pub(crate) fn placeholder_number(name: &str) -> Option<usize> {
    name.strip_prefix('$')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_statements_number_placeholders_in_binding_order() {
        let mut built = Built::new("SELECT 1 WHERE 1 = 1");
        built
            .push(" AND a = ")
            .bind("x")
            .push(" AND b < ")
            .bind(3_i64);
        assert_eq!(built.text(), "SELECT 1 WHERE 1 = 1 AND a = $1 AND b < $2");
        assert_eq!(built.args().len(), 2);
        assert_eq!(built.args()[0].text(), Some("x"));
    }

    #[test]
    fn placeholder_numbers_are_read_from_dollar_names_only() {
        assert_eq!(placeholder_number("$12"), Some(12));
        assert_eq!(placeholder_number("?1"), None);
        assert_eq!(placeholder_number(":name"), None);
    }
}
