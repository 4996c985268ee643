//! `copernic apply`, `cases`, `users`, `coverage`: the care side from the command line. Whoever
//! can open the data folder is its administrator, so these act as the local admin.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use copernic_core::engage::{Role, Status, User};
use copernic_engage::{ConfigFile, Engine, GroupBy, Principal, SystemClock};
use copernic_server::ServerConfig;
use copernic_store::engage::CaseQuery;
use copernic_store::Store;

use crate::cli::{ApplyArgs, CasesArgs, CoverageArgs, UserAddArgs, UsersCommand};
use crate::commands::{open_read_only, open_store};

/// The care side of data folder `data`, over `store`.
pub fn engine(data: &Path, store: Arc<dyn Store>) -> Result<Arc<Engine>> {
    Ok(Arc::new(
        Engine::open(data, store, Arc::new(SystemClock))
            .with_context(|| format!("cannot open the cases database in {}", data.display()))?,
    ))
}

/// A `--config` file's sources plus those applied with `copernic apply`.
pub fn with_applied_sources(mut config: ServerConfig, engine: &Engine) -> Result<ServerConfig> {
    if let Some(v) = engine.sources()? {
        let table: toml::Table =
            serde_json::from_value(v).context("stored [sources] are not valid")?;
        let applied = copernic_server::sources_config(&table).map_err(anyhow::Error::msg)?;
        for f in applied.feeds {
            if !config.feeds.iter().any(|x| x.url == f.url) {
                config.feeds.push(f);
            }
        }
        for w in applied.webhooks {
            if !config.webhooks.iter().any(|x| x.name == w.name) {
                config.webhooks.push(w);
            }
        }
    }
    Ok(config)
}

pub fn apply(data: &Path, args: ApplyArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file =
        ConfigFile::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    copernic_server::check_sources(&file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let store = open_store(data).context(
        "while a server runs on this folder, send the file to it instead: \
         curl -X POST --data-binary @copernic.toml http://HOST/api/v1/config",
    )?;
    let engine = engine(data, store)?;
    let report = engine
        .apply(&file, "cli")
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "applied {}: {} teams, {} users, {} rules, {} SLA policies, {} templates, {} connectors, {} queries, {} customers{}",
            args.file.display(),
            report.teams,
            report.users,
            report.rules,
            report.slas,
            report.templates,
            report.connectors,
            report.queries,
            report.customers,
            if report.sources { ", sources" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Turns the messages stored since the last pass (a file import) into cases, with a progress
/// bar when that is a long job and someone is watching.
fn catch_up(engine: &Engine) -> Result<()> {
    let (from, to) = engine.backlog()?;
    let bar = if to - from > 20_000 && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new((to - from) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "sorting messages into cases {bar:30} {pos}/{len} ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    engine
        .catch_up_with(&|seq| bar.set_position((seq - from).max(0) as u64))
        .context("cannot bring cases up to date")?;
    bar.finish_and_clear();
    Ok(())
}

fn short(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

pub fn cases(data: &Path, args: CasesArgs) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    let engine = engine(data, store)?;
    // Messages stored since the last server pass (a file import) become cases now.
    catch_up(&engine)?;
    let admin = Principal::open_install();
    if let Some(id) = args.id {
        let v = engine.case_view(&admin, id)?;
        if args.json {
            println!("{}", serde_json::to_string(&v)?);
            return Ok(ExitCode::SUCCESS);
        }
        let c = &v.case;
        println!(
            "case {}  {}  {}  team {}  assignee {}  {} on {}",
            c.id,
            c.status,
            c.priority,
            c.team.as_deref().unwrap_or("-"),
            c.assignee.as_deref().unwrap_or("-"),
            c.customer_handle.as_deref().unwrap_or(&c.customer),
            c.channel
        );
        if !c.tags.is_empty() {
            println!("tags: {}", c.tags.join(", "));
        }
        for m in &v.messages {
            let m = &m.ingested.message;
            println!(
                "  {} {:>8}  {}",
                short(m.created_at),
                m.direction.as_str(),
                m.text.chars().take(120).collect::<String>()
            );
        }
        for r in &v.replies {
            println!(
                "  reply {} by {} ({}): {}",
                r.id,
                r.author,
                r.status,
                r.text.chars().take(100).collect::<String>()
            );
        }
        for a in v.audit.iter().rev() {
            println!("  {} {} {}", short(a.at), a.actor, a.action);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let status = args
        .status
        .as_deref()
        .map(|s| s.parse::<Status>())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let list = engine.cases(
        &admin,
        CaseQuery {
            status,
            active: args.active,
            team: args.team,
            assignee: args.assignee,
            channel: args.channel,
            limit: args.limit,
            ..CaseQuery::default()
        },
    )?;
    if args.json {
        for c in &list {
            println!("{}", serde_json::to_string(c)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        eprintln!("no cases yet: import or POST inbound messages, then look again");
    }
    for c in &list {
        println!(
            "{:>7}  {:<8} {:<6}  {:<12} {:<12} {:<9} {}  {}",
            c.id,
            c.status.as_str(),
            c.priority.as_str(),
            c.team.as_deref().unwrap_or("-"),
            c.assignee.as_deref().unwrap_or("-"),
            c.channel,
            short(c.updated_at),
            c.subject.chars().take(60).collect::<String>()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(from_stdin: bool) -> Result<Option<String>> {
    if let Ok(p) = std::env::var("COPERNIC_PASSWORD") {
        return Ok(Some(p));
    }
    if !from_stdin {
        return Ok(None);
    }
    if std::io::stdin().is_terminal() {
        eprintln!("password (then Enter):");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("no password on standard input");
    }
    Ok(Some(p))
}

pub fn users(data: &Path, cmd: UsersCommand) -> Result<ExitCode> {
    match cmd {
        UsersCommand::Hash => {
            let p = read_password(true)?.unwrap_or_default();
            println!(
                "{}",
                copernic_engage::auth::hash_password(&p).map_err(anyhow::Error::msg)?
            );
        }
        UsersCommand::Add(a) => add_user(data, a)?,
        UsersCommand::List { json } => {
            let store = open_read_only(data)?;
            let engine = engine(data, store)?;
            for u in engine.users()? {
                if json {
                    println!("{}", serde_json::to_string(&u)?);
                } else {
                    println!(
                        "{:<16} {:<10} teams {:<20} capacity {:>3} {}",
                        u.name,
                        u.role.as_str(),
                        u.teams.join(","),
                        u.capacity,
                        if u.available { "available" } else { "away" }
                    );
                }
            }
        }
        UsersCommand::Token { name, label } => {
            let store = open_read_only(data)?;
            let engine = engine(data, store)?;
            let t = engine.create_token("cli", &name, label.as_deref())?;
            println!("{t}");
            eprintln!("(shown once: send it as Authorization: Bearer TOKEN)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn add_user(data: &Path, a: UserAddArgs) -> Result<()> {
    let role: Role = a.role.parse().map_err(anyhow::Error::msg)?;
    let password = read_password(a.password_stdin)?;
    let store = open_read_only(data).or_else(|_| open_store(data).map(|s| s as Arc<_>))?;
    let engine = engine(data, store)?;
    let first = !engine.has_users()?;
    engine.put_user(
        "cli",
        &User {
            name: a.name.clone(),
            display_name: a.display_name,
            email: a.email,
            role,
            teams: a.teams,
            languages: a.languages,
            channels: a.channels,
            capacity: a.capacity,
            available: true,
        },
        password.as_deref(),
    )?;
    println!("user {} saved ({role})", a.name);
    if first {
        eprintln!("access control is now on: the API and UI ask who is calling");
    }
    if password.is_none() && role >= Role::Viewer {
        eprintln!("no password set: set COPERNIC_PASSWORD or use --password-stdin to let them sign in to the UI, or make an API token with `copernic users token {}`", a.name);
    }
    Ok(())
}

pub fn coverage(data: &Path, args: CoverageArgs) -> Result<ExitCode> {
    let by: GroupBy = args.by.parse().map_err(anyhow::Error::msg)?;
    let store = open_read_only(data)?;
    let engine = engine(data, store)?;
    catch_up(&engine)?;
    let rows = engine.coverage(by, args.since, args.until)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({"by": by, "rows": rows}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let dur = |s: Option<i64>| match s {
        None => "-".to_string(),
        Some(s) if s < 3600 => format!("{}m", s / 60),
        Some(s) if s < 86_400 => format!("{:.1}h", s as f64 / 3600.0),
        Some(s) => format!("{:.1}d", s as f64 / 86_400.0),
    };
    println!(
        "{:<16} {:>7} {:>8} {:>9} {:>9} {:>9} {:>8}",
        "key", "cases", "inbound", "answered", "ttfr p50", "ttfr p90", "sla met"
    );
    for r in rows {
        println!(
            "{:<16} {:>7} {:>8} {:>8.1}% {:>9} {:>9} {:>8}",
            r.key,
            r.cases,
            r.inbound,
            r.answered_share * 100.0,
            dur(r.first_response_median_s),
            dur(r.first_response_p90_s),
            r.sla_compliance
                .map_or("-".into(), |c| format!("{:.1}%", c * 100.0))
        );
    }
    Ok(ExitCode::SUCCESS)
}
