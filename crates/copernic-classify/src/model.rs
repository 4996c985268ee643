//! Hashed linear text classifiers: multinomial logistic regression over the features of
//! `features.rs` (one label per text), or one-vs-rest logistic regressions (several labels per
//! text, as topics are). Trained by seeded SGD with early stopping on a validation split,
//! calibrated by temperature scaling on that split, with an abstain threshold ("uncertain").
//!
//! Why linear and not fastText's low-rank model: with hashed word, pair and character n-gram
//! features a linear model is as accurate on these tasks, has no embedding product to compute
//! (a prediction is one add per feature and label), and its weights say what it learned.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::features::{extract, FeatureConfig};

/// Everything that can go wrong reading a model file or training.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not a Copernic model file.
    #[error("not a Copernic model file (bad magic bytes)")]
    Magic,
    /// Written by a newer Copernic.
    #[error("model format version {0} is newer than this copernic reads ({FORMAT_VERSION}); upgrade copernic")]
    Version(u32),
    /// The bytes do not match the checksum in the header: a truncated or damaged file.
    #[error("model checksum mismatch: the file is damaged or truncated")]
    Checksum,
    /// The file ends early or its header does not parse.
    #[error("model file is malformed: {0}")]
    Malformed(String),
    /// Nothing to train on.
    #[error("{0}")]
    Data(String),
}

const MAGIC: &[u8; 8] = b"CPNMODEL";
/// Version 1: header JSON, then sparse rows of f32 weights.
pub const FORMAT_VERSION: u32 = 1;

/// Where a model's training data came from, kept in the model file so that a prediction can be
/// traced to its data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The data file, as named when training.
    pub data: String,
    /// SHA-256 of the data file's bytes.
    pub data_sha256: String,
    /// Licence or origin of the data, as the trainer stated it.
    #[serde(default)]
    pub licence: String,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub seed: u64,
    pub epochs: usize,
    pub trained_at: String,
}

/// Training settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty per update (weight decay), scaled by the learning rate.
    pub l2: f32,
    pub seed: u64,
    /// Stop after this many epochs without a better validation score.
    pub patience: usize,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            features: FeatureConfig::default(),
            epochs: 30,
            learning_rate: 0.5,
            l2: 1e-6,
            seed: 7,
            patience: 4,
        }
    }
}

/// The header of a model file (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Header {
    labels: Vec<String>,
    features: FeatureConfig,
    multilabel: bool,
    temperature: f32,
    threshold: f32,
    provenance: Provenance,
    /// SHA-256 of the weights section.
    weights_sha256: String,
}

/// A trained model.
#[derive(Clone, Debug)]
pub struct Model {
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    /// Several labels per text (one-vs-rest) instead of exactly one.
    pub multilabel: bool,
    /// Logits are divided by it before softmax/sigmoid (calibration).
    pub temperature: f32,
    /// Below this top probability the prediction is "uncertain" (single-label), or a label is
    /// not given (multi-label: the per-label cut).
    pub threshold: f32,
    pub provenance: Provenance,
    /// `buckets × labels`, row-major: one row per feature bucket.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// Unique to these weights: changed whenever they change (see [`Model::version`]).
    version: u64,
}

/// The next [`Model::version`]: every model and every change of weights gets its own.
static NEXT_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// One example: its text's features and its label indices.
pub struct Example {
    pub features: Vec<u32>,
    pub labels: Vec<usize>,
}

/// A prediction: every label with its calibrated probability, best first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The chosen label(s); empty when uncertain.
    pub labels: Vec<String>,
    /// The top probability was under the model's threshold.
    pub uncertain: bool,
    pub scores: Vec<(String, f32)>,
}

/// splitmix64: a small seeded generator, so training, splits and generated benchmark data are
/// reproducible. Not for anything secret.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// How many features ahead of the one being added a row is fetched: the rows are random reads in
/// a table of megabytes (1.5 MB for the shipped intent model, 2^16 buckets × 6 labels; 24 MB at
/// the default 2^20 buckets), many missing the caches, and the sum itself is a few
/// additions. 16 rows in flight measured faster than 8 or none (`examples/classify_hot.rs logits`).
const PREFETCH_AHEAD: usize = 16;

/// The sum of the rows of `weights` (`N` labels each) named by `f`, into `out` (`N` long). `N`
/// known at compile time keeps the sums in registers; each label still adds its features in
/// their order, so the result is the same to the bit as the plain loop's.
#[inline(always)]
fn sum_rows<const N: usize>(weights: &[f32], f: &[u32], out: &mut [f32]) {
    let mut acc = [0.0f32; N];
    for (k, &b) in f.iter().enumerate() {
        if let Some(&ahead) = f.get(k + PREFETCH_AHEAD) {
            prefetch_row(weights, ahead as usize * N, N);
        }
        let row = &weights[b as usize * N..][..N];
        for l in 0..N {
            acc[l] += row[l];
        }
    }
    out.copy_from_slice(&acc);
}

/// A hint to load `weights[at..at + len]` into the cache; nothing happens out of bounds.
#[inline(always)]
fn prefetch_row(weights: &[f32], at: usize, len: usize) {
    // A row may straddle two cache lines: both asked.
    if let (Some(first), Some(last)) = (weights.get(at), weights.get(at + len.max(1) - 1)) {
        copernic_core::prefetch(first);
        copernic_core::prefetch(last);
    }
}

/// Turns texts into examples for a label set (labels in `labels`, a text's labels by index).
pub fn examples(
    rows: &[(String, Vec<String>)],
    labels: &[String],
    features: &FeatureConfig,
) -> Vec<Example> {
    rows.iter()
        .map(|(text, ls)| {
            let mut f = Vec::new();
            extract(text, features, &mut f);
            Example {
                features: f,
                labels: ls
                    .iter()
                    .filter_map(|l| labels.iter().position(|x| x == l))
                    .collect(),
            }
        })
        .collect()
}

impl Model {
    fn new(labels: Vec<String>, features: FeatureConfig, multilabel: bool) -> Model {
        let n = labels.len();
        Model {
            weights: vec![0.0; features.buckets() * n],
            bias: vec![0.0; n],
            labels,
            features,
            multilabel,
            temperature: 1.0,
            threshold: 0.0,
            provenance: Provenance::default(),
            version: next_version(),
        }
    }

    /// Names these weights: two models with the same version have the same weights (a clone),
    /// and learning gives a model a new version. What is computed from the weights and kept
    /// (`WordSums`) is kept with the version it was computed from.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The weights of feature bucket `b`, one per label.
    #[inline(always)]
    pub(crate) fn row(&self, b: u32) -> &[f32] {
        let n = self.labels.len();
        &self.weights[b as usize * n..][..n]
    }

    pub(crate) fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Raw scores (logits) of the features `f` into `out`.
    pub fn logits_into(&self, f: &[u32], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.bias);
        if f.is_empty() {
            return;
        }
        // The feature vector is L2-normalised (each present feature weighs 1/sqrt(n)): long and
        // short texts land on the same scale, and one step moves a logit by the same amount
        // whatever the length.
        let scale = 1.0 / (f.len() as f32).sqrt();
        self.sum_rows(f, out);
        // Scaled and the bias added after the sum.
        for (o, b) in out.iter_mut().zip(&self.bias) {
            *o = *o * scale + b;
        }
    }

    /// The sums of the rows of the buckets `f` into `out` (one per label).
    pub(crate) fn sum_rows(&self, f: &[u32], out: &mut [f32]) {
        let n = self.labels.len();
        match n {
            1 => sum_rows::<1>(&self.weights, f, out),
            2 => sum_rows::<2>(&self.weights, f, out),
            3 => sum_rows::<3>(&self.weights, f, out),
            4 => sum_rows::<4>(&self.weights, f, out),
            5 => sum_rows::<5>(&self.weights, f, out),
            6 => sum_rows::<6>(&self.weights, f, out),
            7 => sum_rows::<7>(&self.weights, f, out),
            8 => sum_rows::<8>(&self.weights, f, out),
            _ => {
                // Accumulated in `out` itself (no buffer per call).
                out.iter_mut().for_each(|o| *o = 0.0);
                for &b in f {
                    let row = &self.weights[b as usize * n..(b as usize + 1) * n];
                    for (a, w) in out.iter_mut().zip(row) {
                        *a += w;
                    }
                }
            }
        }
    }

    /// Probabilities from logits, with the model's temperature.
    pub fn probabilities(&self, logits: &mut [f32]) {
        let t = self.temperature.max(1e-3);
        if self.multilabel {
            for l in logits.iter_mut() {
                *l = 1.0 / (1.0 + (-*l / t).exp());
            }
        } else {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for l in logits.iter_mut() {
                *l = ((*l - max) / t).exp();
                sum += *l;
            }
            for l in logits.iter_mut() {
                *l /= sum;
            }
        }
    }

    /// Probabilities of every label for `text`.
    pub fn predict_proba(&self, text: &str) -> Vec<f32> {
        let mut f = Vec::new();
        extract(text, &self.features, &mut f);
        let mut p = Vec::new();
        self.logits_into(&f, &mut p);
        self.probabilities(&mut p);
        p
    }

    /// The prediction for `text`: labels, whether uncertain, every score.
    pub fn predict(&self, text: &str) -> Prediction {
        let p = self.predict_proba(text);
        self.decide(&p)
    }

    /// Labels from probabilities, with the threshold.
    pub fn decide(&self, p: &[f32]) -> Prediction {
        let mut scores: Vec<(String, f32)> =
            self.labels.iter().cloned().zip(p.iter().copied()).collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (labels, uncertain) = if self.multilabel {
            let cut = if self.threshold > 0.0 {
                self.threshold
            } else {
                0.5
            };
            let ls: Vec<String> = scores
                .iter()
                .filter(|s| s.1 >= cut)
                .map(|s| s.0.clone())
                .collect();
            (ls, false)
        } else {
            match scores.first() {
                Some(top) if top.1 >= self.threshold => (vec![top.0.clone()], false),
                _ => (Vec::new(), true),
            }
        };
        Prediction {
            labels,
            uncertain,
            scores,
        }
    }

    /// The best label index for features `f` (no threshold), for evaluation.
    fn argmax(&self, f: &[u32], buf: &mut Vec<f32>) -> (usize, f32) {
        self.logits_into(f, buf);
        self.probabilities(buf);
        buf.iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }

    /// One SGD step on one example.
    fn step(&mut self, ex: &Example, lr: f32, l2: f32, logits: &mut Vec<f32>) {
        let n = self.labels.len();
        self.logits_into(&ex.features, logits);
        // Gradient of the loss with respect to each logit.
        if self.multilabel {
            for (l, v) in logits.iter_mut().enumerate() {
                let p = 1.0 / (1.0 + (-*v).exp());
                *v = p - if ex.labels.contains(&l) { 1.0 } else { 0.0 };
            }
        } else {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for v in logits.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            for (l, v) in logits.iter_mut().enumerate() {
                *v = *v / sum
                    - if ex.labels.first() == Some(&l) {
                        1.0
                    } else {
                        0.0
                    };
            }
        }
        if ex.features.is_empty() {
            return;
        }
        let scale = lr / (ex.features.len() as f32).sqrt();
        let decay = 1.0 - lr * l2;
        for &b in &ex.features {
            let row = &mut self.weights[b as usize * n..(b as usize + 1) * n];
            for (w, g) in row.iter_mut().zip(logits.iter()) {
                *w = *w * decay - scale * g;
            }
        }
        for (b, g) in self.bias.iter_mut().zip(logits.iter()) {
            *b -= lr * g * 0.1;
        }
    }

    /// Learns from one correction: a few SGD steps on this text and label, so that the next
    /// prediction moves toward what a person said. Returns false when the label is unknown to
    /// the model (a retraining with the correction log adds it).
    pub fn learn(&mut self, text: &str, labels: &[String]) -> bool {
        let idx: Vec<usize> = labels
            .iter()
            .filter_map(|l| self.labels.iter().position(|x| x == l))
            .collect();
        if idx.is_empty() {
            return false;
        }
        let mut features = Vec::new();
        extract(text, &self.features, &mut features);
        let ex = Example {
            features,
            labels: idx,
        };
        let mut buf = Vec::new();
        // Bounded steps: one correction visibly moves the prediction for this text and its
        // like; a few in agreement turn it, without overturning what the corpus taught.
        for _ in 0..5 {
            self.step(&ex, 0.25, 0.0, &mut buf);
        }
        self.version = next_version();
        true
    }

    /// Validation score: accuracy (single-label) or micro-F1 (multi-label).
    fn score(&self, data: &[Example]) -> f64 {
        let mut buf = Vec::new();
        if self.multilabel {
            let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
            for ex in data {
                self.logits_into(&ex.features, &mut buf);
                self.probabilities(&mut buf);
                for (l, p) in buf.iter().enumerate() {
                    let want = ex.labels.contains(&l);
                    match (*p >= 0.5, want) {
                        (true, true) => tp += 1,
                        (true, false) => fp += 1,
                        (false, true) => fn_ += 1,
                        _ => {}
                    }
                }
            }
            2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64
        } else {
            let right = data
                .iter()
                .filter(|ex| Some(&self.argmax(&ex.features, &mut buf).0) == ex.labels.first())
                .count();
            right as f64 / data.len().max(1) as f64
        }
    }

    /// Trains on `train`, stopping early on `valid`, then calibrates on `valid`. `progress` is
    /// called after each epoch with (epoch, validation score).
    pub fn train(
        labels: Vec<String>,
        multilabel: bool,
        mut train: Vec<Example>,
        valid: &[Example],
        cfg: &TrainConfig,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<Model, ModelError> {
        if labels.len() < 2 && !multilabel {
            return Err(ModelError::Data(format!(
                "need at least two labels to classify, found {}",
                labels.len()
            )));
        }
        if train.is_empty() {
            return Err(ModelError::Data("no training rows".into()));
        }
        let mut model = Model::new(labels, cfg.features, multilabel);
        let mut rng = SplitMix64(cfg.seed);
        let mut best = (
            f64::NEG_INFINITY,
            model.weights.clone(),
            model.bias.clone(),
            0usize,
        );
        let mut since_best = 0;
        let mut logits = Vec::new();
        let total = (cfg.epochs * train.len()) as f32;
        let mut seen = 0f32;
        for epoch in 1..=cfg.epochs {
            rng.shuffle(&mut train);
            for ex in &train {
                // Linear decay of the learning rate over the whole run, as fastText does.
                let lr = cfg.learning_rate * (1.0 - seen / total).max(0.01);
                model.step(ex, lr, cfg.l2, &mut logits);
                seen += 1.0;
            }
            let score = if valid.is_empty() {
                model.score(&train)
            } else {
                model.score(valid)
            };
            progress(epoch, score);
            if score > best.0 {
                best = (score, model.weights.clone(), model.bias.clone(), epoch);
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= cfg.patience {
                    break;
                }
            }
        }
        model.weights = best.1;
        model.bias = best.2;
        model.version = next_version();
        model.provenance.epochs = best.3;
        model.provenance.seed = cfg.seed;
        if !valid.is_empty() {
            model.calibrate(valid);
        } else if !multilabel {
            model.threshold = 0.0;
        }
        Ok(model)
    }

    /// Temperature scaling (the temperature that minimises the validation log-loss), then the
    /// abstain threshold: the top probability under which answering loses more (wrong answers)
    /// than it gains (right ones) on the validation split.
    fn calibrate(&mut self, valid: &[Example]) {
        let mut logits: Vec<Vec<f32>> = Vec::with_capacity(valid.len());
        let mut buf = Vec::new();
        for ex in valid {
            self.logits_into(&ex.features, &mut buf);
            logits.push(buf.clone());
        }
        let mut best = (f64::INFINITY, 1.0f32);
        for i in 0..60 {
            let t = 0.05 * 1.1f32.powi(i);
            self.temperature = t;
            let mut loss = 0.0f64;
            for (ex, l) in valid.iter().zip(&logits) {
                let mut p = l.clone();
                self.probabilities(&mut p);
                if self.multilabel {
                    for (k, q) in p.iter().enumerate() {
                        let q = f64::from(q.clamp(1e-7, 1.0 - 1e-7));
                        loss -= if ex.labels.contains(&k) {
                            q.ln()
                        } else {
                            (1.0 - q).ln()
                        };
                    }
                } else if let Some(&y) = ex.labels.first() {
                    loss -= f64::from(p[y].max(1e-7)).ln();
                }
            }
            if loss < best.0 {
                best = (loss, t);
            }
        }
        self.temperature = best.1;
        if self.multilabel {
            self.threshold = 0.5;
            return;
        }
        // Sorted by confidence, descending: answering the top k gains right - wrong.
        let mut conf: Vec<(f32, bool)> = valid
            .iter()
            .zip(&logits)
            .map(|(ex, l)| {
                let mut p = l.clone();
                self.probabilities(&mut p);
                let (arg, top) = p
                    .iter()
                    .copied()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((0, 0.0));
                (top, ex.labels.first() == Some(&arg))
            })
            .collect();
        conf.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut gain, mut best_gain, mut cut) = (0i64, 0i64, 0.0f32);
        for (p, right) in &conf {
            gain += if *right { 1 } else { -1 };
            if gain > best_gain {
                best_gain = gain;
                cut = *p;
            }
        }
        self.threshold = cut;
    }

    /// The model file: magic, version, header length, header JSON, weights (sparse rows).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.labels.len();
        let mut weights = Vec::new();
        // Bias first, then each non-zero row with its bucket number: most buckets were never
        // seen in training and stay exactly zero.
        for b in &self.bias {
            weights.extend_from_slice(&b.to_le_bytes());
        }
        let rows = self
            .weights
            .chunks(n)
            .enumerate()
            .filter(|(_, r)| r.iter().any(|w| *w != 0.0));
        for (bucket, row) in rows {
            weights.extend_from_slice(&(bucket as u32).to_le_bytes());
            for w in row {
                weights.extend_from_slice(&w.to_le_bytes());
            }
        }
        let header = Header {
            labels: self.labels.clone(),
            features: self.features,
            multilabel: self.multilabel,
            temperature: self.temperature,
            threshold: self.threshold,
            provenance: self.provenance.clone(),
            weights_sha256: hex(&Sha256::digest(&weights)),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(16 + json.len() + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&weights);
        out
    }

    /// Reads a model file, checking its magic, version and checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let bad = |m: &str| ModelError::Malformed(m.to_string());
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(ModelError::Magic);
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| bad("version"))?);
        if version > FORMAT_VERSION {
            return Err(ModelError::Version(version));
        }
        let len = u32::from_le_bytes(bytes[12..16].try_into().map_err(|_| bad("length"))?) as usize;
        let json = bytes
            .get(16..16 + len)
            .ok_or_else(|| bad("header cut short"))?;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| ModelError::Malformed(e.to_string()))?;
        let weights = &bytes[16 + len..];
        if hex(&Sha256::digest(weights)) != header.weights_sha256 {
            return Err(ModelError::Checksum);
        }
        let n = header.labels.len();
        if n == 0 || header.features.bits > 26 {
            return Err(bad("no labels, or an unreasonable bucket count"));
        }
        let mut model = Model::new(header.labels, header.features, header.multilabel);
        model.temperature = header.temperature;
        model.threshold = header.threshold;
        model.provenance = header.provenance;
        let f32_at = |i: usize| -> f32 {
            f32::from_le_bytes([weights[i], weights[i + 1], weights[i + 2], weights[i + 3]])
        };
        if weights.len() < 4 * n || !(weights.len() - 4 * n).is_multiple_of(4 + 4 * n) {
            return Err(bad("weights section has the wrong length"));
        }
        for (l, b) in model.bias.iter_mut().enumerate() {
            *b = f32_at(4 * l);
        }
        let buckets = model.features.buckets();
        for row in weights[4 * n..].chunks(4 + 4 * n) {
            let bucket = u32::from_le_bytes([row[0], row[1], row[2], row[3]]) as usize;
            if bucket >= buckets {
                return Err(bad("a row's bucket is out of range"));
            }
            for l in 0..n {
                model.weights[bucket * n + l] = f32::from_le_bytes([
                    row[4 + 4 * l],
                    row[5 + 4 * l],
                    row[6 + 4 * l],
                    row[7 + 4 * l],
                ]);
            }
        }
        Ok(model)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub rows: usize,
    /// Share of rows whose top label is right (abstentions not applied).
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Share of rows the model answered (top probability at or over its threshold).
    pub coverage: f64,
    /// Accuracy on the answered rows.
    pub answered_accuracy: f64,
    pub per_class: Vec<ClassScores>,
    /// `confusion[true][predicted]`, in the order of `labels`.
    pub labels: Vec<String>,
    pub confusion: Vec<Vec<u64>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Model {
    /// Evaluates on labelled rows (single-label: the first label of each row; rows whose label
    /// the model does not know count as wrong; multi-label: per-label decisions at 0.5).
    pub fn evaluate(&self, rows: &[(String, Vec<String>)]) -> Evaluation {
        let n = self.labels.len();
        let mut confusion = vec![vec![0u64; n]; n];
        let (mut right, mut answered, mut answered_right) = (0usize, 0usize, 0usize);
        let mut f = Vec::new();
        let mut p = Vec::new();
        let mut tp = vec![0u64; n];
        let mut fp = vec![0u64; n];
        let mut fn_ = vec![0u64; n];
        for (text, want) in rows {
            extract(text, &self.features, &mut f);
            self.logits_into(&f, &mut p);
            self.probabilities(&mut p);
            let want: Vec<usize> = want
                .iter()
                .filter_map(|l| self.labels.iter().position(|x| x == l))
                .collect();
            if self.multilabel {
                let got: Vec<usize> = (0..n)
                    .filter(|&l| p[l] >= self.threshold.max(0.5))
                    .collect();
                if got == want {
                    right += 1;
                }
                for l in 0..n {
                    match (got.contains(&l), want.contains(&l)) {
                        (true, true) => tp[l] += 1,
                        (true, false) => fp[l] += 1,
                        (false, true) => fn_[l] += 1,
                        _ => {}
                    }
                }
                answered += 1;
                continue;
            }
            let (arg, top) = p
                .iter()
                .copied()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            let ok = want.first() == Some(&arg);
            right += usize::from(ok);
            if top >= self.threshold {
                answered += 1;
                answered_right += usize::from(ok);
            }
            if let Some(&y) = want.first() {
                confusion[y][arg] += 1;
                if ok {
                    tp[y] += 1;
                } else {
                    fn_[y] += 1;
                    fp[arg] += 1;
                }
            } else {
                fp[arg] += 1;
            }
        }
        let per_class: Vec<ClassScores> = (0..n)
            .map(|l| {
                let precision = tp[l] as f64 / (tp[l] + fp[l]).max(1) as f64;
                let recall = tp[l] as f64 / (tp[l] + fn_[l]).max(1) as f64;
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassScores {
                    label: self.labels[l].clone(),
                    precision,
                    recall,
                    f1,
                    support: tp[l] + fn_[l],
                }
            })
            .collect();
        let present: Vec<&ClassScores> = per_class.iter().filter(|c| c.support > 0).collect();
        let macro_f1 = present.iter().map(|c| c.f1).sum::<f64>() / present.len().max(1) as f64;
        let total = rows.len().max(1) as f64;
        Evaluation {
            rows: rows.len(),
            accuracy: right as f64 / total,
            macro_f1,
            coverage: answered as f64 / total,
            answered_accuracy: if self.multilabel {
                right as f64 / total
            } else {
                answered_right as f64 / answered.max(1) as f64
            },
            per_class,
            labels: self.labels.clone(),
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
        data.iter()
            .map(|(t, l)| (t.to_string(), l.split(';').map(str::to_string).collect()))
            .collect()
    }

    fn small() -> TrainConfig {
        TrainConfig {
            features: FeatureConfig {
                bits: 14,
                ..FeatureConfig::default()
            },
            epochs: 40,
            patience: 40,
            ..TrainConfig::default()
        }
    }

    const DATA: [(&str, &str); 12] = [
        ("great product, I love it", "pos"),
        ("super service, merci beaucoup", "pos"),
        ("excellent, very happy", "pos"),
        ("top qualité, je recommande", "pos"),
        ("love this, perfect", "pos"),
        ("parfait, très content", "pos"),
        ("terrible, I hate it", "neg"),
        ("nul, jamais reçu mon colis", "neg"),
        ("awful service, very angry", "neg"),
        ("horrible, remboursez-moi", "neg"),
        ("worst purchase ever", "neg"),
        ("déçu, pas content du tout", "neg"),
    ];

    #[test]
    fn learns_separable_data_reproducibly_and_round_trips() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let cfg = small();
        let data = rows(&DATA);
        let train = || examples(&data, &labels, &cfg.features);
        let m = Model::train(
            labels.clone(),
            false,
            train(),
            &train(),
            &cfg,
            &mut |_, _| {},
        )
        .unwrap();
        let m2 = Model::train(
            labels.clone(),
            false,
            train(),
            &train(),
            &cfg,
            &mut |_, _| {},
        )
        .unwrap();
        let e = m.evaluate(&data);
        assert_eq!(e.accuracy, 1.0);
        assert_eq!(e.macro_f1, 1.0);
        assert_eq!(m.to_bytes(), m2.to_bytes(), "same seed, same model");
        let p = m.predict("I love it, great");
        assert_eq!(p.labels, ["pos"]);
        let back = Model::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(
            back.predict_proba("jamais reçu"),
            m.predict_proba("jamais reçu")
        );
        // Probabilities sum to one.
        let s: f32 = m.predict_proba("whatever").iter().sum();
        assert!((s - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_correction_moves_the_next_prediction() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let cfg = small();
        let data = rows(&DATA);
        let ex = examples(&data, &labels, &cfg.features);
        let mut m = Model::train(labels, false, ex, &[], &cfg, &mut |_, _| {}).unwrap();
        let text = "le service était correct";
        let before = m.predict_proba(text)[1];
        assert!(m.learn(text, &["pos".to_string()]));
        let after = m.predict_proba(text)[1];
        assert!(after > before, "{before} -> {after}");
        assert!(!m.learn(text, &["unknown".to_string()]));
    }

    #[test]
    fn damaged_files_are_refused() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let cfg = small();
        let data = rows(&DATA);
        let ex = examples(&data, &labels, &cfg.features);
        let m = Model::train(labels, false, ex, &[], &cfg, &mut |_, _| {}).unwrap();
        let mut bytes = m.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            Model::from_bytes(&bytes),
            Err(ModelError::Checksum)
        ));
        assert!(matches!(Model::from_bytes(b"nope"), Err(ModelError::Magic)));
        let good = m.to_bytes();
        assert!(Model::from_bytes(&good[..good.len() - 3]).is_err());
    }

    #[test]
    fn multilabel_gives_several_labels() {
        let data = rows(&[
            ("colis en retard et remboursement", "delivery;refund"),
            ("livraison en retard", "delivery"),
            ("remboursez-moi", "refund"),
            ("delivery late again", "delivery"),
            ("refund please, late delivery", "delivery;refund"),
            ("I want my money back", "refund"),
        ]);
        let labels = vec!["delivery".to_string(), "refund".to_string()];
        let cfg = small();
        let ex = examples(&data, &labels, &cfg.features);
        let m = Model::train(labels, true, ex, &[], &cfg, &mut |_, _| {}).unwrap();
        let p = m.predict("late delivery and a refund");
        assert_eq!(p.labels.len(), 2, "{p:?}");
    }
}
