//! Durations as people write them (`90s`, `15m`, `4h`, `1d12h`) and business hours: SLA clocks
//! only run while a team is open.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Parses `1d2h30m15s` (any of the parts, in that order, at least one).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a duration; write it like 90s, 15m, 4h, 2d or 1h30m");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0i64;
    let mut num = String::new();
    let mut last_rank = 0;
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let (secs, rank) = match c {
            'd' => (86_400, 1),
            'h' => (3_600, 2),
            'm' => (60, 3),
            's' => (1, 4),
            _ => return Err(bad()),
        };
        if num.is_empty() || rank <= last_rank {
            return Err(bad());
        }
        last_rank = rank;
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(secs).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        num.clear();
    }
    // A century is more than any setting needs; beyond it is a typo.
    if !num.is_empty() || total > 36_500 * 86_400 {
        return Err(bad());
    }
    Ok(Duration::seconds(total))
}

/// Serde helper for durations written as strings.
pub mod duration_str {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", d.num_seconds()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use chrono::Duration;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::super::parse_duration(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// When a team works: per weekday, one or more `HH:MM-HH:MM` spans, in a fixed UTC offset, minus
/// holidays. A team without hours works around the clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// `+01:00`, `-05:00`, `Z`. A fixed offset: daylight-saving changes are not followed.
    #[serde(default)]
    pub utc_offset: Option<String>,
    #[serde(default)]
    pub mon: Option<String>,
    #[serde(default)]
    pub tue: Option<String>,
    #[serde(default)]
    pub wed: Option<String>,
    #[serde(default)]
    pub thu: Option<String>,
    #[serde(default)]
    pub fri: Option<String>,
    #[serde(default)]
    pub sat: Option<String>,
    #[serde(default)]
    pub sun: Option<String>,
    /// Days off (`2026-12-25`), in the team's offset.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

/// [`BusinessHours`] checked and ready to compute with.
#[derive(Clone, Debug)]
pub struct Schedule {
    offset: chrono::FixedOffset,
    /// Monday first: working spans in seconds since midnight.
    days: [Vec<(u32, u32)>; 7],
    holidays: Vec<NaiveDate>,
}

fn parse_span(day: &str, s: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("{day} = {s:?}: write spans like \"09:00-12:30, 14:00-18:00\"");
        let (a, b) = part.split_once('-').ok_or_else(bad)?;
        let t = |x: &str| -> Result<u32, String> {
            let x = x.trim();
            if x == "24:00" {
                return Ok(86_400);
            }
            NaiveTime::parse_from_str(x, "%H:%M")
                .map(|t| t.num_seconds_from_midnight())
                .map_err(|_| bad())
        };
        let (a, b) = (t(a)?, t(b)?);
        if a >= b {
            return Err(bad());
        }
        out.push((a, b));
    }
    out.sort_unstable();
    Ok(out)
}

use chrono::Timelike;

impl BusinessHours {
    pub fn schedule(&self) -> Result<Schedule, String> {
        let offset = match self.utc_offset.as_deref().map(str::trim) {
            None | Some("Z") | Some("") => chrono::FixedOffset::east_opt(0),
            Some(o) => {
                let bad = || format!("utc_offset {o:?}: write it like +01:00 or -05:00");
                let sign = match o.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                let (h, m) = o[1..].split_once(':').ok_or_else(bad)?;
                let h: i32 = h.parse().map_err(|_| bad())?;
                let m: i32 = m.parse().map_err(|_| bad())?;
                if h > 14 || m > 59 {
                    return Err(bad());
                }
                chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            }
        }
        .ok_or("utc_offset out of range")?;
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let specs = [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ];
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        let any = specs.iter().any(|s| s.is_some());
        for (i, spec) in specs.iter().enumerate() {
            days[i] = match spec {
                Some(s) => parse_span(names[i], s)?,
                // No day named at all: around the clock; some named: the others are closed.
                None if !any => vec![(0, 86_400)],
                None => Vec::new(),
            };
        }
        if days.iter().all(Vec::is_empty) {
            return Err("business hours name no working time at all".into());
        }
        Ok(Schedule {
            offset,
            days,
            holidays: self.holidays.clone(),
        })
    }
}

impl Schedule {
    /// Around the clock, every day.
    pub fn always() -> Schedule {
        Schedule {
            offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
            days: std::array::from_fn(|_| vec![(0, 86_400)]),
            holidays: Vec::new(),
        }
    }

    /// The instant `budget` of working time after `start`.
    pub fn add(&self, start: DateTime<Utc>, budget: Duration) -> DateTime<Utc> {
        let mut left = budget.num_seconds().max(0);
        let mut local = start.with_timezone(&self.offset).naive_local();
        // A year of days is more than any SLA: stop there rather than loop on odd input.
        for _ in 0..800 {
            let date = local.date();
            let secs = local.time().num_seconds_from_midnight();
            let spans: &[(u32, u32)] = if self.holidays.contains(&date) {
                &[]
            } else {
                &self.days[date.weekday().num_days_from_monday() as usize]
            };
            for &(a, b) in spans {
                if b <= secs {
                    continue;
                }
                let from = a.max(secs);
                let room = i64::from(b - from);
                if left <= room {
                    let at = date.and_hms_opt(0, 0, 0).expect("midnight")
                        + Duration::seconds(i64::from(from) + left);
                    return self.to_utc(at);
                }
                left -= room;
            }
            local = (date + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight");
        }
        start + budget
    }

    fn to_utc(&self, local: chrono::NaiveDateTime) -> DateTime<Utc> {
        self.offset
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::days(2));
        for bad in ["", "h", "1x", "30m1h", "5", "1h1h", "99999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clocks_stop_outside_business_hours() {
        let h = BusinessHours {
            utc_offset: Some("+01:00".into()),
            mon: Some("09:00-18:00".into()),
            tue: Some("09:00-12:00, 14:00-18:00".into()),
            wed: Some("09:00-18:00".into()),
            thu: Some("09:00-18:00".into()),
            fri: Some("09:00-18:00".into()),
            holidays: vec!["2026-12-25".parse().unwrap()],
            ..Default::default()
        }
        .schedule()
        .unwrap();
        // Monday 17:00 local (16:00Z) + 2h: one hour on Monday, one on Tuesday from 09:00.
        assert_eq!(
            h.add(at("2026-11-30T16:00:00Z"), Duration::hours(2)),
            at("2026-12-01T09:00:00Z")
        );
        // Tuesday 11:00 local + 2h: 1h before the lunch break, 1h after it.
        assert_eq!(
            h.add(at("2026-12-01T10:00:00Z"), Duration::hours(2)),
            at("2026-12-01T14:00:00Z")
        );
        // Thursday 24 Dec 17:30 local + 1h: Friday is a holiday, the weekend is closed.
        assert_eq!(
            h.add(at("2026-12-24T16:30:00Z"), Duration::hours(1)),
            at("2026-12-28T08:30:00Z")
        );
        // Saturday: nothing runs until Monday 09:00.
        assert_eq!(
            h.add(at("2026-11-28T12:00:00Z"), Duration::minutes(30)),
            at("2026-11-30T08:30:00Z")
        );
        assert_eq!(
            Schedule::always().add(at("2026-11-28T12:00:00Z"), Duration::minutes(30)),
            at("2026-11-28T12:30:00Z")
        );
    }

    #[test]
    fn bad_hours_say_how_to_write_them() {
        let e = BusinessHours {
            mon: Some("9-18".into()),
            ..Default::default()
        }
        .schedule()
        .unwrap_err();
        assert!(e.contains("09:00-12:30"), "{e}");
        let e = BusinessHours {
            utc_offset: Some("CET".into()),
            ..Default::default()
        }
        .schedule()
        .unwrap_err();
        assert!(e.contains("+01:00"), "{e}");
    }
}
