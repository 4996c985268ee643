//! Every `/api/v1` route refuses a caller without a session (401) and a caller one role short
//! (403), exists as the access table and the OpenAPI document say, and answers in the one error
//! shape.

use copernic_core::engage::Role;
use copernic_server::routes::access::{Access, ROUTES};
use copernic_server::ServerConfig;
use serde_json::json;

use crate::TestServer;

const PASSWORD: &str = "a long enough password";

async fn server_with_one_user_per_role() -> (TestServer, Vec<(Role, String)>) {
    let server = TestServer::start(ServerConfig::default()).await;
    let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
    let mut toml = String::from("[[teams]]\nname = \"care\"\n\n");
    for r in Role::ALL {
        toml.push_str(&format!(
            "[[users]]\nname = \"{r}\"\nrole = \"{r}\"\nteams = [\"care\"]\npassword_hash = \"{hash}\"\n\n"
        ));
    }
    let resp = server.post("/api/v1/config", toml).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut tokens = Vec::new();
    for r in Role::ALL {
        let resp = server
            .post(
                "/api/v1/login",
                json!({"name": r.as_str(), "password": PASSWORD}).to_string(),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let cookie = resp.header("set-cookie").unwrap();
        let secret = cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        tokens.push((*r, secret));
    }
    (server, tokens)
}

fn concrete(path: &str) -> String {
    format!(
        "/api/v1{}",
        path.replace("{id}", "1")
            .replace("{seq}", "1")
            .replace("{name}", "care")
            .replace("{key}", "someone")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_the_anonymous_and_the_role_below() {
    let (server, tokens) = server_with_one_user_per_role().await;
    let token = |r: Role| tokens.iter().find(|(x, _)| *x == r).unwrap().1.clone();
    let mut refusals = 0;
    for (method, path, access, _) in ROUTES {
        let Access::Role(needed) = access else {
            continue;
        };
        let url = server.url(&concrete(path));
        let m: reqwest::Method = method.parse().unwrap();
        let anonymous = server
            .send(server.client.request(m.clone(), &url).body("{}"))
            .await;
        anonymous.assert_error(401, "unauthenticated");
        if let Some(below) = Role::ALL.iter().rev().find(|r| **r < *needed) {
            let r = server
                .send(
                    server
                        .client
                        .request(m.clone(), &url)
                        .bearer_auth(token(*below))
                        .body("{}"),
                )
                .await;
            let msg = r.assert_error(403, "forbidden");
            assert!(msg.contains(needed.as_str()), "{method} {path}: {msg}");
            refusals += 1;
        }
        // A forged or expired token is no better than none.
        let r = server
            .send(
                server
                    .client
                    .request(m, &url)
                    .bearer_auth("cpn_forged")
                    .body("{}"),
            )
            .await;
        r.assert_error(401, "unauthenticated");
    }
    let above_viewer = ROUTES
        .iter()
        .filter(|(_, _, a, _)| matches!(a, Access::Role(r) if *r > Role::Viewer))
        .count();
    assert_eq!(refusals, above_viewer);
    // The session cookie works like a token, and logging out ends it.
    let admin = token(Role::Admin);
    let me = server
        .send(
            server
                .client
                .get(server.url("/api/v1/me"))
                .header("cookie", format!("copernic_session={admin}")),
        )
        .await;
    assert_eq!(me.json()["user"]["role"], "admin");
    let r = server
        .send(
            server
                .client
                .post(server.url("/api/v1/logout"))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(r.status, 204);
    server
        .send(
            server
                .client
                .get(server.url("/api/v1/me"))
                .bearer_auth(&admin),
        )
        .await
        .assert_error(401, "unauthenticated");
    // Wrong passwords and unknown users get the same answer.
    for (name, pw) in [("admin", "wrong password"), ("nobody", PASSWORD)] {
        server
            .post(
                "/api/v1/login",
                json!({"name": name, "password": pw}).to_string(),
            )
            .await
            .assert_error(401, "unauthenticated");
    }
    // Guessing is cut short: after five failures in five minutes even the right password is
    // refused for that name (others are unaffected).
    for _ in 0..4 {
        server
            .post(
                "/api/v1/login",
                json!({"name": "admin", "password": "guess"}).to_string(),
            )
            .await
            .assert_error(401, "unauthenticated");
    }
    let msg = server
        .post(
            "/api/v1/login",
            json!({"name": "admin", "password": PASSWORD}).to_string(),
        )
        .await
        .assert_error(429, "too_many_requests");
    assert!(msg.contains("wait"), "{msg}");
    let r = server
        .post(
            "/api/v1/login",
            json!({"name": "agent", "password": PASSWORD}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_routes_that_exist() {
    let (server, tokens) = server_with_one_user_per_role().await;
    let admin = tokens
        .iter()
        .find(|(r, _)| *r == Role::Admin)
        .unwrap()
        .1
        .clone();
    let doc = server.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200, "the document is public");
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (method, path, access, _) in ROUTES {
        let op = &paths[*path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from the document");
        if let Access::Role(r) = access {
            assert_eq!(op["x-copernic-role"], r.as_str());
        }
        operations += 1;
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, operations);
    // Each documented operation is routed: never the fallback's "no such route" nor a 405.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    // Logging out would end the admin's session: last.
    routes.sort_by_key(|(_, p, _, _)| *p == "/logout");
    for (method, path, _, _) in routes {
        let m: reqwest::Method = method.parse().unwrap();
        let r = server
            .send(
                server
                    .client
                    .request(m, server.url(&concrete(path)))
                    .bearer_auth(&admin)
                    .body("{}"),
            )
            .await;
        assert_ne!(r.status, 405, "{method} {path}");
        if r.status == 404 {
            let msg = r.assert_error(404, "not_found");
            assert!(
                !msg.contains("no such route"),
                "{method} {path} is not routed"
            );
        }
        // One error shape everywhere (an ingest answers per item instead).
        if r.status >= 400 && !(*method == "POST" && *path == "/messages") {
            let j = r.json();
            assert!(
                j["error"]["code"].is_string() && j["error"]["message"].is_string(),
                "{method} {path}: {j}"
            );
        }
    }
}
