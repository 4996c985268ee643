//! The behaviour every [`Store`] back end must have. Each back end's tests call [`run_all`] on a
//! fresh, empty store.

use chrono::{Duration, TimeZone, Utc};
use copernic_core::{Ingested, Message, MessageId, Position, Reject};

use crate::{FeedState, MessageQuery, RejectQuery, Store, WriteBatch, WriteOutcome};

fn msg(source: &str, ext: &str, text: &str, minute: i64) -> Ingested {
    let mut m = Message::new(source, ext, "test", text.to_string());
    m.created_at = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minute);
    m.author.handle = Some(format!("@user{minute}"));
    m.raw = format!("{{\"text\":{text:?}}}").into_bytes();
    Ingested {
        message: m,
        fingerprint: minute as u64,
        wave: None,
        matches: Vec::new(),
        words: None,
    }
}

fn write(store: &dyn Store, messages: &[Ingested]) -> Vec<WriteOutcome> {
    let messages: Vec<&Ingested> = messages.iter().collect();
    store
        .write(&WriteBatch {
            messages: &messages,
            ..WriteBatch::default()
        })
        .expect("write")
}

/// Runs every check, panicking with the name of the first that fails.
pub fn run_all(store: &dyn Store) {
    replay_is_a_duplicate(store);
    search_folds_case_and_accents(store);
    search_survives_many_small_writes(store);
    threads_resolve_from_parent(store);
    rejects_are_kept_once_per_position(store);
    waves_group_near_duplicates(store);
    filters_and_paging(store);
    feed_state_round_trips(store);
    labels_round_trip(store);
    labels_filter_and_corrections_are_logged(store);
    standing_queries_keep_their_matches(store);
    plans_find_candidates(store);
    tail_after_a_cursor(store);
    fingerprints_are_upgraded_once_per_version(store);
}

/// A new fingerprint version makes every stored fingerprint again from its text, once.
pub fn fingerprints_are_upgraded_once_per_version(store: &dyn Store) {
    write(
        store,
        &[msg("upgrade", "1", "fingerprinted by an older version", 1)],
    );
    let stored = store.stats(None).expect("stats").messages;
    let f = |text: &str| text.len() as u64 * 7 + 1;
    assert_eq!(store.upgrade_fingerprints(2, &f).expect("upgrade"), stored);
    assert_eq!(store.upgrade_fingerprints(2, &|_| 0).expect("again"), 0);
    let texts: std::collections::HashMap<MessageId, String> = store
        .messages(&MessageQuery {
            limit: stored as usize + 1,
            ..MessageQuery::default()
        })
        .expect("messages")
        .into_iter()
        .map(|m| (m.ingested.message.id, m.ingested.message.text))
        .collect();
    let recent = store.recent_fingerprints(stored as usize).expect("recent");
    assert_eq!(recent.len() as u64, stored);
    for r in &recent {
        assert_eq!(r.fingerprint, f(&texts[&r.id]));
    }
    // Another version: every message again.
    assert_eq!(
        store.upgrade_fingerprints(3, &|_| 5).expect("upgrade"),
        stored
    );
    assert!(store
        .recent_fingerprints(1)
        .expect("recent")
        .iter()
        .all(|r| r.fingerprint == 5));
}

/// Followers tail the store in order from a cursor and see each message's query matches.
pub fn tail_after_a_cursor(store: &dyn Store) {
    let ws = copernic_core::DEFAULT_WORKSPACE;
    store.put_query(ws, "q-tail", "queue").unwrap();
    let start = store
        .messages_after(0, usize::MAX >> 1)
        .unwrap()
        .last()
        .map_or(0, |m| m.seq);
    let mut a = msg("tail", "1", "une queue", 0);
    a.matches = vec!["q-tail".into()];
    let b = msg("tail", "2", "rien", 1);
    let c = msg("tail", "3", "encore rien", 2);
    write(store, &[a.clone(), b.clone(), c.clone()]);
    let first = store.messages_after(start, 2).unwrap();
    assert_eq!(
        first
            .iter()
            .map(|m| m.ingested.message.id)
            .collect::<Vec<_>>(),
        [a.message.id, b.message.id]
    );
    assert_eq!(first[0].ingested.matches, ["q-tail"]);
    assert!(first[1].ingested.matches.is_empty());
    let rest = store.messages_after(first[1].seq, 10).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].ingested.message.id, c.message.id);
    assert!(store.messages_after(rest[0].seq, 10).unwrap().is_empty());
    store.remove_query(ws, "q-tail").unwrap();
}

/// Sentiment, intent and topics come back as written.
pub fn labels_round_trip(store: &dyn Store) {
    let mut a = msg("labels", "1", "livraison en retard", 0);
    a.message.labels.sentiment = Some("negative".into());
    a.message.labels.topics = vec!["late delivery".into(), "refund".into()];
    write(store, std::slice::from_ref(&a));
    let got = store.message(a.message.id).unwrap().unwrap();
    assert_eq!(got.ingested.message.labels, a.message.labels);
}

/// Messages filter by label and urgency; a correction changes the label and is logged with the
/// text it was made on.
pub fn labels_filter_and_corrections_are_logged(store: &dyn Store) {
    let mut a = msg("corr", "1", "colis jamais arrivé", 0);
    a.message.labels.sentiment = Some("positive".into());
    a.message.labels.urgency = Some(0.7);
    a.message.labels.topics = vec!["delivery".into()];
    let mut b = msg("corr", "2", "merci", 1);
    b.message.labels.sentiment = Some("positive".into());
    b.message.labels.urgency = Some(0.1);
    write(store, &[a.clone(), b.clone()]);
    let count = |labels: Vec<(&str, &str)>, min_urgency: Option<f32>| {
        store
            .messages(&MessageQuery {
                source: Some("corr".into()),
                labels: labels
                    .into_iter()
                    .map(|(t, l)| (t.to_string(), l.to_string()))
                    .collect(),
                min_urgency,
                ..MessageQuery::default()
            })
            .unwrap()
            .len()
    };
    assert_eq!(count(vec![("sentiment", "positive")], None), 2);
    assert_eq!(count(vec![("topic", "delivery")], None), 1);
    assert_eq!(count(vec![], Some(0.5)), 1);
    let c = store
        .correct_label(a.message.id, "sentiment", "negative")
        .unwrap()
        .unwrap();
    assert_eq!(c.previous.as_deref(), Some("positive"));
    assert_eq!(c.text, "colis jamais arrivé");
    assert_eq!(count(vec![("sentiment", "negative")], None), 1);
    assert_eq!(count(vec![("sentiment", "positive")], None), 1);
    let log = store.corrections().unwrap();
    assert_eq!(
        log.last().map(|c| (c.task.as_str(), c.label.as_str())),
        Some(("sentiment", "negative"))
    );
    assert!(store
        .correct_label(MessageId([9; 16]), "sentiment", "x")
        .unwrap()
        .is_none());
    assert!(store.correct_label(a.message.id, "colour", "x").is_err());
    assert!(store
        .messages(&MessageQuery {
            labels: vec![("colour".into(), "x".into())],
            ..MessageQuery::default()
        })
        .is_err());
}

/// Queries are stored by name; a message's matches are written with it, counted, listed and
/// forgotten when the query's words change or it is removed.
pub fn standing_queries_keep_their_matches(store: &dyn Store) {
    let ws = copernic_core::DEFAULT_WORKSPACE;
    store.put_query(ws, "q-late", "retard").unwrap();
    let mut a = msg("queries", "1", "colis en retard", 0);
    a.matches = vec!["q-late".into(), "q-gone".into()];
    let mut b = msg("queries", "2", "encore en retard", 60 * 24);
    b.matches = vec!["q-late".into()];
    write(store, &[a.clone(), b.clone()]);
    // A replay writes no second match.
    write(store, std::slice::from_ref(&a));
    let queries = store.queries(Some(ws)).unwrap();
    let late = queries.iter().find(|q| q.name == "q-late").unwrap();
    assert_eq!((late.query.as_str(), late.matches), ("retard", 2));
    let days = store.query_counts(ws, "q-late", None).unwrap();
    assert_eq!(days.iter().map(|d| d.count).collect::<Vec<_>>(), [1, 1]);
    let since = a.message.created_at + Duration::hours(1);
    assert_eq!(
        store.query_counts(ws, "q-late", Some(since)).unwrap().len(),
        1
    );
    let found = store
        .messages(&MessageQuery {
            query: Some("q-late".into()),
            ..MessageQuery::default()
        })
        .unwrap();
    assert_eq!(found.len(), 2);
    // A back-fill adds what is not there yet, and nothing for unknown numbers or queries.
    let seq_b = store.message(b.message.id).unwrap().unwrap().seq;
    store.put_query(ws, "q-other", "ailleurs").unwrap();
    assert_eq!(
        store
            .add_query_matches(ws, "q-other", &[seq_b, 999_999_999])
            .unwrap(),
        1
    );
    assert_eq!(store.add_query_matches(ws, "q-other", &[seq_b]).unwrap(), 0);
    assert_eq!(store.add_query_matches(ws, "nope", &[seq_b]).unwrap(), 0);
    assert_eq!(
        store
            .queries(Some(ws))
            .unwrap()
            .iter()
            .find(|q| q.name == "q-other")
            .unwrap()
            .matches,
        1
    );
    // Same words: matches kept. New words: forgotten.
    assert_eq!(store.put_query(ws, "q-late", "retard").unwrap().matches, 2);
    assert_eq!(store.put_query(ws, "q-late", "delay").unwrap().matches, 0);
    assert!(store.remove_query(ws, "q-late").unwrap());
    assert!(!store.remove_query(ws, "q-late").unwrap());
    assert!(store.remove_query(ws, "q-other").unwrap());
    assert!(store.queries(Some(ws)).unwrap().is_empty());
}

/// The index answers boolean plans with a superset of what matches, and messages come back by
/// number in the order asked.
pub fn plans_find_candidates(store: &dyn Store) {
    use crate::search::Plan;
    let a = msg("plans", "1", "Le zèbre mange", 0);
    let b = msg("plans", "2", "le zébu dort", 1);
    let c = msg("plans", "3", "un cheval", 2);
    write(store, &[a.clone(), b.clone(), c.clone()]);
    store.flush().unwrap();
    let seqs = |p: &Plan| store.candidates(p).unwrap();
    let term = |t: &str| Plan::Term(t.into());
    let of = |ids: &[&Ingested]| -> Vec<i64> {
        let mut v: Vec<i64> = ids
            .iter()
            .map(|i| store.message(i.message.id).unwrap().unwrap().seq)
            .collect();
        v.sort();
        v
    };
    assert_eq!(seqs(&term("zebre")), Some(of(&[&a])));
    assert_eq!(seqs(&Plan::Prefix("zeb".into())), Some(of(&[&a, &b])));
    assert_eq!(
        seqs(&Plan::Or(vec![term("cheval"), term("dort")])),
        Some(of(&[&b, &c]))
    );
    assert_eq!(
        seqs(&Plan::And(vec![Plan::Prefix("zeb".into()), term("mange")])),
        Some(of(&[&a]))
    );
    assert_eq!(seqs(&Plan::Or(vec![term("cheval"), Plan::All])), None);
    assert_eq!(seqs(&Plan::All), None);
    let order = of(&[&a, &c]);
    let back = store
        .messages_by_seq(&[order[1], order[0], 999_999_999])
        .unwrap();
    let texts: Vec<&str> = back
        .iter()
        .map(|m| m.ingested.message.text.as_str())
        .collect();
    assert_eq!(texts, ["un cheval", "Le zèbre mange"]);
}

/// The same (source, external id) twice is stored once; the second write says duplicate.
pub fn replay_is_a_duplicate(store: &dyn Store) {
    let a = msg("replay", "1", "bonjour", 0);
    assert_eq!(
        write(store, std::slice::from_ref(&a)),
        vec![WriteOutcome::Inserted]
    );
    assert_eq!(
        write(store, &[a.clone(), a.clone()]),
        vec![WriteOutcome::Duplicate; 2]
    );
    let got = store.message(a.message.id).unwrap().expect("stored");
    assert_eq!(got.ingested.message.text, "bonjour");
    assert_eq!(
        store.message_raw(a.message.id).unwrap().unwrap(),
        a.message.raw
    );
    let q = MessageQuery {
        source: Some("replay".into()),
        ..Default::default()
    };
    assert_eq!(store.messages(&q).unwrap().len(), 1);
}

/// Full-text search ignores case and accents, in French and English, and takes prefixes.
pub fn search_folds_case_and_accents(store: &dyn Store) {
    write(
        store,
        &[
            msg("fts", "1", "Le café était très FROID ce matin", 1),
            msg("fts", "2", "My refund never arrived", 2),
            msg("fts", "3", "Remboursement reçu, merci !", 3),
        ],
    );
    let search = |s: &str| {
        let q = MessageQuery {
            search: Some(s.into()),
            source: Some("fts".into()),
            ..Default::default()
        };
        let mut ext: Vec<String> = store
            .messages(&q)
            .unwrap()
            .into_iter()
            .map(|m| m.ingested.message.external_id)
            .collect();
        ext.sort();
        ext
    };
    assert_eq!(search("cafe froid"), vec!["1"]);
    assert_eq!(search("CAFÉ"), vec!["1"]);
    assert_eq!(search("refund"), vec!["2"]);
    assert_eq!(search("rembours*"), vec!["3"]);
    assert_eq!(search("recu"), vec!["3"]);
    assert_eq!(search("\"tres froid\""), vec!["1"]);
    assert!(search("absent").is_empty());
    assert!(search("AND OR NOT ( :").is_empty());
}

/// Many one-message writes (the HTTP path) stay searchable as the index merges them.
pub fn search_survives_many_small_writes(store: &dyn Store) {
    for i in 0..70 {
        let word = if i % 7 == 0 { "septième" } else { "autre" };
        write(
            store,
            &[msg(
                "small",
                &i.to_string(),
                &format!("message numéro {i} {word}"),
                i,
            )],
        );
    }
    let q = |s: &str| MessageQuery {
        search: Some(s.into()),
        source: Some("small".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.messages(&q("septieme")).unwrap().len(), 10);
    assert_eq!(store.messages(&q("numero")).unwrap().len(), 70);
    assert_eq!(
        store.messages(&q("\"numero 63 septieme\"")).unwrap().len(),
        1
    );
    let paged = store
        .messages(&MessageQuery {
            limit: 5,
            ..q("autre")
        })
        .unwrap();
    assert_eq!(paged.len(), 5);
    assert_eq!(paged[0].ingested.message.external_id, "69");
}

/// A reply without a known root joins its parent's thread.
pub fn threads_resolve_from_parent(store: &dyn Store) {
    let root = msg("thr", "root", "question", 0);
    let mut reply = msg("thr", "reply", "answer", 1);
    reply.message.in_reply_to = Some(MessageId::derive("thr", "root"));
    let mut reply2 = msg("thr", "reply2", "thanks", 2);
    reply2.message.in_reply_to = Some(MessageId::derive("thr", "reply"));
    // A reply to a message never seen starts a thread named after that parent.
    let mut orphan = msg("thr", "orphan", "re: lost", 3);
    let ghost = MessageId::derive("thr", "ghost");
    orphan.message.in_reply_to = Some(ghost);
    write(store, &[root.clone(), reply, reply2, orphan]);
    let q = MessageQuery {
        thread: Some(root.message.id),
        ..Default::default()
    };
    assert_eq!(store.messages(&q).unwrap().len(), 3);
    let q = MessageQuery {
        thread: Some(ghost),
        ..Default::default()
    };
    let got = store.messages(&q).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].ingested.message.external_id, "orphan");
}

/// A reject is kept with its reason and bytes; the same position replayed replaces it.
pub fn rejects_are_kept_once_per_position(store: &dyn Store) {
    let r = Reject::new(
        "bad",
        Position::new("x.jsonl").line(3).byte(40),
        "not JSON",
        b"{oops",
    )
    .field("text");
    for _ in 0..2 {
        store
            .write(&WriteBatch {
                rejects: &[&r],
                ..Default::default()
            })
            .unwrap();
    }
    let got = store
        .rejects(&RejectQuery {
            source: Some("bad".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].reject.reason, "not JSON");
    assert_eq!(got[0].reject.field.as_deref(), Some("text"));
    assert_eq!(got[0].reject.position, r.position);
    assert_eq!(store.reject_raw(got[0].seq).unwrap().unwrap(), b"{oops");
}

/// Messages written with a wave, and the wave's head, are listed as one wave.
pub fn waves_group_near_duplicates(store: &dyn Store) {
    let head = msg("wave", "0", "Boycott brand X now", 0);
    let mut members: Vec<Ingested> = (1..5)
        .map(|i| {
            let mut m = msg("wave", &i.to_string(), "Boycott brand X now!", i);
            m.wave = Some(head.message.id);
            m
        })
        .collect();
    members.insert(0, head.clone());
    store
        .write(&WriteBatch {
            messages: &members.iter().collect::<Vec<_>>(),
            wave_heads: &[head.message.id],
            ..Default::default()
        })
        .unwrap();
    let waves = store.waves(None, 10).unwrap();
    let w = waves
        .iter()
        .find(|w| w.head == head.message.id)
        .expect("wave listed");
    assert_eq!(w.size, 5);
    assert_eq!(w.distinct_authors, 5);
    assert_eq!(w.sample, "Boycott brand X now");
    let q = MessageQuery {
        wave: Some(head.message.id),
        ..Default::default()
    };
    assert_eq!(store.messages(&q).unwrap().len(), 5);
    let fps = store.recent_fingerprints(3).unwrap();
    assert_eq!(fps.len(), 3);
    assert_eq!(fps.last().unwrap().id, members.last().unwrap().message.id);
    let stats = store.stats(None).unwrap();
    assert!(stats.waves >= 1 && stats.messages_in_waves >= 5);
}

/// Channel, author, time and paging filters combine.
pub fn filters_and_paging(store: &dyn Store) {
    let batch: Vec<Ingested> = (0..10)
        .map(|i| msg("page", &i.to_string(), "page test", i))
        .collect();
    write(store, &batch);
    let base = MessageQuery {
        source: Some("page".into()),
        limit: 4,
        ..Default::default()
    };
    let first = store.messages(&base).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].ingested.message.external_id, "9");
    let next = store
        .messages(&MessageQuery {
            before_seq: Some(first[3].seq),
            ..base.clone()
        })
        .unwrap();
    assert_eq!(next[0].ingested.message.external_id, "5");
    let by_author = MessageQuery {
        author: Some("user3".into()),
        ..base.clone()
    };
    assert_eq!(store.messages(&by_author).unwrap().len(), 1);
    let since = batch[8].message.created_at;
    let recent = MessageQuery {
        since: Some(since),
        ..base.clone()
    };
    assert_eq!(store.messages(&recent).unwrap().len(), 2);
}

/// Conditional-request state of a feed is kept.
pub fn feed_state_round_trips(store: &dyn Store) {
    assert_eq!(store.feed_state("http://x/feed").unwrap(), None);
    let s = FeedState {
        etag: Some("\"abc\"".into()),
        last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        checked_at: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
    };
    store.set_feed_state("http://x/feed", &s).unwrap();
    assert_eq!(store.feed_state("http://x/feed").unwrap(), Some(s));
}
