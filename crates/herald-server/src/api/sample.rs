//! A sample payload of an event type, for `herald trigger`: its stored example; else one
//! generated from its JSON Schema; else `{}`, with a note saying which and what to do.
//!
//! It owns the generation and never publishes: the trigger publishes through the ordinary
//! publish route like any producer, so a sample meets the same checks as a real event. Why a
//! small walk of the schema rather than a fake-data crate: validity depends on a few keywords
//! (`type`, `required`, `enum`/`const`, `format`, bounds, local `$ref`, the first branch of
//! `oneOf`/`anyOf`, `allOf` merged), and a generated sample is checked against the schema
//! before it is offered; where it falls short (a `pattern`, say) the note says so and how to
//! store an example instead. Generation is bounded by depth and array length, so a recursive
//! or hostile schema cannot make it run away.

use std::cell::Cell;

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use herald_store::EventType;

use super::schema::compile;

/// Nesting deeper than this generates `null` (recursive schemas end here).
const MAX_DEPTH: usize = 12;
/// Optional properties are filled in only this near the top, so samples stay small.
const OPTIONAL_DEPTH: usize = 4;
/// The most items an array gets (its `minItems` if larger is not met).
const MAX_ITEMS: u64 = 10;
/// The most values one sample is made of: beyond it, values are `null`. Depth alone does not
/// bound a schema whose properties each refer back to the root (the sample would grow as
/// the number of properties to the power of the depth).
const MAX_VALUES: usize = 10_000;

/// `GET /api/v1/event-types/{name}/sample`: a payload to publish, and where it came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampleView {
    /// The event type.
    pub event_type: String,
    /// `example` (stored with the type), `schema` (generated from it) or `none` (`{}`).
    pub source: &'static str,
    /// The payload: any JSON value, as a published payload may be.
    pub payload: Value,
    /// What the caller should know: no example or schema, or a generated sample that does
    /// not satisfy the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The sample of `event_type`.
pub fn sample(event_type: &EventType) -> SampleView {
    let name = &event_type.name;
    let store_one = format!(
        "store an example with `herald event-types update {name} --example JSON` \
         (PATCH /api/v1/event-types/{name})"
    );
    let (source, payload, note) = match (&event_type.example, &event_type.schema) {
        (Some(example), _) => ("example", example.clone(), None),
        (None, Some(schema)) => {
            let generator = Generator {
                root: schema,
                budget: Cell::new(MAX_VALUES),
            };
            let payload = generator.value(schema, None, 0);
            let note = unmet(schema, &payload).map(|why| {
                format!(
                    "the sample generated from the schema does not satisfy it ({why}); {store_one}"
                )
            });
            ("schema", payload, note)
        }
        (None, None) => (
            "none",
            json!({}),
            Some(format!(
                "'{name}' has neither an example nor a schema, so the payload is {{}}; {store_one}"
            )),
        ),
    };
    SampleView {
        event_type: name.clone(),
        source,
        payload,
        note,
    }
}

/// Why `payload` does not satisfy `schema`, if it does not.
fn unmet(schema: &Value, payload: &Value) -> Option<String> {
    let validator = compile(schema).ok()?;
    // `validate` stops at the first error; iterating errors would gather all of them first.
    let error = validator.validate(payload).err()?;
    let at = error.instance_path.to_string();
    let at = if at.is_empty() { "/".to_owned() } else { at };
    Some(format!("at '{at}': {error}"))
}

/// Walks a schema, resolving local `$ref`s against its root.
struct Generator<'a> {
    /// What `#…` references point into.
    root: &'a Value,
    /// Values still to be made (see [`MAX_VALUES`]); a `Cell` because the walk is recursive
    /// through `&self`.
    budget: Cell<usize>,
}

impl Generator<'_> {
    /// A value for `schema`; `key` is the property it fills (names plausible strings).
    fn value(&self, schema: &Value, key: Option<&str>, depth: usize) -> Value {
        let left = self.budget.get();
        let Some(schema) = schema
            .as_object()
            .filter(|_| depth <= MAX_DEPTH && left > 0)
        else {
            return if depth == 0 { json!({}) } else { Value::Null };
        };
        self.budget.set(left - 1);
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| self.resolve(r))
        {
            return self.value(target, key, depth + 1);
        }
        if let Some(given) = given_value(schema) {
            return given;
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(first) = schema
                .get(keyword)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                return self.value(first, key, depth + 1);
            }
        }
        let mut value = match type_of(schema, depth) {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, key, depth),
            "integer" => number(schema, true),
            "number" => number(schema, false),
            "boolean" => Value::Bool(true),
            "null" => Value::Null,
            _ => Value::String(string(schema, key)),
        };
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                merge(&mut value, self.value(part, key, depth + 1));
            }
        }
        value
    }

    fn object(&self, schema: &Map<String, Value>, depth: usize) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if depth < OPTIONAL_DEPTH || required.contains(&name.as_str()) {
                    out.insert(name.clone(), self.value(property, Some(name), depth + 1));
                }
            }
        }
        for name in required {
            if !out.contains_key(name) {
                out.insert(name.to_owned(), Value::String(format!("{name}_example")));
            }
        }
        Value::Object(out)
    }

    fn array(&self, schema: &Map<String, Value>, key: Option<&str>, depth: usize) -> Value {
        // A tuple (`prefixItems`, or `items` as a list in older drafts): one value each.
        let tuple = schema
            .get("prefixItems")
            .or_else(|| schema.get("items").filter(|i| i.is_array()))
            .and_then(Value::as_array);
        if let Some(tuple) = tuple {
            return tuple
                .iter()
                .map(|item| self.value(item, key, depth + 1))
                .collect();
        }
        let count = schema
            .get("minItems")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .clamp(1, MAX_ITEMS);
        // Each item made afresh (not cloned), so every one counts against the budget.
        (0..count)
            .map(|_| match schema.get("items") {
                Some(items) => self.value(items, key, depth + 1),
                None => Value::String(string(&Map::new(), key)),
            })
            .collect()
    }

    /// `#` or `#/a/b` (JSON pointer into the root); other references are not followed.
    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

/// A value the schema states outright: `const`, the first of `examples`, `default`, the first
/// of `enum`.
fn given_value(schema: &Map<String, Value>) -> Option<Value> {
    let first = |keyword: &str| {
        schema
            .get(keyword)
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .cloned()
    };
    schema
        .get("const")
        .cloned()
        .or_else(|| first("examples"))
        .or_else(|| schema.get("default").cloned())
        .or_else(|| first("enum"))
}

/// The schema's type (the first non-null of a list), or the one its keywords imply; a schema
/// that says nothing is an object at the top and a string inside.
fn type_of(schema: &Map<String, Value>, depth: usize) -> &str {
    match schema.get("type") {
        Some(Value::String(kind)) => return kind,
        Some(Value::Array(kinds)) => {
            let mut names = kinds.iter().filter_map(Value::as_str);
            if let Some(kind) = names
                .clone()
                .find(|k| *k != "null")
                .or_else(|| names.next())
            {
                return kind;
            }
        }
        _ => {}
    }
    let has = |keys: &[&str]| keys.iter().any(|k| schema.contains_key(*k));
    if has(&["properties", "required", "additionalProperties"]) {
        "object"
    } else if has(&["items", "prefixItems", "minItems"]) {
        "array"
    } else if has(&["minimum", "maximum", "exclusiveMinimum", "multipleOf"]) {
        "number"
    } else if depth == 0 {
        "object"
    } else {
        "string"
    }
}

/// The smallest plausible number: `minimum` (or just above `exclusiveMinimum`), else 1,
/// kept under `maximum`, rounded up to `multipleOf`.
fn number(schema: &Map<String, Value>, integer: bool) -> Value {
    let get = |key: &str| schema.get(key).and_then(Value::as_f64);
    let step = if integer { 1.0 } else { 0.5 };
    let mut value = match (get("minimum"), get("exclusiveMinimum")) {
        (Some(min), _) if schema.get("exclusiveMinimum") == Some(&Value::Bool(true)) => min + step,
        (_, Some(exclusive)) => exclusive + step,
        (Some(min), None) => min,
        (None, None) => 1.0,
    };
    if let Some(multiple) = get("multipleOf").filter(|m| *m > 0.0) {
        value = (value / multiple).ceil() * multiple;
    }
    if let Some(max) = get("maximum") {
        value = value.min(max);
    }
    if integer {
        json!(value.ceil() as i64)
    } else {
        json!(value)
    }
}

/// A string in the schema's `format`, else one named after its property, fitted to
/// `minLength`/`maxLength`.
fn string(schema: &Map<String, Value>, key: Option<&str>) -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let formatted = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => now.format(&Rfc3339).ok(),
        Some("date") => Some(now.date().to_string()),
        Some("time") => Some("12:00:00Z".to_owned()),
        Some("duration") => Some("PT1H".to_owned()),
        Some("email" | "idn-email") => Some("jane.doe@example.com".to_owned()),
        Some("uri" | "iri" | "uri-reference" | "iri-reference" | "url") => {
            Some("https://example.com/".to_owned())
        }
        Some("hostname" | "idn-hostname") => Some("example.com".to_owned()),
        Some("ipv4") => Some("192.0.2.10".to_owned()),
        Some("ipv6") => Some("2001:db8::10".to_owned()),
        Some("uuid") => Some("6f1c2f0e-8d1b-4c7a-9a52-3f0e7b1d2c4a".to_owned()),
        Some("json-pointer") => Some("/example".to_owned()),
        Some("regex") => Some(".*".to_owned()),
        _ => None,
    };
    let mut text = formatted
        .unwrap_or_else(|| key.map_or_else(|| "example".to_owned(), |k| format!("{k}_example")));
    let length = |key: &str| {
        schema
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    if let Some(min) = length("minLength").map(|m| m.min(1024)) {
        while text.chars().count() < min {
            text.push('x');
        }
    }
    if let Some(max) = length("maxLength") {
        text = text.chars().take(max).collect();
    }
    text
}

/// `allOf`: an object part's properties join an object value; any other part replaces a
/// value that is not an object, or an empty one.
fn merge(value: &mut Value, part: Value) {
    if let (Value::Object(into), Value::Object(from)) = (&mut *value, &part) {
        for (key, item) in from {
            into.entry(key.clone()).or_insert_with(|| item.clone());
        }
    } else if value.as_object().is_none_or(Map::is_empty) {
        *value = part;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_type(schema: Option<Value>, example: Option<Value>) -> EventType {
        let now = OffsetDateTime::UNIX_EPOCH;
        EventType {
            name: "consent.revoked".to_owned(),
            description: None,
            schema,
            example,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_stored_example_is_the_sample() {
        let sample = sample(&event_type(
            Some(json!({"type": "object"})),
            Some(json!({"consent_id": "c_42"})),
        ));
        assert_eq!(
            (sample.source, sample.payload, sample.note),
            ("example", json!({"consent_id": "c_42"}), None)
        );
    }

    #[test]
    fn neither_example_nor_schema_gives_an_empty_object_with_a_note() {
        let sample = sample(&event_type(None, None));
        assert_eq!((sample.source, &sample.payload), ("none", &json!({})));
        let note = sample.note.unwrap_or_default();
        assert!(
            note.contains("herald event-types update consent.revoked --example"),
            "{note}"
        );
    }

    #[test]
    fn a_generated_sample_satisfies_types_required_enums_formats_and_bounds() {
        let schema = json!({
            "type": "object",
            "required": ["consent_id", "reason", "revoked_at", "count", "tags", "contact"],
            "properties": {
                "consent_id": {"type": "string", "minLength": 20, "maxLength": 40},
                "reason": {"enum": ["customer_request", "expired"]},
                "revoked_at": {"type": "string", "format": "date-time"},
                "count": {"type": "integer", "exclusiveMinimum": 3, "maximum": 10},
                "ratio": {"type": ["null", "number"], "minimum": 0.25},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "contact": {"$ref": "#/$defs/contact"},
                "flag": {"type": "boolean"}
            },
            "$defs": {
                "contact": {
                    "type": "object",
                    "required": ["email"],
                    "properties": {"email": {"type": "string", "format": "email"}}
                }
            }
        });
        let sample = sample(&event_type(Some(schema), None));
        assert_eq!(sample.source, "schema");
        assert_eq!(sample.note, None, "{}", sample.payload);
        let payload = &sample.payload;
        assert_eq!(payload["reason"], "customer_request");
        assert_eq!(payload["count"], 4);
        assert_eq!(payload["ratio"], 0.25);
        assert_eq!(payload["tags"].as_array().map(Vec::len), Some(2));
        assert_eq!(payload["contact"]["email"], "jane.doe@example.com");
        assert_eq!(payload["flag"], true);
        let revoked_at = payload["revoked_at"].as_str().unwrap_or_default();
        assert!(
            OffsetDateTime::parse(revoked_at, &Rfc3339).is_ok(),
            "{revoked_at}"
        );
    }

    #[test]
    fn a_recursive_schema_ends() {
        let schema = json!({
            "type": "object",
            "required": ["child"],
            "properties": {"child": {"$ref": "#"}}
        });
        let sample = sample(&event_type(Some(schema), None));
        assert!(sample.payload.is_object());
        assert!(
            sample.note.is_some(),
            "depth ends in null, which the schema refuses"
        );
    }

    #[test]
    fn a_schema_that_branches_back_to_its_root_is_cut_at_the_value_budget() {
        let properties: Map<String, Value> = (0..10)
            .map(|n| (format!("p{n}"), json!({"$ref": "#"})))
            .collect();
        let required: Vec<String> = properties.keys().cloned().collect();
        let schema = json!({"type": "object", "properties": properties, "required": required});
        let sample = sample(&event_type(Some(schema), None));
        let text = sample.payload.to_string();
        assert!(text.len() < 2_000_000, "{} bytes", text.len());
        assert!(sample.note.is_some());
    }

    #[test]
    fn a_sample_the_schema_refuses_says_so() {
        let schema = json!({
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}
        });
        let sample = sample(&event_type(Some(schema), None));
        let note = sample.note.unwrap_or_default();
        assert!(
            note.contains("/code") && note.contains("--example"),
            "{note}"
        );
    }
}
