//! `/api/v1/queries`: standing listening queries — add, change, remove, list, counts over time,
//! back-test on history, check.

use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use copernic_core::DEFAULT_WORKSPACE;
use copernic_pipeline::backtest::{backtest, parse_since};
use serde::Deserialize;
use serde_json::json;

use super::{json_body, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queries", get(list).post(create))
        .route("/queries/check", post(check))
        .route("/queries/test", post(test))
        .route("/queries/{name}", get(one).put(put).delete(remove))
        .route("/queries/{name}/counts", get(counts))
}

fn parse_query(q: &str) -> Result<copernic_listen::Expr, ApiError> {
    copernic_listen::parse(q).map_err(|e| ApiError::Invalid(format!("query: {e}")))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a query name is 1 to 200 characters, without control characters".into(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewQuery {
    name: String,
    query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryText {
    query: String,
}

async fn list(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = s.store.clone();
    let queries = tokio::task::spawn_blocking(move || store.queries(None)).await??;
    Ok(Json(json!({ "queries": queries })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SaveParams {
    /// Match the stored history too (default); `false` counts from now on only.
    backfill: Option<bool>,
}

async fn save(
    s: &AppState,
    name: String,
    text: String,
    backfill: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_name(&name)?;
    let expr = parse_query(&text)?;
    let normalised = expr.to_string();
    let ingestor = s.ingestor.clone();
    let (stored, added) = tokio::task::spawn_blocking(move || {
        let store = ingestor.store();
        let mut stored = store.put_query(DEFAULT_WORKSPACE, &name, &text)?;
        // New messages are matched from the reload on; the back-fill covers what was stored
        // before it (a message in between may be in both, and is counted once).
        ingestor.reload_queries()?;
        let added = if backfill {
            copernic_pipeline::backtest::backfill(&**store, DEFAULT_WORKSPACE, &name, &expr)?
        } else {
            0
        };
        stored.matches += added;
        Ok::<_, copernic_store::StoreError>((stored, added))
    })
    .await??;
    Ok(Json(
        json!({ "query": stored, "normalised": normalised, "backfilled": added }),
    ))
}

async fn create(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<SaveParams>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q: NewQuery = json_body(&s, body).await?;
    save(&s, q.name, q.query, p.backfill.unwrap_or(true)).await
}

async fn put(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(p): ApiQuery<SaveParams>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q: QueryText = json_body(&s, body).await?;
    save(&s, name, q.query, p.backfill.unwrap_or(true)).await
}

async fn one(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = s.store.clone();
    let queries =
        tokio::task::spawn_blocking(move || store.queries(Some(DEFAULT_WORKSPACE))).await??;
    let q = queries
        .into_iter()
        .find(|q| q.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no standing query named {name:?}")))?;
    Ok(Json(json!({ "query": q })))
}

async fn remove(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ingestor = s.ingestor.clone();
    let n = name.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let removed = ingestor.store().remove_query(DEFAULT_WORKSPACE, &n)?;
        ingestor.reload_queries()?;
        Ok::<_, copernic_store::StoreError>(removed)
    })
    .await??;
    if !removed {
        return Err(ApiError::NotFound(format!(
            "no standing query named {name:?}"
        )));
    }
    Ok(Json(json!({ "removed": name })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SinceParams {
    since: Option<String>,
}

async fn counts(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(p): ApiQuery<SinceParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let since = p
        .since
        .map(|v| parse_since(&v, Utc::now()).map_err(ApiError::BadRequest))
        .transpose()?;
    let store = s.store.clone();
    let n = name.clone();
    let days =
        tokio::task::spawn_blocking(move || store.query_counts(DEFAULT_WORKSPACE, &n, since))
            .await??;
    Ok(Json(json!({ "name": name, "days": days })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    query: String,
    since: Option<String>,
    sample: Option<usize>,
}

async fn test(State(s): State<AppState>, body: Body) -> Result<Json<serde_json::Value>, ApiError> {
    let t: TestBody = json_body(&s, body).await?;
    let expr = parse_query(&t.query)?;
    let since = t
        .since
        .map(|v| parse_since(&v, Utc::now()).map_err(ApiError::BadRequest))
        .transpose()?;
    let sample = t.sample.unwrap_or(10).min(100);
    let store = s.store.clone();
    let started = std::time::Instant::now();
    let result =
        tokio::task::spawn_blocking(move || backtest(&*store, &expr, since, sample)).await??;
    Ok(Json(json!({
        "normalised": copernic_listen::parse(&t.query).map(|e| e.to_string()).unwrap_or_default(),
        "count": result.count,
        "examined": result.examined,
        "used_index": result.used_index,
        "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
        "sample": result.sample,
    })))
}

async fn check(State(s): State<AppState>, body: Body) -> Result<Json<serde_json::Value>, ApiError> {
    let t: QueryText = json_body(&s, body).await?;
    let expr = parse_query(&t.query)?;
    Ok(Json(json!({ "normalised": expr.to_string() })))
}
