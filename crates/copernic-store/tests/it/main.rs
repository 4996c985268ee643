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
        words: None,
    }
}

fn write(store: &SqliteStore, from: usize, to: usize) -> Vec<copernic_store::WriteOutcome> {
    let messages: Vec<_> = (from..to).map(ingested).collect();
    store
        .write(&copernic_store::WriteBatch {
            messages: &messages.iter().collect::<Vec<_>>(),
            ..Default::default()
        })
        .unwrap()
}

/// The messages another process sees in `dir`, through a read-only open.
fn committed_messages(dir: &std::path::Path) -> u64 {
    SqliteStore::open_read_only(dir)
        .unwrap()
        .stats(None)
        .unwrap()
        .messages
}

#[test]
fn grouped_writes_commit_by_count_on_flush_and_on_drop() {
    use copernic_store::{MessageQuery, WriteOutcome};
    let dir = tempfile::tempdir().unwrap();
    // What another process sees: only committed rows.
    let committed = committed_messages;
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

/// A read-only open of `dir` is refused as during a first load (`interrupted` or not), saying `says`.
fn assert_loading(dir: &std::path::Path, interrupted: bool, says: &str) {
    match SqliteStore::open_read_only(dir) {
        Err(e @ copernic_store::StoreError::Loading { interrupted: i, .. }) if i == interrupted => {
            assert!(e.to_string().contains(says), "{e}")
        }
        other => panic!(
            "read-only open (interrupted: {interrupted}): {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn a_first_load_writes_a_new_folder_all_at_once() {
    use copernic_store::LOADING_FILE;
    let dir = tempfile::tempdir().unwrap();
    let loading = dir.path().join(LOADING_FILE);
    let journal = |store: &SqliteStore| -> String {
        rusqlite::Connection::open(store.path())
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    };
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store.set_group_commit(10).unwrap();
        assert!(
            store.begin_first_load().unwrap(),
            "a new folder loads at once"
        );
        assert!(!store.begin_first_load().unwrap(), "a load is begun once");
        assert!(loading.exists(), "the marker is on disk before any row");
        // (A new connection reports the default rollback mode: only WAL is kept in the file.)
        assert_ne!(journal(&store), "wal", "no WAL during the load");
        write(&store, 0, 25);
        // Another process reads nothing half-written: it is told why.
        assert_loading(dir.path(), false, "still running");
        store.end_first_load().unwrap();
        assert!(
            !loading.exists(),
            "the marker goes once every row is on disk"
        );
        assert_eq!(journal(&store), "wal");
        assert_eq!(committed_messages(dir.path()), 25);
        // Later writes go through the WAL as usual.
        write(&store, 25, 30);
        store.flush().unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(
        !store.begin_first_load().unwrap(),
        "only a new folder loads at once"
    );
    assert_eq!(store.stats(None).unwrap().messages, 30);
    assert!(store.integrity_check().unwrap().is_empty());
}

#[test]
fn a_first_load_is_finished_on_drop_and_refused_once_something_was_written() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store.begin_first_load().unwrap();
        write(&store, 0, 5);
    }
    assert!(!dir.path().join(copernic_store::LOADING_FILE).exists());
    assert_eq!(committed_messages(dir.path()), 5);
    let other = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(other.path()).unwrap();
    write(&store, 0, 1);
    assert!(
        !store.begin_first_load().unwrap(),
        "a store that holds something is never written without a journal"
    );
}

#[test]
fn an_interrupted_first_load_is_thrown_away_when_the_folder_is_opened() {
    use copernic_store::LOADING_FILE;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        write(&store, 0, 3);
    }
    // As a killed first load leaves the folder: its marker, and files that may be half-written.
    std::fs::write(dir.path().join(LOADING_FILE), "").unwrap();
    assert_loading(dir.path(), true, "run that import again");
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(!dir.path().join(LOADING_FILE).exists());
    assert_eq!(
        store.stats(None).unwrap().messages,
        0,
        "nothing of it is kept"
    );
    assert!(
        store.begin_first_load().unwrap(),
        "the re-run loads at once again"
    );
    write(&store, 0, 3);
    store.end_first_load().unwrap();
    assert_eq!(store.stats(None).unwrap().messages, 3);
    assert!(store.integrity_check().unwrap().is_empty());
}

/// SQLite is built as `.cargo/config.toml` says: no process-wide malloc statistics (one mutex
/// for every allocation) and no process-wide page cache (one mutex for every page fetch, and
/// the writer and the index thread evicting each other's pages). A build without those flags
/// (a config file lost, a crate that builds its own SQLite) would be slower, not wrong: this
/// says why.
#[test]
fn sqlite_is_built_without_process_wide_locks() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    let options: Vec<String> = c
        .prepare("SELECT compile_options FROM pragma_compile_options")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "SQLite keeps malloc statistics: {options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "SQLite shares one page cache between connections: {options:?}"
    );
}
