//! End-to-end tests of the `copernic` binary: every test runs the real executable on files it
//! writes into a temporary folder, with its own `--data` store.

mod classify;
mod common;
mod crash;
mod demo;
mod engage;
mod exit_status;
mod formats;
mod listen;
mod replay;
mod serve;
mod waves;
