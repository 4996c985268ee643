//! `/api/v1` for people and configuration: sign-in, users, teams, API tokens, `copernic.toml`,
//! and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use copernic_core::engage::{Role, Team, User};
use copernic_engage::{ConfigFile, Principal};
use serde::Deserialize;
use serde_json::json;

use super::access::SESSION_COOKIE;
use super::{blocking, json_body, read_body, ApiPath};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/users", get(users).post(put_user))
        .route("/users/{name}/availability", put(availability))
        .route("/users/{name}/tokens", post(token))
        .route("/teams", get(teams))
        .route("/teams/{name}", put(put_team))
        .route("/config", get(config).post(apply))
        .route("/openapi.json", get(openapi))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: String,
}

async fn login(
    State(s): State<AppState>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let b: LoginBody = json_body(&s, body).await?;
    let engine = s.engine.clone();
    let (secret, user) = blocking(move || engine.login(&b.name, &b.password)).await?;
    let ttl = s.engine.policies().settings.session_ttl.num_seconds();
    let cookie =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}");
    Ok(([(header::SET_COOKIE, cookie)], Json(json!({"user": user}))))
}

async fn logout(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> Result<impl IntoResponse, ApiError> {
    let (parts, _) = req.into_parts();
    if let Some(secret) = super::access::credential(&parts) {
        let engine = s.engine.clone();
        blocking(move || engine.logout(&secret)).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT))
}

async fn me(Extension(who): Extension<Principal>) -> Json<serde_json::Value> {
    Json(json!({"user": who.user}))
}

async fn users(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    Ok(Json(
        json!({"users": blocking(move || engine.users()).await?}),
    ))
}

fn default_capacity() -> i64 {
    10
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    name: String,
    role: Role,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default = "default_capacity")]
    capacity: i64,
    #[serde(default = "yes")]
    available: bool,
    #[serde(default)]
    password: Option<String>,
}

async fn put_user(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let b: UserBody = json_body(&s, body).await?;
    if b.name.trim().is_empty() {
        return Err(ApiError::Invalid("a user needs a name".into()));
    }
    let user = User {
        name: b.name.trim().to_string(),
        display_name: b.display_name,
        email: b.email,
        role: b.role,
        teams: b.teams,
        languages: b.languages,
        channels: b.channels,
        capacity: b.capacity.max(0),
        available: b.available,
    };
    let engine = s.engine.clone();
    let u = user.clone();
    blocking(move || engine.put_user(who.name(), &u, b.password.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(json!({"user": user}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    available: bool,
}

async fn availability(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let b: AvailabilityBody = json_body(&s, body).await?;
    let engine = s.engine.clone();
    let n = name.clone();
    let moved = blocking(move || engine.set_available(&who, &n, b.available)).await?;
    Ok(Json(
        json!({"user": name, "available": b.available, "cases_moved": moved}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(default)]
    label: Option<String>,
}

async fn token(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = read_body(body, s.limits.max_document_bytes).await?;
    let b: TokenBody = if bytes.is_empty() {
        TokenBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    };
    let engine = s.engine.clone();
    let n = name.clone();
    let token = blocking(move || engine.create_token(who.name(), &n, b.label.as_deref())).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": name, "token": token, "note": "shown once; only its hash is kept"})),
    ))
}

async fn teams(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    Ok(Json(
        json!({"teams": blocking(move || engine.teams()).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    #[serde(default)]
    private: bool,
    #[serde(default)]
    hours: serde_json::Value,
}

async fn put_team(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let b: TeamBody = json_body(&s, body).await?;
    let team = Team {
        name,
        private: b.private,
        hours: b.hours,
    };
    let engine = s.engine.clone();
    let t = team.clone();
    blocking(move || engine.put_team(who.name(), &t)).await?;
    Ok(Json(json!({"team": team})))
}

async fn config(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"policies": s.engine.policies()}))
}

/// Applies a `copernic.toml` sent as the body (as `copernic apply` does on a data folder).
async fn apply(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = read_body(body, s.limits.max_document_bytes).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the configuration is not UTF-8: {e}")))?;
    let file = ConfigFile::parse(text).map_err(ApiError::Invalid)?;
    crate::check_sources(&file).map_err(ApiError::Invalid)?;
    let engine = s.engine.clone();
    let report = blocking(move || engine.apply(&file, who.name())).await?;
    let ingestor = s.ingestor.clone();
    tokio::task::spawn_blocking(move || ingestor.reload_queries()).await??;
    Ok(Json(json!({"applied": report})))
}

async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
