//! The care side from the command line: `apply`, `users`, `cases`, `coverage`.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::common::*;

const CONFIG: &str = r#"
[settings]
case_gap = "12h"
backlog = "10000d"

[[teams]]
name = "care"
hours = { utc_offset = "+01:00", mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-18:00" }

[[teams]]
name = "billing"

[[users]]
name = "ana"
role = "agent"
teams = ["care"]
languages = ["fr"]
capacity = 5

[[users]]
name = "bo"
role = "agent"
teams = ["billing"]

[[rules]]
name = "all to care"
team = "care"

[[rules]]
name = "money"
when = "rembours* OR refund*"
team = "billing"
tags = ["money"]

[[slas]]
name = "standard"
first_response = "2h"

[[templates]]
name = "thanks"
body = "Merci {{ customer.first_name }} !"

[[queries]]
name = "refunds"
query = "rembours* OR refund*"
"#;

fn messages() -> String {
    [
        r#"{"id": "1", "text": "Je veux être remboursé", "author_id": "c1", "author_name": "Chloé Martin", "lang": "fr", "created_at": "2026-11-30T10:00:00Z"}"#,
        r#"{"id": "2", "text": "Bonjour, une question", "author_id": "c2", "lang": "fr", "created_at": "2026-11-30T10:05:00Z"}"#,
        r#"{"id": "3", "text": "Voici la réponse", "author_id": "brand", "direction": "outbound", "in_reply_to": "2", "created_at": "2026-11-30T10:35:00Z"}"#,
        r#"{"id": "4", "text": "Merci, et encore une chose", "author_id": "c2", "lang": "fr", "in_reply_to": "3", "created_at": "2026-11-30T11:00:00Z"}"#,
    ]
    .join("\n")
        + "\n"
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn apply_refuses_unknown_keys_with_their_line() {
    let env = Env::new();
    env.file(
        "bad.toml",
        "[[teams]]\nname = \"care\"\n\n[[rules]]\nname = \"r\"\ntaem = \"care\"\n",
    );
    let out = env.run(["apply", "bad.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 6") && err.contains("taem"),
        "{err}"
    );
    // A rule naming a team nobody defined is refused too, and nothing is applied.
    env.file("bad2.toml", "[[rules]]\nname = \"r\"\nteam = \"ghosts\"\n");
    let out = env.run(["apply", "bad2.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ghosts") && err.contains("[[teams]]"), "{err}");
}

#[test]
fn apply_import_cases_and_coverage() {
    let env = Env::new();
    env.file("copernic.toml", CONFIG);
    let out = env.ok(["apply", "copernic.toml", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["teams"].as_u64(),
            report["users"].as_u64(),
            report["rules"].as_u64(),
            report["queries"].as_u64()
        ),
        (Some(2), Some(2), Some(2), Some(1))
    );
    // Applying again changes nothing but is fine (configuration as code is idempotent).
    env.ok(["apply", "copernic.toml"]);

    env.file("msgs.jsonl", messages());
    env.ok([
        "import",
        "msgs.jsonl",
        "--source",
        "shop",
        "--channel",
        "email",
    ]);
    let cases = json_lines(&env.ok(["cases", "--json"]));
    assert_eq!(cases.len(), 2, "{cases:?}");
    let money = cases.iter().find(|c| c["customer"] == "c1").unwrap();
    assert_eq!(money["team"], "billing");
    assert_eq!(money["assignee"], "bo");
    assert_eq!(money["tags"], serde_json::json!(["money"]));
    let question = cases.iter().find(|c| c["customer"] == "c2").unwrap();
    assert_eq!(question["team"], "care");
    assert_eq!(question["assignee"], "ana");
    assert_eq!(question["inbound"], 2);
    // The brand's own reply (outbound, in the thread) counts as the first response; the
    // customer's answer reopened the case.
    assert_eq!(question["first_response_at"], "2026-11-30T10:35:00Z");
    assert_eq!(question["status"], "open");
    // Business hours (+01:00, from 09:00): 10:05Z is 11:05 local, + 2 h.
    assert_eq!(question["first_response_due"], "2026-11-30T12:05:00Z");

    let id = question["id"].as_i64().unwrap().to_string();
    let out = env.ok(["cases", "--id", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Voici la réponse") && text.contains("case.opened"),
        "{text}"
    );

    let cov: Value =
        serde_json::from_slice(&env.ok(["coverage", "--by", "team", "--json"]).stdout).unwrap();
    let rows = cov["rows"].as_array().unwrap();
    let care = rows.iter().find(|r| r["key"] == "care").unwrap();
    // Two inbound messages, the first answered (30 min), the second not yet.
    assert_eq!(
        (care["inbound"].as_u64(), care["answered"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(care["first_response_median_s"], 30 * 60);
    assert_eq!(care["sla_compliance"], 1.0);
    // Billing never answered: its 2 h target passed long ago, though no clock ever ran here.
    let billing = rows.iter().find(|r| r["key"] == "billing").unwrap();
    assert_eq!(billing["answered"], 0);
    assert_eq!(billing["sla_compliance"], 0.0);
    let table = String::from_utf8_lossy(&env.ok(["coverage", "--by", "team"]).stdout).to_string();
    assert!(table.contains("care") && table.contains("30m"), "{table}");
    // Listening queries came with the configuration and matched at import.
    let out = env.ok(["messages", "--query", "refunds", "--json"]);
    assert_eq!(json_lines(&out).len(), 1);
}

#[test]
fn users_are_added_with_hashed_passwords_and_tokens() {
    let env = Env::new();
    env.file("copernic.toml", CONFIG);
    env.ok(["apply", "copernic.toml"]);
    let out = env
        .cmd()
        .args([
            "users",
            "add",
            "zoe",
            "--role",
            "supervisor",
            "--team",
            "care",
            "--team",
            "billing",
            "--language",
            "en",
        ])
        .env("COPERNIC_PASSWORD", "zoe's long password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let users = json_lines(&env.ok(["users", "list", "--json"]));
    let zoe = users.iter().find(|u| u["name"] == "zoe").unwrap();
    assert_eq!(zoe["role"], "supervisor");
    assert_eq!(zoe["teams"], serde_json::json!(["billing", "care"]));
    assert!(
        zoe.get("password_hash").is_none(),
        "hashes are never listed"
    );
    // Unknown team, unknown role: refused with what to do.
    let out = env.run(["users", "add", "x", "--role", "agent", "--team", "nowhere"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("create it first"));
    let out = env.run(["users", "add", "x", "--role", "boss"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("viewer, agent, supervisor, admin"));
    // A hash for copernic.toml, from standard input.
    let mut child = env
        .cmd()
        .args(["users", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("$argon2id$"));
    let token = String::from_utf8_lossy(&env.ok(["users", "token", "zoe"]).stdout)
        .trim()
        .to_string();
    assert!(token.starts_with("cpn_") && token.len() == 68, "{token}");
}
