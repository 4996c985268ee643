//! `POST /api/v1/messages/{id}/labels`: a person corrects a message's sentiment, intent or
//! topics. The message's labels change, the correction is logged (the log makes retraining
//! reproducible: `GET /api/v1/corrections`), and the model learns from it at once, so that the
//! next prediction moves.

use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{json_body, ApiPath};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages/{id}/labels", post(correct))
        .route("/corrections", get(corrections))
        .route("/classify", post(classify))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    text: String,
    lang: Option<String>,
}

/// Classifies a text with the models as they are now (corrections included), storing nothing.
async fn classify(
    State(s): State<AppState>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let b: ClassifyBody = json_body(&s, body).await?;
    let Some(c) = s.ingestor.classifier() else {
        return Err(ApiError::NotFound("no classifier loaded".into()));
    };
    let r = c
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .preview(&b.text, b.lang.as_deref());
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsBody {
    sentiment: Option<String>,
    intent: Option<String>,
    topics: Option<Vec<String>>,
}

async fn correct(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id: copernic_core::MessageId = id
        .parse()
        .map_err(|e: copernic_core::message::BadMessageId| ApiError::BadRequest(e.to_string()))?;
    let b: LabelsBody = json_body(&s, body).await?;
    let mut tasks: Vec<(&'static str, String)> = Vec::new();
    if let Some(v) = b.sentiment {
        tasks.push(("sentiment", v));
    }
    if let Some(v) = b.intent {
        tasks.push(("intent", v));
    }
    if let Some(v) = b.topics {
        tasks.push(("topics", v.join(";")));
    }
    if tasks.is_empty()
        || tasks
            .iter()
            .any(|(_, v)| v.trim().is_empty() && !v.is_empty())
    {
        return Err(ApiError::BadRequest(
            "give at least one of sentiment, intent, topics".into(),
        ));
    }
    let ingestor = s.ingestor.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let store = ingestor.store();
        let mut corrections = Vec::new();
        let mut learned = Vec::new();
        for (task, label) in &tasks {
            let Some(c) = store.correct_label(id, task, label)? else {
                return Ok(None);
            };
            let lang = store
                .message(id)?
                .and_then(|m| m.ingested.message.lang.clone());
            if let Some(classifier) = ingestor.classifier() {
                let mut c2 = classifier.write().unwrap_or_else(|e| e.into_inner());
                let did = c2.learn(task, &c.text, label, lang.as_deref());
                learned.push(json!({"task": task, "learned": did}));
            }
            corrections.push(c);
        }
        let message = store.message(id)?;
        Ok::<_, copernic_store::StoreError>(Some((corrections, learned, message)))
    })
    .await??;
    let Some((corrections, learned, message)) = answer else {
        return Err(ApiError::NotFound(format!("no message {id}")));
    };
    // What the model now says of the same text: the correction's effect, visible at once.
    let now = message.as_ref().and_then(|m| {
        s.ingestor.classifier().map(|c| {
            c.read()
                .unwrap_or_else(|e| e.into_inner())
                .preview(&m.ingested.message.text, m.ingested.message.lang.as_deref())
        })
    });
    Ok(Json(json!({
        "corrections": corrections,
        "learned": learned,
        "message": message,
        "model_now": now,
    })))
}

async fn corrections(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = s.store.clone();
    let all = tokio::task::spawn_blocking(move || store.corrections()).await??;
    Ok(Json(json!({ "corrections": all })))
}
