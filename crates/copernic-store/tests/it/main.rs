//! The store's integration tests: the conformance suite on a real SQLite file.

use copernic_store::{conformance, SqliteStore, Store};

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    conformance::run_all(&store);
}

#[test]
fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        conformance::replay_is_a_duplicate(&store);
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.stats(None).unwrap().messages, 1);
}

#[test]
fn a_lost_or_lagging_search_index_is_rebuilt_on_open() {
    use copernic_store::MessageQuery;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        conformance::search_folds_case_and_accents(&store);
        store.flush().unwrap();
    }
    // As if the process died before the index thread committed anything.
    for f in ["search.db", "search.db-wal", "search.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let q = MessageQuery {
        search: Some("cafe froid".into()),
        ..Default::default()
    };
    assert_eq!(store.messages(&q).unwrap().len(), 1);
    assert!(store.integrity_check().unwrap().is_empty());
}

#[test]
fn sqlite_passes_the_conformance_suite_with_grouped_commits() {
    // Reads commit the open group first, so the suite's read-your-writes checks hold.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.set_group_commit(3).unwrap();
    conformance::run_all(&store);
    assert!(store.integrity_check().unwrap().is_empty());
}

fn ingested(n: usize) -> copernic_core::Ingested {
    let mut m =
        copernic_core::Message::new("group", &n.to_string(), "test", format!("colis {n} perdu"));
    m.raw = format!("{{\"n\":{n}}}").into_bytes();
    copernic_core::Ingested {
        message: m,
        fingerprint: n as u64,
        wave: None,
        matches: Vec::new(),
    }
}

fn write(store: &SqliteStore, from: usize, to: usize) -> Vec<copernic_store::WriteOutcome> {
    let messages: Vec<_> = (from..to).map(ingested).collect();
    store
        .write(&copernic_store::WriteBatch {
            messages: &messages,
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn grouped_writes_commit_by_count_on_flush_and_on_drop() {
    use copernic_store::{MessageQuery, WriteOutcome};
    let dir = tempfile::tempdir().unwrap();
    // What another process sees: only committed rows.
    let committed = |dir: &std::path::Path| {
        SqliteStore::open_read_only(dir)
            .unwrap()
            .stats(None)
            .unwrap()
            .messages
    };
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store.set_group_commit(10).unwrap();
        assert!(write(&store, 0, 4)
            .iter()
            .all(|o| *o == WriteOutcome::Inserted));
        assert_eq!(committed(dir.path()), 0, "a group commits only when full");
        // A replay inside the open group is still a duplicate.
        assert!(write(&store, 2, 4)
            .iter()
            .all(|o| *o == WriteOutcome::Duplicate));
        write(&store, 4, 10);
        assert_eq!(committed(dir.path()), 10, "a full group commits");
        write(&store, 10, 12);
        assert_eq!(committed(dir.path()), 10);
        store.flush().unwrap();
        assert_eq!(committed(dir.path()), 12, "flush commits the open group");
        write(&store, 12, 13);
    }
    assert_eq!(
        committed(dir.path()),
        13,
        "dropping the store commits, not rolls back"
    );
    let store = SqliteStore::open(dir.path()).unwrap();
    let q = MessageQuery {
        search: Some("colis perdu".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        store.messages(&q).unwrap().len(),
        13,
        "every grouped message is searchable"
    );
    let last = store.messages(&MessageQuery::default()).unwrap()[0]
        .ingested
        .message
        .id;
    assert_eq!(store.message_raw(last).unwrap().unwrap(), b"{\"n\":12}");
    assert!(store.integrity_check().unwrap().is_empty());
}
