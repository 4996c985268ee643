//! Listening from the command line: `query check/add/list/remove/test/counts`, `match`, and
//! standing queries matched at import.

use crate::common::*;

const QUERIES: &str = "card\tcarte OR card\n\
refund\trefund* -\"no refund\"\n\
late\tretard NEAR/4 livraison\n\
fr_angry\tlang:fr sentiment:negative\n\
nike_tag\t#nike\n";

fn messages_jsonl() -> String {
    let rows = [
        r#"{"id": "m1", "text": "My card was declined twice", "lang": "en", "sentiment": "neutral"}"#,
        r#"{"id": "m2", "text": "Ma carte ne marche plus, c'est nul", "lang": "fr-FR", "sentiment": "negative"}"#,
        r#"{"id": "m3", "text": "Refunded at last, thanks!", "lang": "en", "sentiment": "neutral"}"#,
        r#"{"id": "m4", "text": "no refund for me?", "lang": "en", "sentiment": "neutral"}"#,
        r#"{"id": "m5", "text": "Livraison en retard de trois jours", "lang": "fr", "sentiment": "neutral"}"#,
        r#"{"id": "m6", "text": "retard énorme sur la livraison", "lang": "fr", "sentiment": "negative"}"#,
        r#"{"id": "m7", "text": "love my new shoes #Nike", "lang": "en", "sentiment": "neutral"}"#,
        r#"{"id": "m8", "text": "nike shoes are great", "lang": "en", "sentiment": "neutral"}"#,
    ];
    rows.join("\n") + "\n"
}

/// What each message of `messages_jsonl` matches, by the semantics in docs/query-language.md.
const EXPECTED: [(&str, &[&str]); 8] = [
    ("m1", &["card"]),
    ("m2", &["card", "fr_angry"]),
    ("m3", &["refund"]),
    ("m4", &[]),
    ("m5", &["late"]),
    ("m6", &["fr_angry", "late"]),
    ("m7", &["nike_tag"]),
    ("m8", &[]),
];

#[test]
fn match_answers_one_object_per_message_in_input_order() {
    let env = Env::new();
    let q = env.file("q.tsv", QUERIES);
    let m = env.file("m.jsonl", messages_jsonl());
    for engine in [&[][..], &["--naive"][..]] {
        let mut args = vec!["match", "--queries", &q, "--messages", &m, "--json"];
        args.extend_from_slice(engine);
        let out = parse_lines(&env.ok(&args).stdout);
        assert_eq!(out.len(), EXPECTED.len());
        for (o, (id, want)) in out.iter().zip(EXPECTED) {
            assert_eq!(o["id"], *id, "{o}");
            let got: Vec<&str> = o["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "message {id} with {engine:?}");
        }
    }
}

#[test]
fn match_reports_bad_queries_and_lines_and_goes_on() {
    let env = Env::new();
    let q = env.file("q.tsv", "ok\tcard\nbroken\tcard OR\nno tab here\n");
    let m = env.file(
        "m.jsonl",
        "{\"id\": 1, \"text\": \"card\"}\nnot json\n{\"id\": 2, \"text\": \"nothing\"}\n",
    );
    let out = env.ok(["match", "--queries", &q, "--messages", &m, "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("q.tsv: line 2 (query broken): column 8: expected a term after OR"),
        "{stderr}"
    );
    assert!(
        stderr.contains("q.tsv: line 3: expected ID<TAB>QUERY"),
        "{stderr}"
    );
    assert!(stderr.contains("m.jsonl: line 2"), "{stderr}");
    let lines = parse_lines(&out.stdout);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["matches"], serde_json::json!(["ok"]));
    assert!(lines[1]["error"].as_str().unwrap().contains("line 2"));
    assert_eq!(lines[2]["matches"], serde_json::json!([]));
}

#[test]
fn query_check_prints_the_normal_form_or_the_column() {
    let env = Env::new();
    let out = env.ok(["query", "check", "Nike  (Air OR \"AIR max\") -fake"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nike AND (air OR \"air max\") AND NOT fake"
    );
    let out = env.run(["query", "check", "nike OR"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("column 8: expected a term after OR, found the end of the query"),
        "{err}"
    );
    assert!(err.contains("         ^"), "a caret under column 8: {err}");
    let out = env.run(["query", "check", "-refund", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = parse_one(&out.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["column"], 1);
    assert!(v["error"].as_str().unwrap().contains("only of negations"));
}

#[test]
fn standing_queries_match_at_import_and_back_tests_agree() {
    let env = Env::new();
    for line in QUERIES.lines() {
        let (name, query) = line.split_once('\t').unwrap();
        env.ok(["query", "add", name, query]);
    }
    // A query that does not parse is refused before it reaches the store.
    let out = env.run(["query", "add", "bad", "(card"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("column 6: expected ) to close"));

    let m = env.file("m.jsonl", messages_jsonl());
    env.import(&[&m]);
    let listed = parse_lines(&env.ok(["query", "list", "--json"]).stdout);
    let count = |name: &str| {
        listed.iter().find(|q| q["name"] == name).unwrap()["matches"]
            .as_u64()
            .unwrap()
    };
    for (name, _) in QUERIES.lines().map(|l| l.split_once('\t').unwrap()) {
        let want = EXPECTED.iter().filter(|(_, q)| q.contains(&name)).count() as u64;
        assert_eq!(count(name), want, "stored matches of {name}");
        // The back-test (index candidates, then exact verification) agrees with the percolator.
        let query = QUERIES
            .lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .unwrap();
        let t = parse_one(
            &env.ok(["query", "test", query.split_once('\t').unwrap().1, "--json"])
                .stdout,
        );
        assert_eq!(t["count"].as_u64(), Some(want), "back-test of {name}: {t}");
    }
    // Messages of one query.
    let late: Vec<String> = env
        .messages(&["--query", "late"])
        .iter()
        .map(|m| m["external_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(late.len(), 2);
    assert!(late.contains(&"m5".to_string()) && late.contains(&"m6".to_string()));
    // Counts per day.
    let counts = parse_one(&env.ok(["query", "counts", "card", "--json"]).stdout);
    let total: u64 = counts["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2);

    // Changing a query's words forgets its matches; removing it removes it.
    env.ok(["query", "add", "card", "visa"]);
    let listed = parse_lines(&env.ok(["query", "list", "--json"]).stdout);
    assert_eq!(
        listed.iter().find(|q| q["name"] == "card").unwrap()["matches"],
        0
    );
    env.ok(["query", "remove", "card"]);
    assert!(!env.run(["query", "remove", "card"]).status.success());
    let names: Vec<String> = parse_lines(&env.ok(["query", "list", "--json"]).stdout)
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["fr_angry", "late", "nike_tag", "refund"]);
}

#[test]
fn back_test_since_and_scan_without_the_index() {
    let env = Env::new();
    let m = env.file(
        "m.jsonl",
        "{\"id\": \"old\", \"text\": \"colis perdu\", \"lang\": \"fr\", \"created_at\": \"2020-01-01T00:00:00Z\"}\n\
         {\"id\": \"new\", \"text\": \"colis perdu encore\", \"lang\": \"fr\", \"created_at\": \"2026-11-20T00:00:00Z\"}\n\
         {\"id\": \"en\", \"text\": \"parcel lost\", \"lang\": \"en\", \"created_at\": \"2026-11-20T00:00:00Z\"}\n",
    );
    env.import(&[&m]);
    let t = parse_one(&env.ok(["query", "test", "colis", "--json"]).stdout);
    assert_eq!(
        (t["count"].as_u64(), t["used_index"].as_bool()),
        (Some(2), Some(true))
    );
    let t = parse_one(
        &env.ok(["query", "test", "colis", "--since", "2026-01-01", "--json"])
            .stdout,
    );
    assert_eq!(t["count"], 1);
    assert_eq!(t["sample"][0]["external_id"], "new");
    // Fields are indexed too.
    let t = parse_one(&env.ok(["query", "test", "lang:fr", "--json"]).stdout);
    assert_eq!(
        (t["count"].as_u64(), t["used_index"].as_bool()),
        (Some(2), Some(true))
    );
    // A double negation cannot use the index: every message is scanned and verified.
    let t = parse_one(
        &env.ok(["query", "test", "NOT NOT lang:fr", "--json"])
            .stdout,
    );
    assert_eq!(
        (t["count"].as_u64(), t["used_index"].as_bool()),
        (Some(2), Some(false))
    );
    let t = parse_one(&env.ok(["query", "test", "lan*", "--json"]).stdout);
    assert_eq!(t["count"], 0, "a word prefix never finds field terms: {t}");
    let out = env.run(["query", "test", "colis", "--since", "soon"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a duration"));
}

#[test]
fn a_query_added_after_the_import_back_fills_the_history() {
    let env = Env::new();
    let m = env.file("m.jsonl", messages_jsonl());
    env.import(&[&m]);
    let added = parse_one(
        &env.ok(["query", "add", "card", "carte OR card", "--json"])
            .stdout,
    );
    assert_eq!(added["backfilled"], 2);
    assert_eq!(added["query"]["matches"], 2);
    // A phrase and a NEAR are verified, not only looked up.
    let added = parse_one(
        &env.ok(["query", "add", "late", "retard NEAR/4 livraison", "--json"])
            .stdout,
    );
    assert_eq!(added["backfilled"], 2);
    env.ok(["query", "add", "quiet", "carte", "--no-backfill"]);
    let listed = parse_lines(&env.ok(["query", "list", "--json"]).stdout);
    let count = |name: &str| listed.iter().find(|q| q["name"] == name).unwrap()["matches"].clone();
    assert_eq!(
        (count("card"), count("late"), count("quiet")),
        (2.into(), 2.into(), 0.into())
    );
    // Importing again (replays) adds nothing twice.
    env.import(&[&m]);
    let listed = parse_lines(&env.ok(["query", "list", "--json"]).stdout);
    assert_eq!(
        listed.iter().find(|q| q["name"] == "card").unwrap()["matches"],
        2
    );
    assert_eq!(env.messages(&["--query", "late"]).len(), 2);
}
