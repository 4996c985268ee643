//! Who may call what: one table of every `/api/v1` route with the least role it needs, enforced
//! by one middleware before any handler runs. A route missing from the table is refused to all
//! but admins, so a new route is closed until someone decides. The OpenAPI document and the
//! tests read the same table.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use copernic_core::engage::Role;
use copernic_engage::Principal;

use crate::{ApiError, AppState};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, the OpenAPI document).
    Public,
    /// A signed-in user with at least this role.
    Role(Role),
}

use Access::{Public, Role as R};
use Role::{Admin, Agent, Supervisor, Viewer};

/// Every route under `/api/v1`: method, path (axum syntax), access, one-line summary.
pub const ROUTES: &[(&str, &str, Access, &str)] = &[
    ("GET", "/health", Public, "Liveness and version"),
    (
        "GET",
        "/openapi.json",
        Public,
        "This API's OpenAPI document",
    ),
    (
        "POST",
        "/login",
        Public,
        "Sign in with name and password; sets the session cookie",
    ),
    ("POST", "/logout", R(Viewer), "End the session"),
    ("GET", "/me", R(Viewer), "The signed-in user"),
    ("GET", "/stats", R(Viewer), "Counts over the store"),
    ("GET", "/messages", R(Viewer), "List and search messages"),
    (
        "POST",
        "/messages",
        R(Agent),
        "Ingest one JSON message or an NDJSON batch",
    ),
    ("GET", "/messages/{id}", R(Viewer), "One message"),
    (
        "GET",
        "/messages/{id}/raw",
        R(Viewer),
        "A message's payload as received",
    ),
    (
        "POST",
        "/messages/{id}/labels",
        R(Agent),
        "Correct a message's label",
    ),
    ("GET", "/rejects", R(Viewer), "The dead-letter store"),
    (
        "GET",
        "/rejects/{seq}/raw",
        R(Viewer),
        "A refused item's raw bytes",
    ),
    ("GET", "/waves", R(Viewer), "Near-duplicate waves"),
    ("GET", "/corrections", R(Viewer), "Label corrections"),
    (
        "POST",
        "/classify",
        R(Viewer),
        "Classify a text without storing it",
    ),
    ("GET", "/queries", R(Viewer), "Standing listening queries"),
    ("POST", "/queries", R(Supervisor), "Add a standing query"),
    (
        "POST",
        "/queries/check",
        R(Viewer),
        "Check a query's syntax",
    ),
    (
        "POST",
        "/queries/test",
        R(Viewer),
        "Back-test a query on history",
    ),
    ("GET", "/queries/{name}", R(Viewer), "One standing query"),
    (
        "PUT",
        "/queries/{name}",
        R(Supervisor),
        "Create or change a standing query",
    ),
    (
        "DELETE",
        "/queries/{name}",
        R(Supervisor),
        "Remove a standing query",
    ),
    (
        "GET",
        "/queries/{name}/counts",
        R(Viewer),
        "Matches per day",
    ),
    (
        "GET",
        "/cases",
        R(Viewer),
        "The inbox: cases, newest activity first",
    ),
    (
        "GET",
        "/cases/{id}",
        R(Viewer),
        "A case with messages, notes, replies and history",
    ),
    (
        "PATCH",
        "/cases/{id}",
        R(Agent),
        "Change status, priority, tags, assignee or team",
    ),
    (
        "POST",
        "/cases/{id}/notes",
        R(Agent),
        "Add an internal note",
    ),
    (
        "POST",
        "/cases/{id}/replies",
        R(Agent),
        "Reply (text or template); queued in the outbox",
    ),
    (
        "GET",
        "/cases/{id}/suggestions",
        R(Agent),
        "Templates ranked for the case",
    ),
    (
        "POST",
        "/cases/{id}/merge",
        R(Supervisor),
        "Merge another case into this one",
    ),
    (
        "POST",
        "/replies/{id}/approve",
        R(Supervisor),
        "Let a held reply go",
    ),
    (
        "POST",
        "/replies/{id}/reject",
        R(Supervisor),
        "Refuse a held reply",
    ),
    (
        "GET",
        "/outbox",
        R(Supervisor),
        "Replies by delivery status",
    ),
    (
        "GET",
        "/coverage",
        R(Viewer),
        "Answered share, time to first response, SLA compliance",
    ),
    (
        "GET",
        "/alerts",
        R(Supervisor),
        "SLA breaches, escalations, replies given up",
    ),
    ("GET", "/audit", R(Supervisor), "Who changed what, when"),
    ("GET", "/users", R(Supervisor), "Users"),
    ("POST", "/users", R(Admin), "Create or update a user"),
    (
        "PUT",
        "/users/{name}/availability",
        R(Agent),
        "Mark a user available or away (agents: themselves)",
    ),
    (
        "POST",
        "/users/{name}/tokens",
        R(Admin),
        "A new API token for a user",
    ),
    ("GET", "/teams", R(Viewer), "Teams"),
    ("PUT", "/teams/{name}", R(Admin), "Create or update a team"),
    (
        "GET",
        "/customers/{key}",
        R(Agent),
        "A customer's attributes",
    ),
    (
        "PUT",
        "/customers/{key}",
        R(Supervisor),
        "Set a customer's attributes",
    ),
    (
        "GET",
        "/config",
        R(Admin),
        "The routing, SLA, template and connector configuration",
    ),
    ("POST", "/config", R(Admin), "Apply a copernic.toml"),
];

/// The access a route needs (`Role(Admin)` for one not in the table).
pub fn required(method: &Method, path: &str) -> Access {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    ROUTES
        .iter()
        .find(|(m, p, _, _)| *m == method.as_str() && *p == path)
        .map_or(R(Admin), |(_, _, a, _)| *a)
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "copernic_session";

/// The credential a request carries: `Authorization: Bearer …` or the session cookie.
pub fn credential(req: &axum::http::request::Parts) -> Option<String> {
    if let Some(v) = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_string());
        }
    }
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_string())
        })
}

/// Finds who is calling, checks the route's role, and hands the [`Principal`] to the handler.
pub async fn authorize(
    State(s): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = matched
        .as_ref()
        .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
    let access = required(req.method(), &path);
    let (mut parts, body) = req.into_parts();
    let principal = match access {
        Public => None,
        R(role) => {
            let p = principal(&s, &parts).await?;
            if p.role() < role {
                return Err(ApiError::Forbidden(format!(
                    "{} {path} needs the {role} role; {} is {}",
                    parts.method,
                    p.name(),
                    p.role()
                )));
            }
            Some(p)
        }
    };
    if let Some(p) = principal {
        parts.extensions.insert(p);
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The caller: anyone is the local admin while no user exists; afterwards a valid session or
/// token is required.
pub async fn principal(
    s: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<Principal, ApiError> {
    let engine = s.engine.clone();
    let secret = credential(parts);
    let found = tokio::task::spawn_blocking(move || -> Result<Option<Principal>, ApiError> {
        match secret {
            Some(t) => Ok(engine.authenticate(&t)?),
            None if !engine.has_users()? => Ok(Some(Principal::open_install())),
            None => Ok(None),
        }
    })
    .await??;
    found.ok_or_else(|| {
        ApiError::Unauthenticated(
            "sign in first: POST /api/v1/login, or send Authorization: Bearer TOKEN".into(),
        )
    })
}
