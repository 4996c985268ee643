//! Listening: every message matched against the standing queries (the percolator of
//! `copernic-listen`), and the plan that lets the search index back-test a query on history.

use copernic_core::Message;
use copernic_listen::{Atom, Expr, Field, Fields, Input, Percolator};
use copernic_store::search::Plan;

/// What the percolator sees of a message.
pub fn input_of(m: &Message) -> Input<'_> {
    Input {
        title: m.title.as_deref(),
        text: &m.text,
        fields: Fields {
            lang: m.lang.as_deref(),
            channel: Some(&m.channel),
            author: m.author.handle.as_deref(),
            sentiment: m.labels.sentiment.as_deref(),
            intent: m.labels.intent.as_deref(),
            topics: &m.labels.topics,
        },
    }
}

/// The percolator's id of a standing query: queries of different workspaces may share a name.
pub fn percolator_id(workspace: &str, name: &str) -> String {
    format!("{workspace}\u{1f}{name}")
}

/// The names of the standing queries of its workspace that `m` matches.
pub fn matches(percolator: &Percolator, m: &Message) -> Vec<String> {
    if percolator.is_empty() {
        return Vec::new();
    }
    percolator
        .matches(&input_of(m))
        .into_iter()
        .filter_map(|id| {
            let (ws, name) = id.split_once('\u{1f}')?;
            (ws == m.workspace).then(|| name.to_string())
        })
        .collect()
}

/// A percolator over the standing queries of `store`, and the stored queries that no longer
/// parse (with why), which the caller reports.
pub fn load(
    store: &dyn copernic_store::Store,
) -> Result<(Percolator, Vec<(String, copernic_listen::ParseError)>), copernic_store::StoreError> {
    let mut p = Percolator::new();
    let mut broken = Vec::new();
    for q in store.queries(None)? {
        match copernic_listen::parse(&q.query) {
            Ok(e) => p.add(&percolator_id(&q.workspace, &q.name), &e),
            Err(e) => broken.push((q.name, e)),
        }
    }
    Ok((p, broken))
}

/// A plan for the search index whose answer holds every stored message `e` matches: the
/// candidates, verified afterwards by the percolator.
pub fn plan(e: &Expr) -> Plan {
    match e {
        Expr::Atom(a) => atom_plan(a),
        Expr::Near { left, right, .. } => Plan::And(vec![atom_plan(left), atom_plan(right)]),
        // Authors are not indexed (see `indexed_fields`): verified on the candidates.
        Expr::Field(Field::Author, _) => Plan::All,
        // The other field values are indexed as `:name:value` terms.
        Expr::Field(f, v) => Plan::Term(copernic_core::text::field_term(f.name(), v)),
        // A negation cannot narrow: verified on the candidates.
        Expr::Not(_) => Plan::All,
        Expr::And(xs) => {
            let parts: Vec<Plan> = xs.iter().map(plan).filter(|p| *p != Plan::All).collect();
            if parts.is_empty() {
                Plan::All
            } else {
                Plan::And(parts)
            }
        }
        Expr::Or(xs) => Plan::Or(xs.iter().map(plan).collect()),
    }
}

/// Whether the index's answer to [`plan`] is exactly the set of messages `e` matches, so that
/// counting needs no verification: words, prefixes and fields under AND and OR.
pub fn exact(e: &Expr) -> bool {
    match e {
        Expr::Field(f, _) => *f != Field::Author,
        Expr::Atom(Atom::Word(_) | Atom::Prefix(_)) => true,
        // The index holds a hashtag's text as a word; phrases and NEAR need positions.
        Expr::Atom(_) | Expr::Near { .. } | Expr::Not(_) => false,
        Expr::And(xs) | Expr::Or(xs) => xs.iter().all(exact),
    }
}

fn atom_plan(a: &Atom) -> Plan {
    match a {
        // The index holds the text of every token, entities included.
        Atom::Word(w) | Atom::Hashtag(w) | Atom::Mention(w) => Plan::Term(w.clone()),
        Atom::Prefix(p) => Plan::Prefix(p.clone()),
        Atom::Phrase(ws) => Plan::And(ws.iter().cloned().map(Plan::Term).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_narrow_by_the_index_where_they_can() {
        use copernic_listen::parse;
        let p = |q: &str| plan(&parse(q).unwrap());
        assert_eq!(
            p("nike lang:FR -fake"),
            Plan::And(vec![
                Plan::Term("nike".into()),
                Plan::Term(":lang:fr".into())
            ])
        );
        assert_eq!(
            p("\"air max\" OR livr*"),
            Plan::Or(vec![
                Plan::And(vec![Plan::Term("air".into()), Plan::Term("max".into())]),
                Plan::Prefix("livr".into())
            ])
        );
        assert_eq!(p("lang:fr"), Plan::Term(":lang:fr".into()));
        assert_eq!(
            p("nike OR NOT NOT fake"),
            Plan::Or(vec![Plan::Term("nike".into()), Plan::All])
        );
        assert!(exact(&parse("(nike OR livr*) lang:fr").unwrap()));
        assert!(!exact(&parse("nike author:jane").unwrap()));
        assert_eq!(
            p("nike author:jane"),
            Plan::And(vec![Plan::Term("nike".into())])
        );
        for q in [
            "#nike",
            "\"air max\"",
            "a NEAR/2 b",
            "a -b",
            "@x",
            "author:x",
        ] {
            assert!(!exact(&parse(q).unwrap()), "{q}");
        }
        assert_eq!(
            p("#nike NEAR/2 @adidas"),
            Plan::And(vec![Plan::Term("nike".into()), Plan::Term("adidas".into())])
        );
    }
}
