//! Subscription patterns checked against the registered event types: a pattern (exact, or a
//! prefix ending in `*`) that matches no registered type is refused with "did you mean"
//! suggestions, or accepted with a warning when the request says `allow_unmatched`.
//!
//! It owns the check and the suggestions; it never writes. Why ten lines of edit distance here
//! rather than a crate or the database: the ranking (edit distance, a name given where a
//! namespace was meant, then the pattern's own namespace) is the part a reader may want to
//! change, and it runs only on a refusal. The candidates are bounded (the first
//! [`CANDIDATES`] names plus those of the pattern's first segment, read through the catalog),
//! and suggestions are made for the first [`EXPLAINED`] unmatched patterns only, so a refusal
//! costs a bounded read and bounded CPU however many types exist or patterns are sent.

use std::collections::{BTreeMap, HashSet};

use herald_store::Catalog;

use super::error::ApiError;
use super::event_types::check_name;

/// How many names (by name, ascending) are read as candidates for suggestions.
const CANDIDATES: u32 = 500;
/// How many names of the pattern's first segment are read besides.
const NAMESPACE_CANDIDATES: u32 = 100;
/// How many unmatched patterns get suggestions in one answer.
const EXPLAINED: usize = 5;
/// How many suggestions one pattern gets.
const SUGGESTIONS: usize = 3;

/// The patterns to store, each once, and a warning per unmatched one (when allowed).
#[derive(Debug)]
pub struct CheckedPatterns {
    /// In the order given, duplicates dropped.
    pub patterns: Vec<String>,
    /// One sentence per pattern that matches no registered type (empty when all match).
    pub warnings: Vec<String>,
}

/// Checks every pattern's form and that it matches a registered event type; unmatched ones
/// are refused (422, with suggestions) unless `allow_unmatched`, then returned as warnings.
pub async fn check(
    catalog: &dyn Catalog,
    patterns: &[String],
    allow_unmatched: bool,
) -> Result<CheckedPatterns, ApiError> {
    if patterns.is_empty() {
        return Err(ApiError::validation(
            "event_types must name at least one event type",
        ));
    }
    let mut checked: Vec<String> = Vec::with_capacity(patterns.len());
    // A set, so dropping duplicates is linear in the patterns given (it was quadratic).
    let mut seen: HashSet<&str> = HashSet::with_capacity(patterns.len());
    let mut unmatched = Vec::new();
    for pattern in patterns {
        check_form(pattern)?;
        if !seen.insert(pattern.as_str()) {
            continue;
        }
        if !matches_registered(catalog, pattern).await? {
            unmatched.push(pattern.as_str());
        }
        checked.push(pattern.clone());
    }
    let warnings = explain(catalog, &unmatched).await?;
    if warnings.is_empty() || allow_unmatched {
        return Ok(CheckedPatterns {
            patterns: checked,
            warnings,
        });
    }
    Err(ApiError::unknown_event_types(format!(
        "{}. Register a missing type with `herald event-types create NAME` (POST \
         /api/v1/event-types), or subscribe anyway with `--allow-unmatched` \
         (\"allow_unmatched\": true)",
        warnings.join("; ")
    )))
}

/// A pattern is `*`, a dotted name, or a dotted name's prefix followed by `*`.
fn check_form(pattern: &str) -> Result<(), ApiError> {
    match pattern.strip_suffix('*') {
        Some("") => Ok(()),
        Some(prefix) => check_name(prefix.strip_suffix('.').unwrap_or(prefix)),
        None => check_name(pattern),
    }
    .map_err(ApiError::validation)
}

/// Whether a registered event type matches: the exact name exists, or a name has the prefix.
async fn matches_registered(catalog: &dyn Catalog, pattern: &str) -> Result<bool, ApiError> {
    Ok(match pattern.strip_suffix('*') {
        Some(prefix) => !catalog.event_type_names(prefix, 1).await?.is_empty(),
        None => catalog.get_event_type(pattern).await?.is_some(),
    })
}

/// One sentence per unmatched pattern, with suggestions for the first [`EXPLAINED`].
async fn explain(catalog: &dyn Catalog, unmatched: &[&str]) -> Result<Vec<String>, ApiError> {
    if unmatched.is_empty() {
        return Ok(Vec::new());
    }
    let names = catalog.event_type_names("", CANDIDATES).await?;
    let mut sentences = Vec::with_capacity(unmatched.len());
    for (n, pattern) in unmatched.iter().enumerate() {
        if n == EXPLAINED {
            sentences.push(format!(
                "{} more patterns match no registered event type",
                unmatched.len() - n
            ));
            break;
        }
        let mut candidates = names.clone();
        if let Some((segment, _)) = pattern.split_once('.') {
            let prefix = format!("{segment}.");
            candidates.extend(
                catalog
                    .event_type_names(&prefix, NAMESPACE_CANDIDATES)
                    .await?,
            );
        }
        sentences.push(describe(pattern, &suggest(pattern, &candidates)));
    }
    Ok(sentences)
}

fn describe(pattern: &str, suggestions: &[String]) -> String {
    let quoted: Vec<String> = suggestions.iter().map(|s| format!("'{s}'")).collect();
    match quoted.as_slice() {
        [] => format!(
            "'{pattern}' matches no registered event type (see `herald event-types list` or \
             GET /api/v1/event-types)"
        ),
        [one] => format!("'{pattern}' matches no registered event type (did you mean {one}?)"),
        _ => format!(
            "'{pattern}' matches no registered event type (did you mean one of {}?)",
            quoted.join(", ")
        ),
    }
}

/// Up to [`SUGGESTIONS`] patterns near `pattern`, closest first: registered names (or, for a
/// wildcard, their namespaces with `*`) within an edit distance of a third of its length
/// (at least 2); a namespace given as a name (`consent` → `consent.*`); failing those, the
/// names of the pattern's own namespace.
pub fn suggest(pattern: &str, names: &[String]) -> Vec<String> {
    let (stem, wildcard) = match pattern.strip_suffix('*') {
        Some(prefix) => (prefix, true),
        None => (pattern, false),
    };
    let limit = (stem.chars().count() / 3).max(2);
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    let mut consider = |candidate: String, distance: usize| {
        if distance <= limit {
            let entry = best.entry(candidate).or_insert(distance);
            *entry = (*entry).min(distance);
        }
    };
    for name in names {
        if wildcard {
            for (end, _) in name.match_indices('.') {
                let namespace = &name[..=end];
                consider(format!("{namespace}*"), edit_distance(stem, namespace));
            }
        } else {
            consider(name.clone(), edit_distance(stem, name));
            if name
                .strip_prefix(stem)
                .is_some_and(|rest| rest.starts_with('.'))
            {
                consider(format!("{stem}.*"), 0);
            }
        }
    }
    let mut ranked: Vec<(usize, String)> = best.into_iter().map(|(c, d)| (d, c)).collect();
    ranked.sort();
    let mut found: Vec<String> = ranked.into_iter().map(|(_, c)| c).collect();
    if found.is_empty() && !wildcard {
        // Same namespace: `consent.withdrawn` when `consent.revoked` exists.
        if let Some((namespace, _)) = stem.rsplit_once('.') {
            let prefix = format!("{namespace}.");
            found = names
                .iter()
                .filter(|name| name.starts_with(&prefix))
                .cloned()
                .collect();
            found.sort();
            found.dedup();
        }
    }
    found.truncate(SUGGESTIONS);
    found
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    const REGISTERED: &[&str] = &[
        "consent.granted",
        "consent.revoked",
        "maintenance.planned_outage",
    ];

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("consent.revokd", "consent.revoked"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn a_typo_suggests_the_near_name() {
        let found = suggest("consent.revokd", &names(REGISTERED));
        assert_eq!(found, ["consent.revoked"]);
    }

    #[test]
    fn a_misspelt_wildcard_suggests_the_near_namespace() {
        let found = suggest("consnt.*", &names(REGISTERED));
        assert_eq!(found, ["consent.*"]);
    }

    #[test]
    fn a_namespace_given_as_a_name_suggests_its_wildcard_first() {
        let found = suggest("consent", &names(REGISTERED));
        assert_eq!(found.first().map(String::as_str), Some("consent.*"));
    }

    #[test]
    fn an_unknown_name_in_a_known_namespace_suggests_its_neighbours() {
        let found = suggest("consent.withdrawn_entirely", &names(REGISTERED));
        assert_eq!(found, ["consent.granted", "consent.revoked"]);
    }

    #[test]
    fn nothing_near_suggests_nothing() {
        assert!(suggest("billing.invoice.paid", &names(REGISTERED)).is_empty());
    }
}
