//! Feed polling against a local feed server that speaks conditional requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use copernic_pipeline::sources::feed::FeedConfig;
use copernic_server::feeds::poll_and_store;
use copernic_server::ServerConfig;
use serde_json::json;

use crate::{client, eventually, TestServer};

const ETAG: &str = "\"feed-v1\"";

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Shop news</title>
    <link>https://shop.example/</link>
    <description>What the shop says</description>
    <item>
      <title>Delivery delays this week</title>
      <link>https://shop.example/posts/1</link>
      <guid>post-1</guid>
      <pubDate>Tue, 07 May 2024 09:00:00 GMT</pubDate>
      <description>Our deliveries are running two days late because of the strike.</description>
    </item>
    <item>
      <title>New opening hours</title>
      <link>https://shop.example/posts/2</link>
      <guid>post-2</guid>
      <pubDate>Wed, 08 May 2024 09:00:00 GMT</pubDate>
      <description>The shop now opens at eight every morning.</description>
    </item>
  </channel>
</rss>
"#;

/// What the feed server saw.
#[derive(Default)]
struct Hits {
    full: AtomicUsize,
    not_modified: AtomicUsize,
    if_none_match: Mutex<Vec<Option<String>>>,
}

async fn feed(State(hits): State<Arc<Hits>>, headers: HeaderMap) -> Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    hits.if_none_match.lock().unwrap().push(inm.clone());
    if inm.as_deref() == Some(ETAG) {
        hits.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, ETAG)]).into_response();
    }
    hits.full.fetch_add(1, Ordering::SeqCst);
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"),
            (header::ETAG, ETAG),
        ],
        RSS,
    )
        .into_response()
}

/// Serves the feed at `/feed.xml` on loopback until the test's runtime ends.
async fn feed_server() -> (String, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let app = Router::new()
        .route("/feed.xml", get(feed))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind feed server");
    let url = format!("http://{}/feed.xml", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits)
}

fn feed_config(url: &str) -> FeedConfig {
    serde_json::from_value(json!({"url": url, "source": "shop-blog", "interval_secs": 1}))
        .expect("feed config")
}

#[tokio::test]
async fn poll_and_store_uses_the_etag() {
    let (url, hits) = feed_server().await;
    let s = TestServer::start(ServerConfig::default()).await;
    let feed = feed_config(&url);
    let http = client();

    let first = poll_and_store(&http, &feed, &s.ingestor)
        .await
        .expect("first poll");
    assert_eq!(first.imported, 2, "{first:?}");
    assert_eq!(first.rejected, 0, "{first:?}");
    let state = s.store.feed_state(&url).unwrap().expect("feed state kept");
    assert_eq!(state.etag.as_deref(), Some(ETAG));
    assert!(state.checked_at.is_some());

    let second = poll_and_store(&http, &feed, &s.ingestor)
        .await
        .expect("second poll");
    assert_eq!(second.read, 0, "{second:?}");
    assert_eq!(second.imported, 0, "{second:?}");
    assert_eq!(hits.full.load(Ordering::SeqCst), 1);
    assert_eq!(hits.not_modified.load(Ordering::SeqCst), 1);
    assert_eq!(
        *hits.if_none_match.lock().unwrap(),
        [None, Some(ETAG.to_string())]
    );
    // A 304 that repeats (or omits) the validators keeps them.
    let state = s.store.feed_state(&url).unwrap().expect("feed state kept");
    assert_eq!(state.etag.as_deref(), Some(ETAG));

    // What was polled is visible through the API.
    let mut titles: Vec<String> = s
        .messages("source=shop-blog")
        .await
        .iter()
        .map(|m| m["title"].as_str().unwrap_or("").to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Delivery delays this week", "New opening hours"]);
    assert_eq!(s.messages("search=strike").await.len(), 1);

    // A feed that does not answer is an error, not a panic, and stores nothing.
    let gone = feed_config("http://127.0.0.1:9/feed.xml");
    assert!(poll_and_store(&http, &gone, &s.ingestor).await.is_err());
    assert_eq!(s.messages("").await.len(), 2);
}

#[tokio::test]
async fn serve_polls_configured_feeds() {
    let (url, hits) = feed_server().await;
    let config = ServerConfig {
        feeds: vec![feed_config(&url)],
        ..ServerConfig::default()
    };
    let s = TestServer::start(config).await;

    let messages = eventually("the feed's items to be served", || async {
        let ms = s.messages("source=shop-blog").await;
        (ms.len() == 2).then_some(ms)
    })
    .await;
    for m in &messages {
        assert_eq!(m["source"], "shop-blog");
        assert!(m["url"]
            .as_str()
            .unwrap()
            .starts_with("https://shop.example/posts/"));
    }

    // The poller keeps going on its interval, conditionally: later polls are 304s.
    eventually("a conditional re-poll", || async {
        (hits.not_modified.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    assert_eq!(hits.full.load(Ordering::SeqCst), 1);
    assert_eq!(s.messages("").await.len(), 2);

    // Shutdown stops the pollers too: serve returns.
    s.stop().await;
}
