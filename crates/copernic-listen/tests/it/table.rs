//! Table tests, one or more rows per operator of `docs/query-language.md`, in French and English.
//! Each row is checked three ways: the percolator (alone with the query, and among every query of
//! its table), its naive engine, and the reference matcher must all give the expected answer.

use copernic_listen::{parse, Fields, Input, Percolator, Scratch};

use crate::reference::{empty_input, reference_matches};

/// A message's fields, as `'static` data for the tables.
#[derive(Clone, Copy)]
struct F {
    lang: Option<&'static str>,
    channel: Option<&'static str>,
    author: Option<&'static str>,
    sentiment: Option<&'static str>,
    intent: Option<&'static str>,
    topics: &'static [&'static str],
}

const NO_FIELDS: F = F {
    lang: None,
    channel: None,
    author: None,
    sentiment: None,
    intent: None,
    topics: &[],
};

/// One row: a query, a message (title, text, fields) and whether it must match.
struct Row {
    query: &'static str,
    title: Option<&'static str>,
    text: &'static str,
    fields: F,
    expected: bool,
}

fn row(query: &'static str, text: &'static str, expected: bool) -> Row {
    Row {
        query,
        title: None,
        text,
        fields: NO_FIELDS,
        expected,
    }
}

fn titled(query: &'static str, title: &'static str, text: &'static str, expected: bool) -> Row {
    Row {
        query,
        title: Some(title),
        text,
        fields: NO_FIELDS,
        expected,
    }
}

fn fielded(query: &'static str, text: &'static str, fields: F, expected: bool) -> Row {
    Row {
        query,
        title: None,
        text,
        fields,
        expected,
    }
}

/// Checks every row; panics listing every row that failed.
fn run(rows: &[Row]) {
    let mut failures = Vec::new();
    // All the table's queries in one percolator, so the presearcher sorts among many.
    let mut shared = Percolator::new();
    let mut parsed = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match parse(r.query) {
            Ok(e) => {
                let shown = e.to_string();
                if parse(&shown).as_ref() != Ok(&e) {
                    failures.push(format!(
                        "{:?}: normal form {shown:?} re-parses as {:?}",
                        r.query,
                        parse(&shown)
                    ));
                }
                if reference_matches(&e, &empty_input()) {
                    failures.push(format!(
                        "{:?} was accepted but matches the empty message",
                        r.query
                    ));
                }
                shared.add(&format!("row{i:03}"), &e);
                parsed.push(Some(e));
            }
            Err(err) => {
                failures.push(format!("{:?}: refused: {err}", r.query));
                parsed.push(None);
            }
        }
    }
    let mut scratch = Scratch::default();
    for (i, (r, e)) in rows.iter().zip(&parsed).enumerate() {
        let Some(e) = e else { continue };
        let topics: Vec<String> = r.fields.topics.iter().map(|t| t.to_string()).collect();
        let input = Input {
            title: r.title,
            text: r.text,
            fields: Fields {
                lang: r.fields.lang,
                channel: r.fields.channel,
                author: r.fields.author,
                sentiment: r.fields.sentiment,
                intent: r.fields.intent,
                topics: &topics,
            },
        };
        let mut alone = Percolator::new();
        alone.add("q", e);
        let got_alone = alone.matches(&input) == ["q"];
        let mut naive = Vec::new();
        alone.matches_naive(&input, &mut scratch, &mut naive);
        let got_naive = naive == ["q"];
        let id = format!("row{i:03}");
        let got_shared = shared.matches(&input).contains(&id.as_str());
        let got_ref = reference_matches(e, &input);
        if [got_alone, got_naive, got_shared, got_ref] != [r.expected; 4] {
            failures.push(format!(
                "query {:?} (parsed {e}) on title {:?} text {:?} fields {:?}: expected {}, \
                 percolator {got_alone}, naive {got_naive}, shared percolator {got_shared}, \
                 reference {got_ref}",
                r.query,
                r.title,
                r.text,
                (
                    r.fields.lang,
                    r.fields.channel,
                    r.fields.author,
                    r.fields.sentiment,
                    r.fields.intent,
                    r.fields.topics
                ),
                r.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The helper for a single row.
fn check(query: &'static str, text: &'static str, expected: bool) {
    run(&[row(query, text, expected)]);
}

#[test]
fn words_fold_case_and_accents() {
    run(&[
        row("Éléphant", "Un elephant rose", true),
        row("elephant", "Un ÉLÉPHANT rose", true),
        row("éléphant", "Un éléphant rose", true),
        row("Éléphant", "Des éléphants roses", false),
        row("ete", "L'Été 2024 !", true),
        row("Été", "un ete chaud", true),
        row("2024", "L'Été 2024 !", true),
        row("ça", "ÇA va bien", true),
        row("ca", "ça va", true),
        row("œuvre", "Une Œuvre d'art", true),
        row("Œuvre", "une œuvre", true),
        row("oeuvre", "Une Œuvre d'art", false),
        row("Nike", "I love nike", true),
        row("nike", "I LOVE NIKE SHOES", true),
        row("nike", "nikes are great", false),
        row("nike", "adidas only", false),
        row("shoe", "Shoes, shoes, SHOES", false),
        row("naïve", "a naive question", true),
        row("crème", "CREME brulee", true),
        row("brûlée", "creme brulee", true),
    ]);
}

#[test]
fn elisions_and_split_words() {
    run(&[
        row("avion", "J'adore l'avion", true),
        row("adore", "J'adore l'avion", true),
        row("l'avion", "J'adore l'avion", true),
        row("l'avion", "J'ADORE L'AVION", true),
        row("l'avion", "j'adore l avion", true),
        row("l'avion", "l'autre avion", false),
        row("\"l'avion\"", "Dans l'avion", true),
        row("\"l avion\"", "Dans l'avion", true),
        row("qu'il", "Qu'il vienne demain", true),
        row("il", "Qu'il vienne demain", true),
        row("qu'il", "Quand il vient", false),
        row("e-mail", "send an e-mail now", true),
        row("e-mail", "send an e mail now", true),
        row("e-mail", "send an email now", false),
        row("mail", "send an e-mail now", true),
        row("email", "send an e-mail now", false),
        row("don't", "I don't know", true),
        row("dont", "I don't know", false),
        row("nike", "voir https://nike.com/fr", true),
        row("\"nike com\"", "voir https://nike.com/fr", true),
        row(
            "https://nike.com/fr",
            "voir https://nike.com/fr aujourd'hui",
            true,
        ),
        row("https://nike.com/fr", "nike com fr https", false),
        row("jane", "écrire à jane@nike.com", true),
        row("@jane", "écrire à jane@nike.com", false),
        row("@nike", "écrire à jane@nike.com", false),
        // `_` separates words: the bare query is the phrase `jane doe`.
        row("jane_doe", "Jane Doe a répondu", true),
        row("jane_doe", "merci @Jane_Doe", false),
        row("10:30", "rendez-vous à 10h30", false),
        row("10:30", "rendez-vous à 10:30", true),
        row("rendez-vous", "Rendez-Vous à 10h", true),
        row("rendez-vous", "rendez vous", true),
        row("rendez-vous", "vous rendez", false),
    ]);
}

#[test]
fn phrases() {
    run(&[
        row("\"service client\"", "Le Service Client est nul", true),
        row("\"service client\"", "service, client !", true),
        row("\"service client\"", "le client du service", false),
        row("\"service client\"", "service du client", false),
        row("\"service client\"", "client service", false),
        row("\"SERVICE   Client\"", "le service client", true),
        row("\"customer service\"", "Worst customer service ever", true),
        row("\"customer service\"", "customer-service", true),
        row("\"customer service\"", "customer support service", false),
        row("\"très très\"", "c'est très très bien", true),
        row("\"très très\"", "c'est très bien, très", false),
        row("\"très très bien\"", "très très très bien", true),
        row("\"merci @jane_doe\"", "Merci @Jane_Doe !", true),
        row("\"merci @jane_doe\"", "Merci Jane Doe !", false),
        row("\"air max\"", "#air max 90", true),
        row("\"air max\"", "#air_max 90", false),
        row("\"Nike\"", "j'aime #nike", true),
        row("\"#nike\"", "j'aime nike", true),
        row("\"a b c\"", "a b c", true),
        row("\"a b c\"", "a b x c", false),
        row("\"a b c\"", "a b", false),
    ]);
}

#[test]
fn prefixes() {
    run(&[
        row("livr*", "La livraison est rapide", true),
        row("livr*", "Il délivre le colis", false),
        row("livr*", "Colis LIVRÉ hier", true),
        row("livr*", "livr", true),
        row("livr*", "liv", false),
        row("livr*", "rien à voir", false),
        row("Livr*", "livrer", true),
        row("déli*", "il délivre", true),
        row("deli*", "Délicieux", true),
        row("livr*", "#LivraisonRapide", true),
        row("nik*", "merci @NikeFR", true),
        row("deliver*", "Delivery was late", true),
        row("deliver*", "They delivered it", true),
        row("deliver*", "undelivered parcel", false),
        row("refund*", "I want a REFUND", true),
        row("2024*", "en 20245", true),
        row("œuv*", "Une Œuvre", true),
    ]);
}

#[test]
fn hashtags_and_mentions() {
    run(&[
        row("#nike", "J'adore #Nike", true),
        row("#Nike", "J'adore #nike", true),
        row("#nike", "J'adore Nike", false),
        row("#nike", "J'adore @nike", false),
        row("#nike", "J'adore #nikeair", false),
        row("#nike", "C#nike", false),
        row("nike", "C#nike", true),
        row("#ete", "#ÉtéNike", false),
        row("#etenike", "#ÉtéNike", true),
        row("#ÉtéNike", "#etenike", true),
        row("nike", "J'adore #Nike", true),
        row("nike", "@Nike merci", true),
        row("#air_max", "#Air_Max 90", true),
        row("air", "#Air_Max 90", false),
        row("air_max", "#Air_Max 90", false),
        row("air_max", "Air Max 90", true),
        row("\"@air_max\"", "#Air_Max 90", true),
        row("#2024", "bonne année #2024", true),
        row("2024", "bonne année #2024", true),
        row("@jane_doe", "merci @Jane_Doe", true),
        row("@Jane_Doe", "merci @jane_doe", true),
        row("@jane", "merci @Jane_Doe", false),
        row("@nike", "écrivez à @Nike", true),
        row("@nike", "#nike", false),
        row("@nike", "nike", false),
        row("@support", "contact @support_fr", false),
        row("@support_fr", "contact @support_fr.", true),
        row("#nike @nike", "#nike et @nike", true),
        row("#nike @nike", "#nike et nike", false),
    ]);
}

#[test]
fn emoji() {
    run(&[
        row("😡", "super😡😡", true),
        row("super", "super😡😡", true),
        row("😡", "super content", false),
        row("😡", "😠 pas pareil", false),
        row("👍", "top 👍🏽", true),
        row("👍🏽", "top 👍", true),
        row("👍🏽", "top 👍🏿", true),
        // The variation selector after `❤` is dropped, in queries and in messages alike.
        row("❤️", "je ❤ Paris", true),
        row("❤ NEAR/1 paris", "je ❤️ Paris", true),
        row("❤", "je ❤️ Paris", true),
        row("❤", "je ❤ Paris", true),
        row("\"super 😡\"", "super😡😡", true),
        row("\"😡 super\"", "super😡😡", false),
        row("😡 NEAR/1 😡", "super😡😡", true),
        row("😡 NEAR/1 😡", "super😡", false),
        row("😡 colère", "Quelle colère 😡", true),
        row("😡 colère", "Quelle colère", false),
        row("nike -😡", "nike 👍", true),
        row("nike -😡", "nike 😡", false),
    ]);
}

#[test]
fn not_and_minus() {
    run(&[
        row("nike -fake", "nike shoes", true),
        row("nike -fake", "fake nike shoes", false),
        row("nike NOT fake", "nike shoes", true),
        row("nike NOT fake", "Nike FAKE", false),
        row("nike -(fake OR copie)", "nike copie", false),
        row("nike -(fake OR copie)", "nike originale", true),
        row("nike -\"pas cher\"", "nike pas cher", false),
        row("nike -\"pas cher\"", "nike cher pas", true),
        row("nike --fake", "nike fake", true),
        row("nike --fake", "nike", false),
        row("nike NOT NOT fake", "nike fake", true),
        row("nike -#fake", "nike fake", true),
        row("nike -#fake", "nike #fake", false),
        row("nike -lang:fr", "nike", true),
        row("refund -\"no refund\"", "Refund please", true),
        row("refund -\"no refund\"", "no refund, refund", false),
    ]);
}

#[test]
fn implicit_and_and_or_precedence() {
    run(&[
        row("nike air", "air jordan by nike", true),
        row("nike air", "nike only", false),
        row("nike AND air", "Air Nike", true),
        row("nike AND air", "air", false),
        // `a b OR c` is `(a AND b) OR c`.
        row("nike air OR adidas", "adidas", true),
        row("nike air OR adidas", "nike", false),
        row("nike air OR adidas", "nike air", true),
        row("nike air OR adidas", "air adidas", true),
        // `a OR b c` is `a OR (b AND c)`.
        row("adidas OR nike air", "nike", false),
        row("adidas OR nike air", "adidas", true),
        row("nike (air OR adidas)", "adidas", false),
        row("nike (air OR adidas)", "nike adidas", true),
        // `NOT a b` is `(NOT a) AND b`.
        row("NOT fake nike", "nike", true),
        row("NOT fake nike", "fake nike", false),
        row("NOT fake nike", "fake", false),
        // `a OR b -c` is `a OR (b AND NOT c)`.
        row("nike OR adidas -fake", "nike fake", true),
        row("nike OR adidas -fake", "adidas fake", false),
        row("nike OR adidas -fake", "adidas", true),
        row("(nike OR adidas) -fake", "nike fake", false),
        // Lower-case operators are words.
        row("nike and adidas", "nike adidas", false),
        row("nike and adidas", "nike and adidas", true),
        row("chat or chien", "chat chien", false),
        row("chat or chien", "chat or chien", true),
        row("nike not fake", "nike not fake", true),
        row("nike not fake", "nike", false),
        row("nike near air", "nike near air", true),
        row("(a OR b) (c OR d)", "b c", true),
        row("(a OR b) (c OR d)", "a b", false),
        row("((nike))", "NIKE", true),
    ]);
}

#[test]
fn near() {
    run(&[
        row("nike NEAR/1 air", "nike air", true),
        row("nike NEAR/1 air", "air nike", true),
        row("nike NEAR/1 air", "nike big air", false),
        row("nike NEAR/1 air", "nike, air!", true),
        row("nike NEAR/1 air", "nike 😡 air", false),
        row("nike NEAR/2 air", "nike 😡 air", true),
        row("nike NEAR/1 air", "nike #promo air", false),
        row("nike NEAR/2 air", "nike big air", true),
        row("nike NEAR/2 air", "air big nike", true),
        row("nike NEAR/2 air", "nike big red air", false),
        row("nike NEAR/3 air", "nike big red air", true),
        row("nike NEAR/2 air", "nike one two air nike", true),
        row("nike NEAR/1 nike", "nike nike", true),
        row("nike NEAR/1 nike", "nike", false),
        row("nike NEAR/1 nike", "nike air nike", false),
        row("nike NEAR/2 nike", "nike air nike", true),
        row(
            "livraison NEAR/3 retard",
            "La livraison a eu du retard",
            false,
        ),
        row(
            "livraison NEAR/4 retard",
            "La livraison a eu du retard",
            true,
        ),
        row(
            "retard NEAR/4 livraison",
            "La livraison a eu du retard",
            true,
        ),
        // A phrase on one side: distances from its last (or to its first) token.
        row("\"air max\" NEAR/2 nike", "air max by nike", true),
        row("\"air max\" NEAR/2 nike", "nike air max", true),
        row("\"air max\" NEAR/2 nike", "air max is really nike", false),
        row("nike NEAR/1 \"air max\"", "nike air max", true),
        row("nike NEAR/1 \"air max\"", "air max nike", true),
        row("nike NEAR/1 \"air max\"", "nike air", false),
        // Occurrences must not overlap.
        row("\"air max\" NEAR/1 max", "air max", false),
        row("\"air max\" NEAR/1 max", "air max max", true),
        row("air NEAR/1 \"air max\"", "air max", false),
        row("air NEAR/1 \"air max\"", "air air max", true),
        row("\"a b\" NEAR/1 \"b c\"", "a b c", false),
        row("\"a b\" NEAR/1 \"b c\"", "a b b c", true),
        row("\"a b\" NEAR/1 \"c d\"", "c d a b", true),
        // Other kinds of atoms on each side.
        row("livr* NEAR/2 rapide", "livraison très rapide", true),
        row("livr* NEAR/1 rapide", "livraison très rapide", false),
        row("#nike NEAR/1 promo", "#nike promo", true),
        row("#nike NEAR/1 promo", "nike promo", false),
        row("@nike NEAR/1 merci", "merci @Nike", true),
        row("@nike NEAR/1 merci", "merci #Nike", false),
        row("nike NEAR/1 air", "#nike @air", true),
        row("l'avion NEAR/1 retard", "l'avion en retard", false),
        row("l'avion NEAR/2 retard", "l'avion en retard", true),
        row("😡 NEAR/2 livraison", "livraison 😡😡", true),
        // Precedence: NEAR binds tighter than NOT and AND.
        row("NOT nike NEAR/1 air x", "x nike air", false),
        row("NOT nike NEAR/1 air x", "x nike big air", true),
        row("x -nike NEAR/1 air", "x air nike", false),
        row("nike NEAR/1 air OR adidas", "adidas", true),
        row("nike NEAR/100 air", "nike air", true),
    ]);
}

#[test]
fn near_distance_100() {
    // 99 tokens between: NEAR/100 matches, NEAR/99 does not.
    let filler = "mot ".repeat(99);
    let text: &'static str = Box::leak(format!("nike {filler}air").into_boxed_str());
    run(&[
        row("nike NEAR/100 air", text, true),
        row("nike NEAR/99 air", text, false),
        row("air NEAR/100 nike", text, true),
    ]);
}

#[test]
fn title_and_text() {
    run(&[
        titled("nike", "Nike", "rien", true),
        titled("nike air", "Nike", "Air max", true),
        titled("nike NEAR/1 air", "Nike", "Air max", false),
        titled("nike NEAR/100 air", "Nike", "Air max", false),
        titled("air NEAR/100 nike", "Nike", "Air max", false),
        titled("\"nike air\"", "Nike", "Air max", false),
        titled("\"nike air\"", "Nike air", "rien", true),
        titled("\"nike air\"", "rien", "Nike air", true),
        titled("nike NEAR/1 air", "Nike air", "air", true),
        titled("nike NEAR/1 air", "air", "x nike air", true),
        titled("#nike", "#Nike", "texte", true),
        titled("livr* -retard", "Livraison", "en retard", false),
        titled("livr* -retard", "Livraison", "à l'heure", true),
    ]);
}

#[test]
fn field_filters() {
    const FR: F = F {
        lang: Some("fr"),
        ..NO_FIELDS
    };
    run(&[
        fielded("nike lang:fr", "nike", FR, true),
        fielded(
            "nike lang:fr",
            "nike",
            F {
                lang: Some("fr-CA"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike lang:fr",
            "nike",
            F {
                lang: Some("FR_be"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike lang:fr",
            "nike",
            F {
                lang: Some("en"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded("nike lang:fr", "nike", NO_FIELDS, false),
        fielded("nike lang:fr", "adidas", FR, false),
        fielded("nike lang:FR", "nike", FR, true),
        fielded("nike lang:fr-CA", "nike", FR, true),
        fielded(
            "nike lang:en",
            "nike",
            F {
                lang: Some("en-US"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike lang:fra",
            "nike",
            F {
                lang: Some("fr"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded("lang:fr", "", FR, true),
        fielded("lang:fr", "", NO_FIELDS, false),
        fielded(
            "nike channel:twitter",
            "nike",
            F {
                channel: Some("Twitter"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike channel:Twitter",
            "nike",
            F {
                channel: Some("twitter"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike channel:twitter",
            "nike",
            F {
                channel: Some("facebook"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded(
            "nike author:@Jane",
            "nike",
            F {
                author: Some("jane"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike author:jane",
            "nike",
            F {
                author: Some("@Jane"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike author:jane",
            "nike",
            F {
                author: Some("@jane_doe"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded(
            "nike author:jane",
            "nike",
            F {
                author: Some("janet"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded(
            "nike author:jane_doe",
            "nike",
            F {
                author: Some("@Jane_Doe"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded("nike author:jane", "nike jane", NO_FIELDS, false),
        fielded(
            "nike sentiment:negative",
            "nike",
            F {
                sentiment: Some("negative"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike sentiment:negative",
            "nike",
            F {
                sentiment: Some("Negative"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike sentiment:negative",
            "nike",
            F {
                sentiment: Some("positive"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded("nike sentiment:negative", "nike negative", NO_FIELDS, false),
        fielded(
            "nike intent:complaint",
            "nike",
            F {
                intent: Some("complaint"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike intent:complaint",
            "nike",
            F {
                intent: Some("question"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded(
            "nike topic:delivery",
            "nike",
            F {
                topics: &["price", "Delivery", "quality"],
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike topic:delivery",
            "nike",
            F {
                topics: &["price", "quality"],
                ..NO_FIELDS
            },
            false,
        ),
        fielded("nike topic:delivery", "nike delivery", NO_FIELDS, false),
        fielded(
            "nike topic:\"Service Client\"",
            "nike",
            F {
                topics: &["livraison", "service client"],
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike topic:\"service client\"",
            "nike",
            F {
                topics: &["service"],
                ..NO_FIELDS
            },
            false,
        ),
        fielded(
            "nike topic:qualité",
            "nike",
            F {
                topics: &["Qualite"],
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike topic:qualite",
            "nike",
            F {
                topics: &["Qualité"],
                ..NO_FIELDS
            },
            true,
        ),
        // Fields inside the boolean structure.
        fielded(
            "nike lang:fr -sentiment:positive",
            "nike",
            F {
                lang: Some("fr-CA"),
                sentiment: Some("negative"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike lang:fr -sentiment:positive",
            "nike",
            F {
                lang: Some("fr"),
                sentiment: Some("positive"),
                ..NO_FIELDS
            },
            false,
        ),
        fielded("nike lang:fr -sentiment:positive", "nike", FR, true),
        fielded(
            "(lang:fr OR lang:en) intent:complaint",
            "",
            F {
                lang: Some("en"),
                intent: Some("Complaint"),
                ..NO_FIELDS
            },
            true,
        ),
        fielded(
            "nike OR channel:instagram",
            "adidas",
            F {
                channel: Some("Instagram"),
                ..NO_FIELDS
            },
            true,
        ),
        // Field values never act as tokens for phrases or NEAR.
        fielded("fr NEAR/1 nike", "nike", FR, false),
    ]);
}

#[test]
fn check_helper_single_rows() {
    check("avion", "J'adore l'avion", true);
    check("livr*", "délivre", false);
    check("#nike", "nike", false);
}

/// The queries the spec refuses: none of them may reach a percolator.
#[test]
fn refused_queries() {
    let refused = [
        "-refund",
        "NOT refund",
        "a OR NOT b",
        "NOT a -b",
        "-(a b)",
        "nike OR -lang:fr",
        "nike OR",
        "(nike",
        "nike)",
        "\"nike",
        "\"\" nike",
        "() nike",
        "AND nike",
        "nike NEAR air",
        "nike NEAR/0 air",
        "nike NEAR/101 air",
        "(a OR b) NEAR/2 c",
        "a NEAR/2 lang:fr",
        "a NEAR/2 b NEAR/2 c",
        "li*",
        "l*",
        "*",
        "ni*ke",
        "colour:red nike",
        "nike lang:",
        "nike - fake",
    ];
    for q in refused {
        assert!(
            parse(q).is_err(),
            "{q:?} should be refused, got {:?}",
            parse(q)
        );
    }
}

/// The spec's limits: 4,000 characters, 32 levels of parentheses and NOTs, 300 terms.
#[test]
fn limits() {
    let ok = |q: &str| {
        let e = parse(q).unwrap_or_else(|e| panic!("{} chars refused: {e}", q.len()));
        assert_eq!(parse(&e.to_string()), Ok(e));
    };
    let parens = |n: usize| format!("{}nike{}", "(".repeat(n), ")".repeat(n));
    ok(&parens(32));
    assert!(parse(&parens(33)).is_err());
    let nots = |n: usize| format!("nike {}adidas", "NOT ".repeat(n));
    ok(&nots(32));
    assert!(parse(&nots(33)).is_err());
    let minus = |n: usize| format!("nike {}adidas", "-".repeat(n));
    ok(&minus(32));
    assert!(parse(&minus(33)).is_err());
    let terms = |n: usize| vec!["nike"; n].join(" ");
    ok(&terms(300));
    assert!(parse(&terms(301)).is_err());
    let near = |n: usize| vec!["nike NEAR/2 air"; n].join(" ");
    ok(&near(150));
    assert!(parse(&near(151)).is_err());
    // 4,000 characters: a phrase of about 2,000 words is one term, and its own normal form.
    let long = |last: &str| format!("\"{}{last}\"", "a ".repeat(1_997));
    assert_eq!(long("abcd").chars().count(), 4_000);
    ok(&long("abcd"));
    assert!(parse(&long("abcde"))
        .unwrap_err()
        .message
        .contains("4001 characters long once normalised"));
    let accents = format!("\"{}\"", "é ".repeat(1_999));
    assert_eq!(accents.chars().count(), 4_000);
    ok(&accents);
    // The limit is on the normal form (explicit ` AND `, `NOT ` for `-`), so that every accepted
    // query's normal form parses again: 250 words of 12 letters typed with spaces (3,249
    // characters) are 4,245 characters normalised, refused; 235 are 3,990, accepted.
    let words = |n: usize| vec!["abcdefghijkl"; n].join(" ");
    assert!(parse(&words(250))
        .unwrap_err()
        .message
        .contains("once normalised"));
    ok(&words(235));
    let glued = format!("\"{}\"xxb", "a ".repeat(1_998).trim_end());
    assert_eq!(glued.chars().count(), 4_000);
    assert!(parse(&glued)
        .unwrap_err()
        .message
        .contains("once normalised"));
}
