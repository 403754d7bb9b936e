//! Reading a command request: its content type, its body within the
//! limit, the expected version (`If-Match`, `ExpectedVersion`), the
//! idempotency key and the aggregate id in the path, each refused as a
//! problem that names the header or field.

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap};
use serde_json::Value;
use treaty_catalog::{Aggregate as CatalogAggregate, Catalog, Scalar, Type};
use treaty_runtime::Uuid;

use crate::problem::Problem;

/// Commands are JSON: `application/json` or any `application/*+json`,
/// with any parameters.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Problem::new(
            "unsupported-media-type",
            "the request has no Content-Type; send the command as application/json",
        ));
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(Problem::new(
            "unsupported-media-type",
            format!("the body is {essence:?}; send the command as application/json"),
        ))
    }
}

pub(crate) async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    // The rest of the body is never read, so the connection cannot carry
    // another request: saying so keeps a client from sending its next
    // request on a connection the server is closing.
    let too_large = || {
        Problem::new("body-too-large", format!("the body is larger than {limit} bytes"))
            .with_header(header::CONNECTION, "close".to_string())
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source {
            if current.to_string().contains("length limit exceeded") {
                return too_large();
            }
            source = current.source();
        }
        Problem::new("invalid-body", format!("the body could not be read: {error}"))
    })
}

/// `If-Match: "<n>"` or `ExpectedVersion: <n>`; both must agree.
pub(crate) fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let text = |name: &str| -> Result<Option<String>, Problem> {
        match headers.get_all(name).iter().count() {
            0 => Ok(None),
            1 => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                // An empty field says nothing: as if it were absent.
                .map(|v| Some(v.trim().to_string()).filter(|v| !v.is_empty()))
                .ok_or_else(|| Problem::new("invalid-header", format!("{name} is not visible ASCII"))),
            _ => Err(Problem::new(
                "invalid-header",
                format!("{name} is given more than once"),
            )),
        }
    };
    let version = |text: &str| text.parse::<u64>().ok().filter(|v| *v <= i64::MAX as u64);
    let if_match = match text("if-match")? {
        None => None,
        Some(tag) => {
            let inner = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
            match inner.and_then(version) {
                Some(v) => Some(v),
                None => {
                    return Err(Problem::new(
                        "invalid-header",
                        format!("If-Match must be one stream version as a strong entity tag, such as \"3\", not {tag}"),
                    ))
                }
            }
        }
    };
    let expected = match text("expectedversion")? {
        None => None,
        Some(text) => match version(&text) {
            Some(v) => Some(v),
            None => {
                return Err(Problem::new(
                    "invalid-header",
                    format!("ExpectedVersion must be a stream version, a whole number such as 3, not {text}"),
                ))
            }
        },
    };
    match (if_match, expected) {
        // Both are preconditions, and the stream cannot be at two
        // versions: the request fails as any unmet precondition does.
        (Some(a), Some(b)) if a != b => Ok(Some(NO_VERSION)),
        (a, b) => Ok(a.or(b)),
    }
}

/// A version no stream is ever at (versions are at most `i64::MAX`): what
/// disagreeing `If-Match` and `ExpectedVersion` headers expect.
const NO_VERSION: u64 = u64::MAX;

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    if values.next().is_some() {
        return Err(Problem::new(
            "invalid-header",
            "Idempotency-Key is given more than once",
        ));
    }
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) => {
            Ok(Some(key.to_string()))
        }
        _ => Err(Problem::new(
            "invalid-header",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// The path's id as the text its `Display` gives (what stream names are
/// made of) and as its JSON value.
pub(crate) fn path_id(
    catalog: &Catalog,
    aggregate: &CatalogAggregate,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<(String, Value), Problem> {
    let Ok(Path(text)) = id else {
        return Err(Problem::new(
            "invalid-path",
            "the id is not valid percent-encoded UTF-8",
        ));
    };
    let inner = match &aggregate.identity.ty {
        Type::Id { name } => catalog.id_type(name).map(|id| id.inner),
        Type::Scalar { name } => Some(*name),
        _ => None,
    };
    let value = match inner {
        Some(Scalar::U64) => text.parse::<u64>().ok().map(Value::from),
        Some(Scalar::I64) => text.parse::<i64>().ok().map(Value::from),
        Some(Scalar::U32) => text.parse::<u32>().ok().map(Value::from),
        Some(Scalar::I32) => text.parse::<i32>().ok().map(Value::from),
        Some(Scalar::Uuid) => Uuid::parse_str(&text).ok().map(|u| Value::String(u.to_string())),
        _ => Some(Value::String(text.clone())),
    };
    let invalid = || {
        Problem::new(
            "invalid-path",
            format!(
                "{text:?} is not a {} (the id of {})",
                aggregate.identity.ty, aggregate.name
            ),
        )
    };
    let value = value.ok_or_else(invalid)?;
    let shown = id_text(catalog, &aggregate.identity.ty, &value).ok_or_else(invalid)?;
    Ok((shown, value))
}

/// The id's text as its generated `Display` writes it: the inner value.
pub(crate) fn id_text(catalog: &Catalog, ty: &Type, value: &Value) -> Option<String> {
    let inner = match ty {
        Type::Id { name } => catalog.id_type(name)?.inner,
        Type::Scalar { name } => *name,
        _ => return None,
    };
    match (inner, value) {
        (Scalar::Uuid, Value::String(text)) => Uuid::parse_str(text).ok().map(|u| u.to_string()),
        (_, Value::String(text)) => Some(text.clone()),
        (_, Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The message id of a request with an idempotency key: the same for the
/// same key, contract and aggregate, so a retry is the same message.
pub(crate) fn message_id(contract: &str, id: &str, key: &str) -> Uuid {
    let mut text = Vec::with_capacity(contract.len() + id.len() + key.len() + 16);
    for part in ["treaty-http idempotency", contract, id, key] {
        text.extend_from_slice(&(part.len() as u64).to_be_bytes());
        text.extend_from_slice(part.as_bytes());
    }
    Uuid::new_v8(xxhash_rust::const_xxh3::xxh3_128(&text).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn expected_versions_come_from_if_match_or_expected_version() {
        assert_eq!(expected_version(&headers(&[])).unwrap(), None);
        assert_eq!(expected_version(&headers(&[("if-match", "")])).unwrap(), None);
        assert_eq!(expected_version(&headers(&[("if-match", "\"3\"")])).unwrap(), Some(3));
        assert_eq!(
            expected_version(&headers(&[("expectedversion", "0")])).unwrap(),
            Some(0)
        );
        assert_eq!(
            expected_version(&headers(&[("if-match", "\"3\""), ("expectedversion", "3")])).unwrap(),
            Some(3)
        );
        assert_eq!(
            expected_version(&headers(&[("if-match", "\"3\""), ("expectedversion", "4")])).unwrap(),
            Some(NO_VERSION)
        );
        for bad in [
            vec![("if-match", "3")],
            vec![("if-match", "W/\"3\"")],
            vec![("if-match", "*")],
            vec![("if-match", "\"-1\"")],
            vec![("expectedversion", "x")],
            vec![("if-match", "\"3\""), ("if-match", "\"3\"")],
        ] {
            let problem = expected_version(&headers(&bad)).unwrap_err();
            assert_eq!(problem.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_and_make_stable_message_ids() {
        assert_eq!(idempotency_key(&headers(&[])).unwrap(), None);
        assert_eq!(idempotency_key(&headers(&[("idempotency-key", "")])).unwrap(), None);
        assert_eq!(
            idempotency_key(&headers(&[("idempotency-key", "order-1")]))
                .unwrap()
                .as_deref(),
            Some("order-1")
        );
        assert!(idempotency_key(&headers(&[("idempotency-key", "a b")])).is_err());
        assert!(idempotency_key(&headers(&[("idempotency-key", &"x".repeat(256))])).is_err());
        let a = message_id("shop.Place", "1", "k");
        assert_eq!(a, message_id("shop.Place", "1", "k"));
        assert_ne!(a, message_id("shop.Place", "2", "k"));
        assert_ne!(a, message_id("shop.Other", "1", "k"));
        // Lengths are part of the hashed text, so parts cannot run together.
        assert_ne!(message_id("a", "bc", "k"), message_id("ab", "c", "k"));
    }

    #[test]
    fn content_types_must_be_json() {
        assert!(check_content_type(&headers(&[("content-type", "application/json")])).is_ok());
        assert!(check_content_type(&headers(&[("content-type", "Application/JSON; charset=utf-8")])).is_ok());
        assert!(check_content_type(&headers(&[("content-type", "application/merge-patch+json")])).is_ok());
        for bad in ["text/plain", "application/jsonx", "multipart/form-data"] {
            let problem = check_content_type(&headers(&[("content-type", bad)])).unwrap_err();
            assert_eq!(problem.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        assert!(check_content_type(&headers(&[])).is_err());
    }
}
