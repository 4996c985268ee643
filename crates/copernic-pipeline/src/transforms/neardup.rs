//! Near-duplicate waves: copy-paste campaigns and bot floods.
//!
//! Each message gets a 64-bit SimHash of its normalised words and word pairs. Two messages whose
//! hashes differ in at most [`NearDupConfig::max_distance`] bits say the same thing. Candidates are
//! found through four 16-bit bands: by the pigeonhole principle, hashes within 3 bits share at
//! least one band exactly, so no pair is missed and only a few candidates are compared.
//!
//! Waves happen in time, so only a sliding window of the most recent messages is indexed: memory
//! stays flat however many messages flow through, and the window is re-filled from the store on
//! start.

use std::collections::VecDeque;

use copernic_core::hash::FxHashMap;
use copernic_core::MessageId;

/// Fingerprints kept per band value (see `remember`).
const MAX_BUCKET: usize = 32;

/// Settings of the detector.
#[derive(Clone, Copy, Debug)]
pub struct NearDupConfig {
    /// How many recent messages are compared against. 200,000 covers a day of a busy brand and
    /// costs about 20 MB.
    pub window: usize,
    /// Largest Hamming distance between two fingerprints of the same wave. At most 3, the most
    /// that four 16-bit bands guarantee to find.
    pub max_distance: u32,
    /// Texts with fewer words are never grouped: "thanks!" said by many is not a campaign.
    pub min_words: usize,
}

impl Default for NearDupConfig {
    fn default() -> Self {
        NearDupConfig {
            window: 200_000,
            max_distance: 3,
            min_words: 6,
        }
    }
}

/// What [`fingerprint`] makes, as the store records it (see `Store::upgrade_fingerprints`):
/// 2 since fingerprints are made from the classifier's words (1 cut the text on its own).
pub const FINGERPRINT_VERSION: u32 = 2;

/// Words beyond this many do not change a fingerprint: long texts that share their first 256
/// words are near-duplicates for our purpose.
const MAX_WORDS: usize = 256;

thread_local! {
    static WORD_HASHES: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The fingerprint of `text`, or 0 when it is too short to be compared (0 means "none").
///
/// Its words are the classifier's word tokens ([`copernic_classify::features::word_hashes`]):
/// folded (case and accents), elongations squeezed, elided articles dropped; links, mentions and
/// numbers, what bots vary between copies, are left out. The classify step cuts every text into
/// them anyway and hands their hashes over ([`of_word_hashes`]): cutting and hashing the text a
/// second time here was a quarter of the classify thread of an import.
pub fn fingerprint(text: &str, min_words: usize) -> u64 {
    WORD_HASHES.with(|h| {
        let mut h = h.borrow_mut();
        copernic_classify::features::word_hashes(text, &mut h);
        of_word_hashes(&h, min_words)
    })
}

/// The fingerprint of a text whose word hashes are `hashes` (see [`fingerprint`]).
pub fn of_word_hashes(hashes: &[u64], min_words: usize) -> u64 {
    let mut shingles = Shingles::default();
    for &h in hashes {
        // Spread again: a word's hash is made for the classifier's buckets (its low bits),
        // SimHash needs every bit even.
        if shingles.add(finish(h)) {
            break;
        }
    }
    if shingles.words < min_words.max(1) {
        return 0;
    }
    // 0 is reserved for "no fingerprint".
    shingles.counts.majority().max(1)
}

/// The words of a text and the pairs of consecutive words, counted bit by bit.
#[derive(Default)]
struct Shingles {
    counts: BitCounts,
    words: usize,
    previous: u64,
}

impl Shingles {
    /// Adds a word's hash (and its pair with the previous word); true once the text has had
    /// [`MAX_WORDS`] words.
    #[inline]
    fn add(&mut self, h: u64) -> bool {
        self.counts.add(h);
        if self.words > 0 {
            self.counts.add(finish(self.previous.rotate_left(17) ^ h));
        }
        self.previous = h;
        self.words += 1;
        self.words >= MAX_WORDS
    }
}

/// How many of the added hashes have each of the 64 bits set, as bit planes: `planes[i]` holds
/// bit i of all 64 counters, and adding a hash is a binary increment of the 64 counters at once
/// (a ripple of ANDs and XORs through the planes) instead of 64 separate additions. Ten planes
/// count to 1,023: at most 2 × MAX_WORDS hashes are added.
#[derive(Default)]
struct BitCounts {
    planes: [u64; PLANES],
    added: u32,
}

const PLANES: usize = 10;
const _: () = assert!(2 * MAX_WORDS < 1 << PLANES);

impl BitCounts {
    #[inline]
    fn add(&mut self, h: u64) {
        // Through all ten planes, with no early exit: where the carry stops is random, and
        // the mispredicted exits cost more than the steps they saved (2.3x slower, measured).
        let mut carry = h;
        for plane in &mut self.planes {
            let next = *plane & carry;
            *plane ^= carry;
            carry = next;
        }
        self.added += 1;
    }

    /// The hash whose bits are set where more than half of the added hashes had them.
    ///
    /// `2 × ones > added` is `ones > added / 2` (rounded down), and the 64 counters are compared
    /// with that bound all at once, bit plane by bit plane from the highest: a counter is greater
    /// from the first plane where it has a 1 and the bound a 0, having been equal above it.
    /// (Counter by counter, this was a fifth of the fingerprint's instructions.)
    fn majority(&self) -> u64 {
        let bound = self.added / 2;
        let (mut greater, mut equal) = (0u64, u64::MAX);
        for (i, &plane) in self.planes.iter().enumerate().rev() {
            let bound_bit = if bound >> i & 1 == 1 { u64::MAX } else { 0 };
            greater |= equal & plane & !bound_bit;
            equal &= !(plane ^ bound_bit);
        }
        greater
    }
}

/// splitmix64's finaliser: spreads every input bit over every output bit.
fn finish(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

struct Entry {
    id: MessageId,
    wave: Option<MessageId>,
    /// Sequence number of the latest message seen with this fingerprint.
    last_seq: u64,
}

/// What the detector decided for one message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The wave the message joins.
    pub wave: Option<MessageId>,
    /// A message already stored that this one turned into the head of a new wave.
    pub new_head: Option<MessageId>,
}

/// The sliding-window detector. Identical fingerprints share one entry (a flood of exact copies
/// costs one slot and keeps candidate lists short); the window counts messages, not entries.
pub struct NearDup {
    config: NearDupConfig,
    /// One entry per distinct fingerprint in the window.
    entries: FxHashMap<u64, Entry>,
    /// (sequence number, fingerprint) in arrival order; a pair whose entry was seen again later
    /// is stale and skipped at eviction.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// Fingerprints by band: `bands[band * 65536 + value]`. Indexed directly rather than hashed:
    /// eight lookups per message, in the writer's critical path.
    bands: Vec<Vec<u64>>,
}

impl NearDup {
    pub fn new(config: NearDupConfig) -> NearDup {
        NearDup {
            config,
            entries: FxHashMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            bands: vec![Vec::new(); 4 << 16],
        }
    }

    pub fn config(&self) -> &NearDupConfig {
        &self.config
    }

    /// Adds an already-stored message to the window (warming after a restart).
    pub fn remember(&mut self, id: MessageId, fingerprint: u64, wave: Option<MessageId>) {
        if fingerprint == 0 {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        match self.entries.get_mut(&fingerprint) {
            Some(e) => {
                e.last_seq = seq;
                if e.wave.is_none() {
                    e.wave = wave;
                }
            }
            None => {
                for key in bands(fingerprint) {
                    let list = &mut self.bands[key];
                    // A band value shared by very many fingerprints tells little; keeping only its
                    // newest ones bounds every lookup and eviction. A near-duplicate shares at
                    // least one band, and usually all four, with its original.
                    if list.len() >= MAX_BUCKET {
                        list.remove(0);
                    }
                    list.push(fingerprint);
                }
                self.entries.insert(
                    fingerprint,
                    Entry {
                        id,
                        wave,
                        last_seq: seq,
                    },
                );
            }
        }
        self.order.push_back((seq, fingerprint));
        while self.order.len() > self.config.window {
            self.evict();
        }
    }

    fn evict(&mut self) {
        let Some((seq, fp)) = self.order.pop_front() else {
            return;
        };
        if self.entries.get(&fp).is_some_and(|e| e.last_seq == seq) {
            self.entries.remove(&fp);
            for key in bands(fp) {
                self.bands[key].retain(|&f| f != fp);
            }
        }
    }

    /// Asks the processor for what [`NearDup::assign`] of `fingerprint` will read, `ahead`
    /// messages before that call: the band lists of the fingerprint and of the one its
    /// assignment will likely evict. `lists: false` fetches the lists' headers; `lists: true`,
    /// called nearer (their headers cached by then), the lists themselves. A hint only: nothing
    /// changes. (Each message reads some sixteen places at random in hundreds of megabytes, in
    /// the writer's critical path.)
    pub fn prefetch(&self, fingerprint: u64, ahead: usize, lists: bool) {
        let evicted = if self.order.len() >= self.config.window {
            self.order.get(ahead).map_or(0, |&(_, fp)| fp)
        } else {
            0
        };
        for fp in [fingerprint, evicted] {
            if fp == 0 {
                continue;
            }
            for key in bands(fp) {
                let list = &self.bands[key];
                match list.first() {
                    Some(first) if lists => copernic_core::prefetch(first),
                    _ => copernic_core::prefetch(list),
                }
            }
        }
    }

    /// The closest fingerprint within the distance, the earliest on ties.
    fn closest(&self, id: MessageId, fingerprint: u64) -> Option<u64> {
        if let Some(e) = self.entries.get(&fingerprint) {
            // A replay of the same message is a duplicate, not a near-duplicate of itself.
            if e.id != id {
                return Some(fingerprint);
            }
        }
        let mut best: Option<(u32, u64, u64)> = None;
        for key in bands(fingerprint) {
            for &fp in &self.bands[key] {
                let d = (fp ^ fingerprint).count_ones();
                if d == 0 || d > self.config.max_distance {
                    continue;
                }
                let seq = self.entries.get(&fp).map_or(u64::MAX, |e| e.last_seq);
                if best.is_none_or(|(bd, bs, _)| (d, seq) < (bd, bs)) {
                    best = Some((d, seq, fp));
                }
            }
        }
        best.map(|(_, _, fp)| fp)
    }

    /// Decides the wave of a new message and adds it to the window.
    pub fn assign(&mut self, id: MessageId, fingerprint: u64) -> Assignment {
        if fingerprint == 0 {
            return Assignment::default();
        }
        let mut out = Assignment::default();
        if let Some(fp) = self.closest(id, fingerprint) {
            if let Some(e) = self.entries.get_mut(&fp) {
                let head = match e.wave {
                    Some(w) => w,
                    None => {
                        e.wave = Some(e.id);
                        out.new_head = Some(e.id);
                        e.id
                    }
                };
                out.wave = Some(head);
            }
        }
        self.remember(id, fingerprint, out.wave);
        out
    }
}

/// The four band slots of a fingerprint in [`NearDup::bands`].
fn bands(fp: u64) -> [usize; 4] {
    [
        (fp & 0xffff) as usize,
        (1 << 16) | ((fp >> 16) & 0xffff) as usize,
        (2 << 16) | ((fp >> 32) & 0xffff) as usize,
        (3 << 16) | (fp >> 48) as usize,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32) -> MessageId {
        MessageId::derive("t", &i.to_string())
    }

    const CAMPAIGN: &str =
        "Stop testing on animals now! Brand X must sign the cruelty free pledge today #crueltyfree";

    #[test]
    fn copies_with_varied_mentions_urls_and_case_are_one_wave() {
        let a = fingerprint(CAMPAIGN, 6);
        let b = fingerprint(
            &format!("@brandx {} https://t.co/abc123", CAMPAIGN.to_uppercase()),
            6,
        );
        assert_eq!(a, b);
        let mut nd = NearDup::new(NearDupConfig::default());
        assert_eq!(nd.assign(id(0), a), Assignment::default());
        let second = nd.assign(id(1), b);
        assert_eq!(
            second,
            Assignment {
                wave: Some(id(0)),
                new_head: Some(id(0))
            }
        );
        let third = nd.assign(id(2), fingerprint(&format!("{CAMPAIGN} 2024"), 6));
        assert_eq!(
            third,
            Assignment {
                wave: Some(id(0)),
                new_head: None
            }
        );
    }

    #[test]
    fn fetching_ahead_changes_no_assignment() {
        // A hint borrows the detector and must never fail: near copies among others, past a
        // full window (evictions fetched too) and up to the last message (nothing ahead).
        let config = NearDupConfig {
            window: 50,
            ..NearDupConfig::default()
        };
        let fps: Vec<u64> = (0..400u32)
            .map(|i| match i % 3 {
                0 => fingerprint(&format!("{CAMPAIGN} {}", i % 7), 6),
                _ => fingerprint(
                    &format!("message {i} about order {} and delivery", i * 7919),
                    6,
                ),
            })
            .collect();
        let (mut plain, mut fetched) = (NearDup::new(config), NearDup::new(config));
        for (i, &f) in fps.iter().enumerate() {
            for ahead in [1, 4, 8] {
                if let Some(&g) = fps.get(i + ahead) {
                    fetched.prefetch(g, ahead, ahead < 8);
                }
            }
            let a = plain.assign(id(i as u32), f);
            assert_eq!(fetched.assign(id(i as u32), f), a, "message {i}");
        }
    }

    #[test]
    fn different_texts_and_short_texts_are_not_grouped() {
        let mut nd = NearDup::new(NearDupConfig::default());
        nd.assign(id(0), fingerprint(CAMPAIGN, 6));
        let other = fingerprint(
            "My order 12345 arrived broken and nobody answers my emails since Monday",
            6,
        );
        assert_eq!(nd.assign(id(1), other).wave, None);
        assert_eq!(fingerprint("thanks a lot!", 6), 0);
        assert_eq!(nd.assign(id(2), 0), Assignment::default());
    }

    #[test]
    fn a_replay_is_not_its_own_near_duplicate() {
        let mut nd = NearDup::new(NearDupConfig::default());
        let fp = fingerprint(CAMPAIGN, 6);
        nd.assign(id(0), fp);
        assert_eq!(nd.assign(id(0), fp), Assignment::default());
    }

    #[test]
    fn swar_counts_agree_with_bit_by_bit_counting() {
        // Odd and even counts (the majority's bound rounds down), up to the most a text adds;
        // a few hashes lean hard one way so that some counters sit right at the bound.
        for n in (1..80).chain([499, 500, 2 * MAX_WORDS]) {
            let hashes: Vec<u64> = (0..n as u64)
                .map(|i| match i % 7 {
                    0 => u64::MAX,
                    1 => 0,
                    _ => finish(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                })
                .collect();
            let mut c = BitCounts::default();
            for h in &hashes {
                c.add(*h);
            }
            let mut want = 0u64;
            for bit in 0..64 {
                let ones = hashes.iter().filter(|h| *h >> bit & 1 == 1).count();
                if 2 * ones > hashes.len() {
                    want |= 1 << bit;
                }
            }
            assert_eq!(c.majority(), want, "{n} hashes");
        }
    }

    #[test]
    fn shouted_links_are_ignored_like_quiet_ones() {
        // Regression: an upper-cased copy with an upper-cased link formed a wave of its own.
        let quiet = fingerprint(&format!("{CAMPAIGN} https://t.co/681934"), 6);
        let shouted = fingerprint(
            &format!("{} HTTPS://T.CO/681934", CAMPAIGN.to_uppercase()),
            6,
        );
        assert_eq!(quiet, shouted);
        assert_eq!(quiet, fingerprint(CAMPAIGN, 6));
    }

    #[test]
    fn case_accents_and_elongations_do_not_change_a_fingerprint() {
        assert_eq!(
            fingerprint("REMBOURSÉ le colis perdu hier soir", 1),
            fingerprint("rembourse le COLIS perdu hier soir", 1)
        );
        assert_eq!(
            fingerprint("trop looooong, l'attente du colis perdu hier soir", 1),
            fingerprint("trop looong, attente du colis perdu hier soir", 1)
        );
        assert_ne!(
            fingerprint("le colis perdu hier soir", 1),
            fingerprint("le colis retrouvé hier soir", 1)
        );
    }

    #[test]
    fn words_past_the_limit_do_not_change_a_fingerprint() {
        let long = "mot ".repeat(MAX_WORDS);
        assert_eq!(
            fingerprint(&format!("{long} fin"), 1),
            fingerprint(&format!("{long} autre chose encore"), 1)
        );
    }

    #[test]
    fn window_forgets_old_messages() {
        let mut nd = NearDup::new(NearDupConfig {
            window: 2,
            ..NearDupConfig::default()
        });
        let fp = fingerprint(CAMPAIGN, 6);
        nd.assign(id(0), fp);
        nd.assign(
            id(1),
            fingerprint(
                "completely different words about a late parcel and refunds",
                6,
            ),
        );
        nd.assign(
            id(2),
            fingerprint(
                "another unrelated sentence on the new store opening hours today",
                6,
            ),
        );
        assert_eq!(nd.assign(id(3), fp).wave, None, "id(0) left the window");
        assert!(nd.entries.len() <= 2 && nd.order.len() <= 2);
        let live: usize = nd.bands.iter().map(Vec::len).sum();
        assert_eq!(
            live,
            nd.entries.len() * 4,
            "evicted entries leave the band index"
        );
    }
}
