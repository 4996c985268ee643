//! One prepared statement driven through SQLite's C API, for the row insert of bulk writes.
//!
//! rusqlite binds every text and blob with `SQLITE_TRANSIENT`, so SQLite copies each value into
//! memory of its own before the step, and each bind goes through a `ToSql` trait object: for a
//! million messages of two dozen columns that was a tenth of the writer's time
//! (BENCHMARKS.md). Here values are bound `SQLITE_STATIC` — SQLite reads them where they are —
//! and [`RawStatement::execute`] clears the bindings before it returns, so SQLite never holds a
//! pointer past the borrow that gave it.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::null_mut;

use rusqlite::{ffi, Connection};

use crate::Result;

/// A value to bind, borrowed for one [`RawStatement::execute`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> From<Option<&'a str>> for Bind<'a> {
    fn from(v: Option<&'a str>) -> Bind<'a> {
        v.map_or(Bind::Null, Bind::Text)
    }
}

/// A prepared statement of `conn`, finalized when dropped.
pub(crate) struct RawStatement<'c> {
    conn: &'c Connection,
    stmt: *mut ffi::sqlite3_stmt,
}

impl<'c> RawStatement<'c> {
    pub(crate) fn prepare(conn: &'c Connection, sql: &str) -> Result<RawStatement<'c>> {
        let len = c_int::try_from(sql.len()).map_err(|_| too_big("statement"))?;
        let mut stmt = null_mut();
        // SAFETY: the handle is the live connection `conn` borrows for 'c; `sql` is valid for
        // `len` bytes (SQLite reads no further, so no terminating NUL is needed); `stmt` is a
        // valid out-pointer.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                conn.handle(),
                sql.as_ptr().cast::<c_char>(),
                len,
                &mut stmt,
                null_mut(),
            )
        };
        let raw = RawStatement { conn, stmt };
        if rc != ffi::SQLITE_OK {
            return Err(raw.error(rc));
        }
        Ok(raw)
    }

    /// Binds `values` to ?1, ?2, ..., runs the statement to its end and returns how many rows
    /// it changed. The statement is reset and its bindings cleared however it went.
    pub(crate) fn execute(&mut self, values: &[Bind<'_>]) -> Result<usize> {
        let result = self.bind_and_step(values);
        // SAFETY: `stmt` is a live statement of this connection. Resetting returns the step's
        // error again, already reported; clearing the bindings leaves no pointer into `values`.
        unsafe {
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
        }
        result
    }

    fn bind_and_step(&mut self, values: &[Bind<'_>]) -> Result<usize> {
        for (i, v) in values.iter().enumerate() {
            let at = c_int::try_from(i + 1).map_err(|_| too_big("parameter list"))?;
            // SAFETY: `stmt` is live; text and blob pointers are valid for their lengths for
            // as long as SQLite may read them: `execute` clears the bindings before `values`'
            // borrow ends (`SQLITE_STATIC`: SQLite does not copy them).
            let rc = unsafe {
                match *v {
                    Bind::Null => ffi::sqlite3_bind_null(self.stmt, at),
                    Bind::Int(n) => ffi::sqlite3_bind_int64(self.stmt, at, n),
                    Bind::Text(s) => ffi::sqlite3_bind_text(
                        self.stmt,
                        at,
                        s.as_ptr().cast::<c_char>(),
                        c_int::try_from(s.len()).map_err(|_| too_big("text"))?,
                        ffi::SQLITE_STATIC(),
                    ),
                    Bind::Blob(b) => ffi::sqlite3_bind_blob(
                        self.stmt,
                        at,
                        b.as_ptr().cast(),
                        c_int::try_from(b.len()).map_err(|_| too_big("blob"))?,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error(rc));
            }
        }
        // SAFETY: `stmt` is live and every parameter it reads is bound above.
        let rc = unsafe { ffi::sqlite3_step(self.stmt) };
        match rc {
            ffi::SQLITE_DONE => Ok(self.conn.changes() as usize),
            // A statement that returns rows is not what this type runs.
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults.into()),
            rc => Err(self.error(rc)),
        }
    }

    /// The connection's error for result code `rc`, as rusqlite reports one.
    fn error(&self, rc: c_int) -> crate::StoreError {
        // SAFETY: the handle is live; the message is a NUL-terminated string SQLite owns until
        // the next call on this connection, copied here before that.
        let message = unsafe {
            let m = ffi::sqlite3_errmsg(self.conn.handle());
            (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
        };
        rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message).into()
    }
}

impl Drop for RawStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` came from `sqlite3_prepare_v2` on this connection (or is null, which
        // finalize accepts) and is finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

fn too_big(what: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(format!("a {what} over 2 GiB cannot be bound"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values bound without copies land as given, `changes` counts the rows, a refused row
    /// reports SQLite's own message, and the statement is usable again after an error.
    #[test]
    fn binds_without_copies_and_reports_errors() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a INTEGER UNIQUE, b TEXT, c BLOB, d TEXT)")
            .unwrap();
        let mut insert = RawStatement::prepare(
            &c,
            "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (a) DO NOTHING",
        )
        .unwrap();
        let text = String::from("élan ✓");
        let blob = vec![0u8, 1, 2, 255];
        let row = [
            Bind::Int(1),
            Bind::Text(&text),
            Bind::Blob(&blob),
            Bind::from(None),
        ];
        assert_eq!(insert.execute(&row).unwrap(), 1);
        assert_eq!(
            insert.execute(&row).unwrap(),
            0,
            "a duplicate changes nothing"
        );
        assert_eq!(
            insert
                .execute(&[
                    Bind::Int(2),
                    Bind::Text(""),
                    Bind::Blob(&[]),
                    Bind::Text("x")
                ])
                .unwrap(),
            1
        );
        drop(insert);
        let rows: Vec<(i64, String, Vec<u8>, Option<String>)> = c
            .prepare("SELECT a, b, c, d FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, text.clone(), blob.clone(), None),
                (2, String::new(), Vec::new(), Some("x".into()))
            ]
        );

        c.execute_batch("CREATE TABLE u (a TEXT NOT NULL)").unwrap();
        let mut strict = RawStatement::prepare(&c, "INSERT INTO u (a) VALUES (?1)").unwrap();
        // SQLite's own message, carried in the error's source.
        let err = format!("{:?}", strict.execute(&[Bind::Null]).unwrap_err());
        assert!(err.contains("NOT NULL"), "{err}");
        assert_eq!(strict.execute(&[Bind::Text("ok")]).unwrap(), 1);
        assert!(RawStatement::prepare(&c, "INSERT INTO nowhere VALUES (1)").is_err());
    }
}
