//! Route files: each exports `router()` with its handlers beside it.

pub mod access;
pub mod api;
pub mod cases;
pub mod hooks;
pub mod labels;
pub mod people;
pub mod queries;
pub mod ui;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use copernic_pipeline::{Item, ItemOutcome, Summary};
use serde::Serialize;

use crate::{ApiError, AppState};

/// Reads a request body, refusing one over the document limit with a clear error.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // to_bytes fails for a transport error or the limit; both read as too large here only
        // when the limit is the cause.
        if std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit")) {
            ApiError::TooLarge(limit)
        } else {
            ApiError::BadRequest(format!("could not read the body: {e}"))
        }
    })
}

/// Runs store or engine work off the async threads.
pub async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    ApiError: From<E>,
{
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Reads a JSON body into `T`, refusing malformed ones in the API's error shape.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    s: &AppState,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = read_body(body, s.limits.max_document_bytes).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))
}

/// A name for one request's input, unique per process run, so the rejects of two requests never
/// share a dead-letter position.
pub fn request_input(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{what}@{}#{n}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// The answer to an ingestion request: counts and one result per item, in order.
#[derive(Debug, Serialize)]
pub struct IngestResponse {
    #[serde(flatten)]
    pub summary: Summary,
    pub results: Vec<IndexedOutcome>,
}

#[derive(Debug, Serialize)]
pub struct IndexedOutcome {
    pub index: usize,
    #[serde(flatten)]
    pub outcome: ItemOutcome,
}

/// Writes items off the async threads and builds the response.
pub async fn ingest(state: &AppState, items: Vec<Item>) -> Result<IngestResponse, ApiError> {
    let ingestor = state.ingestor.clone();
    let engine = state.engine.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        let outcomes = ingestor.ingest(items)?;
        // Cases exist when the client hears "accepted"; if this fails, the worker catches up.
        if let Err(e) = engine.catch_up() {
            tracing::error!(message = "cases not updated yet", error = %copernic_core::error_chain(&e));
        }
        Ok::<_, copernic_store::StoreError>(outcomes)
    })
    .await??;
    state.outbox_wake.notify_one();
    let mut summary = Summary::default();
    let results = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| {
            summary.add(&outcome);
            IndexedOutcome { index, outcome }
        })
        .collect();
    Ok(IngestResponse { summary, results })
}

/// 200 when anything was taken (or already there), 422 when every item was refused.
pub fn ingest_status(r: &IngestResponse) -> axum::http::StatusCode {
    if r.summary.read > 0 && r.summary.rejected == r.summary.read {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    }
}

/// `Query` whose refusal (bad number, unknown parameter) answers in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// `Path` whose refusal answers in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
