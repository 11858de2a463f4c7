//! Cache keys: a SHA-256 over the route, the prompt version, the assignment
//! and the normalised submission, namespaced per tenant or globally.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::eval::{Assignment, TenantRef};
use crate::llm::PROMPT_TEMPLATE_VERSION;

/// Trims `text` and collapses every run of whitespace to one space, so
/// submissions that differ only in spacing share a cache entry.
pub fn normalise_submission(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Computes the cache key: SHA-256 in lower-case hex over the route key
/// (strategy and models), [`PROMPT_TEMPLATE_VERSION`], the canonical JSON
/// of the assignment's title, task, reference answer, maximum points,
/// language and rubric, and the normalised submission. Each part is
/// prefixed with its length, so no two inputs hash the same bytes.
/// Assignment and client identifiers are left out, so the global level can
/// share entries across tenants with the same assignment content.
pub fn cache_key(route_key: &str, assignment: &Assignment, submission: &str) -> String {
    let content = json!({
        "title": assignment.title,
        "prompt": assignment.prompt,
        "reference_answer": assignment.reference_answer,
        "max_points": assignment.max_points,
        "language": assignment.language,
        "rubric": assignment.rubric,
    });
    let canonical = canonical_json(&content);
    let submission = normalise_submission(submission);
    let mut hasher = Sha256::new();
    for part in [
        route_key,
        PROMPT_TEMPLATE_VERSION,
        canonical.as_str(),
        submission.as_str(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Returns the tenant's L1 key, `{partner}:{client}:llm:{key}`.
pub fn tenant_key(tenant: &TenantRef, key: &str) -> String {
    format!("{}:{}:llm:{key}", tenant.partner, tenant.client)
}

/// Returns the global L2 key, `global:llm:{key}`.
pub fn global_key(key: &str) -> String {
    format!("global:llm:{key}")
}

/// Serialises `value` with object keys sorted at every level.
fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = serde_json::Map::new();
                for (key, item) in entries {
                    out.insert(key.clone(), sorted(item));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Language, Rubric};

    fn assignment(prompt: &str) -> Assignment {
        Assignment {
            assignment_id: "a1".to_owned(),
            client_id: "c1".to_owned(),
            title: "T".to_owned(),
            prompt: prompt.to_owned(),
            reference_answer: None,
            max_points: 10.0,
            language: Language::Es,
            rubric: Rubric::single_correctness(10.0, Language::Es),
        }
    }

    #[test]
    fn whitespace_does_not_change_key() {
        let a = assignment("Explain");
        assert_eq!(
            cache_key("r", &a, "  one\n two\tthree "),
            cache_key("r", &a, "one two three")
        );
    }

    #[test]
    fn key_depends_on_route_assignment_and_text() {
        let a = assignment("Explain");
        let base = cache_key("r", &a, "text");
        assert_eq!(base.len(), 64);
        assert_ne!(base, cache_key("r2", &a, "text"));
        assert_ne!(base, cache_key("r", &assignment("Explain more"), "text"));
        assert_ne!(base, cache_key("r", &a, "text2"));
    }

    #[test]
    fn key_ignores_assignment_ids() {
        let a = assignment("Explain");
        let mut b = a.clone();
        b.assignment_id = "other".to_owned();
        b.client_id = "c2".to_owned();
        assert_eq!(cache_key("r", &a, "x"), cache_key("r", &b, "x"));
    }

    #[test]
    fn namespaces() {
        let tenant = TenantRef {
            partner: "acme".to_owned(),
            client: "colegio".to_owned(),
        };
        assert_eq!(tenant_key(&tenant, "k"), "acme:colegio:llm:k");
        assert_eq!(global_key("k"), "global:llm:k");
    }
}
