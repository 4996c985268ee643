//! `/hooks/{name}`: signed webhooks, with the GET verification handshake of Meta-style platforms.
//!
//! A delivery is accepted only when its HMAC-SHA256 signature matches (compared in constant time)
//! and, when the source is configured with a timestamp header, when that timestamp is inside the
//! replay window; the signature then covers `"{timestamp}.{body}"` so an old delivery cannot be
//! replayed with a fresh timestamp.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use copernic_pipeline::sources::jsonl::parse_body;
use copernic_pipeline::sources::mastodon;
use copernic_pipeline::{Context, Mapping};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer};
use sha2::Sha256;

use super::{ingest, ingest_status, read_body, request_input, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

/// How a webhook's body is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// JSON object, array or NDJSON, through `map` and `items`.
    #[default]
    Json,
    /// Mastodon status objects.
    Mastodon,
}

/// One webhook source, from the `[[webhooks]]` tables of the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Source name: the URL is `/hooks/{name}` and message ids derive from it.
    pub name: String,
    /// Shared secret the sender signs bodies with.
    pub secret: String,
    /// Token the platform echoes in the GET handshake (`hub.verify_token`).
    pub verify_token: Option<String>,
    /// Header carrying the signature.
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// Text before the hex digest in that header.
    #[serde(default = "default_signature_prefix")]
    pub signature_prefix: String,
    /// Header carrying the Unix time of the delivery; enables the replay window.
    pub timestamp_header: Option<String>,
    /// Largest accepted distance between that timestamp and now. Five minutes tolerates clock
    /// skew and retries while keeping a captured delivery useless soon after.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: u64,
    #[serde(default)]
    pub format: BodyFormat,
    /// Path to the records in the body (`entry.*.changes.*.value`).
    pub items: Option<String>,
    /// Field mapping, as `copernic import --map`.
    #[serde(default, deserialize_with = "mapping_from_str")]
    pub map: Mapping,
    /// Channel of records that name none (default: the webhook's name).
    pub channel: Option<String>,
}

fn default_signature_header() -> String {
    "X-Hub-Signature-256".into()
}
fn default_signature_prefix() -> String {
    "sha256=".into()
}
fn default_tolerance() -> u64 {
    300
}

fn mapping_from_str<'de, D: Deserializer<'de>>(d: D) -> Result<Mapping, D::Error> {
    let spec = String::deserialize(d)?;
    spec.parse().map_err(serde::de::Error::custom)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{name}", get(verify).post(deliver))
}

fn lookup<'a>(s: &'a AppState, name: &str) -> Result<&'a WebhookConfig, ApiError> {
    s.webhooks.get(name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no webhook source named {name:?}; configure it under [[webhooks]]"
        ))
    })
}

/// The GET handshake: `hub.mode=subscribe`, `hub.verify_token`, `hub.challenge` → the challenge.
async fn verify(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let hook = lookup(&s, &name)?;
    let Some(expected) = hook.verify_token.as_deref() else {
        return Err(ApiError::NotFound(format!(
            "webhook {name:?} has no verify_token configured"
        )));
    };
    if q.get("hub.mode").map(String::as_str) != Some("subscribe") {
        return Err(ApiError::BadRequest("hub.mode must be subscribe".into()));
    }
    let token = q.get("hub.verify_token").map(String::as_str).unwrap_or("");
    if !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Unauthorized(
            "hub.verify_token does not match".into(),
        ));
    }
    let challenge = q.get("hub.challenge").cloned().unwrap_or_default();
    Ok((StatusCode::OK, challenge))
}

async fn deliver(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let hook = lookup(&s, &name)?.clone();
    let body = read_body(body, s.limits.max_document_bytes).await?;
    check_signature(&hook, &headers, &body, chrono::Utc::now().timestamp())?;
    let mut ctx = Context::new(&hook.name, &request_input(&format!("/hooks/{}", hook.name)));
    ctx.limits = s.limits;
    let mut items = Vec::new();
    match hook.format {
        BodyFormat::Json => {
            let mut mapping = hook.map.clone();
            mapping.channel = Some(hook.channel.clone().unwrap_or_else(|| hook.name.clone()));
            parse_body(&body, hook.items.as_deref(), &mapping, &ctx, &mut |i| {
                items.push(i)
            });
        }
        BodyFormat::Mastodon => mastodon::parse(&body, &ctx, &mut |i| items.push(i)),
    }
    let response = ingest(&s, items).await?;
    Ok((ingest_status(&response), Json(response)))
}

/// Checks the signature (and timestamp window) of a delivery.
pub fn check_signature(
    hook: &WebhookConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let signature = header(&hook.signature_header).ok_or_else(|| {
        ApiError::Unauthorized(format!("missing {} header", hook.signature_header))
    })?;
    let hex = signature
        .strip_prefix(hook.signature_prefix.as_str())
        .ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "{} must start with {:?}",
                hook.signature_header, hook.signature_prefix
            ))
        })?;
    let digest = decode_hex(hex).ok_or_else(|| {
        ApiError::Unauthorized(format!("{} is not a hex digest", hook.signature_header))
    })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(hook.secret.as_bytes())
        .map_err(|_| ApiError::Unauthorized("webhook secret is unusable".into()))?;
    if let Some(ts_header) = &hook.timestamp_header {
        let ts = header(ts_header)
            .ok_or_else(|| ApiError::Unauthorized(format!("missing {ts_header} header")))?;
        let ts_value: i64 = ts.parse().map_err(|_| {
            ApiError::Unauthorized(format!("{ts_header} must be Unix seconds, got {ts:?}"))
        })?;
        if now.abs_diff(ts_value) > hook.tolerance_secs {
            return Err(ApiError::Unauthorized(format!(
                "{ts_header} is outside the {}-second replay window",
                hook.tolerance_secs
            )));
        }
        mac.update(ts.as_bytes());
        mac.update(b".");
    }
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&digest).map_err(|_| {
        ApiError::Unauthorized(format!("{} does not match the body", hook.signature_header))
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signature header value a sender would compute; used by tests and `copernic` examples.
pub use copernic_core::hash::sign;

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(ts: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            name: "meta".into(),
            secret: "s3cret".into(),
            verify_token: Some("tok".into()),
            signature_header: default_signature_header(),
            signature_prefix: default_signature_prefix(),
            timestamp_header: ts.map(str::to_string),
            tolerance_secs: 300,
            format: BodyFormat::Json,
            items: None,
            map: Mapping::default(),
            channel: None,
        }
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn signatures() {
        let body = br#"{"text":"hi"}"#;
        let good = sign("s3cret", None, body);
        assert!(check_signature(
            &hook(None),
            &headers(&[("x-hub-signature-256", good.clone())]),
            body,
            0
        )
        .is_ok());
        let bad = sign("other", None, body);
        let e = check_signature(
            &hook(None),
            &headers(&[("x-hub-signature-256", bad)]),
            body,
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not match"));
        assert!(check_signature(&hook(None), &headers(&[]), body, 0)
            .unwrap_err()
            .to_string()
            .contains("missing"));
        let tampered = check_signature(
            &hook(None),
            &headers(&[("x-hub-signature-256", good)]),
            b"{}",
            0,
        );
        assert!(tampered.is_err());
        assert!(check_signature(
            &hook(None),
            &headers(&[("x-hub-signature-256", "sha256=zz".into())]),
            body,
            0
        )
        .is_err());
    }

    #[test]
    fn timestamps_bound_replays() {
        let body = b"[]";
        let h = hook(Some("x-timestamp"));
        let sig = sign("s3cret", Some(1000), body);
        let at = |now| {
            check_signature(
                &h,
                &headers(&[
                    ("x-hub-signature-256", sig.clone()),
                    ("x-timestamp", "1000".into()),
                ]),
                body,
                now,
            )
        };
        assert!(at(1100).is_ok());
        assert!(at(1301)
            .unwrap_err()
            .to_string()
            .contains("300-second replay window"));
        // The same signature with a fresher timestamp does not verify: the timestamp is signed.
        let moved = check_signature(
            &h,
            &headers(&[
                ("x-hub-signature-256", sig.clone()),
                ("x-timestamp", "1200".into()),
            ]),
            body,
            1200,
        );
        assert!(moved.is_err());
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
