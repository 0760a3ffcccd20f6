//! JSON Schema checks for published payloads. Compiled validators are cached per event type
//! and version (`updated_at`), because compiling a schema costs far more than checking one
//! payload and the same few types are published over and over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_store::EventType;
use time::OffsetDateTime;

use super::error::ApiError;

type Compiled = Arc<jsonschema::Validator>;

/// Compiled validators by event type name.
#[derive(Default)]
pub struct SchemaCache {
    compiled: Mutex<HashMap<String, (OffsetDateTime, Compiled)>>,
}

/// Compiles a schema, or says why it is not one.
pub fn compile(schema: &serde_json::Value) -> Result<jsonschema::Validator, ApiError> {
    jsonschema::validator_for(schema)
        .map_err(|e| ApiError::validation(format!("schema is not a valid JSON Schema: {e}")))
}

impl SchemaCache {
    /// Checks `payload` against the type's schema (no schema: anything goes).
    pub fn check(&self, event_type: &EventType, payload: &str) -> Result<(), ApiError> {
        let Some(schema) = &event_type.schema else {
            return Ok(());
        };
        let validator = self.validator(event_type, schema)?;
        let instance: serde_json::Value = serde_json::from_str(payload)
            .map_err(|e| ApiError::validation(format!("payload is not valid JSON: {e}")))?;
        if let Some(error) = validator.iter_errors(&instance).next() {
            let pointer = error.instance_path.to_string();
            let at = if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer.clone()
            };
            return Err(ApiError::schema(
                at.clone(),
                format!(
                    "payload at '{at}' does not match the schema of '{}': {error}",
                    event_type.name
                ),
            ));
        }
        Ok(())
    }

    fn validator(
        &self,
        event_type: &EventType,
        schema: &serde_json::Value,
    ) -> Result<Compiled, ApiError> {
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, compiled)) = cache.get(&event_type.name)
            && *version == event_type.updated_at
        {
            return Ok(Arc::clone(compiled));
        }
        let compiled = Arc::new(compile(schema)?);
        cache.insert(
            event_type.name.clone(),
            (event_type.updated_at, Arc::clone(&compiled)),
        );
        Ok(compiled)
    }
}
