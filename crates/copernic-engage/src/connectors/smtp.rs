//! A reply as an e-mail, through an SMTP relay (RFC 5321): EHLO, MAIL FROM, RCPT TO, DATA,
//! QUIT. The relay is expected on a trusted network (the usual local MTA or smarthost), so the
//! session is plain, without STARTTLS or AUTH. The Message-ID is derived from the reply's
//! idempotency key, so a repeat after a lost answer is recognisable downstream; In-Reply-To and
//! References thread it under the customer's mail.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Delivered, Outgoing, SendError};
use crate::config::ConnectorConfig;

/// The whole message as sent after DATA (before dot-stuffing).
pub fn message(
    from: &str,
    o: &Outgoing,
    date: chrono::DateTime<chrono::Utc>,
) -> Result<String, SendError> {
    let to = o
        .to_id
        .as_deref()
        .filter(|a| a.contains('@'))
        .ok_or_else(|| SendError::fatal("the customer has no e-mail address to answer"))?;
    check_header_value(from)?;
    check_header_value(to)?;
    let subject = match o.subject.as_deref() {
        Some(s) if s.to_ascii_lowercase().starts_with("re:") => s.to_string(),
        Some(s) => format!("Re: {s}"),
        None => "Re: your message".to_string(),
    };
    let domain = from.rsplit('@').next().unwrap_or("copernic.local");
    let mut m = String::new();
    m.push_str(&format!("From: {from}\r\n"));
    match o.to_name.as_deref() {
        Some(n) => m.push_str(&format!("To: {} <{to}>\r\n", encode_word(n))),
        None => m.push_str(&format!("To: {to}\r\n")),
    }
    m.push_str(&format!("Subject: {}\r\n", encode_word(&subject)));
    m.push_str(&format!("Date: {}\r\n", date.to_rfc2822()));
    m.push_str(&format!(
        "Message-ID: <{}@{domain}>\r\n",
        o.idempotency_key
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
    ));
    if let Some(parent) = o
        .in_reply_to
        .as_deref()
        .filter(|p| !p.starts_with("sha256:"))
    {
        check_header_value(parent)?;
        let parent = parent.trim_matches(|c| c == '<' || c == '>');
        m.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let b64 = base64(
        o.text
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .as_bytes(),
    );
    for line in b64.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(line).unwrap_or_default());
        m.push_str("\r\n");
    }
    Ok(m)
}

fn check_header_value(v: &str) -> Result<(), SendError> {
    if v.contains(['\r', '\n']) {
        return Err(SendError::fatal(format!(
            "{v:?} cannot go in a mail header"
        )));
    }
    Ok(())
}

/// RFC 2047 encoded-word when the text is not plain ASCII.
fn encode_word(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    if s.is_ascii() {
        s
    } else {
        format!("=?UTF-8?B?{}?=", base64(s.as_bytes()))
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

struct Session {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Session {
    /// Reads one (possibly multi-line) reply; fails unless its code is `want`'s class.
    async fn expect(&mut self, step: &str, want: u16) -> Result<(), SendError> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .r
                .read_line(&mut line)
                .await
                .map_err(|e| SendError::retry(format!("SMTP {step}: {e}")))?;
            if n == 0 {
                return Err(SendError::retry(format!(
                    "SMTP {step}: the server closed the connection"
                )));
            }
            text.push_str(line.trim_end());
            // "250-..." continues, "250 ..." ends.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
            text.push(' ');
        }
        let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code / 100 == want / 100 {
            return Ok(());
        }
        let message = format!("SMTP {step}: {text}");
        // 4xx is temporary by definition (RFC 5321 §4.2.1); 5xx is final.
        Err(if code / 100 == 5 {
            SendError::fatal(message)
        } else {
            SendError::retry(message)
        })
    }

    async fn command(&mut self, step: &str, line: &str, want: u16) -> Result<(), SendError> {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| SendError::retry(format!("SMTP {step}: {e}")))?;
        self.expect(step, want).await
    }
}

pub async fn send(config: &ConnectorConfig, o: &Outgoing) -> Result<Delivered, SendError> {
    let host = config
        .host
        .as_deref()
        .ok_or_else(|| SendError::fatal("the smtp connector has no host"))?;
    let from = config
        .from
        .as_deref()
        .ok_or_else(|| SendError::fatal("the smtp connector has no from address"))?;
    let port = config.port.unwrap_or(25);
    let body = message(from, o, chrono::Utc::now())?;
    let timeout = config
        .timeout
        .and_then(|d| d.to_std().ok())
        .unwrap_or(std::time::Duration::from_secs(30));
    let to = o.to_id.clone().unwrap_or_default();
    let conversation = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| SendError::retry(format!("SMTP connect to {host}:{port}: {e}")))?;
        let (r, w) = stream.into_split();
        let mut s = Session {
            r: BufReader::new(r),
            w,
        };
        s.expect("greeting", 220).await?;
        s.command("EHLO", "EHLO copernic", 250).await?;
        s.command("MAIL FROM", &format!("MAIL FROM:<{from}>"), 250)
            .await?;
        s.command("RCPT TO", &format!("RCPT TO:<{to}>"), 250)
            .await?;
        s.command("DATA", "DATA", 354).await?;
        // Dot-stuffing: a line starting with '.' gets another.
        let mut data = String::with_capacity(body.len() + 8);
        for line in body.split_inclusive("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
        }
        data.push_str(".\r\n");
        s.w.write_all(data.as_bytes())
            .await
            .map_err(|e| SendError::retry(format!("SMTP message: {e}")))?;
        s.expect("end of data", 250).await?;
        // The message is accepted; a failed QUIT changes nothing.
        let _ = s.command("QUIT", "QUIT", 221).await;
        Ok(Delivered {
            remote_id: body
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .map(str::to_string),
        })
    };
    tokio::time::timeout(timeout, conversation)
        .await
        .map_err(|_| SendError::retry(format!("SMTP to {host}:{port} timed out")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> Outgoing {
        Outgoing {
            idempotency_key: "reply-7-abc".into(),
            case_id: 7,
            channel: "email".into(),
            to_id: Some("renee@example.fr".into()),
            to_handle: None,
            to_name: Some("Renée".into()),
            in_reply_to: Some("abc@mail.example".into()),
            subject: Some("Colis perdu".into()),
            text: "Bonjour,\n.point\nMerci".into(),
        }
    }

    #[test]
    fn mail_is_threaded_and_encoded() {
        let m = message(
            "care@brand.example",
            &out(),
            "2026-12-01T10:00:00Z".parse().unwrap(),
        )
        .unwrap();
        assert!(m.contains("To: =?UTF-8?B?"), "{m}");
        assert!(m.contains("Subject: Re: Colis perdu\r\n"));
        assert!(m.contains("Message-ID: <reply-7-abc@brand.example>\r\n"));
        assert!(m.contains("In-Reply-To: <abc@mail.example>\r\n"));
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
    }

    #[test]
    fn header_injection_and_missing_address_are_refused() {
        let mut o = out();
        o.to_id = Some("a@b.c\r\nBcc: x@y.z".into());
        assert!(
            !message("care@brand.example", &o, chrono::Utc::now())
                .unwrap_err()
                .retryable
        );
        o.to_id = Some("@handle".into());
        o.to_id = None;
        assert!(message("care@brand.example", &o, chrono::Utc::now()).is_err());
    }
}
