//! What client generators and fuzzers rely on, checked on the generated document (cheap, no
//! server): unique operation ids, a tag on every operation, and problem responses.

use std::collections::BTreeSet;

use utoipa::openapi::RefOr;
use utoipa::openapi::path::Operation;

use super::document;
use super::problems::{PROBLEM_JSON, SPECIFIC, STORE_FREE, UNAVAILABLE_ONLY, operations};

fn all_operations() -> Vec<(String, Operation)> {
    let mut doc = document();
    let mut all = Vec::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
            all.push((path.clone(), operation.clone()));
        }
    }
    all
}

#[test]
fn operation_ids_are_unique_and_every_operation_has_one_and_a_tag() {
    let mut seen = BTreeSet::new();
    for (path, operation) in all_operations() {
        let id = operation
            .operation_id
            .unwrap_or_else(|| panic!("{path}: no operationId"));
        assert!(seen.insert(id.clone()), "operationId {id} repeats ({path})");
        assert!(
            operation.tags.is_some_and(|tags| !tags.is_empty()),
            "{id}: no tag"
        );
    }
}

#[test]
fn every_operation_that_can_fail_documents_problem_responses_with_their_types() {
    for (path, operation) in all_operations() {
        let id = operation.operation_id.clone().unwrap_or(path);
        let mut problems = 0;
        for (status, response) in &operation.responses.responses {
            let RefOr::T(response) = response else {
                panic!("{id} {status}: a reference, not a response");
            };
            if status.starts_with(['4', '5']) {
                problems += 1;
                assert!(
                    response.content.contains_key(PROBLEM_JSON),
                    "{id} {status}: not documented as {PROBLEM_JSON}"
                );
                assert!(
                    response.description.contains("urn:herald:problem:"),
                    "{id} {status}: names no problem type"
                );
            }
        }
        if !STORE_FREE.contains(&id.as_str()) {
            assert!(problems > 0, "{id}: documents no problem response");
        }
    }
}

#[test]
fn bodies_and_parameters_carry_their_constraints() {
    let json = serde_json::to_value(document()).expect("the document serialises");
    let limit = json["paths"]["/api/v1/tenants"]["get"]["parameters"]
        .as_array()
        .and_then(|params| params.iter().find(|p| p["name"] == "limit"))
        .expect("listTenants has a limit");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 200);
    let id = &json["paths"]["/api/v1/subscriptions/{id}"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["pattern"], "^sub_[0-9a-fA-F]{32}$");
    let create = &json["components"]["schemas"]["CreateEventType"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["type"], "object");
    assert!(create["properties"]["name"]["pattern"].is_string());
}

#[test]
fn the_specific_problem_table_names_existing_operations() {
    let ids: BTreeSet<String> = all_operations()
        .into_iter()
        .filter_map(|(_, operation)| operation.operation_id)
        .collect();
    for (id, _, _) in SPECIFIC {
        assert!(
            ids.contains(*id),
            "SPECIFIC names {id}, which does not exist"
        );
    }
    for id in STORE_FREE.iter().chain(UNAVAILABLE_ONLY) {
        assert!(
            ids.contains(*id),
            "{id} is named in a table but does not exist"
        );
    }
}
