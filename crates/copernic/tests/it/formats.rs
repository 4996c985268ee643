//! Each input format through `copernic import --json`, then what `messages`, `rejects` and
//! `rejects --raw` show of it.

use serde_json::Value;

use crate::common::*;

/// A support-tool JSONL export: good lines (one with CRLF), a blank line, a line cut short, a
/// line without text and a line with an unreadable date.
pub const JSONL: &[u8] = b"{\"id\":\"t1\",\"text\":\"Tr\xc3\xa8s d\xc3\xa9\xc3\xa7u par la livraison, le colis est arriv\xc3\xa9 ab\xc3\xaem\xc3\xa9\",\"author\":{\"handle\":\"@ana\"},\"created_at\":\"2024-03-04T10:00:00Z\",\"channel\":\"twitter\",\"lang\":\"FR\"}
{\"id\":\"t2\",\"text\":\"Thanks for the quick answer, all sorted now\",\"author\":\"@bob\",\"created_at\":\"2024-03-04T11:00:00Z\"}\r

{\"id\":\"t3\",\"text\":\"Ma commande n'est pas
{\"id\":\"t4\",\"author\":\"@carl\",\"created_at\":\"2024-03-04T12:00:00Z\"}
{\"id\":\"t5\",\"text\":\"O\xc3\xb9 est ma commande ? \xc3\x87a fait trois semaines\",\"created_at\":1709557200}
{\"id\":\"t6\",\"text\":\"Remboursement demand\xc3\xa9\",\"created_at\":\"la semaine derni\xc3\xa8re\"}
";

/// An Excel-style semicolon CSV: UTF-8 byte-order mark, then Latin-1 text, a quoted field that
/// holds the separator and a line break, a row with an unreadable date and a row without text.
pub const CSV: &[u8] = b"\xef\xbb\xbfId;User;Date;Message
1;marie;2024-03-04 10:00:00;\"Tr\xe8s d\xe9\xe7u;
le colis est arriv\xe9 ouvert\"
2;paul;04/03/2024 11:30;\"Livraison rapide, merci\"
3;zo\xe9;pas une date;\"Commande annul\xe9e sans pr\xe9venir\"
4;luc;2024-03-04 12:00:00;
";

pub const CSV_MAP: &str = "text=Message,author=User,created_at=Date";

/// A mailbox: text before the first `From ` line, a customer mail and the support's reply in the
/// same thread (with a `>From ` escaped body line), and a quoted-printable ISO-8859-1 mail.
pub const MBOX: &[u8] = b"this text is not part of any e-mail
From ana@example.fr Mon Mar  4 10:00:00 2024
From: Ana Lopes <ana@example.fr>
To: support@shop.example
Subject: Commande 1234 non recue
Date: Mon, 4 Mar 2024 10:00:00 +0100
Message-ID: <c1234-1@example.fr>

Bonjour, ma commande 1234 n'est toujours pas arrivee. Pouvez-vous verifier ?

From support@shop.example Mon Mar  4 11:00:00 2024
From: Service client <support@shop.example>
To: ana@example.fr
Subject: Re: Commande 1234 non recue
Date: Mon, 4 Mar 2024 11:00:00 +0100
Message-ID: <r1@shop.example>
In-Reply-To: <c1234-1@example.fr>
References: <c1234-1@example.fr>

Bonjour Ana, le colis part demain du depot.
>From our warehouse with love.

From renee@example.fr Tue Mar  5 09:15:00 2024
From: =?ISO-8859-1?Q?Ren=E9e_Dupr=E9?= <renee@example.fr>
To: support@shop.example
Subject: =?ISO-8859-1?Q?Produit_d=E9fectueux?=
Date: Tue, 5 Mar 2024 09:15:00 +0100
Message-ID: <q1@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Le grille-pain est arriv=E9 cass=E9, je suis tr=E8s d=E9=E7ue. Je voudrais un =
remboursement.

";

pub const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Avis clients</title>
    <link>https://shop.example/avis</link>
    <description>Les derniers avis</description>
    <item>
      <title>Service après-vente au top</title>
      <link>https://shop.example/avis/1</link>
      <guid isPermaLink="false">avis-1</guid>
      <dc:creator>Jeanne</dc:creator>
      <pubDate>Wed, 06 Mar 2024 08:30:00 +0100</pubDate>
      <description><![CDATA[<p>Réponse en <b>deux heures</b>, échange immédiat.</p>]]></description>
    </item>
    <item>
      <title>Emballage insuffisant</title>
      <link>https://shop.example/avis/2</link>
      <guid isPermaLink="false">avis-2</guid>
      <pubDate>Wed, 06 Mar 2024 09:00:00 +0100</pubDate>
      <description>La théière est arrivée fêlée.</description>
    </item>
    <item>
      <guid isPermaLink="false">avis-3</guid>
      <link>https://shop.example/avis/3</link>
    </item>
  </channel>
</rss>
"#;

pub const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Forum des clients</title>
  <id>urn:uuid:8d3c1b3e-0000-4000-8000-000000000001</id>
  <updated>2024-03-07T10:00:00Z</updated>
  <entry>
    <title>Garantie refusée</title>
    <link rel="alternate" href="https://forum.shop.example/t/77"/>
    <id>tag:forum.shop.example,2024:77</id>
    <updated>2024-03-07T09:00:00Z</updated>
    <author><name>Lucien</name></author>
    <content type="html">&lt;p&gt;On me refuse la garantie sur l'aspirateur, c'est inadmissible.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Merci !</title>
    <id>tag:forum.shop.example,2024:78</id>
    <updated>2024-03-07T09:30:00Z</updated>
    <summary>Problème de garantie réglé par téléphone.</summary>
  </entry>
</feed>
"#;

/// Mastodon API statuses: a mention, a reply to it, and one without `created_at`.
pub const MASTODON: &str = r##"[
  {"id": "1101", "uri": "https://m.example/users/ana/statuses/1101", "url": "https://m.example/@ana/1101",
   "created_at": "2024-03-08T09:30:00.000Z", "language": "fr", "spoiler_text": "",
   "content": "<p><span class=\"h-card\"><a href=\"https://m.example/@shop\">@<span>shop</span></a></span> ma cafeti&egrave;re fuit depuis hier</p>",
   "account": {"id": "7", "username": "ana", "acct": "ana@m.example", "display_name": "Ana"},
   "tags": [], "media_attachments": []},
  {"id": "1102", "url": "https://m.example/@shop/1102", "created_at": "2024-03-08T10:00:00Z",
   "in_reply_to_id": "1101", "content": "<p>D&eacute;sol&eacute;s ! Un technicien vous rappelle.</p>",
   "account": {"id": "1", "acct": "shop", "display_name": "Shop"}},
  {"id": "1103", "content": "<p>pas de date</p>", "account": {"id": "9", "acct": "zed"}}
]"##;

/// Imports the JSONL export and checks the summary, the messages, search and the rejects.
#[test]
fn jsonl_good_broken_textless_and_undated_lines() {
    let env = Env::new();
    let f = env.file("tickets.jsonl", JSONL);
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (6, 3, 0, 3), "{s}");
    let file = &s["files"][0];
    assert_eq!(file["format"], "jsonl");
    assert_eq!(file["source"], "tickets");
    assert!(file.get("error").is_none(), "{file}");
    assert_eq!(file["first_rejects"].as_array().map(Vec::len), Some(3));

    let all = env.messages(&["--source", "tickets"]);
    assert_eq!(all.len(), 3);
    let t1 = by_external_id(&all, "t1");
    assert_eq!(
        t1["text"],
        "Très déçu par la livraison, le colis est arrivé abîmé"
    );
    assert_eq!(t1["author"]["handle"], "@ana");
    assert_eq!(t1["channel"], "twitter");
    assert_eq!(t1["lang"], "fr");
    assert_eq!(t1["created_at"], "2024-03-04T10:00:00Z");
    let t2 = by_external_id(&all, "t2");
    assert_eq!(t2["text"], "Thanks for the quick answer, all sorted now");
    assert_eq!(t2["channel"], "import");
    let t5 = by_external_id(&all, "t5");
    assert_eq!(t5["created_at"], "2024-03-04T13:00:00Z");

    // Search ignores case and accents both ways.
    assert_eq!(env.search("decu", "tickets"), ["t1"]);
    assert_eq!(env.search("ABIME", "tickets"), ["t1"]);
    assert_eq!(env.search("ça fait", "tickets"), ["t5"]);
    assert_eq!(env.search("DÉÇU livraison", "tickets"), ["t1"]);
    // Refused records are not searchable.
    assert_eq!(env.search("remboursement", "tickets"), Vec::<String>::new());

    let rejects = env.rejects(&["--source", "tickets"]);
    assert_eq!(rejects.len(), 3, "{rejects:#?}");

    // Line 4: cut short. The byte offset points inside that line, where parsing failed.
    let (start, line) = line_of(JSONL, 4);
    let r = reject_at_line(&rejects, 4);
    assert_eq!(r["position"]["input"], "tickets.jsonl");
    assert!(r["field"].is_null(), "{r}");
    assert!(str_of(r, "reason").contains("not valid JSON"), "{r}");
    let byte = u(&r["position"], "byte");
    assert!(
        (start..=start + line.len() as u64).contains(&byte),
        "byte {byte} is not inside line 4 ({start}..{})",
        start + line.len() as u64
    );
    assert_eq!(raw_reject(&env, r), line);

    // Line 5: no text.
    let (start, line) = line_of(JSONL, 5);
    let r = reject_at_line(&rejects, 5);
    assert_eq!(r["field"], "text");
    assert_eq!(u(&r["position"], "byte"), start);
    assert!(str_of(r, "reason").contains("--map text="), "{r}");
    assert_eq!(raw_reject(&env, r), line);

    // Line 7: a date nobody can read.
    let (start, line) = line_of(JSONL, 7);
    let r = reject_at_line(&rejects, 7);
    assert_eq!(r["field"], "created_at");
    assert_eq!(u(&r["position"], "byte"), start);
    assert_eq!(raw_reject(&env, r), line);
    assert_eq!(u(r, "raw_len"), line.len() as u64);
}

/// A reject number that does not exist is an error that says where to look.
#[test]
fn rejects_raw_of_an_unknown_number_fails() {
    let env = Env::new();
    let f = env.file("tickets.jsonl", JSONL);
    env.import(&[&f]);
    let out = env.run(["rejects", "--raw", "999"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no reject number 999"), "{err}");
}

#[test]
fn csv_with_bom_latin1_semicolons_and_multiline_field() {
    let env = Env::new();
    let f = env.file("export.csv", CSV);
    let s = env.import(&[&f, "--map", CSV_MAP]);
    assert_eq!(counts(&s), (4, 2, 0, 2), "{s}");
    assert_eq!(s["files"][0]["format"], "csv");
    assert_eq!(s["files"][0]["source"], "export");

    let all = env.messages(&["--source", "export"]);
    assert_eq!(all.len(), 2);
    let m1 = by_external_id(&all, "1");
    // Latin-1 decoded, the quoted separator and line break kept.
    assert_eq!(m1["text"], "Très déçu;\nle colis est arrivé ouvert");
    assert_eq!(m1["author"]["handle"], "marie");
    assert_eq!(m1["created_at"], "2024-03-04T10:00:00Z");
    let m2 = by_external_id(&all, "2");
    assert_eq!(m2["text"], "Livraison rapide, merci");
    assert_eq!(m2["created_at"], "2024-03-04T11:30:00Z");

    assert_eq!(env.search("decu", "export"), ["1"]);
    assert_eq!(env.search("arrive ouvert", "export"), ["1"]);

    let rejects = env.rejects(&["--source", "export"]);
    assert_eq!(rejects.len(), 2, "{rejects:#?}");
    // Row 3 starts on line 5 (row 1 spans lines 2 and 3). The field is named as the file names
    // it, the mapped column.
    let r = reject_at_line(&rejects, 5);
    assert_eq!(r["field"], "Date");
    assert!(str_of(r, "reason").contains("pas une date"), "{r}");
    assert!(r["position"]["byte"].is_u64(), "{r}");
    // The raw row keeps the file's Latin-1 bytes (written back as one CSV record).
    assert_eq!(
        raw_reject(&env, r),
        b"3;zo\xe9;pas une date;Commande annul\xe9e sans pr\xe9venir"
    );
    let r = reject_at_line(&rejects, 6);
    assert_eq!(r["field"], "Message");
    assert_eq!(raw_reject(&env, r), b"4;luc;2024-03-04 12:00:00;");
}

/// The byte offset and line of a CSV reject must point at the row in the file as it is on disk,
/// whatever its byte-order mark and line endings (Excel writes both). Both once went wrong: the
/// BOM was consumed before the csv reader counted bytes (offsets 3 short), and the csv crate
/// reports the position of a record that follows a CRLF one line and one byte early
/// (BurntSushi/rust-csv#395).
#[test]
fn csv_reject_positions_match_the_file_with_bom_and_crlf() {
    let env = Env::new();
    let lf: &[u8] = b"\xef\xbb\xbfid;text\n1;bonjour\n2;\n";
    let crlf: &[u8] = b"id;text\r\n1;bonjour\r\n2;\r\n";
    let a = env.file("bom.csv", lf);
    let b = env.file("crlf.csv", crlf);
    let s = env.import(&[&a, &b]);
    assert_eq!(counts(&s), (4, 2, 0, 2), "{s}");
    let mut wrong = Vec::new();
    for (source, bytes) in [("bom", lf), ("crlf", crlf)] {
        let rejects = env.rejects(&["--source", source]);
        assert_eq!(rejects.len(), 1, "{rejects:#?}");
        let (start, _) = line_of(bytes, 3);
        let pos = &rejects[0]["position"];
        if pos["line"] != 3 || pos["byte"] != start {
            wrong.push(format!(
                "{source}.csv: the textless row is on line 3 at byte {start}, the reject says line {} byte {}",
                pos["line"], pos["byte"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn mbox_thread_and_quoted_printable_latin1_mail() {
    let env = Env::new();
    let f = env.file("support.mbox", MBOX);
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (4, 3, 0, 1), "{s}");
    assert_eq!(s["files"][0]["format"], "mbox");
    assert_eq!(s["files"][0]["source"], "email");

    let all = env.messages(&["--source", "email"]);
    assert_eq!(all.len(), 3);
    let first = by_external_id(&all, "c1234-1@example.fr");
    let reply = by_external_id(&all, "r1@shop.example");
    let qp = by_external_id(&all, "q1@example.fr");
    assert_eq!(first["channel"], "email");
    assert_eq!(first["title"], "Commande 1234 non recue");
    assert_eq!(first["author"]["handle"], "ana@example.fr");
    assert_eq!(first["author"]["name"], "Ana Lopes");
    assert_eq!(first["created_at"], "2024-03-04T09:00:00Z");
    // The reply points at the first mail, and both are in the first mail's thread.
    assert_eq!(reply["in_reply_to"], first["id"]);
    assert_eq!(reply["thread_id"], first["id"]);
    assert_eq!(first["thread_id"], first["id"]);
    // mboxrd unescaping: the body line was written `>From our warehouse`.
    let text = str_of(reply, "text");
    assert!(text.contains("\nFrom our warehouse with love."), "{text:?}");
    assert!(!text.contains(">From"), "{text:?}");
    // Quoted-printable ISO-8859-1, soft line break joined; encoded-word headers decoded.
    assert_eq!(
        qp["text"],
        "Le grille-pain est arrivé cassé, je suis très déçue. Je voudrais un remboursement."
    );
    assert_eq!(qp["title"], "Produit défectueux");
    assert_eq!(qp["author"]["name"], "Renée Dupré");
    assert_ne!(qp["thread_id"], first["id"]);

    assert_eq!(env.search("decue", "email"), ["q1@example.fr"]);
    assert_eq!(env.search("CASSE grille", "email"), ["q1@example.fr"]);
    assert_eq!(env.search("warehouse", "email"), ["r1@shop.example"]);

    let rejects = env.rejects(&["--source", "email"]);
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    let r = &rejects[0];
    assert_eq!(r["position"]["line"], 1);
    assert_eq!(r["position"]["byte"], 0);
    assert!(str_of(r, "reason").contains("belongs to no e-mail"), "{r}");
    let raw = raw_reject(&env, r);
    assert!(
        raw.starts_with(b"this text is not part of any e-mail"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn gzipped_mail_archive_reads_like_the_plain_one() {
    use std::io::Write;
    let env = Env::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(MBOX).unwrap();
    // A mailing-list archive as Mailman serves it: `2024-March.txt.gz`.
    let f = env.file("2024-March.txt.gz", gz.finish().unwrap());
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (4, 3, 0, 1), "{s}");
    assert_eq!(s["files"][0]["format"], "mbox");
    assert_eq!(env.search("decue", "email"), ["q1@example.fr"]);
    // The same mails from the plain file are duplicates: the content decides, not the wrapping.
    let plain = env.file("support.mbox", MBOX);
    assert_eq!(counts(&env.import(&[&plain])), (4, 0, 3, 1));
}

#[test]
fn json_api_page_with_items_path() {
    let env = Env::new();
    let f = env.file(
        "page.json",
        r#"{"meta": {"count": 2}, "payload": {"posts": [{"post_id": "p1", "body": "Hello"}, {"post_id": "p2", "body": "Salut"}]}}"#,
    );
    let s = env.import(&[&f, "--items", "payload.posts"]);
    assert_eq!(counts(&s), (2, 2, 0, 0), "{s}");
    assert_eq!(env.search("salut", "page"), ["p2"]);
}

/// Excel's "Unicode text" export (UTF-16LE with a byte-order mark, tab-separated, CRLF), JSON
/// lines as Windows PowerShell 5 redirects them (the same encoding), and a feed in UTF-16BE
/// without a mark that still declares UTF-16: all read as their UTF-8 would, and a `.xml` file
/// that is no feed says so instead of being read as an empty CSV.
#[test]
fn utf16_exports_and_feeds() {
    let env = Env::new();
    let jsonl = "{\"id\":\"p1\",\"text\":\"Où est ma commande ? 📦\"}\r\n{\"id\":\"p2\"}\r\n";
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(jsonl.encode_utf16().flat_map(u16::to_le_bytes));
    let f = env.file("powershell.jsonl", &bytes);
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (2, 1, 0, 1), "{s}");
    let all = env.messages(&["--source", "powershell"]);
    assert_eq!(
        by_external_id(&all, "p1")["text"],
        "Où est ma commande ? 📦"
    );
    let rejects = env.rejects(&["--source", "powershell"]);
    assert_eq!(reject_at_line(&rejects, 2)["field"], "text");

    let tsv = "id\tauthor\ttext\r\n1\tmarie\tTrès déçu 👎\r\n2\tpaul\t\r\n3\tzoé\t\"Sur deux\nlignes\"\r\n";
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(tsv.encode_utf16().flat_map(u16::to_le_bytes));
    let f = env.file("unicode.txt", &bytes);
    let s = env.import(&[&f, "--map", "author=author"]);
    assert_eq!(counts(&s), (3, 2, 0, 1), "{s}");
    assert_eq!(s["files"][0]["format"], "csv");
    let all = env.messages(&["--source", "unicode"]);
    assert_eq!(by_external_id(&all, "1")["text"], "Très déçu 👎");
    assert_eq!(by_external_id(&all, "1")["author"]["handle"], "marie");
    assert_eq!(by_external_id(&all, "3")["text"], "Sur deux\nlignes");
    assert_eq!(env.search("decu", "unicode"), ["1"]);
    let rejects = env.rejects(&["--source", "unicode"]);
    assert_eq!(reject_at_line(&rejects, 3)["field"], "text");

    let feed = r#"<?xml version="1.0" encoding="utf-16"?>
<rss version="2.0"><channel><title>Blog</title>
<item><title>Été</title><guid>e1</guid><description>Un article sur l'été</description></item>
</channel></rss>"#;
    let f = env.file(
        "news.xml",
        feed.encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (1, 1, 0, 0), "{s}");
    assert_eq!(s["files"][0]["format"], "rss");
    let all = env.messages(&["--source", "news"]);
    assert_eq!(all[0]["title"], "Été");
    assert_eq!(all[0]["text"], "Un article sur l'été");

    let f = env.file("table.xml", "id,text\n1,bonjour\n");
    let out = env.run(["import", f.as_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("not an XML feed"), "{stderr}");
}

#[test]
fn rss_and_atom_feeds() {
    let env = Env::new();
    let rss = env.file("avis.rss", RSS);
    let atom = env.file("forum.atom", ATOM);
    let s = env.import(&[&rss, &atom]);
    assert_eq!(counts(&s), (5, 4, 0, 1), "{s}");
    let files = s["files"].as_array().expect("files");
    assert_eq!(files[0]["format"], "rss");
    assert_eq!(counts(&files[0]), (3, 2, 0, 1));
    assert_eq!(files[1]["format"], "atom");
    assert_eq!(counts(&files[1]), (2, 2, 0, 0));

    let all = env.messages(&["--source", "avis"]);
    assert_eq!(all.len(), 2);
    let a1 = by_external_id(&all, "avis-1");
    assert_eq!(a1["channel"], "rss");
    assert_eq!(a1["title"], "Service après-vente au top");
    assert_eq!(a1["text"], "Réponse en deux heures, échange immédiat.");
    assert_eq!(a1["url"], "https://shop.example/avis/1");
    assert_eq!(a1["author"]["name"], "Jeanne");
    assert_eq!(a1["created_at"], "2024-03-06T07:30:00Z");
    assert_eq!(env.search("theiere felee", "avis"), ["avis-2"]);

    let all = env.messages(&["--source", "forum"]);
    assert_eq!(all.len(), 2);
    let e = by_external_id(&all, "tag:forum.shop.example,2024:77");
    assert_eq!(e["channel"], "atom");
    assert_eq!(
        e["text"],
        "On me refuse la garantie sur l'aspirateur, c'est inadmissible."
    );
    assert_eq!(e["url"], "https://forum.shop.example/t/77");
    assert_eq!(e["author"]["name"], "Lucien");
    assert_eq!(
        env.search("garantie", "forum"),
        [
            "tag:forum.shop.example,2024:77",
            "tag:forum.shop.example,2024:78"
        ]
    );
    assert_eq!(
        env.search("reglé telephone", "forum"),
        ["tag:forum.shop.example,2024:78"]
    );

    let rejects = env.rejects(&["--source", "avis"]);
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    let r = &rejects[0];
    assert_eq!(r["field"], "description");
    assert_eq!(r["position"]["item"], 2);
    let raw = String::from_utf8(raw_reject(&env, r)).expect("UTF-8 item");
    assert!(
        raw.starts_with("<item>") && raw.contains("avis-3") && raw.ends_with("</item>"),
        "{raw}"
    );
}

#[test]
fn mastodon_statuses() {
    let env = Env::new();
    let f = env.file("timeline.json", MASTODON);
    let s = env.import(&[&f]);
    assert_eq!(counts(&s), (3, 2, 0, 1), "{s}");
    assert_eq!(s["files"][0]["format"], "mastodon");
    assert_eq!(s["files"][0]["source"], "mastodon");

    let all = env.messages(&["--source", "mastodon"]);
    assert_eq!(all.len(), 2);
    let a = by_external_id(&all, "1101");
    let b = by_external_id(&all, "1102");
    assert_eq!(a["channel"], "mastodon");
    assert_eq!(a["text"], "@shop ma cafetière fuit depuis hier");
    assert_eq!(a["author"]["handle"], "@ana@m.example");
    assert_eq!(a["author"]["name"], "Ana");
    assert_eq!(a["url"], "https://m.example/@ana/1101");
    assert_eq!(a["lang"], "fr");
    assert_eq!(b["in_reply_to"], a["id"]);
    assert_eq!(b["text"], "Désolés ! Un technicien vous rappelle.");
    assert_eq!(env.search("cafetiere", "mastodon"), ["1101"]);
    assert_eq!(env.search("desoles", "mastodon"), ["1102"]);

    let rejects: Vec<Value> = env.rejects(&["--source", "mastodon"]);
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    let r = reject_at_item(&rejects, 2);
    assert_eq!(r["field"], "created_at");
    let raw: Value = serde_json::from_slice(&raw_reject(&env, r)).expect("raw status is JSON");
    assert_eq!(raw["id"], "1103");
}
