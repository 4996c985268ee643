//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};
use copernic_pipeline::Format;

/// Copernic: hear everything said to and about a brand, understand it, answer it.
#[derive(Debug, Parser)]
#[command(name = "copernic", version, about, long_about = None)]
pub struct Cli {
    /// Data folder of the embedded store.
    #[arg(
        long,
        global = true,
        env = "COPERNIC_DATA",
        default_value = "./copernic-data"
    )]
    pub data: PathBuf,
    /// Log more.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import files: JSONL, JSON, CSV, mbox, RSS, Atom, Mastodon statuses (gzipped or not).
    ///
    /// Every record becomes a message, a duplicate of one already stored, or a reject kept in the
    /// dead-letter store with its reason (see `copernic rejects`). Re-importing a file never
    /// duplicates anything.
    Import(ImportArgs),
    /// List stored messages, newest first.
    Messages(MessagesArgs),
    /// List records that were refused, with where and why.
    Rejects(RejectsArgs),
    /// List near-duplicate waves (copy-paste campaigns, bot floods), largest first.
    Waves(WavesArgs),
    /// Count what is stored, and check the store's integrity.
    Stats(StatsArgs),
    /// Serve the API, webhooks, feed polling and the web UI.
    Serve(ServeArgs),
    /// Load the bundled sample of real public messages into a fresh store and serve it.
    Demo(DemoArgs),
    /// Standing listening queries: check, add, list, remove, back-test, counts over time.
    ///
    /// The language (words, "phrases", prefix*, #hashtags, @mentions, AND, OR, NOT/-, NEAR/n,
    /// lang: channel: author: sentiment: intent: topic:) is described in docs/query-language.md.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Match messages against queries offline: one JSON object per message, in input order,
    /// `{"id": ..., "matches": [query ids, sorted]}`.
    Match(MatchArgs),
    /// Train a text classifier from a CSV of labelled texts; prints its evaluation on a held-out
    /// split.
    Train(TrainArgs),
    /// Evaluate a model on a CSV of labelled texts: accuracy, macro-F1, per class, confusion.
    Eval(EvalArgs),
    /// Classify texts (--text, or one per line on stdin): one JSON object per text.
    Classify(ClassifyArgs),
    /// Benchmark helpers (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Apply a configuration file (copernic.toml): teams, users, routing rules, SLA policies,
    /// templates, connectors, sources, listening queries. Unknown keys are errors with their line.
    Apply(ApplyArgs),
    /// The inbox: cases (conversations of one customer on one channel), newest activity first;
    /// `--id N` shows one case with its messages, replies and history.
    Cases(CasesArgs),
    /// People who answer: add or update, list, hash a password, make an API token.
    #[command(subcommand)]
    Users(UsersCommand),
    /// How close the brand comes to answering everyone in time: answered share, time to first
    /// response (median, p90), SLA compliance, by team, agent, channel or language.
    Coverage(CoverageArgs),
}

impl Command {
    pub fn log_level(&self) -> tracing::Level {
        match self {
            Command::Serve(_) | Command::Demo(_) => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }
}

/// `--format` values: the names `Format` gives itself, listed by `--help`.
fn format_parser() -> impl TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new(Format::ALL.map(Format::name))
        .map(|name| name.parse::<Format>().unwrap_or_default())
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Format of the files; `auto` decides from the name and first bytes.
    #[arg(long, default_value = "auto", value_parser = format_parser())]
    pub format: Format,
    /// Field mapping for JSON and CSV: `text=body,author=user.screen_name,created_at=date`.
    /// Fields: id, text, title, author, author_id, author_name, created_at, url, channel, thread,
    /// in_reply_to, lang, direction, tags, sentiment, intent, topics. Paths are dotted for JSON, column names for CSV.
    #[arg(long, action = clap::ArgAction::Append)]
    pub map: Vec<String>,
    /// Where the records are inside a JSON document (`data`, `entry.*.changes.*.value`); by
    /// default a top-level array, or the array under data/items/results/statuses/... .
    #[arg(long, value_name = "PATH")]
    pub items: Option<String>,
    /// Channel of records that name none (JSON, CSV).
    #[arg(long)]
    pub channel: Option<String>,
    /// Source name (part of every message id: keep it the same when re-importing). Default: the
    /// file name, or `email` for mbox and `mastodon` for Mastodon statuses.
    #[arg(long)]
    pub source: Option<String>,
    /// Largest record (line, row, mail, feed item) accepted; larger ones are refused and kept.
    #[arg(long, default_value_t = copernic_pipeline::Limits::default().max_record_bytes)]
    pub max_record_bytes: usize,
    /// Largest document read whole (a feed, a JSON array, a Mastodon dump).
    #[arg(long, default_value_t = copernic_pipeline::Limits::default().max_document_bytes)]
    pub max_document_bytes: usize,
    /// Replace personal data (e-mail, phone, card, IBAN) in stored texts and payloads with
    /// `[email]`, `[phone]`, `[card]`, `[iban]`.
    #[arg(long)]
    pub redact_pii: bool,
    /// Your topic model (from `copernic train`): every message gets its topics.
    #[arg(long, value_name = "MODEL")]
    pub topics_model: Option<PathBuf>,
    /// Print one JSON object with the summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// Words that must all appear (case and accents ignored; `word*` prefix; `"a phrase"`).
    #[arg(long)]
    pub search: Option<String>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub channel: Option<String>,
    /// Author handle or id.
    #[arg(long)]
    pub author: Option<String>,
    /// Only the messages of this near-duplicate wave (its head's id).
    #[arg(long)]
    pub wave: Option<String>,
    /// Only the messages the standing query of this name matched.
    #[arg(long, value_name = "NAME")]
    pub query: Option<String>,
    /// Only messages with this label: sentiment=negative, intent=complaint, topic=NAME,
    /// pii=card, lang=fr (repeatable: all must hold).
    #[arg(long, value_name = "TASK=VALUE", action = clap::ArgAction::Append)]
    pub label: Vec<String>,
    /// Only messages at least this urgent (0 to 1).
    #[arg(long)]
    pub min_urgency: Option<f32>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RejectsArgs {
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Write the raw bytes of reject number SEQ to stdout.
    #[arg(long, value_name = "SEQ")]
    pub raw: Option<i64>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WavesArgs {
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Also run SQLite's integrity check (reads the whole file).
    #[arg(long)]
    pub check: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Configuration file (webhooks, feeds, limits); unknown keys are errors.
    #[arg(long, env = "COPERNIC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Your topic model (from `copernic train`): every message gets its topics, and topic
    /// corrections through the API teach it.
    #[arg(long, value_name = "MODEL")]
    pub topics_model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Load the sample and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Load into this data folder instead of a fresh temporary one (which is removed on exit).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The percolator against the naive engine: standing queries built from a real corpus's
    /// vocabulary, matched against the corpus on one thread (BENCHMARKS.md, "Listen").
    Listen(BenchListenArgs),
    /// Prediction throughput of models on the texts of a CSV, one thread (BENCHMARKS.md,
    /// "Classify").
    Classify {
        /// Model files; each is timed alone. Without any: the full classify step with the
        /// shipped models (language, sentiment, intent, personal data, urgency).
        #[arg(long = "model")]
        models: Vec<PathBuf>,
        /// CSV whose texts are classified.
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "text")]
        text_col: String,
        /// Seconds to keep predicting, per model.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// Write a realistic corpus of N messages (French and English, social lengths) as JSONL, and
    /// the same rows as CSV for the `sqlite3 .import` floor.
    Gen {
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        /// JSONL output.
        #[arg(long)]
        jsonl: PathBuf,
        /// CSV output (id, author, created_at, text).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Group the messages into this many conversations, each of one author on one channel
        /// within a few hours, so the care side makes about this many cases (issue 5's inbox
        /// benchmark). Without it, authors (100,000) and channels are drawn independently over
        /// the month.
        #[arg(long)]
        conversations: Option<usize>,
    },
    /// The inbox under concurrent load: serves the data folder's cases on loopback and measures
    /// the inbox listing and the case view from keep-alive connections (BENCHMARKS.md, "Engage").
    Inbox(BenchInboxArgs),
}

#[derive(Debug, Args)]
pub struct BenchInboxArgs {
    /// Cases wanted: with fewer, stored messages are first turned into cases (catch-up).
    #[arg(long, default_value_t = 200_000)]
    pub cases: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Seconds of load before measuring (not recorded).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Share of requests that are case views (the rest are inbox listings).
    #[arg(long, default_value_t = 0.5)]
    pub views: f64,
    /// Threads of the load generator (the server has its own runtime).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Check a query: print its normalised form (exit 0) or where and why it is wrong (exit 2).
    Check {
        /// The query (one argument: quote it). A leading `-` is part of the query.
        #[arg(allow_hyphen_values = true)]
        query: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Add a standing query, or change the words of an existing one: the stored history is
    /// matched against it (back-fill), and every message ingested from now on.
    Add {
        name: String,
        #[arg(allow_hyphen_values = true)]
        query: String,
        /// Do not match the stored history: count from now on only.
        #[arg(long)]
        no_backfill: bool,
        #[arg(long)]
        json: bool,
    },
    /// List standing queries with how many messages each matched.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a standing query and its matches.
    Remove { name: String },
    /// Back-test a query on stored history: how many messages it matches, and the newest ones.
    Test {
        #[arg(allow_hyphen_values = true)]
        query: String,
        /// Only messages created since: a duration (30d, 12h, 2w) or a date (2026-01-31).
        #[arg(long)]
        since: Option<String>,
        /// How many matching messages to show.
        #[arg(long, default_value_t = 5)]
        sample: usize,
        #[arg(long)]
        json: bool,
    },
    /// Matches per day of a standing query, as a bar chart (or JSON).
    Counts {
        name: String,
        /// A duration (30d, 12h, 2w) or a date (2026-01-31).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Queries: one `ID<TAB>QUERY` per line (blank lines skipped).
    #[arg(long)]
    pub queries: PathBuf,
    /// Messages: JSONL, as `copernic import` reads it.
    #[arg(long)]
    pub messages: PathBuf,
    /// Field mapping for the messages, as for `copernic import`.
    #[arg(long, action = clap::ArgAction::Append)]
    pub map: Vec<String>,
    /// Use the naive engine (every query verified on every message): for comparisons.
    #[arg(long)]
    pub naive: bool,
    /// One JSON object per message (the default prints `ID: q1 q2`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchListenArgs {
    /// Corpus files (CSV with a `text` column, or JSONL); a file whose name holds `allocine` is
    /// French with its `label` as sentiment. Default: the bundled demo sample.
    #[arg(long = "corpus")]
    pub corpus: Vec<PathBuf>,
    /// Numbers of standing queries to measure, each in its own round.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    pub queries: Vec<usize>,
    /// Messages matched by the percolator in each round (the corpus is cycled).
    #[arg(long, default_value_t = 200_000)]
    pub messages: usize,
    /// Seconds the naive engine may run in each round (it is slow: it verifies every query).
    #[arg(long, default_value_t = 20.0)]
    pub naive_seconds: f64,
    /// Write the generated queries of the last round here (`ID<TAB>QUERY`).
    #[arg(long)]
    pub write_queries: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// CSV with a header row.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "text")]
    pub text_col: String,
    /// Labels; several in one cell separated by `;` or `|` make a multi-label model (topics).
    #[arg(long, default_value = "label")]
    pub label_col: String,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// A validation CSV (same columns) for early stopping and calibration; by default 10 % of
    /// --data is held out for it.
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// A test CSV to evaluate on; by default another 10 % of --data is held out for it.
    #[arg(long)]
    pub test: Option<PathBuf>,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, default_value_t = 0.5)]
    pub lr: f32,
    /// log2 of the number of feature buckets.
    #[arg(long, default_value_t = 20)]
    pub bits: u8,
    /// Word n-grams: 1 (words) or 2 (words and pairs).
    #[arg(long, default_value_t = 2)]
    pub word_ngrams: u8,
    /// Character n-grams from 3 to this many characters (0: none).
    #[arg(long, default_value_t = 5)]
    pub char_max: u8,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The data's licence or origin, recorded in the model file.
    #[arg(long, default_value = "")]
    pub licence: String,
    /// Print one JSON object (the evaluation) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "text")]
    pub text_col: String,
    #[arg(long, default_value = "label")]
    pub label_col: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// A model file; by default the shipped models (language, sentiment, intent) and personal
    /// data detection.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The text to classify; without it, every line of stdin is one text.
    #[arg(long)]
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The configuration file.
    pub file: PathBuf,
    /// Print what was applied as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CasesArgs {
    /// Show this case whole.
    #[arg(long)]
    pub id: Option<i64>,
    /// new, open, pending, resolved or spam.
    #[arg(long)]
    pub status: Option<String>,
    /// Only new, open and pending cases.
    #[arg(long)]
    pub active: bool,
    #[arg(long)]
    pub team: Option<String>,
    #[arg(long)]
    pub assignee: Option<String>,
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
    /// One JSON object per line (one object for --id).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user or update one (teams are replaced). The password is read from the
    /// COPERNIC_PASSWORD environment variable or, with --password-stdin, from the first line of
    /// standard input; passwords never go on the command line.
    Add(UserAddArgs),
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the argon2 hash of the password on standard input, for `password_hash` in
    /// copernic.toml.
    Hash,
    /// Make an API token for a user (printed once; only its hash is kept).
    Token {
        name: String,
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    pub name: String,
    /// viewer, agent, supervisor or admin.
    #[arg(long)]
    pub role: String,
    /// Teams (repeatable; they must exist: `copernic apply` creates them).
    #[arg(long = "team", value_name = "TEAM", action = clap::ArgAction::Append)]
    pub teams: Vec<String>,
    /// Languages they answer in (repeatable; none: any).
    #[arg(long = "language", value_name = "LANG", action = clap::ArgAction::Append)]
    pub languages: Vec<String>,
    /// Channels they answer on (repeatable; none: any).
    #[arg(long = "channel", value_name = "CHANNEL", action = clap::ArgAction::Append)]
    pub channels: Vec<String>,
    /// Cases (new or open) they hold at once.
    #[arg(long, default_value_t = 10)]
    pub capacity: i64,
    #[arg(long)]
    pub display_name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// all, team, agent, channel or language.
    #[arg(long, default_value = "all")]
    pub by: String,
    /// Only cases opened at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}
