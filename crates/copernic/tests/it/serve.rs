//! `copernic serve` on a port the system picks, answering HTTP, and stopping cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A hand-written HTTP/1.1 GET: (status line, body).
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head.lines().next().unwrap_or_default().to_string();
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn serve_on_port_zero_answers_health_and_stops_on_sigterm() {
    let env = Env::new();
    let f = env.file(
        "seed.jsonl",
        "{\"id\":\"s1\",\"text\":\"Bonjour, une question sur ma facture\"}\n",
    );
    env.import(&[&f]);

    let child = env
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut server = Server(child);

    // Read stderr on a thread: the address line comes first, the rest is kept for diagnostics.
    let stderr = server.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed no address within a minute");
        if let Some((_, rest)) = line.split_once(" on http://") {
            break rest
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        }
    };
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0, "the real port must be printed, not 0");

    let (status, body) = get(addr, "/api/v1/health");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}\n{body}");
    let health: Value = serde_json::from_str(&body).expect("health is JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let (status, body) = get(addr, "/api/v1/stats");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}\n{body}");
    let stats: Value = serde_json::from_str(&body).expect("stats is JSON");
    assert_eq!(stats["messages"], 1);

    // Graceful shutdown on SIGTERM: exit status 0 within 20 s.
    let pid = server.0.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", pid.as_str()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("poll the server") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = reader.join().expect("stderr reader");
    assert!(status.success(), "the server exited with {status}:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    // The port is free again.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}
