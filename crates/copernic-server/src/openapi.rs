//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, built from the same route table that
//! access control enforces (`routes::access::ROUTES`), so it cannot list a route that does not
//! exist or miss one that does.

use serde_json::{json, Map, Value};

use crate::routes::access::{Access, ROUTES};

fn error_responses() -> Value {
    let e = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "400": e("Malformed request"),
        "401": e("Not signed in"),
        "403": e("The role or team does not allow it"),
        "404": e("Nothing there (or not visible to the caller)"),
        "422": e("Well-formed but refused"),
        "429": e("Too many failed sign-ins: wait"),
    })
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, access, summary) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{}{}", method.to_ascii_lowercase(), path.replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        });
        if let Some(r) = op["responses"].as_object_mut() {
            if let Some(errs) = error_responses().as_object() {
                r.extend(errs.clone());
            }
        }
        match access {
            Access::Public => op["security"] = json!([]),
            Access::Role(role) => {
                op["x-copernic-role"] = json!(role.as_str());
                op["description"] = json!(format!("Needs the {role} role or above."));
            }
        }
        if matches!(*method, "POST" | "PUT" | "PATCH") {
            let media = match *path {
                "/messages" => "application/x-ndjson",
                "/config" => "application/toml",
                _ => "application/json",
            };
            op["requestBody"] = json!({"content": {media: {"schema": {"type": if media == "application/json" {"object"} else {"string"}}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Copernic API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Listen, classify and answer: messages, listening queries, cases, replies and coverage. Every error has the shape of the Error schema."
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token from POST /users/{name}/tokens"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::routes::access::SESSION_COOKIE}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "enum": ["bad_request", "invalid", "not_found", "method_not_allowed", "unauthorized", "unauthenticated", "forbidden", "too_many_requests", "payload_too_large", "internal"]},
                        "message": {"type": "string"}
                    }}}
                }
            }
        },
        "paths": paths,
    })
}
