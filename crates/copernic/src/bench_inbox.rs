//! `copernic bench inbox`: the inbox under concurrent load (BENCHMARKS.md, "Engage: the inbox
//! under load").
//!
//! The data folder's stored messages are first turned into cases (the engine's catch-up, timed),
//! then the whole application is served in this process on a loopback port, as `copernic serve`
//! serves it, and a load generator on its own runtime keeps `--connections` keep-alive
//! connections busy, each sending its next request as soon as the previous answer is read
//! (closed loop): inbox listings (`GET /api/v1/cases?limit=50`, with and without filters, and
//! the next pages through `before=`) and case views (`GET /api/v1/cases/{id}` of a random
//! case). Every latency is kept, from the request's start to the last byte of its answer.
//!
//! The generator is in Rust rather than wrk so that one run mixes both endpoints on the same
//! connections, follows the `next` cursors the server hands out, and reports each kind of
//! request separately. Client and server share the machine's cores: the figures include that.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use copernic_core::engage::{Role, User};
use copernic_engage::{ConfigFile, Engine};
use copernic_pipeline::transforms::neardup::NearDupConfig;
use copernic_pipeline::Ingestor;
use copernic_server::{AppState, ServerConfig};
use copernic_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::bench::Rng;
use crate::cli::BenchInboxArgs;

/// What a fresh store gets before its first catch-up, so that team filters select something:
/// two teams, cases routed by language, and the agent the load generator signs in as.
const SETUP: &str = r#"
[[teams]]
name = "en"
[[teams]]
name = "fr"
[[rules]]
name = "french"
languages = ["fr"]
team = "fr"
[[rules]]
name = "english"
languages = ["en"]
team = "en"
"#;

/// The user whose API token the load generator sends (an agent of every team, holding no case).
const AGENT: &str = "bench";

/// Inbox listings, with their weight among listings (a first page; the next pages come from
/// following `next`).
const LISTINGS: &[(&str, &str, u64)] = &[
    ("inbox", "", 4),
    ("inbox status=new", "&status=new", 1),
    ("inbox active=true", "&active=true", 1),
    ("inbox team=en", "&team=en", 1),
    ("inbox team=fr", "&team=fr", 1),
    ("inbox channel=twitter", "&channel=twitter", 1),
    ("inbox priority=high", "&priority=high", 1),
];
/// Index of the "next page" kind, then of the case view, after the listings.
const NEXT: usize = LISTINGS.len();
const VIEW: usize = LISTINGS.len() + 1;
const KINDS: usize = LISTINGS.len() + 2;
/// How deep a connection pages before it starts over at a first page.
const MAX_DEPTH: u32 = 10;

fn kind_name(k: usize) -> &'static str {
    match k {
        NEXT => "inbox next page (before=)",
        VIEW => "case view",
        _ => LISTINGS[k].0,
    }
}

pub fn run(data: &std::path::Path, args: BenchInboxArgs) -> Result<ExitCode> {
    if args.connections == 0 || args.seconds <= 0.0 {
        bail!("--connections and --seconds must be positive");
    }
    let data = data.to_path_buf();
    let store = crate::commands::open_store(&data)?;
    let messages = store.stats(None)?.messages;
    let ingestor = Arc::new(
        Ingestor::new(store, NearDupConfig::default()).context("cannot read recent messages")?,
    );
    let engine = crate::engage::engine(&data, ingestor.store().clone())?;

    let had = engine.db().read(|tx| tx.case_count())? as usize;
    let mut building = None;
    if had < args.cases {
        if had == 0 && engine.teams()?.is_empty() {
            let file = ConfigFile::parse(SETUP).map_err(anyhow::Error::msg)?;
            engine.apply(&file, "bench")?;
        }
        building = Some(build_cases(&engine, messages, args.json)?);
    }
    let cases = engine.db().read(|tx| tx.case_count())? as usize;
    if cases == 0 {
        bail!(
            "no case in {}: import messages first (bench/inbox.sh does)",
            data.display()
        );
    }
    if cases < args.cases {
        eprintln!(
            "warning: the stored messages make {cases} cases, fewer than the {} wanted",
            args.cases
        );
    }
    let token = agent_token(&engine)?;

    // The server, on its own runtime, as `copernic serve` runs it.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig::default();
    let state = AppState::new(ingestor, engine, &config);
    let server = server_rt.spawn(async move {
        copernic_server::serve(listener, state, &config, async {
            let _ = stopped.await;
        })
        .await
    });

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    if !args.json {
        eprintln!(
            "load: {} connections for {} s (after {} s of warm-up) on http://{addr}, {} cases, {} messages",
            args.connections, args.seconds, args.warmup, cases, messages
        );
    }
    let load = client_rt.block_on(generate(
        format!("http://{addr}/api/v1"),
        token,
        cases as u64,
        &args,
    ))?;
    drop(client_rt);
    let _ = stop.send(());
    server_rt
        .block_on(server)
        .context("the server task failed")?
        .context("the server failed")?;

    let report = Report::new(messages, cases, building, &args, load);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print();
    }
    Ok(if report.requests == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Serialize)]
struct Building {
    messages: usize,
    cases: usize,
    seconds: f64,
}

/// The engine's catch-up over every stored message not yet in a case, with a progress bar.
fn build_cases(engine: &Arc<Engine>, messages: u64, quiet: bool) -> Result<Building> {
    let before = engine.db().read(|tx| tx.case_count())? as usize;
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(messages);
        bar.set_style(
            ProgressStyle::with_template(
                "cases {bar:40.cyan/blue} {pos}/{len} messages {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let started = Instant::now();
    let handled = engine
        .catch_up_with(&|seq| bar.set_position(seq.max(0) as u64))
        .context("cannot turn the stored messages into cases")?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let after = engine.db().read(|tx| tx.case_count())? as usize;
    let b = Building {
        messages: handled,
        cases: after - before,
        seconds,
    };
    if !quiet {
        eprintln!(
            "catch-up: {} messages into {} new cases in {:.1} s ({:.0} messages/s)",
            b.messages,
            b.cases,
            b.seconds,
            b.messages as f64 / b.seconds.max(1e-9)
        );
    }
    Ok(b)
}

/// A fresh API token of the bench agent (created, in every team, if missing): every request is
/// authenticated, as an agent's browser's would be.
fn agent_token(engine: &Engine) -> Result<String> {
    if engine.db().read(|tx| tx.user(AGENT))?.is_none() {
        let teams = engine.teams()?.into_iter().map(|t| t.name).collect();
        engine.put_user(
            "bench",
            &User {
                name: AGENT.into(),
                display_name: Some("Load generator".into()),
                email: None,
                role: Role::Agent,
                teams,
                languages: Vec::new(),
                channels: Vec::new(),
                capacity: 0,
                available: false,
            },
            None,
        )?;
    }
    Ok(engine.create_token("bench", AGENT, Some("copernic bench inbox"))?)
}

/// What the connections measured: per kind of request, the latencies in microseconds.
struct Load {
    latencies: Vec<Vec<u32>>,
    errors: Vec<u64>,
    first_errors: Vec<String>,
    seconds: f64,
}

async fn generate(base: String, token: String, cases: u64, args: &BenchInboxArgs) -> Result<Load> {
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(args.warmup.max(0.0));
    let until = measure_from + Duration::from_secs_f64(args.seconds);
    let base = Arc::new(base);
    let auth = Arc::new(format!("Bearer {token}"));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        let conn = Connection {
            client,
            base: base.clone(),
            auth: auth.clone(),
            rng: Rng(0x1b0c_2026 + c as u64),
            cases,
            views: args.views,
            page: None,
        };
        tasks.push(tokio::spawn(conn.run(measure_from, until)));
    }
    let mut load = Load {
        latencies: vec![Vec::new(); KINDS],
        errors: vec![0; KINDS],
        first_errors: Vec::new(),
        seconds: args.seconds,
    };
    for t in tasks {
        let one = t.await.context("a load connection panicked")?;
        for k in 0..KINDS {
            load.latencies[k].extend_from_slice(&one.latencies[k]);
            load.errors[k] += one.errors[k];
        }
        for e in one.first_errors {
            if load.first_errors.len() < 5 {
                load.first_errors.push(e);
            }
        }
    }
    // Requests that began before the end and finished after it stretch the window a little.
    load.seconds = (Instant::now() - measure_from)
        .as_secs_f64()
        .min(args.seconds * 1.5)
        .max(args.seconds);
    Ok(load)
}

/// One keep-alive connection's loop.
struct Connection {
    client: reqwest::Client,
    base: Arc<String>,
    auth: Arc<String>,
    rng: Rng,
    cases: u64,
    views: f64,
    /// The listing being paged: its filter, the cursor of its next page, the depth reached.
    page: Option<(usize, String, u32)>,
}

#[derive(serde::Deserialize)]
struct Page {
    next: Option<String>,
}

impl Connection {
    async fn run(mut self, measure_from: Instant, until: Instant) -> Load {
        let mut out = Load {
            latencies: vec![Vec::new(); KINDS],
            errors: vec![0; KINDS],
            first_errors: Vec::new(),
            seconds: 0.0,
        };
        let listing_weight: u64 = LISTINGS.iter().map(|l| l.2).sum();
        loop {
            let t0 = Instant::now();
            if t0 >= until {
                break;
            }
            let view = (self.rng.below(1_000_000) as f64) < self.views * 1_000_000.0;
            let (kind, url, filter, depth) = if view {
                let id = 1 + self.rng.below(self.cases);
                (VIEW, format!("{}/cases/{id}", self.base), 0, 0)
            } else {
                match self.page.take() {
                    Some((f, cursor, depth)) if self.rng.below(2) == 0 => (
                        NEXT,
                        format!(
                            "{}/cases?limit=50{}&before={cursor}",
                            self.base, LISTINGS[f].1
                        ),
                        f,
                        depth + 1,
                    ),
                    _ => {
                        let mut pick = self.rng.below(listing_weight);
                        let mut f = 0;
                        while pick >= LISTINGS[f].2 {
                            pick -= LISTINGS[f].2;
                            f += 1;
                        }
                        (
                            f,
                            format!("{}/cases?limit=50{}", self.base, LISTINGS[f].1),
                            f,
                            1,
                        )
                    }
                }
            };
            let answer = async {
                let r = self
                    .client
                    .get(&url)
                    .header("authorization", self.auth.as_str())
                    .send()
                    .await
                    .map_err(|e| format!("{url}: {e}"))?;
                let status = r.status();
                let body = r.bytes().await.map_err(|e| format!("{url}: {e}"))?;
                if !status.is_success() {
                    return Err(format!(
                        "{url}: {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ));
                }
                Ok(body)
            }
            .await;
            let micros = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
            let measured = t0 >= measure_from;
            match answer {
                Ok(body) => {
                    if measured {
                        out.latencies[kind].push(micros);
                    }
                    if kind != VIEW && depth < MAX_DEPTH {
                        if let Ok(Page { next: Some(next) }) = serde_json::from_slice(&body) {
                            self.page = Some((filter, next, depth));
                        }
                    }
                }
                Err(e) => {
                    if measured {
                        out.errors[kind] += 1;
                    }
                    if out.first_errors.len() < 5 {
                        out.first_errors.push(e);
                    }
                }
            }
        }
        out
    }
}

#[derive(Serialize)]
struct Figures {
    name: &'static str,
    requests: usize,
    errors: u64,
    per_second: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Figures {
    fn of(name: &'static str, mut l: Vec<u32>, errors: u64, seconds: f64) -> Figures {
        l.sort_unstable();
        // Nearest rank.
        let at = |p: f64| -> f64 {
            if l.is_empty() {
                return 0.0;
            }
            let i = ((p * l.len() as f64).ceil() as usize).clamp(1, l.len()) - 1;
            l[i] as f64 / 1000.0
        };
        Figures {
            name,
            requests: l.len(),
            errors,
            per_second: l.len() as f64 / seconds,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: l.last().map_or(0.0, |&m| m as f64 / 1000.0),
        }
    }
}

#[derive(Serialize)]
struct Report {
    messages: u64,
    cases: usize,
    /// The catch-up that made the cases, when this run made them.
    catch_up: Option<Building>,
    connections: usize,
    client_threads: usize,
    cores: usize,
    seconds: f64,
    requests: usize,
    errors: u64,
    per_second: f64,
    /// The two endpoints, every variant together.
    endpoints: Vec<Figures>,
    /// Each kind of request.
    kinds: Vec<Figures>,
    first_errors: Vec<String>,
    target_p99_ms: f64,
    target_met: bool,
}

const TARGET_P99_MS: f64 = 50.0;

impl Report {
    fn new(
        messages: u64,
        cases: usize,
        catch_up: Option<Building>,
        args: &BenchInboxArgs,
        load: Load,
    ) -> Report {
        let s = load.seconds;
        let listing: Vec<u32> = load.latencies[..VIEW].concat();
        let listing_errors: u64 = load.errors[..VIEW].iter().sum();
        let endpoints = vec![
            Figures::of("inbox listing", listing, listing_errors, s),
            Figures::of(
                "case view",
                load.latencies[VIEW].clone(),
                load.errors[VIEW],
                s,
            ),
        ];
        let kinds = (0..KINDS)
            .map(|k| Figures::of(kind_name(k), load.latencies[k].clone(), load.errors[k], s))
            .collect();
        let requests = endpoints.iter().map(|f| f.requests).sum();
        let errors = endpoints.iter().map(|f| f.errors).sum();
        let target_met = endpoints.iter().all(|f| f.p99_ms < TARGET_P99_MS) && errors == 0;
        Report {
            messages,
            cases,
            catch_up,
            connections: args.connections,
            client_threads: args.client_threads.max(1),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seconds: s,
            requests,
            errors,
            per_second: requests as f64 / s,
            endpoints,
            kinds,
            first_errors: load.first_errors,
            target_p99_ms: TARGET_P99_MS,
            target_met,
        }
    }

    fn print(&self) {
        println!(
            "{} messages, {} cases; {} connections, {:.1} s measured, {} cores shared by server and load generator ({} client thread{})",
            self.messages,
            self.cases,
            self.connections,
            self.seconds,
            self.cores,
            self.client_threads,
            if self.client_threads == 1 { "" } else { "s" }
        );
        if let Some(b) = &self.catch_up {
            println!(
                "catch-up: {} messages into {} cases in {:.1} s",
                b.messages, b.cases, b.seconds
            );
        }
        println!(
            "{:<28} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
        );
        let row = |f: &Figures| {
            println!(
                "{:<28} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7}",
                f.name, f.requests, f.per_second, f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms, f.errors
            )
        };
        for f in &self.endpoints {
            row(f);
        }
        println!("of which:");
        for f in &self.kinds {
            row(f);
        }
        println!(
            "total: {:.0} requests/s; p99 under {} ms on both endpoints: {}",
            self.per_second,
            TARGET_P99_MS,
            if self.target_met { "yes" } else { "no" }
        );
        for e in &self.first_errors {
            println!("error: {e}");
        }
    }
}
