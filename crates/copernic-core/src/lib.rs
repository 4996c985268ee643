//! Copernic's domain types. This crate does no IO and knows no async: everything in it is a value
//! or a pure function, so every other crate can depend on it.

pub mod engage;
pub mod hash;
pub mod message;
pub mod reject;
pub mod text;

/// An error and its sources, joined with `: ` — for messages that must stand on one line
/// (a report field, a log line).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A hint to the processor to bring `r` into its caches, for a look-up a little later that
/// would otherwise wait on memory. Changes nothing the program sees.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault; `r` is a reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((r as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

pub use message::{Author, Direction, Ingested, Labels, Message, MessageId, DEFAULT_WORKSPACE};
pub use reject::{Position, Reject};
