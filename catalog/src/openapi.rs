//! The OpenAPI 3.1 document of the HTTP API that `treaty-http` serves:
//! every routed command with its request schema, every response and
//! header, the schemas of every id, enum, record and message version, and
//! examples taken from the use cases.

use heck::ToKebabCase;
use serde_json::{json, Map, Value};

use crate::routes::{self, Surface};
use crate::{Catalog, Field, Kind, Message, Scalar, Type, UseCase, UseCaseOutcome};

/// What the document says about the service itself.
#[derive(Debug, Clone)]
pub struct Info {
    /// `info.title`.
    pub title: String,
    /// `info.version`: the service's version, not Treaty's.
    pub version: String,
    /// Where the routes are mounted, such as `/api` when the router was
    /// nested there; `None` for the root.
    pub base_path: Option<String>,
}

impl Default for Info {
    fn default() -> Self {
        Info {
            title: "Treaty API".into(),
            version: "1".into(),
            base_path: None,
        }
    }
}

/// The problem types the API answers with, as (name, status, title): the
/// `type` of a problem is `urn:treaty:problem:{name}`.
pub const PROBLEMS: &[(&str, u16, &str)] = &[
    ("invalid-body", 400, "The body does not match the contract"),
    ("invalid-header", 400, "A header has an invalid value"),
    ("invalid-path", 400, "A path parameter has an invalid value"),
    ("invalid-query", 400, "A query parameter has an invalid value"),
    ("not-found", 404, "No such resource"),
    ("method-not-allowed", 405, "The route does not take this method"),
    ("refused", 409, "The command was refused"),
    ("wrong-version", 412, "The stream is not at the expected version"),
    (
        "projection-behind",
        412,
        "The projection has not reached the position yet",
    ),
    ("body-too-large", 413, "The body is larger than the server accepts"),
    ("unsupported-media-type", 415, "The body must be application/json"),
    ("contention", 503, "Other writers kept changing the stream"),
    ("unavailable", 503, "The server could not complete the request"),
];

/// The `type` URI of problem `name`.
pub fn problem_type(name: &str) -> String {
    format!("urn:treaty:problem:{name}")
}

/// The OpenAPI 3.1 document of `surface` over `catalog`, with examples
/// from `use_cases` (those whose command is routed).
pub fn document(catalog: &Catalog, surface: &Surface, use_cases: &[UseCase], info: &Info) -> Value {
    let mut schemas = Map::new();
    components(catalog, &mut schemas);
    let mut paths = Map::new();
    for (aggregate, commands) in surface.routed(catalog) {
        let id_param = json!({
            "name": "id",
            "in": "path",
            "required": true,
            "description": format!("The {} of the {} (its identity field `{}`).", aggregate.identity.ty, aggregate.name, aggregate.identity.name),
            "schema": path_schema(catalog, &aggregate.identity.ty),
        });
        paths.insert(
            routes::stream_path(aggregate, "{id}"),
            json!({"get": {
                "operationId": format!("stream.{}", aggregate.name),
                "tags": [aggregate.name],
                "summary": format!("The version of a {} stream", aggregate.name),
                "description": "Answers the stream's version (0 for an aggregate with no events) in the body and as `ETag`, for `If-Match` on the next command.",
                "parameters": [id_param],
                "responses": {
                    "200": {
                        "description": "The stream's version.",
                        "headers": {"ETag": {"$ref": "#/components/headers/StreamETag"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamVersion"}}},
                    },
                    "400": problem_response("The id is not a value of the identity's type."),
                    "503": problem_response("The event store failed."),
                },
            }}),
        );
        for command in commands {
            let examples = use_cases.iter().filter(|u| u.when.contract == command.name);
            let body_examples: Map<String, Value> = examples
                .clone()
                .map(|u| {
                    let mut payload = u.when.payload.clone();
                    if let Value::Object(object) = &mut payload {
                        object.remove(&aggregate.identity.name);
                    }
                    (u.name.to_kebab_case(), json!({"summary": u.name, "value": payload}))
                })
                .collect();
            let whole_examples: Map<String, Value> = examples
                .clone()
                .map(|u| {
                    (
                        u.name.to_kebab_case(),
                        json!({"summary": u.name, "value": u.when.payload}),
                    )
                })
                .collect();
            let responses = command_responses(examples.collect(), aggregate.name.as_str());
            let mut body_schema = message_schema(catalog, command, &command.fields, Some(&aggregate.identity.name));
            body_schema["not"] = json!({"required": [aggregate.identity.name]});
            paths.insert(
                routes::command_path(aggregate, command, "{id}"),
                json!({"post": command_operation(
                    format!("command.{}", command.name),
                    aggregate.name.as_str(),
                    command,
                    format!("The JSON of `{}` without its identity field `{}`, which comes from the path.", command.name, aggregate.identity.name),
                    body_schema,
                    body_examples,
                    vec![id_param.clone()],
                    responses.clone(),
                )}),
            );
            paths.insert(
                routes::contract_path(command),
                json!({"post": command_operation(
                    format!("contract.{}", command.name),
                    aggregate.name.as_str(),
                    command,
                    format!("The whole JSON of `{}`, its identity field `{}` included.", command.name, aggregate.identity.name),
                    json!({"$ref": format!("#/components/schemas/{}", command.name)}),
                    whole_examples,
                    Vec::new(),
                    responses,
                )}),
            );
        }
    }
    for projection in &surface.projections {
        paths.insert(routes::view_path(projection, "{key}"), view_operation(projection));
    }
    paths.insert(
        routes::OPENAPI.into(),
        json!({"get": {
            "operationId": "openapi",
            "tags": ["documentation"],
            "summary": "This document",
            "responses": {"200": {"description": "The OpenAPI 3.1 document.", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }}),
    );
    paths.insert(
        routes::DOCS.into(),
        json!({"get": {
            "operationId": "docs",
            "tags": ["documentation"],
            "summary": "The contract catalog and the use cases, as a page",
            "responses": {"200": {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }}),
    );
    let mut document = json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": info.title,
            "version": info.version,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": {
                "StreamETag": {
                    "description": "The stream's version after the request, as a strong entity tag: `\"3\"`. Send it back in `If-Match`.",
                    "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"},
                },
                "Position": {
                    "description": "The global position of the last event the command appended (absent when it appended none). Ask a view for `min_position` of it to read this write.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
                "ViewETag": {
                    "description": "The projection's generation and checkpoint, `\"2.17\"`: the view as of event position 17. Send it back in `If-None-Match`.",
                    "schema": {"type": "string", "pattern": "^\"[0-9]+\\.[0-9]+\"$"},
                },
                "Checkpoint": {
                    "description": "The position up to which the projection has applied events.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            },
        },
    });
    if let Some(base) = &info.base_path {
        document["servers"] = json!([{"url": base}]);
    }
    document
}

const DESCRIPTION: &str = "Commands and views of contracts written in Treaty's contract language.\n\n\
- Every command of an aggregate is `POST /{namespace}/{aggregate}/{id}/{command}` with the command's JSON without the identity, and `POST /commands/{contract}` with the whole JSON.\n\
- `If-Match: \"<version>\"` (or `ExpectedVersion: <version>`) makes the command conditional on the stream's version; a mismatch answers 412 with the current version in `ETag`. Success answers the new version in `ETag`.\n\
- `Idempotency-Key` makes a retried request return the original outcome without applying the command twice, also after a server restart.\n\
- The outcome lists the events the command appended with their global positions; `GET /views/{projection}/{key}?min_position=P` waits (bounded) until the projection has applied position P.\n\
- Errors are RFC 9457 problem details (`application/problem+json`); their `type` is `urn:treaty:problem:{name}`.";

#[allow(clippy::too_many_arguments)]
fn command_operation(
    operation_id: String,
    aggregate: &str,
    command: &Message,
    body_description: String,
    body_schema: Value,
    examples: Map<String, Value>,
    mut parameters: Vec<Value>,
    responses: Value,
) -> Value {
    parameters.extend([
        json!({"name": "If-Match", "in": "header", "required": false,
               "description": "The stream version the command expects, as a strong entity tag: `\"3\"` (`\"0\"`: the aggregate must have no events).",
               "schema": {"type": "string", "pattern": "^\"[0-9]{1,18}\"$"}}),
        json!({"name": "ExpectedVersion", "in": "header", "required": false,
               "description": "The same as `If-Match`, as a plain number, for clients that cannot send `If-Match`.",
               "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}),
        json!({"name": "Idempotency-Key", "in": "header", "required": false,
               "description": "Any text of 1 to 255 visible ASCII characters. Requests with the same key for the same command and aggregate are one message: a retry answers the original outcome and never applies the command twice.",
               "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"}}),
    ]);
    let mut body = json!({"schema": body_schema});
    if !examples.is_empty() {
        body["examples"] = Value::Object(examples);
    }
    let mut description = command.docs.clone();
    if let Some(template) = &command.display {
        description.push_str(&format!("\n\nShown as: `{}`", template.source()));
    }
    json!({
        "operationId": operation_id,
        "tags": [aggregate],
        "summary": format!("{} (v{})", command.name, command.version),
        "description": description,
        "parameters": parameters,
        "requestBody": {
            "required": true,
            "description": body_description,
            "content": {"application/json": body},
        },
        "responses": responses,
    })
}

fn command_responses(examples: Vec<&UseCase>, aggregate: &str) -> Value {
    let mut accepted = Map::new();
    let mut refused = Map::new();
    for use_case in examples {
        match &use_case.then {
            UseCaseOutcome::Accepted { events } => {
                let produced: Vec<Value> = events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        json!({"contract": e.contract, "contract_version": e.contract_version,
                               "version": i + 1, "position": i + 1, "payload": e.payload, "text": e.text})
                    })
                    .collect();
                let value = json!({
                    "stream": format!("{}-…", aggregate.rsplit('.').next().unwrap_or(aggregate).to_kebab_case()),
                    "stream_version": events.len(),
                    "position": (!events.is_empty()).then_some(events.len()),
                    "duplicate": false,
                    "message_id": "0190a5d4-2c3b-7a10-8000-000000000000",
                    "events": produced,
                });
                accepted.insert(
                    use_case.name.to_kebab_case(),
                    json!({"summary": use_case.name, "value": value}),
                );
            }
            UseCaseOutcome::Refused { error } => {
                refused.insert(
                    use_case.name.to_kebab_case(),
                    json!({"summary": use_case.name, "value": {
                        "type": problem_type("refused"), "title": "The command was refused", "status": 409, "detail": error,
                    }}),
                );
            }
            // A process manager's use case answers no command request.
            UseCaseOutcome::Reacted { .. } => {}
        }
    }
    let mut ok = json!({"schema": {"$ref": "#/components/schemas/CommandOutcome"}});
    if !accepted.is_empty() {
        ok["examples"] = Value::Object(accepted);
    }
    let mut refusal = json!({"schema": {"$ref": "#/components/schemas/Problem"}});
    if !refused.is_empty() {
        refusal["examples"] = Value::Object(refused);
    }
    json!({
        "200": {
            "description": "The command was accepted: the events it appended (none when nothing needed to happen), or, for a retried `Idempotency-Key`, the events it appended the first time.",
            "headers": {
                "ETag": {"$ref": "#/components/headers/StreamETag"},
                "Treaty-Position": {"$ref": "#/components/headers/Position"},
            },
            "content": {"application/json": ok},
        },
        "400": problem_response("The body is not JSON, does not match the contract (`errors` lists every bad field with a JSON pointer and the expected type), or a header or the id is invalid."),
        "409": {"description": "The aggregate refused the command; `detail` is the domain error's text.", "content": {"application/problem+json": refusal}},
        "412": {
            "description": "The stream is not at the version of `If-Match`/`ExpectedVersion`; `ETag` and `current_version` hold its version.",
            "headers": {"ETag": {"$ref": "#/components/headers/StreamETag"}},
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
        "413": problem_response("The body is larger than the server's limit."),
        "415": problem_response("The body is not `application/json`."),
        "503": {
            "description": "Other writers changed the stream under every attempt, or the event store failed: try again.",
            "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    })
}

fn view_operation(projection: &str) -> Value {
    json!({"get": {
        "operationId": format!("view.{projection}"),
        "tags": ["views"],
        "summary": format!("A view of {projection}"),
        "parameters": [
            {"name": "key", "in": "path", "required": true, "description": "The view's key.", "schema": {"type": "string"}},
            {"name": "min_position", "in": "query", "required": false,
             "description": "Wait until the projection has applied this event position (a command's `position`), up to the server's bound; 412 when it has not by then.",
             "schema": {"type": "integer", "minimum": 0, "maximum": 9_223_372_036_854_775_807u64}},
            {"name": "If-None-Match", "in": "header", "required": false,
             "description": "An `ETag` of an earlier answer: 304 when the projection has not moved since.",
             "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "The view's JSON.",
                "headers": {
                    "ETag": {"$ref": "#/components/headers/ViewETag"},
                    "Treaty-Checkpoint": {"$ref": "#/components/headers/Checkpoint"},
                },
                "content": {"application/json": {"schema": {}}},
            },
            "304": {
                "description": "The projection is where `If-None-Match` saw it.",
                "headers": {"ETag": {"$ref": "#/components/headers/ViewETag"}},
            },
            "400": problem_response("`min_position` is not a number."),
            "404": problem_response("The projection has no view under this key (or no live generation)."),
            "412": {
                "description": "The projection has not applied `min_position` within the server's bound.",
                "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
            "503": problem_response("The view store failed."),
        },
    }})
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

/// The schema of a path parameter of type `ty` (an identity).
fn path_schema(catalog: &Catalog, ty: &Type) -> Value {
    match ty {
        Type::Id { name } => match catalog.id_type(name) {
            // Path parameters are text; numbers are written in decimal.
            Some(id) if id.inner.integer_range().is_some() => {
                json!({"type": "string", "pattern": if id.inner == Scalar::U64 { "^[0-9]{1,20}$" } else { "^-?[0-9]{1,19}$" }})
            }
            Some(id) => scalar_schema(id.inner),
            None => json!({"type": "string"}),
        },
        Type::Scalar { name } => scalar_schema(*name),
        _ => json!({"type": "string"}),
    }
}

fn components(catalog: &Catalog, schemas: &mut Map<String, Value>) {
    for namespace in &catalog.namespaces {
        for id in &namespace.ids {
            let mut schema = scalar_schema(id.inner);
            describe(&mut schema, &id.docs);
            schemas.insert(id.name.clone(), schema);
        }
        for enumeration in &namespace.enums {
            let names: Vec<&str> = enumeration.variants.iter().map(|v| v.name.as_str()).collect();
            let mut schema = json!({"type": "string", "enum": names});
            describe(&mut schema, &enumeration.docs);
            schemas.insert(enumeration.name.clone(), schema);
        }
        for record in &namespace.records {
            let mut schema = fields_schema(catalog, &record.fields, None);
            let mut docs = record.docs.clone();
            if let Some(template) = &record.display {
                docs.push_str(&format!("\n\nShown as: `{}`", template.source()));
            }
            describe(&mut schema, docs.trim());
            schemas.insert(record.name.clone(), schema);
        }
        for message in &namespace.messages {
            schemas.insert(
                message.name.clone(),
                message_schema(catalog, message, &message.fields, None),
            );
            for version in &message.history {
                let mut schema = fields_schema(catalog, &version.fields, None);
                describe(
                    &mut schema,
                    &format!(
                        "{} as written at version {} (fingerprint {}).",
                        message.name, version.version, version.fingerprint
                    ),
                );
                schemas.insert(format!("{}.v{}", message.name, version.version), schema);
            }
        }
    }
    schemas.insert(
        "FieldError".into(),
        json!({"type": "object", "required": ["pointer", "expected", "detail"], "properties": {
            "pointer": {"type": "string", "description": "A JSON pointer (RFC 6901) into the body."},
            "expected": {"type": "string", "description": "The contract type expected there."},
            "detail": {"type": "string"},
        }}),
    );
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "description": "RFC 9457 problem details.", "required": ["type", "title", "status"], "properties": {
            "type": {"type": "string", "description": "`urn:treaty:problem:{name}`."},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            "current_version": {"type": "integer", "minimum": 0},
            "checkpoint": {"type": "integer", "minimum": 0},
        }}),
    );
    schemas.insert(
        "ProducedEvent".into(),
        json!({"type": "object", "required": ["contract", "contract_version", "version", "position", "payload"], "properties": {
            "contract": {"type": "string"},
            "contract_version": {"type": "integer", "minimum": 1},
            "version": {"type": "integer", "minimum": 1, "description": "The event's version in its stream."},
            "position": {"type": "integer", "minimum": 1, "description": "The event's global position in the store."},
            "payload": {"type": "object", "description": "The event's JSON at `contract_version`."},
            "text": {"type": ["string", "null"], "description": "The event's sentence from its display template."},
        }}),
    );
    schemas.insert(
        "CommandOutcome".into(),
        json!({"type": "object", "required": ["stream", "stream_version", "duplicate", "message_id", "events"], "properties": {
            "stream": {"type": "string"},
            "stream_version": {"type": "integer", "minimum": 0},
            "position": {"type": ["integer", "null"], "minimum": 1, "description": "The last appended event's global position; null when none was appended."},
            "duplicate": {"type": "boolean", "description": "Whether this answers a retry: the events are those the first request appended."},
            "message_id": {"type": "string", "format": "uuid"},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/ProducedEvent"}},
        }}),
    );
    schemas.insert(
        "StreamVersion".into(),
        json!({"type": "object", "required": ["stream", "version"], "properties": {
            "stream": {"type": "string"},
            "version": {"type": "integer", "minimum": 0},
        }}),
    );
}

fn message_schema(catalog: &Catalog, message: &Message, fields: &[Field], skip: Option<&str>) -> Value {
    let mut schema = fields_schema(catalog, fields, skip);
    let kind = match message.kind {
        Kind::Command => "Command",
        Kind::Event => "Event",
    };
    let mut docs = format!(
        "{kind} {} v{} (fingerprint {}).",
        message.name, message.version, message.fingerprint
    );
    if !message.docs.is_empty() {
        docs = format!("{}\n\n{docs}", message.docs);
    }
    if let Some(template) = &message.display {
        docs.push_str(&format!("\n\nShown as: `{}`", template.source()));
    }
    describe(&mut schema, &docs);
    schema
}

fn fields_schema(catalog: &Catalog, fields: &[Field], skip: Option<&str>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields.iter().filter(|f| Some(f.name.as_str()) != skip) {
        let mut schema = type_schema(catalog, &field.ty);
        if let Some(default) = &field.default {
            schema = with(schema, "default", default.clone());
        }
        if !field.docs.is_empty() {
            schema = with(schema, "description", Value::String(field.docs.clone()));
        }
        properties.insert(field.name.clone(), schema);
        if !field.may_be_missing() {
            required.push(Value::String(field.name.clone()));
        }
    }
    json!({"type": "object", "properties": properties, "required": required})
}

/// Adds a keyword to a schema; a `$ref` is wrapped in `allOf` so tools
/// that ignore siblings of `$ref` still see it.
fn with(schema: Value, keyword: &str, value: Value) -> Value {
    if schema.get("$ref").is_some() {
        json!({"allOf": [schema], keyword: value})
    } else {
        let mut schema = schema;
        schema[keyword] = value;
        schema
    }
}

fn describe(schema: &mut Value, docs: &str) {
    if !docs.is_empty() {
        schema["description"] = Value::String(docs.to_string());
    }
}

fn type_schema(catalog: &Catalog, ty: &Type) -> Value {
    match ty {
        Type::Scalar { name } => scalar_schema(*name),
        Type::Id { name } | Type::Record { name } | Type::Enum { name } => {
            json!({"$ref": format!("#/components/schemas/{name}")})
        }
        Type::Extern { name } => json!({"description": format!("{name}: a type the build maps to Rust; any JSON")}),
        Type::List { item } => json!({"type": "array", "items": type_schema(catalog, item)}),
        Type::Map { key, value } => {
            let mut schema = json!({"type": "object", "additionalProperties": type_schema(catalog, value)});
            let inner = match &**key {
                Type::Scalar { name } => Some(*name),
                Type::Id { name } => catalog.id_type(name).map(|id| id.inner),
                _ => None,
            };
            match inner {
                Some(Scalar::U32 | Scalar::U64) => schema["propertyNames"] = json!({"pattern": "^(0|[1-9][0-9]*)$"}),
                Some(Scalar::I32 | Scalar::I64) => schema["propertyNames"] = json!({"pattern": "^(0|-?[1-9][0-9]*)$"}),
                Some(Scalar::Uuid) => schema["propertyNames"] = json!({"format": "uuid"}),
                _ => {}
            }
            schema
        }
        Type::Optional { item } => json!({"anyOf": [type_schema(catalog, item), {"type": "null"}]}),
    }
}

fn scalar_schema(scalar: Scalar) -> Value {
    match scalar {
        Scalar::Bool => json!({"type": "boolean"}),
        Scalar::I32 => json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX}),
        Scalar::I64 => json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        Scalar::U32 => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
        Scalar::U64 => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        Scalar::F64 => json!({"type": "number", "format": "double"}),
        Scalar::String => json!({"type": "string"}),
        Scalar::Bytes => json!({"type": "string", "contentEncoding": "base64", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}),
        Scalar::Uuid => json!({"type": "string", "format": "uuid"}),
        Scalar::Timestamp => json!({"type": "string", "format": "date-time"}),
        Scalar::Date => json!({"type": "string", "format": "date"}),
        Scalar::Decimal => {
            json!({"type": ["string", "number"], "pattern": "^-?[0-9]{1,28}(\\.[0-9]{1,28})?$", "description": "A decimal; a string keeps its scale (\"10.50\")."})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::shop;
    use crate::{UseCaseMessage, UseCaseOutcome};

    fn use_case(name: &str, then: UseCaseOutcome) -> UseCase {
        UseCase {
            name: name.into(),
            given: Vec::new(),
            when: UseCaseMessage {
                contract: "shop.PlaceOrder".into(),
                contract_version: 1,
                payload: json!({"id": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11", "quantity": 2}),
                text: "place".into(),
            },
            then,
        }
    }

    #[test]
    fn the_document_routes_every_command_with_schemas_and_examples() {
        let catalog = shop();
        let use_cases = vec![
            use_case("Placing an order", UseCaseOutcome::Accepted { events: Vec::new() }),
            use_case(
                "Placing nothing is refused",
                UseCaseOutcome::Refused {
                    error: "nothing".into(),
                },
            ),
        ];
        let surface = Surface {
            aggregates: vec!["shop.Order".into()],
            projections: vec!["shop.totals".into()],
        };
        let document = document(&catalog, &surface, &use_cases, &Info::default());
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().unwrap();
        let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "/commands/shop.PlaceOrder",
                "/docs",
                "/openapi.json",
                "/shop/order/{id}",
                "/shop/order/{id}/place-order",
                "/views/shop.totals/{key}"
            ]
        );
        let post = &paths["/shop/order/{id}/place-order"]["post"];
        let body = &post["requestBody"]["content"]["application/json"];
        // Without the identity, which must not be sent.
        assert!(body["schema"]["properties"].get("id").is_none());
        assert_eq!(body["schema"]["not"], json!({"required": ["id"]}));
        assert_eq!(body["schema"]["required"], json!(["quantity", "size", "tags", "stock"]));
        assert_eq!(body["examples"]["placing-an-order"]["value"], json!({"quantity": 2}));
        assert_eq!(
            post["responses"]["409"]["content"]["application/problem+json"]["examples"]["placing-nothing-is-refused"]
                ["value"]["detail"],
            "nothing"
        );
        assert_eq!(
            post["parameters"][0]["schema"],
            json!({"type": "string", "format": "uuid"})
        );
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["shop.Size"]["enum"], json!(["Small", "Large"]));
        assert_eq!(
            schemas["shop.OrderPlaced.v1"]["properties"]["quantity"]["maximum"],
            json!(u32::MAX)
        );
        assert_eq!(
            schemas["shop.OrderPlaced"]["properties"]["quantity"]["maximum"],
            json!(u64::MAX)
        );
        let note = &schemas["shop.PlaceOrder"]["properties"]["note"];
        assert_eq!(note["default"], "");
        let price = &schemas["shop.PlaceOrder"]["properties"]["price"];
        assert_eq!(price["anyOf"][1], json!({"type": "null"}));
        let stock = &schemas["shop.PlaceOrder"]["properties"]["stock"];
        assert_eq!(stock["propertyNames"]["pattern"], "^(0|[1-9][0-9]*)$");
        assert!(schemas["shop.PlaceOrder"]["description"]
            .as_str()
            .unwrap()
            .contains("Places an order."));
    }

    #[test]
    fn a_base_path_becomes_the_server() {
        let catalog = shop();
        let info = Info {
            base_path: Some("/api".into()),
            ..Info::default()
        };
        let document = document(&catalog, &Surface::default(), &[], &info);
        assert_eq!(document["servers"][0]["url"], "/api");
        assert_eq!(document["paths"].as_object().unwrap().len(), 2);
    }
}
