//! A fast hasher for short-lived maps keyed by data we produce (terms, fingerprint bands).

use std::hash::{BuildHasherDefault, Hasher};

/// The Firefox/rustc hash: a multiply and a rotate per word. The maps it serves live for one
/// write or hold fingerprints, not attacker-chosen keys of a long-lived table, so a DoS-resistant
/// hash (SipHash, several times slower) buys nothing there.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The last step was a multiply, whose low bits depend only on the input's low bits; the
        // table picks buckets by the low bits. Rotating brings the well-mixed high bits down, as
        // rustc-hash 2 does. (On the import benchmark's terms it changed nothing measurable: a
        // guard for key sets that differ only in their high bytes.)
        self.0.rotate_left(26)
    }
}

/// `HashMap<K, V, FxBuildHasher>`.
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuildHasher>;

/// FNV-1a's starting state. With [`FNV_PRIME`] and [`fnv1a`], the hash of what is kept: model
/// buckets and near-duplicate fingerprints depend on these numbers, unlike [`FxHasher`]'s.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
pub const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a's state after `bytes`, from state `h` ([`FNV_OFFSET`], possibly seeded): hashing a
/// longer string can continue from the state of its prefix.
#[inline(always)]
pub fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The webhook signature Copernic checks on what it receives (`/hooks/{name}`) and puts on what
/// it sends (the webhook connector): `sha256=` and the hex HMAC-SHA256 of `timestamp "." body`,
/// or of the body alone without a timestamp.
pub fn sign(secret: &str, timestamp: Option<i64>, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    if let Some(ts) = timestamp {
        mac.update(ts.to_string().as_bytes());
        mac.update(b".");
    }
    mac.update(body);
    let mut hex = String::from("sha256=");
    for b in mac.finalize().into_bytes() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}
