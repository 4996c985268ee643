//! `/api/v1`: ingest and read messages, rejects, waves.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use copernic_core::MessageId;
use copernic_pipeline::sources::jsonl::parse_body;
use copernic_pipeline::{Context, Mapping};
use copernic_store::{MessageQuery, RejectQuery};
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ingest, ingest_status, read_body, request_input, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/messages", get(list_messages).post(post_messages))
        .route("/messages/{id}", get(get_message))
        .route("/messages/{id}/raw", get(get_message_raw))
        .route("/rejects", get(list_rejects))
        .route("/rejects/{seq}/raw", get(get_reject_raw))
        .route("/waves", get(list_waves))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn stats(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || store.stats(None)).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestParams {
    /// Source name; part of each message id. Default `api`.
    source: Option<String>,
    /// Channel of items that name none. Default `api`.
    channel: Option<String>,
    /// Field mapping, as `copernic import --map`.
    map: Option<String>,
}

async fn post_messages(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<IngestParams>,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let body = read_body(body, s.limits.max_document_bytes).await?;
    let mut mapping: Mapping = match p.map.as_deref() {
        Some(spec) => {
            spec.parse()
                .map_err(|e: copernic_pipeline::sources::mapping::BadMapping| {
                    ApiError::BadRequest(e.to_string())
                })?
        }
        None => Mapping::default(),
    };
    mapping.channel = Some(p.channel.unwrap_or_else(|| "api".into()));
    let source = p.source.unwrap_or_else(|| "api".into());
    let mut ctx = Context::new(&source, &request_input("POST /api/v1/messages"));
    ctx.limits = s.limits;
    let mut items = Vec::new();
    parse_body(&body, None, &mapping, &ctx, &mut |i| items.push(i));
    let response = ingest(&s, items).await?;
    Ok((ingest_status(&response), Json(response)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    search: Option<String>,
    source: Option<String>,
    channel: Option<String>,
    author: Option<String>,
    wave: Option<String>,
    thread: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<i64>,
    /// Only what the standing query of this name matched.
    query: Option<String>,
    /// `sentiment:negative`, `intent:complaint`, `topic:delivery`, `pii:card`, `lang:fr`.
    label: Option<String>,
    /// Only messages at least this urgent (0 to 1).
    min_urgency: Option<f32>,
    limit: Option<usize>,
}

/// `task:value` (or `task=value`).
fn split_label(l: &str) -> Result<(String, String), ApiError> {
    l.split_once([':', '='])
        .map(|(t, v)| (t.trim().to_string(), v.trim().to_string()))
        .filter(|(t, v)| !t.is_empty() && !v.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "label {l:?} is not task:value (sentiment:negative, intent:complaint, topic:NAME)"
            ))
        })
}

fn parse_id(s: &str) -> Result<MessageId, ApiError> {
    s.parse()
        .map_err(|e: copernic_core::message::BadMessageId| ApiError::BadRequest(e.to_string()))
}

async fn list_messages(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<impl IntoResponse, ApiError> {
    let q = MessageQuery {
        workspace: None,
        search: p.search.filter(|s| !s.trim().is_empty()),
        source: p.source,
        channel: p.channel,
        author: p.author,
        wave: p.wave.as_deref().map(parse_id).transpose()?,
        thread: p.thread.as_deref().map(parse_id).transpose()?,
        since: p.since,
        until: p.until,
        before_seq: p.before,
        query: p.query,
        labels: match p.label.as_deref() {
            Some(l) => vec![split_label(l)?],
            None => Vec::new(),
        },
        min_urgency: p.min_urgency,
        // Pages are capped so one request cannot pull the whole store.
        limit: p.limit.unwrap_or(50).clamp(1, 1000),
    };
    let store = s.store.clone();
    let limit = q.limit;
    let messages = blocking(move || store.messages(&q)).await?;
    let next_before = (messages.len() == limit)
        .then(|| messages.last().map(|m| m.seq))
        .flatten();
    Ok(Json(
        json!({"messages": messages, "next_before": next_before}),
    ))
}

async fn get_message(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let store = s.store.clone();
    match blocking(move || store.message(id)).await? {
        Some(m) => Ok(Json(m)),
        None => Err(ApiError::NotFound(format!("no message {id}"))),
    }
}

async fn get_message_raw(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let store = s.store.clone();
    match blocking(move || store.message_raw(id)).await? {
        Some(raw) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], raw)),
        None => Err(ApiError::NotFound(format!("no message {id}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectParams {
    source: Option<String>,
    limit: Option<usize>,
}

async fn list_rejects(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<RejectParams>,
) -> Result<impl IntoResponse, ApiError> {
    let q = RejectQuery {
        workspace: None,
        source: p.source,
        limit: p.limit.unwrap_or(50).clamp(1, 1000),
    };
    let store = s.store.clone();
    Ok(Json(
        json!({"rejects": blocking(move || store.rejects(&q)).await?}),
    ))
}

async fn get_reject_raw(
    State(s): State<AppState>,
    ApiPath(seq): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let store = s.store.clone();
    match blocking(move || store.reject_raw(seq)).await? {
        Some(raw) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], raw)),
        None => Err(ApiError::NotFound(format!("no reject {seq}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaveParams {
    limit: Option<usize>,
}

async fn list_waves(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<WaveParams>,
) -> Result<impl IntoResponse, ApiError> {
    let store = s.store.clone();
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(
        json!({"waves": blocking(move || store.waves(None, limit)).await?}),
    ))
}
