//! When `copernic import` succeeds and when it fails.

use crate::common::*;

#[test]
fn a_missing_file_alone_fails_and_says_what_to_do() {
    let env = Env::new();
    let out = env.run(["import", "missing.jsonl"]);
    assert!(!out.status.success(), "importing nothing must fail");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error:"), "{err}");
    assert!(err.contains("Check the paths"), "{err}");
    // The text report on stdout names the file and why it could not be read.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("missing.jsonl") && text.contains("cannot open"),
        "{text}"
    );

    // The same with --json: the reason is in files[].error, the advice on stderr.
    let out = env.run(["import", "missing.jsonl", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let s = parse_one(&out.stdout);
    assert_eq!(counts(&s), (0, 0, 0, 0));
    let error = str_of(&s["files"][0], "error");
    assert!(error.contains("cannot open missing.jsonl"), "{error}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Check the paths"));
}

#[test]
fn a_file_of_bad_lines_succeeds_with_every_line_rejected() {
    let env = Env::new();
    let f = env.file(
        "bad.jsonl",
        "{\"id\":1,\"text\":\n[\"not\",\"an\",\"object\"]\n{\"id\":3,\"body\":null}\nnot json at all\n",
    );
    let out = env.run(["import", f.as_str(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "something was read, so the import succeeded: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = parse_one(&out.stdout);
    assert_eq!(counts(&s), (4, 0, 0, 4), "{s}");
    assert_eq!(env.rejects(&[]).len(), 4);
    assert_eq!(u(&env.stats(), "messages"), 0);

    // The text report says where the refused records went.
    let out = env.ok(["import", f.as_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rejected 4"), "{text}");
    assert!(text.contains("copernic rejects"), "{text}");
}

#[test]
fn one_good_file_and_one_missing_file_succeeds_and_names_the_missing_one() {
    let env = Env::new();
    let good = env.file(
        "good.jsonl",
        "{\"id\":\"g1\",\"text\":\"Le colis est bien arrivé\"}\n{\"id\":\"g2\",\"text\":\"Merci beaucoup\"}\n",
    );
    let out = env.run(["import", good.as_str(), "gone.csv", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = parse_one(&out.stdout);
    assert_eq!(counts(&s), (2, 2, 0, 0), "{s}");
    let files = s["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], "good.jsonl");
    assert!(files[0].get("error").is_none(), "{}", files[0]);
    assert_eq!(files[1]["path"], "gone.csv");
    let error = str_of(&files[1], "error");
    assert!(error.contains("cannot open gone.csv"), "{error}");
    assert_eq!(u(&env.stats(), "messages"), 2);
}

#[test]
fn a_bad_mapping_is_refused_before_anything_is_read() {
    let env = Env::new();
    let f = env.file("a.csv", "id;body\n1;bonjour\n");
    let out = env.run(["import", f.as_str(), "--map", "texte=body"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"texte\""), "{err}");
    assert!(err.contains("mappable fields are"), "{err}");
}
