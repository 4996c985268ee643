//! The web UI in a real headless Chromium (Debian's `chromium`; `.ci/run` installs it): the page
//! is loaded from the running server, its scripts run, and the rendered DOM is checked.

use copernic_server::ServerConfig;
use serde_json::json;

use crate::TestServer;

/// The DOM of `url` after its scripts ran (a virtual-time budget lets the fetches finish).
async fn rendered(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().expect("profile folder");
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // The machine's network is closed: no background connections to refuse.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .output()
            .expect("chromium runs: install it with `apt-get install chromium` (.ci/run does)");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("chromium task")
}

#[tokio::test]
async fn the_listening_tab_shows_queries_counts_and_errors() {
    let s = TestServer::start(ServerConfig::default()).await;
    let body = [
        json!({"id": "1", "text": "I want a refund", "created_at": "2026-11-20T10:00:00Z"}),
        json!({"id": "2", "text": "Remboursement svp", "created_at": "2026-11-21T10:00:00Z"}),
        json!({"id": "3", "text": "Refunded, thanks", "created_at": "2026-11-21T11:00:00Z"}),
        json!({"id": "4", "text": "Nothing to see", "created_at": "2026-11-21T12:00:00Z"}),
    ]
    .map(|v| v.to_string())
    .join("\n");
    assert_eq!(s.post("/api/v1/messages", body).await.status, 200);
    // Added after the messages: the back-fill counts them.
    let put = s
        .send(
            s.client
                .put(s.url("/api/v1/queries/refunds"))
                .body(json!({"query": "refund* OR rembours*"}).to_string()),
        )
        .await;
    assert_eq!(put.json()["backfilled"], 3, "{}", put.text());

    let dom = rendered(s.url("/#listening")).await;
    assert!(dom.contains("<b>refunds</b>"), "{dom}");
    assert!(dom.contains("3 matches since"), "{dom}");
    // The per-day chart: one bar per day with matches, the busiest day full height.
    assert!(dom.contains(r#"title="2026-11-20: 1""#), "{dom}");
    assert!(
        dom.contains(r#"title="2026-11-21: 2" style="height:100%""#),
        "{dom}"
    );

    // A shared link tests its query on history.
    let dom = rendered(s.url("/?q=rembours*%20OR%20refund#listening")).await;
    assert!(dom.contains("<b>2</b> stored messages match"), "{dom}");
    assert!(dom.contains("Remboursement svp"), "{dom}");

    // A wrong query shows its error with a caret under the column.
    let dom = rendered(s.url("/?q=refund%20OR#listening")).await;
    assert!(
        dom.contains("query: column 10: expected a term after OR, found the end of the query\nrefund OR\n         ^"),
        "{dom}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_messages_tab_lists_and_counts() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/messages",
            json!({"id": "1", "text": "Bonjour <b>tout</b> le monde"}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200);
    let dom = rendered(s.url("/")).await;
    // Escaped, not interpreted.
    assert!(
        dom.contains("Bonjour &lt;b&gt;tout&lt;/b&gt; le monde"),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<div class="tile"><b>1</b><span>Messages</span></div>"#),
        "{dom}"
    );
    s.stop().await;
}
