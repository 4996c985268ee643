//! `/api/v1/queries`: standing queries over HTTP, matched as messages arrive.

use copernic_server::ServerConfig;
use serde_json::json;

use crate::TestServer;

#[tokio::test]
async fn a_standing_query_added_over_http_matches_what_arrives_next() {
    let s = TestServer::start(ServerConfig::default()).await;
    let put = s
        .send(
            s.client
                .put(s.url("/api/v1/queries/delivery"))
                .body(json!({"query": "(Livraison OR \"late delivery\") -merci"}).to_string()),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        put.json()["normalised"],
        "(livraison OR \"late delivery\") AND NOT merci"
    );

    let body = [
        json!({"id": "1", "text": "Late delivery again!"}),
        json!({"id": "2", "text": "livraison reçue, merci"}),
        json!({"id": "3", "text": "Où est ma LIVRAISON ?"}),
    ]
    .map(|v| v.to_string())
    .join("\n");
    let r = s.post("/api/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].clone();
    assert_eq!(results[0]["matches"], json!(["delivery"]));
    assert!(results[1].get("matches").is_none(), "{}", results[1]);
    assert_eq!(results[2]["matches"], json!(["delivery"]));

    let listed = s.get("/api/v1/messages?query=delivery").await.json();
    assert_eq!(listed["messages"].as_array().unwrap().len(), 2);
    let one = s.get("/api/v1/queries/delivery").await.json();
    assert_eq!(one["query"]["matches"], 2);
    let counts = s.get("/api/v1/queries/delivery/counts").await.json();
    assert_eq!(counts["days"][0]["count"], 2);

    let test = s
        .post(
            "/api/v1/queries/test",
            json!({"query": "livraison", "sample": 1}).to_string(),
        )
        .await;
    assert_eq!(test.status, 200, "{}", test.text());
    let t = test.json();
    assert_eq!(
        (t["count"].as_u64(), t["used_index"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(t["sample"].as_array().unwrap().len(), 1);

    let del = s
        .send(s.client.delete(s.url("/api/v1/queries/delivery")))
        .await;
    assert_eq!(del.status, 200, "{}", del.text());
    let r = s
        .post(
            "/api/v1/messages",
            json!({"id": "4", "text": "livraison"}).to_string(),
        )
        .await;
    assert!(r.json()["results"][0].get("matches").is_none());
    s.get("/api/v1/queries/delivery")
        .await
        .assert_error(404, "not_found");
    s.stop().await;
}

#[tokio::test]
async fn a_bad_query_is_422_with_its_column() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/queries",
            json!({"name": "x", "query": "nike AND OR adidas"}).to_string(),
        )
        .await;
    let message = r.assert_error(422, "invalid");
    assert!(
        message.contains("column 10: expected a term after AND, found OR"),
        "{message}"
    );
    let r = s
        .post(
            "/api/v1/queries/check",
            json!({"query": "-nike"}).to_string(),
        )
        .await;
    assert!(r.assert_error(422, "invalid").contains("only of negations"));
    let r = s
        .post("/api/v1/queries", json!({"name": "x"}).to_string())
        .await;
    assert!(r.assert_error(400, "bad_request").contains("query"));
    assert_eq!(s.get("/api/v1/queries").await.json()["queries"], json!([]));
    s.stop().await;
}
