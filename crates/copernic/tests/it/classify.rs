//! `copernic train`, `eval` and `classify`, as a new user runs them: train a model from a CSV of
//! labelled messages, evaluate it, classify a stream.

use crate::common::*;

/// A labelled CSV from the demo sample's real texts: the label is each text's language, which a
/// model can learn and a test can check. (Not an evaluation of anything shipped.)
fn labelled_csv(env: &Env) -> String {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/messages.jsonl"))
            .unwrap();
    let mut w = String::new();
    w.push_str("text,label\n");
    for line in sample.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap().replace('"', "\"\"");
        w.push_str(&format!("\"{text}\",{}\n", v["lang"].as_str().unwrap()));
    }
    env.file("labelled.csv", w)
}

#[test]
fn train_then_eval_then_classify_a_stream() {
    let env = Env::new();
    let data = labelled_csv(&env);
    let out = env.ok([
        "train",
        "--data",
        &data,
        "--out",
        "lang.cpnm",
        "--bits",
        "16",
        "--json",
    ]);
    let t = parse_one(&out.stdout);
    assert!(t["accuracy"].as_f64().unwrap() > 0.95, "{t}");
    assert!(t["macro_f1"].as_f64().unwrap() > 0.95, "{t}");
    assert!(
        t["test_rows"].as_u64().unwrap() >= 150,
        "a held-out split: {t}"
    );

    let e = parse_one(
        &env.ok(["eval", "--model", "lang.cpnm", "--data", &data, "--json"])
            .stdout,
    );
    assert!(e["accuracy"].as_f64().unwrap() > 0.95, "{e}");
    assert_eq!(e["labels"], serde_json::json!(["en", "fr"]));
    assert_eq!(e["confusion"].as_array().unwrap().len(), 2);
    assert!(e["per_class"][0]["f1"].is_number());

    let one = parse_one(
        &env.ok([
            "classify",
            "--model",
            "lang.cpnm",
            "--text",
            "Je voudrais être remboursé de ma commande",
        ])
        .stdout,
    );
    assert_eq!(one["label"], "fr", "{one}");
    assert!(one["scores"]["fr"].as_f64().unwrap() > 0.5);

    let mut child = env
        .cmd()
        .args(["classify", "--model", "lang.cpnm"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "Where is my parcel? It was due yesterday").unwrap();
        writeln!(stdin, "Merci pour votre aide, tout est réglé").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let lines = parse_lines(&out.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["label"].as_str(), lines[1]["label"].as_str()),
        (Some("en"), Some("fr"))
    );
}

#[test]
fn the_shipped_models_answer_without_a_model_file() {
    let env = Env::new();
    let r = parse_one(
        &env.ok([
            "classify",
            "--text",
            "Mon colis n'est jamais arrivé, c'est inadmissible. Ma carte 4111 1111 1111 1111 a été débitée deux fois",
        ])
        .stdout,
    );
    assert_eq!(r["lang"], "fr", "{r}");
    assert_eq!(r["sentiment"]["label"], "negative", "{r}");
    assert_eq!(r["sentiment"]["source"], "model:sentiment-fr");
    assert_eq!(r["intent"]["label"], "complaint", "{r}");
    assert_eq!(r["pii"][0]["kind"], "card", "{r}");
    assert!(r["urgency"].as_f64().unwrap() > 0.3, "{r}");
}

#[test]
fn bad_inputs_say_what_to_do() {
    let env = Env::new();
    let data = env.file("d.csv", "body,cat\nhello,a\n,b\nworld,\nfoo,b\nbar,a\n");
    let out = env.run(["train", "--data", &data, "--out", "m.cpnm"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no column \"text\"") && err.contains("\"body\""),
        "{err}"
    );
    let out = env.ok([
        "train",
        "--data",
        &data,
        "--text-col",
        "body",
        "--label-col",
        "cat",
        "--out",
        "m.cpnm",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: no text") && err.contains("line 4: no label"),
        "{err}"
    );
    env.file("broken.cpnm", b"CPNMODEL garbage");
    let out = env.run(["classify", "--model", "broken.cpnm", "--text", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable model"));
}

#[test]
fn imported_messages_are_classified_and_filterable() {
    let env = Env::new();
    let m = env.file(
        "m.jsonl",
        "{\"id\": \"1\", \"text\": \"Service client nul, colis jamais arrivé, je suis furieux\"}\n\
         {\"id\": \"2\", \"text\": \"How do I change my PIN?\"}\n\
         {\"id\": \"3\", \"text\": \"write to jane.doe@example.com\"}\n",
    );
    env.import(&[&m]);
    let neg = env.messages(&["--label", "sentiment=negative"]);
    assert_eq!(neg.len(), 1, "{neg:?}");
    assert_eq!(neg[0]["external_id"], "1");
    assert_eq!(neg[0]["lang"], "fr");
    let q = env.messages(&["--label", "intent=question"]);
    assert!(q.iter().any(|m| m["external_id"] == "2"), "{q:?}");
    let pii = env.messages(&["--label", "pii=email"]);
    assert_eq!(pii.len(), 1);
    let out = env.run(["messages", "--label", "mood"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("TASK=VALUE"));
}

#[test]
fn personal_data_is_redacted_at_ingest_when_asked() {
    let env = Env::new();
    let m = env.file(
        "m.jsonl",
        "{\"id\": \"1\", \"text\": \"ma carte 4111 1111 1111 1111, mail jean@ex.fr\"}\n",
    );
    env.import(&[&m, "--redact-pii"]);
    let got = env.messages(&[]);
    assert_eq!(got[0]["text"], "ma carte [card], mail [email]");
    assert_eq!(
        got[0]["labels"]["pii"],
        serde_json::json!(["card", "email"])
    );
    // The payload kept as received is the redacted text too.
    let raw = std::fs::read(env.data().join("raw.log")).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        !raw.contains("4111") && !raw.contains("jean@ex.fr"),
        "{raw}"
    );
}

#[test]
fn a_topic_model_labels_what_is_imported() {
    let env = Env::new();
    // Several labels per row: the language, and whether the text is a long one.
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/messages.jsonl"))
            .unwrap();
    let mut csv = String::from("text,topics\n");
    for line in sample.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let size = if text.split_whitespace().count() > 40 {
            "long"
        } else {
            "short"
        };
        csv.push_str(&format!(
            "\"{}\",{};{size}\n",
            text.replace('"', "\"\""),
            v["lang"].as_str().unwrap()
        ));
    }
    let data = env.file("topics.csv", csv);
    let t = parse_one(
        &env.ok([
            "train",
            "--data",
            &data,
            "--label-col",
            "topics",
            "--out",
            "topics.cpnm",
            "--bits",
            "16",
            "--json",
        ])
        .stdout,
    );
    assert_eq!(t["multilabel"], true, "{t}");
    assert!(t["macro_f1"].as_f64().unwrap() > 0.8, "{t}");
    let m = env.file(
        "m.jsonl",
        "{\"id\": \"1\", \"text\": \"Bonjour, ma commande est arrivée cassée\"}\n",
    );
    env.import(&[&m, "--topics-model", "topics.cpnm"]);
    let got = env.messages(&["--label", "topic=fr"]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["labels"]["topics"]
        .as_array()
        .unwrap()
        .contains(&"short".into()));
}
