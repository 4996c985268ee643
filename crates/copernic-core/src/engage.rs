//! The care side's values: cases, the people who answer them, their teams, and replies.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::MessageId;

/// Defines a string-backed enum with `as_str`, `FromStr` (naming the accepted values on error),
/// `Display` and serde in lower case.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                    $($s => Ok($name::$v),)+
                    other => Err(format!(
                        "{} must be one of {}, got {other:?}",
                        stringify!($name).to_ascii_lowercase(),
                        [$($s),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Where a case stands.
    Status {
        /// Arrived, nobody has answered yet.
        New = "new",
        /// Being worked on.
        Open = "open",
        /// Answered; waiting for the customer (the next-response clock stops).
        Pending = "pending",
        Resolved = "resolved",
        /// Closed as spam: further messages join it silently.
        Spam = "spam"
    }
);

impl Status {
    /// Whether the case still needs the team (counts against capacity, runs SLA clocks).
    pub fn is_active(self) -> bool {
        matches!(self, Status::New | Status::Open | Status::Pending)
    }
}

named_enum!(
    /// How soon a case must be handled; ordered from least to most pressing.
    Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent"
    }
);

named_enum!(
    /// What a user may do; each role can do everything the ones before it can.
    Role {
        /// Reads messages, cases and reports.
        Viewer = "viewer",
        /// Answers and updates the cases of their teams; ingests.
        Agent = "agent",
        /// Assigns, approves replies, merges cases, manages listening queries.
        Supervisor = "supervisor",
        /// Manages users, teams, rules and configuration.
        Admin = "admin"
    }
);

named_enum!(
    /// Where a reply is on its way out.
    ReplyStatus {
        /// A rule asked for a supervisor's approval first.
        AwaitingApproval = "awaiting_approval",
        /// In the outbox, to be sent (again) at `next_attempt_at`.
        Queued = "queued",
        /// Handed to a connector; if the process dies, it is retried after its lease.
        Sending = "sending",
        Sent = "sent",
        /// Given up after the last attempt (an alert says so).
        Failed = "failed",
        /// A supervisor refused it.
        Rejected = "rejected"
    }
);

/// One conversation of one customer on one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: i64,
    pub workspace: String,
    pub channel: String,
    /// The customer's stable key on the channel (author id, else handle).
    pub customer: String,
    pub customer_name: Option<String>,
    pub customer_handle: Option<String>,
    /// The thread of the message that opened it.
    pub thread: Option<MessageId>,
    pub status: Status,
    pub priority: Priority,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub lang: Option<String>,
    pub intent: Option<String>,
    /// The opening words, for lists.
    pub subject: String,
    /// The SLA policy its clocks follow.
    pub sla: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_inbound_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub last_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub next_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// SLA targets missed (`first_response`, `next_response`, `resolution`), each recorded once.
    pub breaches: Vec<String>,
    /// Replies need a supervisor's approval (a rule said so).
    pub approval: bool,
    pub auto_replied: bool,
    /// Merged into this case; its messages moved there.
    pub merged_into: Option<i64>,
    /// Inbound messages in the case.
    pub inbound: i64,
}

/// A message's place in a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseMessage {
    pub message: MessageId,
    pub seq: i64,
    pub direction: crate::Direction,
    pub at: DateTime<Utc>,
}

/// An internal note on a case (never sent to the customer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: i64,
    pub case_id: i64,
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// One change, recorded: who did what, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A user's name, `system` (routing, clocks) or `rule:NAME`.
    pub actor: String,
    pub case_id: Option<i64>,
    pub action: String,
    pub detail: serde_json::Value,
}

/// A person who answers (or reads, or administers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub teams: Vec<String>,
    /// Languages they answer in (ISO 639-1); empty: any.
    pub languages: Vec<String>,
    /// Channels they answer on; empty: any.
    pub channels: Vec<String>,
    /// Active cases (new, open or pending) they hold at once, at most.
    pub capacity: i64,
    pub available: bool,
}

/// A group of users that cases are routed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    /// Its cases are visible only to its members, supervisors of it and admins.
    pub private: bool,
    /// Business hours (`BusinessHours` of copernic-engage, as JSON); `null`: always open.
    pub hours: serde_json::Value,
}

/// A reply to a case and its way out through the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: i64,
    pub case_id: i64,
    /// Who wrote it (`system` for auto-replies).
    pub author: String,
    pub text: String,
    pub template: Option<String>,
    pub status: ReplyStatus,
    /// Sent with every attempt so the receiving side can drop repeats.
    pub idempotency_key: String,
    /// Which connector delivers it.
    pub connector: String,
    /// What the connector needs to address it (recipient, message answered), as JSON.
    pub target: serde_json::Value,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    /// The id the far side gave the delivered reply.
    pub remote_id: Option<String>,
}

/// Something a person should look at: an SLA breach, a reply given up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub case_id: Option<i64>,
    pub reply_id: Option<i64>,
    pub message: String,
}
