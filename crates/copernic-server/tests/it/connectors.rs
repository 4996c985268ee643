//! Replies leaving through real connectors: SMTP to a real SMTP server started locally
//! (Python's aiosmtpd, delivering to a Maildir), and a signed webhook to a local receiver that
//! checks the signature. A reply that cannot be delivered at all is given up with an alert.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use copernic_server::ServerConfig;
use serde_json::{json, Value};

use crate::{eventually, TestServer};

/// An aiosmtpd server on a free loopback port, delivering into `maildir`; killed on drop.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_smtp(maildir: &std::path::Path) -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs (the SMTP tests need `pip install aiosmtpd`; .ci/run installs it)");
    let server = SmtpServer { child, port };
    eventually(
        "the SMTP server to listen (pip install aiosmtpd if this times out)",
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        },
    )
    .await;
    server
}

#[derive(Default)]
struct Hooked {
    requests: Vec<(axum::http::HeaderMap, Vec<u8>)>,
}

async fn start_receiver() -> (String, Arc<Mutex<Hooked>>) {
    let state = Arc::new(Mutex::new(Hooked::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/replies",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().requests.push((headers, body.to_vec()));
                    json!({"id": "w-1"}).to_string()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/replies"), state)
}

async fn reply_status(server: &TestServer, case: i64) -> Option<Value> {
    let v = server.get(&format!("/api/v1/cases/{case}")).await.json();
    let r = v["replies"][0].clone();
    matches!(r["status"].as_str(), Some("sent") | Some("failed")).then_some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_out_by_smtp_and_signed_webhook() {
    let server = TestServer::start(ServerConfig::default()).await;
    let maildir = tempfile::tempdir().unwrap();
    let smtp = start_smtp(&maildir.path().join("inbox")).await;
    let (hook_url, hooked) = start_receiver().await;
    let config = format!(
        r#"
[[teams]]
name = "care"

[[rules]]
name = "all"
team = "care"

[[connectors]]
name = "mail"
kind = "smtp"
host = "127.0.0.1"
port = {port}
from = "care@brand.example"
channels = ["email"]

[[connectors]]
name = "hook"
kind = "webhook"
url = "{hook_url}"
secret = "hook-secret"
"#,
        port = smtp.port
    );
    let r = server.post("/api/v1/config", config).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mail = json!({"id": "abc@mail.example", "text": "Mon colis est perdu.", "title": "Colis perdu",
        "author_id": "renee@example.fr", "author_name": "Renée Dupré"});
    let no_address =
        json!({"id": "def@mail.example", "text": "Et moi ?", "author_id": "no-address"});
    let r = server
        .post(
            "/api/v1/messages?source=mail&channel=email",
            format!("{mail}\n{no_address}\n"),
        )
        .await;
    assert_eq!(r.json()["imported"], 2, "{}", r.text());
    let api = json!({"id": "1", "text": "hello", "author_id": "u-1"});
    let r = server
        .post("/api/v1/messages?source=web&channel=api", api.to_string())
        .await;
    assert_eq!(r.json()["imported"], 1);

    let cases = server.get("/api/v1/cases").await.json()["cases"]
        .as_array()
        .unwrap()
        .clone();
    let case_of = |customer: &str| {
        cases.iter().find(|c| c["customer"] == customer).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (mail_case, bad_case, api_case) = (
        case_of("renee@example.fr"),
        case_of("no-address"),
        case_of("u-1"),
    );
    for (case, text) in [
        (mail_case, "Bonjour Renée,\n.nous le retrouvons.\nL'équipe"),
        (bad_case, "Bonjour"),
        (api_case, "Hi!"),
    ] {
        let r = server
            .post(
                &format!("/api/v1/cases/{case}/replies"),
                json!({"text": text}).to_string(),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }

    // SMTP: one mail in the Maildir, threaded under the customer's, text intact.
    let sent = eventually("the mail reply", || reply_status(&server, mail_case)).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["attempts"], 1);
    let new = maildir.path().join("inbox").join("new");
    let files: Vec<_> = std::fs::read_dir(&new).unwrap().collect();
    assert_eq!(files.len(), 1, "exactly one mail delivered");
    let raw = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    for header in [
        "From: care@brand.example",
        "Subject: Re: Colis perdu",
        "In-Reply-To: <abc@mail.example>",
        "Content-Type: text/plain; charset=utf-8",
    ] {
        assert!(raw.contains(header), "{header} missing:\n{raw}");
    }
    assert!(raw.contains("renee@example.fr"), "{raw}");
    let body: String = raw
        .split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .map(str::trim)
        .collect();
    let decoded = decode_base64(&body);
    assert_eq!(
        decoded,
        "Bonjour Renée,\r\n.nous le retrouvons.\r\nL'équipe"
    );

    // No address: the SMTP connector refuses for good; given up with an alert after one attempt.
    let failed = eventually("the undeliverable reply", || {
        reply_status(&server, bad_case)
    })
    .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1);
    let alerts = server.get("/api/v1/alerts").await.json();
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "reply_failed" && a["case_id"] == bad_case),
        "{alerts}"
    );

    // Webhook: signed, with the idempotency key, once.
    let sent = eventually("the webhook reply", || reply_status(&server, api_case)).await;
    assert_eq!(sent["remote_id"], "w-1");
    {
        let h = hooked.lock().unwrap();
        assert_eq!(h.requests.len(), 1);
        let (headers, body) = &h.requests[0];
        let ts: i64 = headers["x-copernic-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            headers["x-copernic-signature"].to_str().unwrap(),
            copernic_server::sign("hook-secret", Some(ts), body)
        );
        assert_eq!(
            headers["idempotency-key"].to_str().unwrap(),
            sent["idempotency_key"].as_str().unwrap()
        );
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (payload["text"].as_str(), payload["to_id"].as_str()),
            (Some("Hi!"), Some("u-1"))
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hooked.lock().unwrap().requests.len(), 1);
    drop(smtp);
}

fn decode_base64(s: &str) -> String {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    String::from_utf8(out).unwrap()
}
