//! How close the brand comes to answering everyone in time: share of inbound messages answered,
//! time to first response (median, p90) and SLA compliance, per team, agent, channel or language.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use copernic_store::engage::CaseFacts;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    All,
    Team,
    Agent,
    Channel,
    Language,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" | "" => Ok(GroupBy::All),
            "team" => Ok(GroupBy::Team),
            "agent" | "assignee" => Ok(GroupBy::Agent),
            "channel" => Ok(GroupBy::Channel),
            "language" | "lang" => Ok(GroupBy::Language),
            o => Err(format!(
                "group by all, team, agent, channel or language, not {o:?}"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// The team, agent, channel or language (`-` when the case has none).
    pub key: String,
    pub cases: u64,
    pub inbound: u64,
    /// Inbound messages followed by a response.
    pub answered: u64,
    /// answered / inbound.
    pub answered_share: f64,
    /// Cases with a first response.
    pub responded: u64,
    pub first_response_median_s: Option<i64>,
    pub first_response_p90_s: Option<i64>,
    /// Cases under an SLA, and those that missed none of its targets.
    pub sla_cases: u64,
    pub sla_met: u64,
    pub sla_compliance: Option<f64>,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Groups case figures into rows. A case counts as having missed its SLA when a breach was
/// recorded, or when its first-response target passed (by `now`) without a response — so the
/// report is right even where the clocks have not run (a store only ever imported into).
pub fn report(facts: &[CaseFacts], by: GroupBy, now: DateTime<Utc>) -> Vec<CoverageRow> {
    #[derive(Default)]
    struct Acc {
        cases: u64,
        inbound: u64,
        answered: u64,
        ttfr: Vec<i64>,
        sla: u64,
        met: u64,
    }
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for f in facts {
        let key = match by {
            GroupBy::All => Some("all".to_string()),
            GroupBy::Team => f.team.clone(),
            GroupBy::Agent => f.assignee.clone(),
            GroupBy::Channel => Some(f.channel.clone()),
            GroupBy::Language => f.lang.clone(),
        }
        .unwrap_or_else(|| "-".into());
        let a = groups.entry(key).or_default();
        a.cases += 1;
        a.inbound += f.inbound.max(0) as u64;
        a.answered += f.answered.max(0) as u64;
        if let Some(r) = f.first_response_at {
            a.ttfr.push((r - f.created_at).num_seconds().max(0));
        }
        if f.sla {
            a.sla += 1;
            let late = f
                .first_response_due
                .is_some_and(|due| f.first_response_at.unwrap_or(now) > due);
            a.met += u64::from(f.breaches.is_empty() && !late);
        }
    }
    groups
        .into_iter()
        .map(|(key, mut a)| {
            a.ttfr.sort_unstable();
            CoverageRow {
                key,
                cases: a.cases,
                inbound: a.inbound,
                answered: a.answered,
                answered_share: if a.inbound == 0 {
                    0.0
                } else {
                    a.answered as f64 / a.inbound as f64
                },
                responded: a.ttfr.len() as u64,
                first_response_median_s: percentile(&a.ttfr, 0.5),
                first_response_p90_s: percentile(&a.ttfr, 0.9),
                sla_cases: a.sla,
                sla_met: a.met,
                sla_compliance: (a.sla > 0).then(|| a.met as f64 / a.sla as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn fact(
        team: &str,
        ttfr_min: Option<i64>,
        inbound: i64,
        answered: i64,
        breached: bool,
    ) -> CaseFacts {
        let t0 = Utc::now();
        CaseFacts {
            team: Some(team.into()),
            assignee: None,
            channel: "email".into(),
            lang: Some("fr".into()),
            created_at: t0,
            first_response_at: ttfr_min.map(|m| t0 + Duration::minutes(m)),
            first_response_due: None,
            breaches: if breached {
                vec!["first_response".into()]
            } else {
                vec![]
            },
            sla: true,
            inbound,
            answered,
        }
    }

    #[test]
    fn shares_percentiles_and_compliance() {
        let facts: Vec<CaseFacts> = (1..=10)
            .map(|i| fact("care", Some(i * 10), 2, if i <= 8 { 2 } else { 1 }, i > 9))
            .chain([fact("billing", None, 1, 0, true)])
            .collect();
        let rows = report(&facts, GroupBy::Team, Utc::now());
        let care = rows.iter().find(|r| r.key == "care").unwrap();
        assert_eq!((care.inbound, care.answered), (20, 18));
        assert_eq!(care.first_response_median_s, Some(50 * 60));
        assert_eq!(care.first_response_p90_s, Some(90 * 60));
        assert_eq!(care.sla_compliance, Some(0.9));
        let billing = rows.iter().find(|r| r.key == "billing").unwrap();
        assert_eq!((billing.responded, billing.answered_share), (0, 0.0));
        assert_eq!(report(&facts, GroupBy::All, Utc::now())[0].cases, 11);
    }
}
