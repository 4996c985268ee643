//! The web UI in a real headless Chromium (Debian's `chromium`; `.ci/run` installs it): the page
//! is loaded from the running server, its scripts run, and the rendered DOM is checked. Where a
//! test must type, click and keep a session cookie across reloads, it drives the browser over the
//! DevTools protocol ([`Browser`]) and checks what is rendered visible; set
//! `COPERNIC_UI_SCREENSHOTS=DIR` to keep a PNG of each step.

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

// --- The care side: sign-in, the inbox, one case ------------------------------------------------

const PASSWORD: &str = "correct horse battery";

/// A small care configuration: one team, two agents (Ana answers French, Ben English) and an
/// admin; a Mastodon connector that cannot be reached, so replies stay in the outbox.
fn care_config(users: bool) -> String {
    let mut out = String::from(
        r#"
[settings]
outbox_backoff = "1h"

[[teams]]
name = "care"

[[rules]]
name = "everyone to care"
team = "care"

[[templates]]
name = "ack"
lang = "fr"
intents = ["refund"]
body = "Bonjour {{ customer.first_name }}, nous regardons votre remboursement."

[[templates]]
name = "thanks"
body = "Merci {{ customer.first_name }} !"

[[connectors]]
name = "masto"
kind = "mastodon"
url = "http://127.0.0.1:9"
token = "masto-token"
channels = ["mastodon"]
"#,
    );
    if users {
        let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
        for (name, role, langs) in [
            ("admin", "admin", "[]"),
            ("ana", "agent", r#"["fr"]"#),
            ("ben", "agent", r#"["en"]"#),
        ] {
            let teams = if role == "agent" { r#"["care"]"# } else { "[]" };
            out.push_str(&format!(
                "\n[[users]]\nname = \"{name}\"\nrole = \"{role}\"\nteams = {teams}\ncapacity = 10\nlanguages = {langs}\npassword_hash = \"{hash}\"\n"
            ));
        }
    }
    out
}

/// Five Mastodon messages of three customers, written in the last minutes: Léa twice (a refund,
/// with markup that must show as text) with the brand's answer in between (outbound, written
/// elsewhere), Tom in English, Zoé.
fn care_messages() -> String {
    let now = chrono::Utc::now();
    let at = |min: i64| (now - chrono::Duration::minutes(min)).to_rfc3339();
    [
        json!({"id": "st-1", "text": "Je veux un remboursement pour ma commande <b>1234</b>", "author": "@lea@masto.example", "author_id": "acct-lea", "author_name": "Léa Martin", "created_at": at(10), "lang": "fr", "intent": "refund"}),
        json!({"id": "st-5", "text": "Nous regardons, Léa.", "author": "@support@masto.example", "author_name": "Support", "direction": "outbound", "in_reply_to": "st-1", "created_at": at(9), "lang": "fr"}),
        json!({"id": "st-2", "text": "Toujours rien reçu pour le remboursement", "author": "@lea@masto.example", "author_id": "acct-lea", "author_name": "Léa Martin", "created_at": at(8), "lang": "fr", "intent": "refund"}),
        json!({"id": "st-3", "text": "Where is my parcel?", "author": "@tom@masto.example", "author_id": "acct-tom", "author_name": "Tom Baker", "created_at": at(6), "lang": "en"}),
        json!({"id": "st-4", "text": "Une question sur mon compte", "author": "@zoe@masto.example", "author_id": "acct-zoe", "author_name": "Zoé Durand", "created_at": at(4), "lang": "fr"}),
    ]
    .map(|v| v.to_string())
    .join("\n")
}

/// A headless Chromium driven over the DevTools protocol (a WebSocket to its page), for what a
/// single `--dump-dom` load cannot do: type, click, keep a session cookie across reloads.
struct Browser {
    child: std::process::Child,
    ws: WebSocket,
    last_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile folder");
        let log = std::fs::File::create(profile.path().join("chromium.log")).unwrap();
        let child = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,1000",
                // The port is written to DevToolsActivePort in the profile.
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("chromium runs: install it with `apt-get install chromium` (.ci/run does)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let page = loop {
            let port = std::fs::read_to_string(profile.path().join("DevToolsActivePort"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u16>().ok()));
            // The first page target, once it exists.
            let page = port.and_then(|port| {
                let list: serde_json::Value =
                    serde_json::from_str(&http_get(port, "/json/list")?).ok()?;
                list.as_array()?
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_string))
            });
            if let Some(p) = page {
                break p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chromium did not open its DevTools port: {}",
                std::fs::read_to_string(profile.path().join("chromium.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let mut b = Browser {
            child,
            ws: WebSocket::connect(&page),
            last_id: 0,
            _profile: profile,
        };
        b.command("Page.enable", json!({}));
        b
    }

    /// One DevTools command; its result, or its error.
    fn try_command(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.last_id += 1;
        let id = self.last_id;
        self.ws
            .send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let m: serde_json::Value =
                serde_json::from_str(&self.ws.receive()).expect("DevTools answers JSON");
            // Events come in between; only the answer to this command counts.
            if m["id"] == id {
                return match m.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(m["result"].clone()),
                };
            }
        }
    }

    fn command(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_command(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// The value of `js` in the page (promises awaited); `Err` while the page is between
    /// documents or when the script throws.
    fn eval(&mut self, js: &str) -> Result<serde_json::Value, String> {
        let r = self
            .try_command(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .map_err(|e| e.to_string())?;
        match r.get("exceptionDetails") {
            Some(x) => Err(x.to_string()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Polls `js` until it is truthy (twenty seconds at most); returns its value.
    fn wait_for(&mut self, what: &str, js: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let v = self.eval(js);
            match &v {
                Ok(serde_json::Value::Null | serde_json::Value::Bool(false)) => {}
                Ok(serde_json::Value::String(s)) if s.is_empty() => {}
                Ok(v) => return v.clone(),
                Err(_) => {}
            }
            if std::time::Instant::now() > deadline {
                let text = self.visible_text();
                panic!("gave up waiting for {what} ({v:?}); the page shows:\n{text}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn goto(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }));
    }

    /// What the page shows: the rendered text of everything visible.
    fn visible_text(&mut self) -> String {
        match self.eval("document.body ? document.body.innerText : ''") {
            Ok(serde_json::Value::String(s)) => s,
            other => format!("{other:?}"),
        }
    }

    /// Whether the first element matching `selector` is rendered (not hidden, not inside
    /// something hidden).
    fn visible(&mut self, selector: &str) -> bool {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return !!e && e.checkVisibility(); }})()",
            json!(selector)
        );
        self.eval(&js) == Ok(json!(true))
    }

    /// The rendered text of the elements matching `selector`, in document order.
    fn texts(&mut self, selector: &str) -> Vec<String> {
        let js = format!(
            "[...document.querySelectorAll({})].filter((e) => e.checkVisibility()).map((e) => e.innerText)",
            json!(selector)
        );
        serde_json::from_value(self.eval(&js).unwrap_or_default()).unwrap_or_default()
    }

    /// A real mouse click in the middle of the first visible element matching `selector`.
    fn click(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = [...document.querySelectorAll({})].find((e) => e.checkVisibility());
               if (!e) return null; e.scrollIntoView({{block: 'center'}});
               const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(selector)
        );
        let at = self.wait_for(&format!("{selector} to click"), &js);
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.command(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Clicks into the field and types `text` into it.
    fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector);
        self.command("Input.insertText", json!({ "text": text }));
    }

    /// Saves a PNG of the page under `$COPERNIC_UI_SCREENSHOTS`, when set (for a person to look).
    fn screenshot(&mut self, name: &str) {
        let Some(dir) = std::env::var_os("COPERNIC_UI_SCREENSHOTS") else {
            return;
        };
        let r = self.command(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64_decode(r["data"].as_str().expect("screenshot data"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.try_command("Browser.close", json!({}));
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on the DevTools HTTP endpoint; `None` until it answers. (It keeps connections
/// open: the body is read by its length.)
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{BufRead, Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut r = std::io::BufReader::new(s);
    let (mut ok, mut len) = (false, 0);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        ok |= line.starts_with("HTTP/1.1 200");
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    ok.then(|| String::from_utf8_lossy(&body).into_owned())
}

/// The client half of a WebSocket (RFC 6455), as much as DevTools needs: text frames out
/// (masked), text frames in (possibly fragmented, possibly large).
struct WebSocket(std::net::TcpStream);

impl WebSocket {
    fn connect(url: &str) -> WebSocket {
        use std::io::{Read, Write};
        let (host, path) = url
            .strip_prefix("ws://")
            .and_then(|r| r.split_once('/'))
            .unwrap_or_else(|| panic!("not a ws:// URL: {url}"));
        let mut s = std::net::TcpStream::connect(host).expect("DevTools socket");
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: Y29wZXJuaWMtdWktdGVzdA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        // The answer's head, a byte at a time so no frame is read with it.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8];
            s.read_exact(&mut b).expect("WebSocket handshake");
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        WebSocket(s)
    }

    fn send(&mut self, text: &str) {
        use std::io::Write;
        let payload = text.as_bytes();
        let mask = [0x5a, 0x17, 0xc3, 0x9e];
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.write_all(&frame).expect("DevTools socket write");
    }

    fn receive(&mut self) -> String {
        use std::io::Read;
        let mut message = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.0.read_exact(&mut h).expect("DevTools socket read");
            let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
            let len = match h[1] & 0x7f {
                126 => {
                    let mut l = [0u8; 2];
                    self.0.read_exact(&mut l).unwrap();
                    u16::from_be_bytes(l) as usize
                }
                127 => {
                    let mut l = [0u8; 8];
                    self.0.read_exact(&mut l).unwrap();
                    u64::from_be_bytes(l) as usize
                }
                n => n as usize,
            };
            let mut mask = [0u8; 4];
            if h[1] & 0x80 != 0 {
                self.0.read_exact(&mut mask).unwrap();
            }
            let mut payload = vec![0u8; len];
            self.0.read_exact(&mut payload).unwrap();
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= mask[i % 4]);
            match opcode {
                0x8 => panic!("DevTools closed the socket"),
                0x9 | 0xA => continue,
                _ => message.extend(payload),
            }
            if fin {
                return String::from_utf8(message).expect("DevTools sends UTF-8");
            }
        }
    }
}

/// Standard base64 (the screenshots DevTools sends).
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=' && *c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= (value(*c) as u32) << (18 - 6 * i);
        }
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The session cookie `name` gets from signing in, as a `Cookie` header value.
async fn session(s: &TestServer, name: &str) -> String {
    let r = s
        .post(
            "/api/v1/login",
            json!({"name": name, "password": PASSWORD}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "login {name}: {}", r.text());
    let cookie = r.header("set-cookie").expect("session cookie");
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_signs_in_lists_cases_and_works_one() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s.post("/api/v1/config", care_config(true)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let admin = session(&s, "admin").await;
    let r = s
        .send(
            s.client
                .post(s.url("/api/v1/messages?source=masto&channel=mastodon"))
                .header("cookie", admin)
                .body(care_messages()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 5, "{}", r.text());
    let base = s.base.clone();

    // The browser is driven synchronously; the server goes on on the other worker.
    tokio::task::block_in_place(|| {
        let mut b = Browser::launch();
        b.goto(&format!("{base}/#cases"));

        // Users exist and nobody is signed in: the API answers 401 and the form shows, alone.
        b.wait_for(
            "the sign-in form",
            "document.querySelector('#signin').checkVisibility()",
        );
        b.screenshot("1-sign-in");
        assert!(!b.visible("#cases"), "{}", b.visible_text());
        assert!(!b.visible("nav"), "{}", b.visible_text());
        assert!(!b.visible("#who"));

        // A wrong password is refused, in the form.
        b.type_into("#login-name", "ana");
        b.type_into("#login-password", "wrong");
        b.click("#signin-form button");
        let said = b.wait_for(
            "the refusal",
            "document.querySelector('#signin-error').innerText",
        );
        assert_eq!(said, "wrong user name or password");

        // Signed in, the page reloads on the tab it was on, with the user in the header.
        b.eval("document.querySelector('#login-password').value = ''")
            .unwrap();
        b.type_into("#login-password", PASSWORD);
        b.click("#signin-form button");
        b.wait_for(
            "the signed-in header",
            "!document.body.classList.contains('locked') && document.querySelector('#who').checkVisibility() && document.querySelectorAll('#case-list .case').length === 3",
        );
        b.screenshot("2-inbox");
        let header = b.texts("#who");
        assert!(
            header[0].contains("ana")
                && header[0].contains("agent")
                && header[0].contains("sign out"),
            "{header:?}"
        );
        assert!(!b.visible("#signin"));
        assert!(b.visible("#cases"));
        assert_eq!(b.eval("location.hash").unwrap(), "#cases");

        // The inbox: three cases, newest activity first, each with its team, assignee, customer.
        let rows = b.texts("#case-list .case");
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(
            rows[0].contains("Zoé Durand") && rows[0].contains("Une question sur mon compte"),
            "{rows:?}"
        );
        assert!(
            rows[1].contains("Tom Baker") && rows[1].contains("ben"),
            "{rows:?}"
        );
        // Léa's case was answered elsewhere, then she wrote again: open; the others are new.
        for (r, status) in rows.iter().zip(["new", "new", "open"]) {
            assert!(
                r.contains(status) && r.contains("normal") && r.contains("care"),
                "{r}"
            );
            assert!(r.contains("min old"), "{r}");
        }
        // The coverage panel: one bar pair per team.
        let coverage = b.texts("#coverage .cov-row");
        assert_eq!(coverage.len(), 1, "{coverage:?}");
        assert!(
            coverage[0].contains("care")
                && coverage[0].contains("25% of 4 answered")
                && coverage[0].contains("median 60 s · p90 60 s"),
            "{coverage:?}"
        );

        // Mine only: Ana's two French cases.
        b.click("#case-mine");
        b.wait_for(
            "Ana's cases",
            "document.querySelectorAll('#case-list .case').length === 2",
        );
        let rows = b.texts("#case-list .case");
        assert!(
            rows.iter().all(|r| r.contains("ana") && !r.contains("Tom")),
            "{rows:?}"
        );

        // Léa's case: her messages and the brand's answer in order, markup shown as text, the
        // history.
        b.click("#case-list .case:last-child");
        b.wait_for(
            "the case view",
            "document.querySelectorAll('#case-messages .msg').length === 3",
        );
        b.screenshot("3-case");
        assert!(!b.visible("#inbox"));
        assert!(b
            .eval("location.hash")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("#cases/"));
        let messages = b.texts("#case-messages .msg.inbound");
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("Je veux un remboursement pour ma commande <b>1234</b>"),
            "{messages:?}"
        );
        assert!(messages[1].contains("Toujours rien reçu"), "{messages:?}");
        // The answer between them, styled apart: another background, on the right.
        let looks = b
            .eval(
                "[...document.querySelectorAll('#case-messages .msg')].map((e) =>
                   [e.classList.contains('outbound') ? 'out' : 'in', getComputedStyle(e).backgroundColor,
                    Math.round(e.getBoundingClientRect().left)])",
            )
            .unwrap();
        assert_eq!(
            (&looks[0][0], &looks[1][0], &looks[2][0]),
            (&json!("in"), &json!("out"), &json!("in")),
            "{looks}"
        );
        assert_ne!(looks[0][1], looks[1][1], "{looks}");
        assert!(
            looks[1][2].as_i64() > looks[0][2].as_i64(),
            "the answer is not on the right: {looks}"
        );
        assert!(
            b.texts("#case-messages .msg.outbound")[0].contains("Nous regardons, Léa."),
            "{looks}"
        );
        assert_eq!(
            b.eval("document.querySelectorAll('#case-messages b').length")
                .unwrap(),
            0
        );
        let history = b.texts("#case-audit .audit").join("\n");
        assert!(
            history.contains("case.opened")
                && history.contains("assignee: ana")
                && history.contains("rules.fired"),
            "{history}"
        );

        // The ranked suggestions: the refund template first; a click fills the reply box.
        let suggestions = b.texts("#suggestions .suggestion");
        assert_eq!(
            suggestions.first().map(String::as_str),
            Some("ack fr"),
            "{suggestions:?}"
        );
        b.click("#suggestions .suggestion");
        let draft = b
            .eval("document.querySelector('#reply-text').value")
            .unwrap();
        assert_eq!(draft, "Bonjour Léa, nous regardons votre remboursement.");
        b.click("#reply-send");
        b.wait_for(
            "the reply",
            "document.querySelectorAll('#case-replies .reply').length === 1",
        );
        let reply = b.texts("#case-replies .reply").remove(0);
        assert!(
            reply.contains("Bonjour Léa, nous regardons votre remboursement.")
                && reply.contains("ana"),
            "{reply}"
        );
        // In the outbox (the connector cannot be reached: queued again for a retry).
        assert!(
            reply.contains("queued") || reply.contains("sending"),
            "{reply}"
        );
        // Answered, the case waits for the customer.
        assert_eq!(b.texts("#case-head .actions button.on"), ["pending"]);

        // A note, then resolved.
        b.type_into("#note-text", "Cliente fidèle, geste commercial possible");
        b.click("#note-add");
        b.wait_for(
            "the note",
            "document.querySelectorAll('#case-notes .note').length === 1",
        );
        let note = b.texts("#case-notes .note").remove(0);
        assert!(
            note.contains("ana") && note.contains("Cliente fidèle"),
            "{note}"
        );
        b.click("#case-head [data-set-status=resolved]");
        b.wait_for(
            "resolved",
            "document.querySelector('#case-head .badge.s-resolved')",
        );
        let history = b.texts("#case-audit .audit").join("\n");
        assert!(
            history.contains("reply.queued")
                && history.contains("note.added")
                && history.contains("case.updated"),
            "{history}"
        );
        b.screenshot("4-case-resolved");

        // Back to the inbox: the resolved case left the active list.
        b.click("#case-view a.link");
        b.wait_for("the inbox", "document.querySelector('#inbox').checkVisibility() && document.querySelectorAll('#case-list .case').length === 1");

        // Signing out ends the session: the form again.
        b.click("#signout");
        b.wait_for(
            "the sign-in form after signing out",
            "document.querySelector('#signin').checkVisibility()",
        );
        assert!(!b.visible("#who"));
    });
    s.stop().await;
}

#[tokio::test]
async fn the_open_install_inbox_needs_no_sign_in() {
    // No user: the demo, open to all; the pseudo-user `local` is not shown.
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s.post("/api/v1/config", care_config(false)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s
        .post(
            "/api/v1/messages?source=masto&channel=mastodon",
            care_messages(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let dom = rendered(s.url("/#cases")).await;
    assert!(dom.contains(r#"<section id="signin" hidden="">"#), "{dom}");
    assert!(
        dom.contains(r#"<div id="who" class="who" hidden="">"#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<label id="mine-label" hidden="">"#),
        "{dom}"
    );
    // Rows as rendered (the script's template has `${` where the id goes).
    let rows = dom
        .match_indices(r#"<article class="item case" data-case=""#)
        .filter(|(i, m)| dom[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(rows, 3, "{dom}");
    assert!(dom.contains("Zoé Durand"), "{dom}");
    assert!(dom.contains("unassigned"), "{dom}");
    assert!(
        dom.contains(r#"<div class="cov-row" data-team="care">"#),
        "{dom}"
    );
    // One of four customer messages answered, a minute after it came: bars to scale.
    assert!(
        dom.contains(r#"<i class="share" style="width:25%"></i></div><span class="cov-share">25% of 4 answered</span>"#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<i class="p90" style="width:100%"></i><i class="median" style="width:100%"></i></div><span class="cov-first">median 60 s · p90 60 s</span>"#),
        "{dom}"
    );

    // One case, by its address: messages escaped, suggestions ranked.
    let lea = s
        .engine
        .cases(
            &copernic_engage::Principal::open_install(),
            copernic_store::engage::CaseQuery {
                customer: Some("acct-lea".into()),
                limit: 1,
                ..Default::default()
            },
        )
        .unwrap()[0]
        .id;
    let dom = rendered(s.url(&format!("/#cases/{lea}"))).await;
    assert!(dom.contains(r#"<section id="cases">"#), "{dom}");
    assert_eq!(
        dom.matches(r#"<div class="msg inbound""#).count(),
        2,
        "{dom}"
    );
    assert_eq!(
        dom.matches(r#"<div class="msg outbound""#).count(),
        1,
        "{dom}"
    );
    assert!(
        dom.contains("Je veux un remboursement pour ma commande &lt;b&gt;1234&lt;/b&gt;"),
        "{dom}"
    );
    assert!(
        dom.contains(r#"data-suggestion="0""#) && dom.contains("ack <small>fr</small>"),
        "{dom}"
    );
    assert!(dom.contains("case.opened"), "{dom}");
    s.stop().await;
}
