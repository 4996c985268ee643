//! Integration tests: every test runs the real server on a loopback socket, over a fresh SQLite
//! store in a temporary folder, and talks to it with a real HTTP client.

mod access;
mod connectors;
mod engage;
mod feeds;
mod hooks;
mod ingest;
mod labels;
mod lifecycle;
mod queries;
mod ui;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use copernic_pipeline::transforms::neardup::NearDupConfig;
use copernic_pipeline::Ingestor;
use copernic_server::{AppState, ServerConfig};
use copernic_store::{SqliteStore, Store};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a graceful shutdown may take before the test calls it hung. Generous: the machine is
/// shared and slow; this bounds a hang, it does not measure anything.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A client that never goes through a proxy, so loopback stays loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// A running server over its own store.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub ingestor: Arc<Ingestor>,
    pub engine: Arc<copernic_engage::Engine>,
    pub dir: TempDir,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response ({}) is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the API's error shape: `{"error": {"code": CODE, "message": "..."}}`; returns the
    /// message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let j = self.json();
        assert_eq!(j["error"]["code"], code, "body: {j}");
        j["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a message: {j}"))
            .to_string()
    }
}

impl TestServer {
    /// Starts a server over a fresh store.
    pub async fn start(config: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        TestServer::start_in(dir, config).await
    }

    /// Starts a server over the store in `dir`.
    pub async fn start_in(dir: TempDir, config: ServerConfig) -> TestServer {
        TestServer::start_with(dir, config, Arc::new(copernic_engage::SystemClock)).await
    }

    /// Starts a server over the store in `dir` whose engine reads time from `clock`.
    pub async fn start_with(
        dir: TempDir,
        config: ServerConfig,
        clock: Arc<dyn copernic_engage::Clock>,
    ) -> TestServer {
        let store = SqliteStore::open(dir.path()).expect("open store");
        let ingestor =
            Arc::new(Ingestor::new(Arc::new(store), NearDupConfig::default()).expect("ingestor"));
        let store = ingestor.store().clone();
        let engine = Arc::new(
            copernic_engage::Engine::open(dir.path(), store.clone(), clock).expect("engine"),
        );
        let mut state = AppState::new(ingestor.clone(), engine.clone(), &config);
        state.worker_period = Duration::from_millis(50);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            copernic_server::serve(listener, state, &config, async move {
                let _ = rx.await;
            })
            .await
        });
        TestServer {
            base: format!("http://{addr}"),
            client: client(),
            store,
            ingestor,
            engine,
            dir,
            shutdown,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let r = request.send().await.expect("request reaches the server");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.expect("response body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> Resp {
        self.send(self.client.post(self.url(path)).body(body.into()))
            .await
    }

    /// The messages the API lists for `query` (e.g. `source=meta`), newest first.
    pub async fn messages(&self, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/messages?{query}")).await;
        assert_eq!(r.status, 200, "listing messages: {}", r.text());
        r.json()["messages"]
            .as_array()
            .expect("messages array")
            .clone()
    }

    /// Stops the server gracefully and waits for it (within [`SHUTDOWN_TIMEOUT`]); gives back the
    /// data folder with every handle on the store dropped.
    pub async fn stop(self) -> TempDir {
        let TestServer {
            store,
            ingestor,
            engine,
            dir,
            shutdown,
            task,
            client,
            ..
        } = self;
        drop(client);
        shutdown
            .send(())
            .expect("the server is still waiting for shutdown");
        let result = tokio::time::timeout(SHUTDOWN_TIMEOUT, task)
            .await
            .expect("serve did not finish after the shutdown signal")
            .expect("serve task panicked");
        result.expect("serve returned an error");
        // `serve` returns once every connection has said it closed, but a connection task drops
        // its copy of the router (and so of the store) just after: wait for the last handle, or
        // the next open of this folder finds the lock still held.
        let last = Arc::downgrade(&store);
        drop(engine);
        drop(ingestor);
        drop(store);
        let deadline = std::time::Instant::now() + SHUTDOWN_TIMEOUT;
        while last.strong_count() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "a handle on the store outlived the server by {SHUTDOWN_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        dir
    }
}

/// Polls `check` until it returns `Some`, for at most ten seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts `s` is a message id: 32 lowercase hexadecimal digits.
pub fn assert_id(v: &Value) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("id is not a string: {v}"));
    assert_eq!(s.len(), 32, "id {s:?}");
    assert!(
        s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "id {s:?} is not lowercase hex"
    );
    s.to_string()
}
