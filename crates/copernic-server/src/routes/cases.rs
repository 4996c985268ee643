//! `/api/v1` for the care side: the inbox, cases, replies and their approval, the outbox,
//! coverage, alerts, the audit log and customer attributes. Access is checked by
//! `access::authorize` before these run; team visibility by the engine.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use copernic_core::engage::{Priority, ReplyStatus, Status};
use copernic_engage::{CaseUpdate, GroupBy, Principal, ReplyRequest};
use copernic_store::engage::CaseQuery;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, json_body, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list))
        .route("/cases/{id}", get(one).patch(update))
        .route("/cases/{id}/notes", post(note))
        .route("/cases/{id}/replies", post(reply))
        .route("/cases/{id}/suggestions", get(suggestions))
        .route("/cases/{id}/merge", post(merge))
        .route("/replies/{id}/approve", post(approve))
        .route("/replies/{id}/reject", post(reject))
        .route("/outbox", get(outbox))
        .route("/coverage", get(coverage))
        .route("/alerts", get(alerts))
        .route("/audit", get(audit))
        .route("/customers/{key}", get(customer).put(put_customer))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<Status>,
    /// Only new, open and pending cases.
    active: Option<bool>,
    team: Option<String>,
    assignee: Option<String>,
    /// `me`: the caller's own cases.
    mine: Option<bool>,
    unassigned: Option<bool>,
    channel: Option<String>,
    customer: Option<String>,
    priority: Option<Priority>,
    tag: Option<String>,
    /// Paging: the `next` value of the previous page.
    before: Option<String>,
    limit: Option<usize>,
}

fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "before={s:?} is not a cursor from a previous page's next"
        ))
    };
    let (t, id) = s.split_once('_').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    Ok((
        DateTime::from_timestamp_millis(t).ok_or_else(bad)?,
        id.parse().map_err(|_| bad())?,
    ))
}

async fn list(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let q = CaseQuery {
        status: p.status,
        active: p.active.unwrap_or(false),
        team: p.team,
        assignee: if p.mine.unwrap_or(false) {
            Some(who.name().to_string())
        } else {
            p.assignee
        },
        unassigned: p.unassigned.unwrap_or(false),
        channel: p.channel,
        customer: p.customer,
        priority: p.priority,
        tag: p.tag,
        before: p.before.as_deref().map(parse_cursor).transpose()?,
        limit,
        ..CaseQuery::default()
    };
    let engine = s.engine.clone();
    let cases = blocking(move || engine.cases(&who, q)).await?;
    let next = (cases.len() == limit)
        .then(|| {
            cases
                .last()
                .map(|c| format!("{}_{}", c.updated_at.timestamp_millis(), c.id))
        })
        .flatten();
    Ok(Json(json!({"cases": cases, "next": next})))
}

async fn one(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    Ok(Json(blocking(move || engine.case_view(&who, id)).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let u: CaseUpdate = json_body(&s, body).await?;
    let engine = s.engine.clone();
    Ok(Json(
        blocking(move || engine.update_case(&who, id, &u)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

async fn note(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let n: NoteBody = json_body(&s, body).await?;
    let engine = s.engine.clone();
    let note = blocking(move || engine.add_note(&who, id, &n.text)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(note)))
}

async fn reply(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut r: ReplyRequest = json_body(&s, body).await?;
    if r.idempotency_key.is_none() {
        r.idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }
    let engine = s.engine.clone();
    let reply = blocking(move || engine.reply(&who, id, &r)).await?;
    s.outbox_wake.notify_one();
    Ok((axum::http::StatusCode::CREATED, Json(reply)))
}

async fn suggestions(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let list = blocking(move || engine.suggestions(&who, id, 5)).await?;
    Ok(Json(json!({"suggestions": list})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    from: i64,
}

async fn merge(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let m: MergeBody = json_body(&s, body).await?;
    let engine = s.engine.clone();
    Ok(Json(
        blocking(move || engine.merge(&who, id, m.from)).await?,
    ))
}

async fn approve(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let r = blocking(move || engine.decide_reply(&who, id, true)).await?;
    s.outbox_wake.notify_one();
    Ok(Json(r))
}

async fn reject(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    Ok(Json(
        blocking(move || engine.decide_reply(&who, id, false)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxParams {
    status: Option<ReplyStatus>,
    limit: Option<usize>,
}

async fn outbox(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<OutboxParams>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let status = p.status.unwrap_or(ReplyStatus::Queued);
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let replies = blocking(move || engine.outbox(status, limit)).await?;
    Ok(Json(json!({"replies": replies})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverageParams {
    by: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

async fn coverage(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<CoverageParams>,
) -> Result<impl IntoResponse, ApiError> {
    let by: GroupBy =
        p.by.as_deref()
            .unwrap_or("all")
            .parse()
            .map_err(ApiError::BadRequest)?;
    let engine = s.engine.clone();
    let rows = blocking(move || engine.coverage(by, p.since, p.until)).await?;
    Ok(Json(json!({"by": by, "rows": rows})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitParams {
    limit: Option<usize>,
    case: Option<i64>,
}

async fn alerts(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let alerts = blocking(move || engine.alerts(limit)).await?;
    Ok(Json(json!({"alerts": alerts})))
}

async fn audit(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let entries = blocking(move || engine.audit_log(p.case, limit)).await?;
    Ok(Json(json!({"entries": entries})))
}

async fn customer(
    State(s): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let engine = s.engine.clone();
    let k = key.clone();
    match blocking(move || engine.customer(&k)).await? {
        Some(a) => Ok(Json(json!({"key": key, "attributes": a}))),
        None => Err(ApiError::NotFound(format!(
            "no attributes for customer {key:?}"
        ))),
    }
}

async fn put_customer(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(key): ApiPath<String>,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    let attributes: serde_json::Value = json_body(&s, body).await?;
    if !attributes.is_object() {
        return Err(ApiError::BadRequest(
            "customer attributes are a JSON object".into(),
        ));
    }
    let engine = s.engine.clone();
    let a = attributes.clone();
    let k = key.clone();
    blocking(move || engine.set_customer(who.name(), &k, &a)).await?;
    Ok(Json(json!({"key": key, "attributes": attributes})))
}
