//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use treaty_catalog::openapi::{problem_type, PROBLEMS};
use treaty_catalog::FieldError;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem: one of the documented types, with its status, a detail
/// sentence, the bad fields of a body, extra members and headers.
#[derive(Debug, Clone)]
pub struct Problem {
    name: &'static str,
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    members: Map<String, Value>,
    headers: Vec<(header::HeaderName, String)>,
}

impl Problem {
    /// A problem of type `urn:treaty:problem:{name}`, with the status the
    /// table of problem types gives it.
    ///
    /// # Panics
    ///
    /// When `name` is not one of the documented types: a bug here, never
    /// a consequence of input.
    pub fn new(name: &'static str, detail: impl Into<String>) -> Problem {
        let (_, status, _) = PROBLEMS
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("problem type {name} is not in the table of problem types"));
        Problem {
            name,
            status: StatusCode::from_u16(*status).expect("the table holds valid statuses"),
            detail: detail.into(),
            errors: Vec::new(),
            members: Map::new(),
            headers: Vec::new(),
        }
    }

    /// With the bad fields of a body.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }

    /// With an extra member.
    pub fn with_member(mut self, name: &str, value: Value) -> Problem {
        self.members.insert(name.to_string(), value);
        self
    }

    /// With a header.
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Problem {
        self.headers.push((name, value));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The type's short name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = PROBLEMS
            .iter()
            .find(|(n, _, _)| *n == self.name)
            .map_or("", |(_, _, title)| title);
        let mut body = json!({
            "type": problem_type(self.name),
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::to_value(&self.errors).expect("field errors serialise");
        }
        for (name, value) in self.members {
            body[name] = value;
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_their_type_title_status_and_fields() {
        let problem = Problem::new("invalid-body", "two fields are wrong")
            .with_errors(vec![FieldError {
                pointer: "/a".into(),
                expected: "u32".into(),
                detail: "missing".into(),
            }])
            .with_member("current_version", json!(3))
            .with_header(header::ETAG, "\"3\"".into());
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
        let response = problem.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::ETAG], "\"3\"");
    }

    #[test]
    #[should_panic(expected = "not in the table")]
    fn undocumented_problem_types_are_a_bug() {
        let _ = Problem::new("made-up", "");
    }
}
