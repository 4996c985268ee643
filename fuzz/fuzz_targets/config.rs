//! `copernic.toml`: any bytes as a configuration file, then what an accepted file drives —
//! business hours, durations, SLA due times.
//!
//! Asserts: no panic; an accepted file's business hours either compute due times or are refused
//! with a message; a due time is never before its start.
#![no_main]

use chrono::{DateTime, Duration, Utc};
use copernic_engage::hours::parse_duration;
use copernic_engage::ConfigFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_duration(text);
    let Ok(file) = ConfigFile::parse(text) else {
        return;
    };
    let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("a time");
    for team in &file.teams {
        let Some(hours) = &team.hours else { continue };
        // `parse` already checked them: an accepted file's hours make a schedule.
        let schedule = hours.schedule().expect("checked hours");
        for sla in &file.slas {
            for d in [sla.first_response, sla.next_response, sla.resolution]
                .into_iter()
                .flatten()
            {
                let due = schedule.add(start, d);
                assert!(due >= start, "{due} before {start} for {d}");
            }
        }
        assert!(schedule.add(start, Duration::days(365 * 100)) >= start);
    }
});
