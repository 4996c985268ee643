//! Configuration as code: `copernic.toml` names teams, users, routing rules, SLA policies,
//! templates, connectors, sources and listening queries. Unknown keys are errors with their line;
//! references (a rule's team, an SLA's escalation team, an auto-reply's template) are checked
//! before anything is written.

use std::collections::BTreeMap;

use chrono::Duration;
use copernic_core::engage::{Priority, Role};
use serde::{Deserialize, Serialize};

use crate::hours::{duration_str, BusinessHours};

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub settings: Option<Settings>,
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub slas: Vec<SlaPolicy>,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
    /// Feeds and signed webhooks, as in `copernic serve --config` (`[[sources.feeds]]`,
    /// `[[sources.webhooks]]`); checked by the server.
    #[serde(default)]
    pub sources: Option<toml::Table>,
    #[serde(default)]
    pub queries: Vec<QueryConfig>,
    #[serde(default)]
    pub customers: Vec<CustomerConfig>,
}

impl ConfigFile {
    /// Parses the file; errors name the line and column (`toml`'s report) or the item.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.check()?;
        Ok(file)
    }

    /// Cross-references within the file. Teams may also exist already in the store: the engine
    /// checks those when it applies.
    fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for t in &self.teams {
            if !names.insert(t.name.as_str()) {
                return Err(format!("teams: {:?} is defined twice", t.name));
            }
            if let Some(h) = &t.hours {
                h.schedule()
                    .map_err(|e| format!("teams {:?}: hours: {e}", t.name))?;
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(q) = &r.when {
                copernic_listen::parse(q)
                    .map_err(|e| format!("rules[{i}] {:?}: when = {q:?}: {e}", r.name))?;
            }
            if let Some(t) = &r.auto_reply {
                if !self.templates.iter().any(|x| &x.name == t) {
                    return Err(format!(
                        "rules[{i}] {:?}: auto_reply names template {t:?}, which no [[templates]] defines",
                        r.name
                    ));
                }
            }
        }
        for t in &self.templates {
            crate::replies::check_template(&t.body)
                .map_err(|e| format!("templates {:?}: {e}", t.name))?;
        }
        for q in &self.queries {
            copernic_listen::parse(&q.query).map_err(|e| format!("queries {:?}: {e}", q.name))?;
        }
        for c in &self.connectors {
            c.check()?;
        }
        Ok(())
    }
}

/// Engine-wide settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A customer's message joins their open case on the channel when it comes within this
    /// much of the last one; after it, a new case opens.
    #[serde(default = "default_gap", with = "duration_str")]
    pub case_gap: Duration,
    /// Messages written longer ago than this when they reach Copernic (an imported history) get
    /// cases, but no SLA clocks and no auto-replies.
    #[serde(default = "default_backlog", with = "duration_str")]
    pub backlog: Duration,
    /// Attempts before the outbox gives a reply up (with an alert).
    #[serde(default = "default_attempts")]
    pub outbox_max_attempts: i64,
    /// The first retry's wait; each next one doubles it (capped at an hour).
    #[serde(default = "default_backoff", with = "duration_str")]
    pub outbox_backoff: Duration,
    /// How long a send may take before the attempt counts as lost and is retried.
    #[serde(default = "default_lease", with = "duration_str")]
    pub outbox_lease: Duration,
    /// How long a UI session lasts.
    #[serde(default = "default_session", with = "duration_str")]
    pub session_ttl: Duration,
}

fn default_gap() -> Duration {
    Duration::hours(24)
}
fn default_backlog() -> Duration {
    Duration::days(7)
}
fn default_attempts() -> i64 {
    6
}
fn default_backoff() -> Duration {
    Duration::seconds(30)
}
fn default_lease() -> Duration {
    Duration::seconds(60)
}
fn default_session() -> Duration {
    Duration::hours(12)
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            case_gap: default_gap(),
            backlog: default_backlog(),
            outbox_max_attempts: default_attempts(),
            outbox_backoff: default_backoff(),
            outbox_lease: default_lease(),
            session_ttl: default_session(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    #[serde(default)]
    pub private: bool,
    /// Business hours; absent: around the clock.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
}

fn default_capacity() -> i64 {
    10
}
fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default = "default_capacity")]
    pub capacity: i64,
    #[serde(default = "yes")]
    pub available: bool,
    /// An argon2 PHC string (`copernic users hash`); passwords themselves never go in files.
    #[serde(default)]
    pub password_hash: Option<String>,
}

/// One routing rule: conditions (all must hold) and actions. Rules run in order on every inbound
/// message; a later rule's team or priority overrides an earlier one's unless `stop` ended the
/// run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    // --- conditions ---
    /// A listening query over the text and fields (`intent:refund lang:fr`, `"colis perdu"`).
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub intents: Vec<String>,
    #[serde(default)]
    pub intent_score_min: Option<f32>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub sentiment_score_min: Option<f32>,
    #[serde(default)]
    pub urgency_min: Option<f32>,
    /// Any of these standing queries matched the message.
    #[serde(default)]
    pub matched: Vec<String>,
    /// Customer attributes that must be equal (`{ tier = "gold" }`).
    #[serde(default)]
    pub customer: BTreeMap<String, serde_json::Value>,
    /// Only for the message that opens a case (default), or for every inbound message.
    #[serde(default)]
    pub every_message: bool,
    // --- actions ---
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Answer at once with this template (once per case); the case stays with the team, and a
    /// person takes over when the customer writes again.
    #[serde(default)]
    pub auto_reply: Option<String>,
    /// Close the case as spam.
    #[serde(default)]
    pub spam: bool,
    /// Replies to the case need a supervisor's approval.
    #[serde(default)]
    pub approval: bool,
    /// Raise to urgent, tag `escalated`, alert.
    #[serde(default)]
    pub escalate: bool,
    /// No later rule runs.
    #[serde(default)]
    pub stop: bool,
}

/// Response-time targets for the cases it covers (the first policy that matches a case's priority
/// and channel applies).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub name: String,
    /// Priorities covered; empty: all.
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Channels covered; empty: all.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default, with = "duration_str::option")]
    pub first_response: Option<Duration>,
    #[serde(default, with = "duration_str::option")]
    pub next_response: Option<Duration>,
    #[serde(default, with = "duration_str::option")]
    pub resolution: Option<Duration>,
    /// What a breach does (besides the alert and the `sla-breach` tag).
    #[serde(default)]
    pub on_breach: BreachAction,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BreachAction {
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Moves the case to this team (and reassigns it there).
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A reply template (minijinja). Variables: `customer` (name, handle, id), `message` (text,
/// channel, lang, intent), `case` (id, priority, team, tags), `agent` (name, display_name).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    /// The language it is written in; one name may have a version per language.
    #[serde(default)]
    pub lang: Option<String>,
    /// Intents it answers (ranks it first in suggestions for them).
    #[serde(default)]
    pub intents: Vec<String>,
    pub body: String,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// POST of the reply as JSON, signed with HMAC-SHA256.
    Webhook,
    /// E-mail through an SMTP relay.
    Smtp,
    /// `POST /api/v1/statuses` on a Mastodon instance.
    Mastodon,
    /// Appended as JSON lines to a file (another system delivers them; the demo).
    File,
}

/// Where replies of some channels go out.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    pub name: String,
    pub kind: ConnectorKind,
    /// Channels whose replies it carries; empty: any channel no other connector names.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Webhook: the URL posted to. Mastodon: the instance (`https://mastodon.social`).
    #[serde(default)]
    pub url: Option<String>,
    /// Mastodon: the access token, or the environment variable holding it.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    /// Webhook: the HMAC secret, or the environment variable holding it.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    /// SMTP: relay host and port (25), sender address.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub from: Option<String>,
    /// File: where replies are appended (JSON lines).
    #[serde(default)]
    pub path: Option<String>,
    /// How long one attempt may take.
    #[serde(default, with = "duration_str::option")]
    pub timeout: Option<Duration>,
}

impl ConnectorConfig {
    fn check(&self) -> Result<(), String> {
        let need = |what: &str, v: &Option<String>| match v {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err(format!(
                "connectors {:?}: a {:?} connector needs {what}",
                self.name, self.kind
            )),
        };
        match self.kind {
            ConnectorKind::Webhook => need("url", &self.url),
            ConnectorKind::Mastodon => {
                need("url (the instance)", &self.url)?;
                if self.token.is_none() && self.token_env.is_none() {
                    return Err(format!(
                        "connectors {:?}: a mastodon connector needs token or token_env",
                        self.name
                    ));
                }
                Ok(())
            }
            ConnectorKind::Smtp => {
                need("host", &self.host)?;
                need("from", &self.from)
            }
            ConnectorKind::File => need("path", &self.path),
        }
    }

    /// A secret given inline or by environment variable.
    pub fn resolve(inline: &Option<String>, env: &Option<String>) -> Option<String> {
        inline
            .clone()
            .or_else(|| env.as_ref().and_then(|v| std::env::var(v).ok()))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    pub name: String,
    pub query: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerConfig {
    /// The customer's key: the author id of their messages (else their handle).
    pub key: String,
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// What the engine keeps of a configuration (teams and users live in their own tables).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Policies {
    pub settings: Settings,
    pub rules: Vec<Rule>,
    pub slas: Vec<SlaPolicy>,
    pub templates: Vec<Template>,
    pub connectors: Vec<ConnectorConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_their_line() {
        let e =
            ConfigFile::parse("[[teams]]\nname = \"a\"\n\n[[rules]]\nname = \"r\"\nteem = \"a\"\n")
                .unwrap_err();
        assert!(e.contains("line 6"), "{e}");
        assert!(e.contains("teem"), "{e}");
    }

    /// The reference in docs/engage.md parses: every key it shows exists.
    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../../../docs/engage.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("its end");
        let file = ConfigFile::parse(&doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.connectors.len(), 4);
        assert_eq!(file.rules[0].intent_score_min, Some(0.8));
        assert!(file.sources.is_some());
        // The demo's file too.
        let demo = include_str!("../../copernic/demo/copernic.toml");
        ConfigFile::parse(demo).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn references_are_checked() {
        let e = ConfigFile::parse("[[rules]]\nname = \"r\"\nauto_reply = \"nope\"\n").unwrap_err();
        assert!(e.contains("no [[templates]]"), "{e}");
        let e = ConfigFile::parse("[[rules]]\nname = \"r\"\nwhen = \"a OR\"\n").unwrap_err();
        assert!(e.contains("column"), "{e}");
        let e = ConfigFile::parse(
            "[[connectors]]\nname = \"m\"\nkind = \"mastodon\"\nurl = \"http://x\"\n",
        )
        .unwrap_err();
        assert!(e.contains("token"), "{e}");
    }
}
