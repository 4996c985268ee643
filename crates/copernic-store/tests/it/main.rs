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
