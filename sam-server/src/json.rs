//! The JSON body extractor: size limit, nesting limit, then deserialization,
//! each failure reported through [`ApiError`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limits = state.limits();
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        max: limits.max_body_bytes,
                    }
                } else {
                    ApiError::BadRequest(format!("cannot read the request body: {rejection}"))
                }
            })?;
        parse_json(&bytes, limits.max_json_depth).map(ApiJson)
    }
}

/// Parses `bytes` as JSON after checking that arrays and objects nest at
/// most `max_depth` deep, so a hostile body cannot exhaust the stack.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the depth limit or the parse error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], max_depth: usize) -> Result<T, ApiError> {
    if nesting_depth(bytes) > max_depth {
        return Err(ApiError::BadRequest(format!(
            "JSON body nests arrays and objects deeper than {max_depth} levels"
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::BadRequest(format!("invalid JSON body: {err}")))
}

/// Returns the deepest nesting of arrays and objects in `bytes`, ignoring
/// brackets inside strings. Malformed JSON gets a depth too; the parser
/// rejects it afterwards.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let mut depth = 0_usize;
    let mut deepest = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(nesting_depth(b"1"), 0);
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": 2}]}"#), 3);
        assert_eq!(nesting_depth(&[b'['; 100]), 100);
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a": "[[[{{{\"[["}"#), 1);
    }

    #[test]
    fn parse_rejects_deep_bodies() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let result = parse_json::<serde_json::Value>(deep.as_bytes(), 32);
        assert!(matches!(result, Err(ApiError::BadRequest(_))));
        let shallow = format!("{}{}", "[".repeat(10), "]".repeat(10));
        assert!(parse_json::<serde_json::Value>(shallow.as_bytes(), 32).is_ok());
    }
}
