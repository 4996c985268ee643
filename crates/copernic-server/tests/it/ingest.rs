//! `POST /api/v1/messages` and the read side of the API.

use copernic_core::MessageId;
use copernic_pipeline::Limits;
use copernic_server::ServerConfig;
use serde_json::Value;

use crate::{assert_id, TestServer};

#[tokio::test]
async fn one_object_is_accepted_then_a_duplicate_and_reads_back() {
    let s = TestServer::start(ServerConfig::default()).await;
    // Odd spacing and key order on purpose: the raw payload must be these bytes, not a re-encoding.
    let body =
        "{ \"text\" : \"Ma commande n'est pas arrivée\",  \"id\":\"m-1\", \"author\": \"@ana\" }";

    let r = s.post("/api/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["results"][0]["status"], "accepted", "{j}");
    assert_eq!(j["results"][0]["index"], 0, "{j}");
    assert_eq!(j["results"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(
        (j["read"].clone(), j["imported"].clone()),
        (1.into(), 1.into())
    );
    let id = assert_id(&j["results"][0]["id"]);
    assert_eq!(id, MessageId::derive("api", "m-1").to_hex());

    let again = s.post("/api/v1/messages", body).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let j = again.json();
    assert_eq!(j["results"][0]["status"], "duplicate", "{j}");
    assert_eq!(j["results"][0]["id"], id.as_str(), "{j}");
    assert_eq!(j["imported"], 0, "{j}");
    assert_eq!(j["duplicates"], 1, "{j}");

    let m = s.get(&format!("/api/v1/messages/{id}")).await;
    assert_eq!(m.status, 200, "{}", m.text());
    let m = m.json();
    assert_eq!(m["text"], "Ma commande n'est pas arrivée", "{m}");
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["source"], "api");
    assert_eq!(m["channel"], "api");
    assert_eq!(m["external_id"], "m-1");
    assert_eq!(m["author"]["handle"], "@ana");

    let raw = s.get(&format!("/api/v1/messages/{id}/raw")).await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.body, body.as_bytes());
    assert_eq!(raw.header("content-type"), Some("application/octet-stream"));

    // Only one row exists for the two posts.
    assert_eq!(s.messages("").await.len(), 1);

    let missing = MessageId::derive("api", "never-posted");
    s.get(&format!("/api/v1/messages/{missing}"))
        .await
        .assert_error(404, "not_found");
    s.get(&format!("/api/v1/messages/{missing}/raw"))
        .await
        .assert_error(404, "not_found");
    let bad = s.get("/api/v1/messages/not-an-id").await;
    assert!(bad
        .assert_error(400, "bad_request")
        .contains("32 hexadecimal"));
}

#[tokio::test]
async fn ingest_parameters_name_source_channel_and_mapping() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/messages?source=crm&channel=chat&map=text%3Dbody%2Cid%3Dticket",
            r#"[{"ticket": 7, "body": "Le colis est perdu"}]"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = assert_id(&r.json()["results"][0]["id"]);
    assert_eq!(id, MessageId::derive("crm", "7").to_hex());
    let m = s.get(&format!("/api/v1/messages/{id}")).await.json();
    assert_eq!(m["text"], "Le colis est perdu");
    assert_eq!(m["channel"], "chat");
    assert_eq!(m["source"], "crm");

    let bad_map = s.post("/api/v1/messages?map=nonsense", "{}").await;
    bad_map.assert_error(400, "bad_request");
}

const BATCH: &str = concat!(
    "{\"text\": \"First message of the batch\", \"author\": \"@a\"}\n",
    "{\"text\": \"broken\n",
    "{\"text\": \"Third message of the batch\", \"author\": \"@c\"}\n",
    "{\"author\": \"@d\", \"lang\": \"en\"}\n",
    "{\"text\": \"Fifth message of the batch\", \"author\": \"@e\"}\n",
);

fn statuses(j: &Value) -> Vec<String> {
    j["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {j}"))
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn ndjson_batch_gets_one_result_per_line_and_keeps_rejects() {
    let s = TestServer::start(ServerConfig::default()).await;

    let r = s.post("/api/v1/messages", BATCH).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(
        statuses(&j),
        ["accepted", "rejected", "accepted", "rejected", "accepted"],
        "{j}"
    );
    let results = j["results"].as_array().unwrap();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i, "{j}");
    }
    assert_eq!(results[1]["position"]["line"], 2, "{j}");
    assert!(
        results[1]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{j}"
    );
    assert_eq!(results[3]["position"]["line"], 4, "{j}");
    assert_eq!(results[3]["field"], "text", "{j}");
    assert!(
        results[3]["reason"].as_str().unwrap().contains("no text"),
        "{j}"
    );
    assert_eq!(j["read"], 5, "{j}");
    assert_eq!(j["imported"], 3, "{j}");
    assert_eq!(j["rejected"], 2, "{j}");
    assert_eq!(j["duplicates"], 0, "{j}");

    let texts: Vec<String> = s
        .messages("")
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    for t in ["First", "Third", "Fifth"] {
        assert!(texts.iter().any(|x| x.starts_with(t)), "{t} in {texts:?}");
    }

    let rejects = s.get("/api/v1/rejects").await;
    assert_eq!(rejects.status, 200, "{}", rejects.text());
    let rejects = rejects.json()["rejects"].as_array().unwrap().clone();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    let by_line = |rs: &[Value], line: u64| -> Vec<Value> {
        rs.iter()
            .filter(|r| r["position"]["line"] == line)
            .cloned()
            .collect()
    };
    let broken = by_line(&rejects, 2);
    assert_eq!(broken.len(), 1, "{rejects:?}");
    assert!(
        broken[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{rejects:?}"
    );
    assert_eq!(broken[0]["source"], "api");
    let textless = by_line(&rejects, 4);
    assert_eq!(textless.len(), 1, "{rejects:?}");
    assert_eq!(textless[0]["field"], "text", "{rejects:?}");
    assert_eq!(textless[0]["reason"], results[3]["reason"]);

    // The dead letter keeps the bad line's bytes.
    let seq = broken[0]["seq"].as_i64().expect("seq");
    let raw = s.get(&format!("/api/v1/rejects/{seq}/raw")).await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.text().trim_end(), "{\"text\": \"broken");
    s.get("/api/v1/rejects/999999/raw")
        .await
        .assert_error(404, "not_found");

    // The same batch again: the good lines are duplicates, the bad ones are refused again, and
    // their rejects are kept beside the first request's, not written over them.
    let again = s.post("/api/v1/messages", BATCH).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let j2 = again.json();
    assert_eq!(
        statuses(&j2),
        [
            "duplicate",
            "rejected",
            "duplicate",
            "rejected",
            "duplicate"
        ],
        "{j2}"
    );
    assert_eq!(j2["duplicates"], 3, "{j2}");
    assert_eq!(j2["rejected"], 2, "{j2}");

    let rejects = s.get("/api/v1/rejects").await.json()["rejects"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    assert_eq!(by_line(&rejects, 2).len(), 2, "{rejects:?}");
    assert_eq!(by_line(&rejects, 4).len(), 2, "{rejects:?}");
    let mut inputs: Vec<&str> = rejects
        .iter()
        .map(|r| r["position"]["input"].as_str().unwrap())
        .collect();
    inputs.sort();
    inputs.dedup();
    assert_eq!(inputs.len(), 2, "one input name per request: {inputs:?}");
    let mut seqs: Vec<i64> = rejects.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 4);

    let stats = s.get("/api/v1/stats").await.json();
    assert_eq!(stats["messages"], 3, "{stats}");
    assert_eq!(stats["rejects"], 4, "{stats}");
}

#[tokio::test]
async fn a_body_of_only_bad_items_is_422_with_the_same_shape() {
    let s = TestServer::start(ServerConfig::default()).await;

    let r = s
        .post(
            "/api/v1/messages",
            "{\"author\": \"@x\"}\nnot json at all\n",
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let j = r.json();
    assert_eq!(statuses(&j), ["rejected", "rejected"], "{j}");
    assert_eq!(j["read"], 2, "{j}");
    assert_eq!(j["rejected"], 2, "{j}");
    assert_eq!(j["imported"], 0, "{j}");
    assert_eq!(j["results"][0]["field"], "text", "{j}");
    assert_eq!(j["results"][1]["position"]["line"], 2, "{j}");

    // One broken document, no newline: one reject pointing at the byte.
    let r = s.post("/api/v1/messages", "{\"text\": oops}").await;
    assert_eq!(r.status, 422, "{}", r.text());
    let j = r.json();
    assert_eq!(statuses(&j), ["rejected"], "{j}");
    assert!(j["results"][0]["position"]["byte"].is_u64(), "{j}");

    // An empty array: nothing to take, said as a reject.
    let r = s.post("/api/v1/messages", "[]").await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json()["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no records"),
        "{}",
        r.text()
    );

    assert!(s.messages("").await.is_empty());
    let stats = s.get("/api/v1/stats").await.json();
    assert_eq!(stats["rejects"], 4, "{stats}");
}

#[tokio::test]
async fn an_oversized_body_is_413_with_the_limit() {
    let config = ServerConfig {
        limits: Limits {
            max_document_bytes: 1000,
            ..Limits::default()
        },
        ..ServerConfig::default()
    };
    let s = TestServer::start(config).await;

    let body = format!("{{\"text\": \"{}\"}}", "a".repeat(2000));
    let r = s.post("/api/v1/messages", body).await;
    let message = r.assert_error(413, "payload_too_large");
    assert!(message.contains("1000"), "{message}");

    // Without a Content-Length (chunked), the limit still holds.
    let mut request = String::from(
        "POST /api/v1/messages HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..40 {
        request.push_str(&format!("64\r\n{}\r\n", " ".repeat(100)));
    }
    request.push_str("0\r\n\r\n");
    let answer = raw_http(&s, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    // A body under the limit still goes through.
    let r = s.post("/api/v1/messages", "{\"text\": \"short\"}").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.messages("").await.len(), 1);
}

/// Sends `request` as is over a fresh connection and reads the answer until the server closes.
async fn raw_http(s: &TestServer, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://").to_string();
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
        conn.set_read_timeout(Some(crate::SHUTDOWN_TIMEOUT))
            .unwrap();
        // The server may answer before reading everything; a failed write is then fine.
        let _ = conn.write_all(&request);
        let mut answer = Vec::new();
        // A reset after the answer (unread request bytes) is fine too: what was read counts.
        let _ = conn.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("raw http task")
}

#[tokio::test]
async fn search_ignores_accents_and_case() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/messages",
            r#"[
              {"id": "fr-1", "text": "Le Café de la gare est fermé depuis lundi", "lang": "fr"},
              {"id": "en-1", "text": "Best CAFE in town, lovely staff", "lang": "en"},
              {"id": "en-2", "text": "The coffee shop was closed", "lang": "en"},
              {"id": "fr-2", "text": "Livraison en retard", "lang": "fr"}
            ]"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 4, "{}", r.text());

    let ids = |ms: Vec<Value>| {
        let mut v: Vec<String> = ms
            .iter()
            .map(|m| m["external_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(s.messages("search=cafe").await), ["en-1", "fr-1"]);
    assert_eq!(ids(s.messages("search=caf%C3%A9").await), ["en-1", "fr-1"]);
    assert_eq!(ids(s.messages("search=CAF%C3%89").await), ["en-1", "fr-1"]);
    assert_eq!(ids(s.messages("search=ferme").await), ["fr-1"]);
    assert_eq!(ids(s.messages("search=caf*").await), ["en-1", "fr-1"]);
    assert_eq!(
        ids(s.messages("search=%22cafe%20de%20la%20gare%22").await),
        ["fr-1"]
    );
    // Search syntax in user input is text, never a store error.
    for q in [
        "%22",
        "AND",
        "-cafe",
        "a%3Ab",
        "(",
        "%22unterminated",
        "NEAR(x",
        "*",
    ] {
        let r = s.get(&format!("/api/v1/messages?search={q}")).await;
        assert_eq!(r.status, 200, "search={q}: {}", r.text());
    }
    // An empty search does not filter.
    assert_eq!(s.messages("search=%20").await.len(), 4);
    assert!(s.messages("search=tea").await.is_empty());
}

#[tokio::test]
async fn listing_pages_with_limit_and_before() {
    let s = TestServer::start(ServerConfig::default()).await;
    let body: String = (0..5)
        .map(|i| format!("{{\"id\": \"p{i}\", \"text\": \"message number {i}\"}}\n"))
        .collect();
    assert_eq!(s.post("/api/v1/messages", body).await.status, 200);
    let page = s.get("/api/v1/messages?limit=2").await.json();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2, "{page}");
    let before = page["next_before"].as_i64().expect("a next page");
    let rest = s
        .get(&format!("/api/v1/messages?limit=10&before={before}"))
        .await
        .json();
    assert_eq!(rest["messages"].as_array().unwrap().len(), 3, "{rest}");
    assert!(rest["next_before"].is_null(), "{rest}");
}

/// Malformed query strings and paths must answer in the API's own error shape, like every other
/// 400; axum's default rejections answer in plain text.
#[tokio::test]
async fn malformed_queries_get_the_json_error_shape() {
    let s = TestServer::start(ServerConfig::default()).await;
    let mut wrong = Vec::new();
    for (method, path) in [
        ("GET", "/api/v1/messages?limit=abc"),
        ("GET", "/api/v1/messages?since=yesterday"),
        ("GET", "/api/v1/messages?colour=blue"),
        ("GET", "/api/v1/rejects?limit=-1"),
        ("GET", "/api/v1/waves?limit=x"),
        ("POST", "/api/v1/messages?sauce=api"),
        ("GET", "/api/v1/rejects/abc/raw"),
    ] {
        let r = if method == "GET" {
            s.get(path).await
        } else {
            s.post(path, "{\"text\": \"hello there\"}").await
        };
        let shape = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .filter(|j| j["error"]["code"] == "bad_request" && j["error"]["message"].is_string());
        if r.status != 400 || shape.is_none() {
            wrong.push(format!(
                "{method} {path} -> {} {:?} {:?}",
                r.status,
                r.header("content-type"),
                r.text()
            ));
        }
    }
    // Nothing was stored by the refused POST.
    assert!(s.messages("").await.is_empty());
    assert!(
        wrong.is_empty(),
        "answers not in the {{\"error\":{{\"code\":\"bad_request\",...}}}} shape:\n{}",
        wrong.join("\n")
    );
}

/// Every answer of the API is in its one error shape, including routes and methods that do not
/// exist (axum's defaults answer with an empty body).
#[tokio::test]
async fn unknown_routes_and_methods_get_the_json_error_shape() {
    let s = TestServer::start(ServerConfig::default()).await;
    let mut wrong = Vec::new();
    let cases = [
        ("GET", "/api/v1/nope", 404, "not_found"),
        ("DELETE", "/api/v1/messages", 405, "method_not_allowed"),
    ];
    for (method, path, status, code) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.send(s.client.request(method.clone(), s.url(path))).await;
        let shape = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .filter(|j| j["error"]["code"] == code && j["error"]["message"].is_string());
        if r.status != status || shape.is_none() {
            wrong.push(format!("{method} {path} -> {} {:?}", r.status, r.text()));
        }
    }
    assert!(
        wrong.is_empty(),
        "answers not in the API's error shape:\n{}",
        wrong.join("\n")
    );
}
