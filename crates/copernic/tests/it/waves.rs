//! A copy-paste campaign becomes one near-duplicate wave; unrelated messages join none.

use serde_json::json;

use crate::common::*;

const CAMPAIGN: &str = "Scandale chez ce vendeur : ma commande payée depuis trois semaines n'est toujours pas livrée et le service client ne répond plus, je demande un remboursement immédiat";

const UNRELATED: [&str; 20] = [
    "Bonjour, pouvez-vous me dire quand ouvre le magasin de Lyon samedi prochain ?",
    "The blue sweater I ordered is too small, how do I exchange it for a larger size?",
    "Merci à Julie pour son aide au téléphone ce matin, problème réglé en cinq minutes.",
    "Is there any discount for students on the annual subscription plan this autumn?",
    "Ma carte de fidélité ne fonctionne plus depuis la mise à jour de l'application.",
    "Your website keeps logging me out whenever I try to add items to my basket.",
    "Je souhaite modifier l'adresse de livraison de ma dernière commande avant expédition.",
    "Do you ship to Norway, and if so how long does delivery usually take there?",
    "Le code promo reçu par courriel est refusé à l'étape du paiement, pourquoi donc ?",
    "I love the new recipe book, the pictures are gorgeous and the instructions clear.",
    "Quelle est la différence entre la garantie standard et l'extension de garantie ?",
    "My parcel tracking has said out for delivery for four days without any change.",
    "Est-il possible de retirer un colis en point relais avec la pièce d'identité d'un proche ?",
    "Could you send me an invoice with my company name and VAT number on it please?",
    "Les piles fournies avec la télécommande étaient déjà vides à l'ouverture du carton.",
    "What are the opening hours of your customer support line during public holidays?",
    "J'ai reçu deux fois le même article, comment vous renvoyer celui en trop sans frais ?",
    "The mobile app crashes every time I open the order history on my old phone.",
    "Bravo pour l'emballage entièrement recyclable, c'est une vraie bonne initiative.",
    "Can I change the colour of the chair after the order has been confirmed by email?",
];

#[test]
fn thirty_copies_with_varied_mentions_and_urls_make_one_wave() {
    let env = Env::new();
    let mut jsonl = String::new();
    for i in 0..30 {
        // Bots vary the mention, the link and a number; the words stay the same.
        let text = format!(
            "@brand{i} {CAMPAIGN} https://short.example/x{} #{}",
            i * 7919,
            1000 + i
        );
        let line = json!({"id": format!("c{i}"), "text": text, "author": format!("@bot{i}"),
            "created_at": format!("2024-03-10T10:{:02}:00Z", i)});
        jsonl.push_str(&format!("{line}\n"));
    }
    for (i, text) in UNRELATED.iter().enumerate() {
        let line = json!({"id": format!("u{i}"), "text": text, "author": format!("@client{i}"),
            "created_at": format!("2024-03-10T11:{:02}:00Z", i)});
        jsonl.push_str(&format!("{line}\n"));
    }
    let f = env.file("campaign.jsonl", jsonl);
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (50, 50, 0, 0), "{s}");
    // The head starts the wave; the 29 copies after it join it.
    assert_eq!(u(&s, "in_waves"), 29, "{s}");

    let out = env.ok(["waves", "--json"]);
    let waves = parse_lines(&out.stdout);
    assert_eq!(waves.len(), 1, "{waves:#?}");
    let w = &waves[0];
    assert_eq!(u(w, "size"), 30, "{w}");
    assert_eq!(u(w, "distinct_authors"), 30, "{w}");
    assert_eq!(w["first_at"], "2024-03-10T10:00:00Z");
    assert_eq!(w["last_at"], "2024-03-10T10:29:00Z");
    assert!(str_of(w, "sample").contains(CAMPAIGN), "{w}");

    // `messages --wave HEAD` lists exactly the campaign.
    let head = str_of(w, "head");
    let members = env.messages(&["--wave", head.as_str()]);
    assert_eq!(members.len(), 30);
    assert!(
        members
            .iter()
            .all(|m| str_of(m, "external_id").starts_with('c') && m["wave"] == head.as_str()),
        "{members:#?}"
    );
    let stats = env.stats();
    assert_eq!(u(&stats, "waves"), 1, "{stats}");
    assert_eq!(u(&stats, "messages_in_waves"), 30, "{stats}");
}
