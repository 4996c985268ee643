//! Routing rules, compiled: every rule's `when` query goes into one percolator (the same matcher
//! as listening, so a rule and a standing query read text identically), and the other conditions
//! are checked on the rules the percolator proposes.

use copernic_core::engage::Priority;
use copernic_core::Message;
use copernic_listen::Percolator;
use copernic_pipeline::transforms::listen::input_of;

use crate::config::Rule;

/// What the rules decided for one message, in order of application.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Names of the rules that fired.
    pub fired: Vec<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub auto_reply: Option<String>,
    pub spam: bool,
    pub approval: bool,
    pub escalate: bool,
}

pub struct Rules {
    rules: Vec<Rule>,
    when: Percolator,
}

fn folded_eq(a: &str, b: &str) -> bool {
    copernic_core::text::fold(a) == copernic_core::text::fold(b)
}

impl Rules {
    /// Compiles rules; a `when` that does not parse was refused when the configuration was
    /// applied, so here it only makes the rule never fire.
    pub fn new(rules: Vec<Rule>) -> Rules {
        let mut when = Percolator::new();
        for (i, r) in rules.iter().enumerate() {
            if let Some(q) = &r.when {
                if let Ok(e) = copernic_listen::parse(q) {
                    when.add(&i.to_string(), &e);
                }
            }
        }
        Rules { rules, when }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules on `m` (with the standing queries it matched and its customer's
    /// attributes); `opening` says whether it opens its case.
    pub fn decide(
        &self,
        m: &Message,
        matched: &[String],
        customer: Option<&serde_json::Value>,
        opening: bool,
    ) -> Decision {
        let mut d = Decision::default();
        if self.rules.is_empty() {
            return d;
        }
        let hits: std::collections::HashSet<usize> = if self.when.is_empty() {
            Default::default()
        } else {
            self.when
                .matches(&input_of(m))
                .into_iter()
                .filter_map(|id| id.parse().ok())
                .collect()
        };
        for (i, r) in self.rules.iter().enumerate() {
            if !opening && !r.every_message {
                continue;
            }
            if r.when.is_some() && !hits.contains(&i) {
                continue;
            }
            if !conditions_hold(r, m, matched, customer) {
                continue;
            }
            d.fired.push(r.name.clone());
            if r.team.is_some() {
                d.team = r.team.clone();
            }
            if r.priority.is_some() {
                d.priority = r.priority;
            }
            for t in &r.tags {
                if !d.tags.contains(t) {
                    d.tags.push(t.clone());
                }
            }
            if r.auto_reply.is_some() {
                d.auto_reply = r.auto_reply.clone();
            }
            d.spam |= r.spam;
            d.approval |= r.approval;
            d.escalate |= r.escalate;
            if r.stop {
                break;
            }
        }
        d
    }
}

fn conditions_hold(
    r: &Rule,
    m: &Message,
    matched: &[String],
    customer: Option<&serde_json::Value>,
) -> bool {
    let l = &m.labels;
    let any_of = |list: &[String], v: Option<&str>| {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|x| folded_eq(x, v)))
    };
    let lang = m
        .lang
        .as_deref()
        .map(|s| s.split(['-', '_']).next().unwrap_or(s));
    let at_least =
        |min: Option<f32>, v: Option<f32>| min.is_none_or(|min| v.is_some_and(|v| v >= min));
    any_of(&r.channels, Some(&m.channel))
        && any_of(&r.languages, lang)
        && any_of(&r.intents, l.intent.as_deref())
        && r.sentiment
            .as_deref()
            .is_none_or(|s| l.sentiment.as_deref().is_some_and(|v| folded_eq(s, v)))
        && at_least(r.intent_score_min, l.intent_score)
        && at_least(r.sentiment_score_min, l.sentiment_score)
        && at_least(r.urgency_min, l.urgency)
        && (r.matched.is_empty() || r.matched.iter().any(|q| matched.contains(q)))
        && r.customer.iter().all(|(k, want)| {
            customer
                .and_then(|c| c.get(k))
                .is_some_and(|have| same_value(have, want))
        })
}

/// Attribute equality that forgives a number or boolean written as a string.
fn same_value(have: &serde_json::Value, want: &serde_json::Value) -> bool {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    have == want || text(have) == text(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str, intent: Option<(&str, f32)>) -> Message {
        let mut m = Message::new("t", "x", "mastodon", text.into());
        m.lang = Some("fr".into());
        if let Some((i, s)) = intent {
            m.labels.intent = Some(i.into());
            m.labels.intent_score = Some(s);
        }
        m
    }

    fn rule(name: &str) -> Rule {
        Rule {
            name: name.into(),
            ..Rule::default()
        }
    }

    #[test]
    fn rules_apply_in_order_and_stop() {
        let rules = Rules::new(vec![
            Rule {
                when: Some("colis OR livraison".into()),
                team: Some("logistics".into()),
                tags: vec!["delivery".into()],
                ..rule("delivery")
            },
            Rule {
                intents: vec!["refund".into()],
                intent_score_min: Some(0.8),
                team: Some("billing".into()),
                priority: Some(Priority::High),
                stop: true,
                ..rule("refund")
            },
            Rule {
                priority: Some(Priority::Low),
                ..rule("never reached after stop")
            },
        ]);
        let d = rules.decide(&msg("mon colis est perdu", None), &[], None, true);
        assert_eq!(d.fired, ["delivery", "never reached after stop"]);
        assert_eq!(d.team.as_deref(), Some("logistics"));
        let d = rules.decide(
            &msg("rembourse mon colis", Some(("refund", 0.9))),
            &[],
            None,
            true,
        );
        assert_eq!(d.fired, ["delivery", "refund"]);
        assert_eq!(
            (d.team.as_deref(), d.priority),
            (Some("billing"), Some(Priority::High))
        );
        // A weak intent score does not fire the rule.
        let d = rules.decide(&msg("rembourse", Some(("refund", 0.5))), &[], None, true);
        assert_eq!(d.fired, ["never reached after stop"]);
        // Follow-ups only run rules that ask for every message.
        assert!(rules
            .decide(&msg("colis", None), &[], None, false)
            .fired
            .is_empty());
    }

    #[test]
    fn matched_queries_and_customer_attributes() {
        let rules = Rules::new(vec![Rule {
            matched: vec!["crisis".into()],
            customer: [("tier".to_string(), serde_json::json!("gold"))].into(),
            escalate: true,
            ..rule("gold crisis")
        }]);
        let m = msg("bonjour", None);
        let gold = serde_json::json!({"tier": "gold"});
        assert!(
            rules
                .decide(&m, &["crisis".into()], Some(&gold), true)
                .escalate
        );
        assert!(!rules.decide(&m, &[], Some(&gold), true).escalate);
        assert!(!rules.decide(&m, &["crisis".into()], None, true).escalate);
    }
}
