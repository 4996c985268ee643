//! `copernic`: parse the command line, open the store, run the command. The only crate that
//! uses anyhow: errors are printed with their whole chain and the process exits non-zero.

mod bench;
mod bench_inbox;
mod bench_listen;
mod classify;
mod cli;
mod commands;
mod engage;
mod listen;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let level = if cli.verbose {
        tracing::Level::DEBUG
    } else {
        cli.command.log_level()
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
