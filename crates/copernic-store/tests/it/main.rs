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
