//! Reply templates (minijinja) and the ranking of suggested replies for a case.

use std::collections::{HashMap, HashSet};

use copernic_core::engage::Case;
use serde::Serialize;

use crate::config::Template;

/// Checks a template's syntax (at apply time, so a typo never reaches a customer).
pub fn check_template(body: &str) -> Result<(), String> {
    let env = minijinja::Environment::new();
    env.template_from_str(body)
        .map(|_| ())
        .map_err(|e| format!("template syntax: {e}"))
}

/// What a template can name.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Vars {
    pub customer: serde_json::Value,
    pub message: serde_json::Value,
    pub case: serde_json::Value,
    pub agent: serde_json::Value,
}

/// Renders `body` with `vars`; a variable the context lacks renders empty.
pub fn render(body: &str, vars: &Vars) -> Result<String, String> {
    let env = minijinja::Environment::new();
    env.render_str(body, vars)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("template: {e}"))
}

/// The version of template `name` for language `lang`: the one in that language, else one with
/// no language, else the first.
pub fn variant<'a>(
    templates: &'a [Template],
    name: &str,
    lang: Option<&str>,
) -> Option<&'a Template> {
    let of_name = || templates.iter().filter(move |t| t.name == name);
    let base = |l: &str| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase();
    lang.and_then(|l| of_name().find(|t| t.lang.as_deref().is_some_and(|tl| base(tl) == base(l))))
        .or_else(|| of_name().find(|t| t.lang.is_none()))
        .or_else(|| of_name().next())
}

/// One suggestion: a template, rendered for the case, and why it ranks where it does.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    pub template: String,
    pub lang: Option<String>,
    pub score: f32,
    pub text: String,
    pub reasons: Vec<String>,
}

fn words(text: &str) -> HashSet<String> {
    copernic_core::text::tokens(text)
        .filter(|w| w.chars().count() > 2)
        .map(|w| w.into_owned())
        .collect()
}

/// Cosine similarity of two word sets.
fn similarity(a: &HashSet<String>, b: &HashSet<String>) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count() as f32;
    common / ((a.len() as f32).sqrt() * (b.len() as f32).sqrt())
}

/// Ranks the templates for `case` whose latest customer text is `text`: a template written for
/// the case's intent first (weighted by the intent's confidence), then by how close `text` is to
/// the messages of resolved cases the template answered (`answered`: template name → those
/// texts), with a bonus for the case's language.
pub fn suggest(
    templates: &[Template],
    case: &Case,
    text: &str,
    intent_score: Option<f32>,
    answered: &HashMap<String, Vec<String>>,
    vars: &Vars,
    limit: usize,
) -> Vec<Suggestion> {
    let mine = words(text);
    let mut names: Vec<&str> = Vec::new();
    for t in templates {
        if !names.contains(&t.name.as_str()) {
            names.push(&t.name);
        }
    }
    let mut out: Vec<Suggestion> = names
        .into_iter()
        .filter_map(|name| {
            let t = variant(templates, name, case.lang.as_deref())?;
            let mut score = 0.0;
            let mut reasons = Vec::new();
            if let Some(intent) = case.intent.as_deref() {
                if t.intents.iter().any(|i| i == intent) {
                    let w = intent_score.unwrap_or(0.5);
                    score += 1.0 + w;
                    reasons.push(format!("written for intent {intent} ({w:.2})"));
                }
            }
            if let Some(past) = answered.get(name) {
                let best = past
                    .iter()
                    .map(|p| similarity(&mine, &words(p)))
                    .fold(0.0f32, f32::max);
                if best > 0.0 {
                    score += best;
                    reasons.push(format!(
                        "{:.0}% like a message it answered in a resolved case",
                        best * 100.0
                    ));
                }
            }
            let same_lang = match (&t.lang, &case.lang) {
                (Some(a), Some(b)) => a.get(..2) == b.get(..2),
                _ => false,
            };
            if same_lang {
                score += 0.25;
                reasons.push("in the customer's language".into());
            }
            let text = render(&t.body, vars).ok()?;
            Some(Suggestion {
                template: name.to_string(),
                lang: t.lang.clone(),
                score,
                text,
                reasons,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.template.cmp(&b.template))
    });
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, lang: Option<&str>, intents: &[&str], body: &str) -> Template {
        Template {
            name: name.into(),
            lang: lang.map(str::to_string),
            intents: intents.iter().map(|s| s.to_string()).collect(),
            body: body.into(),
        }
    }

    #[test]
    fn renders_variables_and_tolerates_missing_ones() {
        let v = Vars {
            customer: serde_json::json!({"name": "Ana"}),
            ..Vars::default()
        };
        assert_eq!(
            render("Bonjour {{ customer.name }}{{ agent.name }} !", &v).unwrap(),
            "Bonjour Ana !"
        );
        assert!(check_template("{{ oops").is_err());
    }

    #[test]
    fn picks_the_language_variant() {
        let ts = [
            t("hi", Some("en"), &[], "Hi"),
            t("hi", Some("fr"), &[], "Salut"),
        ];
        assert_eq!(variant(&ts, "hi", Some("fr-CA")).unwrap().body, "Salut");
        assert_eq!(variant(&ts, "hi", Some("de")).unwrap().body, "Hi");
        assert!(variant(&ts, "bye", None).is_none());
    }
}
