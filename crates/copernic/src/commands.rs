//! One function per sub-command.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use copernic_core::MessageId;
use copernic_pipeline::import::{import_file, FileReport, ImportOptions};
use copernic_pipeline::transforms::neardup::NearDupConfig;
use copernic_pipeline::{Ingestor, Mapping, Summary};
use copernic_server::{AppState, ServerConfig};
use copernic_store::{MessageQuery, RejectQuery, SqliteStore, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{
    Cli, Command, DemoArgs, ImportArgs, MessagesArgs, RejectsArgs, ServeArgs, StatsArgs, WavesArgs,
};

/// Messages an import writes per commit (see `SqliteStore::set_group_commit`): 131,072 wrote
/// 6 % fewer bytes than 65,536 for a million messages, at the same peak memory; a killed import
/// redoes at most this many, and its replay deduplicates them.
const IMPORT_GROUP_ROWS: usize = 131_072;
/// The demo sample, embedded so the binary needs no file beside it.
const DEMO_SAMPLE: &[u8] = include_bytes!("../demo/messages.jsonl");
/// The demo's teams, rules, SLAs, templates and connector (`@DATA@`: the data folder).
const DEMO_CARE: &str = include_str!("../demo/copernic.toml");

/// The embedded demo sample (JSONL).
pub fn demo_sample() -> &'static [u8] {
    DEMO_SAMPLE
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Import(args) => import(&cli.data, args),
        Command::Messages(args) => messages(&cli.data, args),
        Command::Rejects(args) => rejects(&cli.data, args),
        Command::Waves(args) => waves(&cli.data, args),
        Command::Stats(args) => stats(&cli.data, args),
        Command::Serve(args) => serve(&cli.data, args),
        Command::Demo(args) => demo(args),
        Command::Query(cmd) => crate::listen::query(&cli.data, cmd),
        Command::Match(args) => crate::listen::match_messages(args),
        Command::Train(args) => crate::classify::train(args),
        Command::Eval(args) => crate::classify::eval(args),
        Command::Classify(args) => crate::classify::classify(args),
        Command::Bench(cmd) => crate::bench::run(&cli.data, cmd),
        Command::Apply(args) => crate::engage::apply(&cli.data, args),
        Command::Cases(args) => crate::engage::cases(&cli.data, args),
        Command::Users(cmd) => crate::engage::users(&cli.data, cmd),
        Command::Coverage(args) => crate::engage::coverage(&cli.data, args),
    }
}

/// For the commands that only read: works beside a running import or server.
pub(crate) fn open_read_only(data: &Path) -> Result<Arc<SqliteStore>> {
    let store = SqliteStore::open_read_only(data).with_context(|| {
        format!(
            "cannot read the store in {} (set --data or COPERNIC_DATA)",
            data.display()
        )
    })?;
    Ok(Arc::new(store))
}

pub(crate) fn open_store(data: &Path) -> Result<Arc<SqliteStore>> {
    let store = SqliteStore::open(data).with_context(|| {
        format!(
            "cannot open the store in {} (set --data or COPERNIC_DATA)",
            data.display()
        )
    })?;
    Ok(Arc::new(store))
}

fn ingestor(
    store: Arc<SqliteStore>,
    redact_pii: bool,
    topics_model: Option<&Path>,
) -> Result<Arc<Ingestor>> {
    let mut ingestor = Ingestor::new(store, NearDupConfig::default())
        .context("cannot read recent messages")?
        .with_redaction(redact_pii);
    if let Some(path) = topics_model {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let model = copernic_classify::Model::from_bytes(&bytes)
            .with_context(|| format!("{} is not a usable model", path.display()))?;
        ingestor = ingestor.with_topics(model);
    }
    Ok(Arc::new(ingestor))
}

#[derive(Serialize)]
struct ImportSummary {
    #[serde(flatten)]
    total: Summary,
    seconds: f64,
    files: Vec<FileReport>,
}

fn import(data: &Path, args: ImportArgs) -> Result<ExitCode> {
    let mut mapping = Mapping::default();
    for spec in &args.map {
        mapping.extend(spec)?;
    }
    mapping.channel = args.channel.clone();
    mapping.items = args.items.clone();
    let opts = ImportOptions {
        format: args.format,
        mapping,
        source: args.source.clone(),
        limits: copernic_pipeline::Limits {
            max_record_bytes: args.max_record_bytes,
            max_document_bytes: args.max_document_bytes,
        },
        ..Default::default()
    };
    let store = open_store(data)?;
    // A file import can always be replayed without duplicates, so it need not wait for the disk
    // at every commit; a killed import loses nothing committed either way.
    store.set_sync_on_commit(false)?;
    // One commit per 131,072 messages rather than per batch: the id index's pages are written
    // once per commit (a million messages: 3.6 GB written to disk per-batch, 2.3 GB grouped).
    store.set_group_commit(IMPORT_GROUP_ROWS)?;
    // Into a new data folder, the import is written all at once, without a journal: each page
    // once, not twice through the WAL; interrupted, it keeps nothing (see `begin_first_load`).
    let first_load = store.begin_first_load()?;
    tracing::debug!(first_load, "import started");
    let ingestor = ingestor(store.clone(), args.redact_pii, args.topics_model.as_deref())?;
    let total_bytes: u64 = args
        .paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let started = Instant::now();
    let mut total = Summary::default();
    let mut files = Vec::new();
    let mut done_bytes = 0u64;
    for path in &args.paths {
        let report = import_file(path, &opts, &ingestor, &|bytes, s: &Summary| {
            bar.set_position(done_bytes + bytes);
            bar.set_message(format!(
                "{} imported, {} duplicates, {} rejected",
                total.imported + s.imported,
                total.duplicates + s.duplicates,
                total.rejected + s.rejected
            ));
        })
        .with_context(|| format!("the store failed while importing {}", path.display()))?;
        done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        total.merge(&report.summary);
        files.push(report);
    }
    bar.finish_and_clear();
    store
        .end_first_load()
        .context("cannot finish the first import into this data folder")?;
    let summary = ImportSummary {
        total,
        seconds: started.elapsed().as_secs_f64(),
        files,
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_import(&summary);
    }
    for f in summary.files.iter().filter(|f| f.error.is_some()) {
        eprintln!("error: {}", f.error.as_deref().unwrap_or_default());
    }
    if summary.total.read == 0 && summary.files.iter().any(|f| f.error.is_some()) {
        eprintln!(
            "error: nothing could be read. Check the paths, or name the format with --format \
             (jsonl, json, csv, mbox, rss, atom, mastodon) if detection chose wrongly."
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_import(s: &ImportSummary) {
    for f in &s.files {
        let t = &f.summary;
        println!(
            "{} ({}, source {}): read {}, imported {}, duplicates {}, rejected {}",
            f.path,
            f.format.name(),
            f.source,
            t.read,
            t.imported,
            t.duplicates,
            t.rejected
        );
        if let Some(e) = &f.error {
            println!("  error: {e}");
        }
        for r in &f.first_rejects {
            println!("  rejected: {r}");
        }
    }
    let t = &s.total;
    let rate = if s.seconds > 0.0 {
        t.read as f64 / s.seconds
    } else {
        0.0
    };
    println!(
        "total: read {}, imported {}, duplicates {}, rejected {}, {} joined near-duplicate waves — {:.1} s ({:.0} records/s)",
        t.read, t.imported, t.duplicates, t.rejected, t.in_waves, s.seconds, rate
    );
    if t.rejected > 0 {
        println!("every refused record is kept with its reason and bytes: run `copernic rejects`");
    }
}

fn parse_id(s: &str) -> Result<MessageId> {
    s.parse().map_err(|e| anyhow::anyhow!("{e}"))
}

fn messages(data: &Path, args: MessagesArgs) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    let q = MessageQuery {
        search: args.search,
        source: args.source,
        channel: args.channel,
        author: args.author,
        wave: args.wave.as_deref().map(parse_id).transpose()?,
        query: args.query,
        labels: args
            .label
            .iter()
            .map(|l| {
                l.split_once(['=', ':'])
                    .map(|(t, v)| (t.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| anyhow::anyhow!("--label {l:?} is not TASK=VALUE (sentiment=negative, intent=complaint, topic=NAME)"))
            })
            .collect::<Result<_>>()?,
        min_urgency: args.min_urgency,
        limit: args.limit,
        ..Default::default()
    };
    let found = store.messages(&q)?;
    print_rows(&found, args.json, "no message matches", |m| {
        let msg = &m.ingested.message;
        let who = msg
            .author
            .handle
            .as_deref()
            .or(msg.author.name.as_deref())
            .unwrap_or("-");
        let wave = if m.ingested.wave.is_some() {
            " [wave]"
        } else {
            ""
        };
        format!(
            "{}  {}  {}  {}  {}{}",
            msg.id,
            msg.created_at.format("%Y-%m-%d %H:%M"),
            msg.channel,
            who,
            one_line(&msg.text, 100),
            wave
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints rows for a person (one line each, a note on stderr when there are none) or, with
/// `--json`, one JSON object per line for scripts.
pub(crate) fn print_rows<T: Serialize>(
    rows: &[T],
    json: bool,
    none: &str,
    line: impl Fn(&T) -> String,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for r in rows {
        if json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            writeln!(out, "{}", line(r))?;
        }
    }
    if rows.is_empty() && !json {
        eprintln!("{none}");
    }
    Ok(())
}

pub(crate) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

fn rejects(data: &Path, args: RejectsArgs) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    if let Some(seq) = args.raw {
        match store.reject_raw(seq)? {
            Some(raw) => std::io::stdout().write_all(&raw)?,
            None => bail!("no reject number {seq}; `copernic rejects` lists them"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let found = store.rejects(&RejectQuery {
        source: args.source,
        limit: args.limit,
        ..Default::default()
    })?;
    print_rows(&found, args.json, "nothing was refused", |r| {
        format!(
            "#{}  {}  [{}]  {} ({} raw bytes)",
            r.seq,
            r.at.format("%Y-%m-%d %H:%M"),
            r.reject.source,
            r.reject,
            r.raw_len
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn waves(data: &Path, args: WavesArgs) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    let found = store.waves(None, args.limit)?;
    print_rows(&found, args.json, "no near-duplicate wave", |w| {
        format!(
            "{}  {:>5} messages  {:>5} authors  {} → {}  {}",
            w.head,
            w.size,
            w.distinct_authors,
            w.first_at.format("%Y-%m-%d %H:%M"),
            w.last_at.format("%Y-%m-%d %H:%M"),
            one_line(&w.sample, 70)
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn stats(data: &Path, args: StatsArgs) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    let stats = store.stats(None)?;
    let problems = if args.check {
        Some(store.integrity_check()?)
    } else {
        None
    };
    if args.json {
        let mut v = serde_json::to_value(&stats)?;
        if let Some(p) = &problems {
            v["integrity"] = serde_json::json!(if p.is_empty() {
                "ok".to_string()
            } else {
                p.join("; ")
            });
        }
        println!("{v}");
    } else {
        println!(
            "messages {}  rejects {}  waves {} ({} messages in waves)",
            stats.messages, stats.rejects, stats.waves, stats.messages_in_waves
        );
        if let Some(p) = &problems {
            println!(
                "integrity: {}",
                if p.is_empty() {
                    "ok".to_string()
                } else {
                    p.join("; ")
                }
            );
        }
    }
    Ok(match problems {
        Some(p) if !p.is_empty() => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

fn load_config(path: Option<&Path>) -> Result<ServerConfig> {
    let Some(path) = path else {
        return Ok(ServerConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid configuration", path.display()))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; is another server running there? choose another with --listen"))
}

fn serve(data: &Path, args: ServeArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let ingestor = ingestor(
        open_store(data)?,
        config.redact_pii,
        args.topics_model.as_deref(),
    )?;
    let engine = crate::engage::engine(data, ingestor.store().clone())?;
    let config = crate::engage::with_applied_sources(config, &engine)?;
    let state = AppState::new(ingestor, engine, &config);
    runtime()?.block_on(async move {
        let listener = bind(&args.listen).await?;
        eprintln!(
            "copernic is serving {} on http://{}",
            data.display(),
            listener.local_addr()?
        );
        copernic_server::serve(listener, state, &config, copernic_server::shutdown_signal())
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn demo(args: DemoArgs) -> Result<ExitCode> {
    let (dir, _temp) = match &args.into {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("copernic-demo-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let ingestor = ingestor(open_store(&dir)?, false, None)?;
    let engine = crate::engage::engine(&dir, ingestor.store().clone())?;
    let care = DEMO_CARE.replace("@DATA@", &dir.display().to_string());
    let care = copernic_engage::ConfigFile::parse(&care)
        .map_err(|e| anyhow::anyhow!("demo/copernic.toml: {e}"))?;
    engine.apply(&care, "demo")?;
    let ctx = copernic_pipeline::Context::new("demo", "demo/messages.jsonl");
    let mut items = Vec::new();
    let mut input = DEMO_SAMPLE;
    copernic_pipeline::sources::jsonl::read(&mut input, &Mapping::default(), &ctx, &mut |i| {
        items.push(i)
    })?;
    let mut summary = Summary::default();
    for o in ingestor.ingest(items)? {
        summary.add(&o);
    }
    eprintln!(
        "demo: loaded {} real public messages ({} new, {} already there; {} in near-duplicate waves) into {}",
        summary.read,
        summary.imported,
        summary.duplicates,
        summary.in_waves,
        dir.display()
    );
    let cases = engine.catch_up()?;
    eprintln!(
        "      {cases} messages sorted into cases (teams, rules and SLAs from demo/copernic.toml; replies go to {}/replies.jsonl)",
        dir.display()
    );
    eprintln!("      texts: banking77 (CC BY 4.0, PolyAI) and Allociné (MIT, T. Blard); see crates/copernic/demo/NOTICE.md");
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    let state = AppState::new(ingestor, engine, &ServerConfig::default());
    runtime()?.block_on(async move {
        let listener = bind(&args.listen).await?;
        eprintln!(
            "demo: open http://{} (Ctrl-C to stop)",
            listener.local_addr()?
        );
        copernic_server::serve(
            listener,
            state,
            &ServerConfig::default(),
            copernic_server::shutdown_signal(),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}
