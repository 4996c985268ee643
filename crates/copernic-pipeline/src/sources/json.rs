//! A JSON record read in place: strings borrowed from the line they came from, objects as lists
//! of pairs. Reading a JSONL line into a `serde_json::Value` made a `String` of every key and
//! every value and sorted the keys into a tree, most of it to be thrown away: a record's mapping
//! reads half a dozen of its fields. Here a string without escapes costs nothing until a field
//! is read, and only the fields read become `Value`s ([`Record::get`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::mapping::{Record, MAX_LISTED_KEYS};

/// One JSON value, borrowing what it can from the input.
#[derive(Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// The pairs in input order. A key given twice is kept twice; the last one counts, as in
    /// `serde_json::Value`.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// The value under `key` of an object (the last one, when given twice).
    fn field(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The same value as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            // Inserted in order, so a repeated key ends with its last value.
            Json::Object(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl Record for Json<'_> {
    fn top_keys<'s>(&'s self, out: &mut [&'s str; MAX_LISTED_KEYS]) -> Option<usize> {
        let Json::Object(pairs) = self else {
            return None;
        };
        if pairs.len() > MAX_LISTED_KEYS {
            return None;
        }
        for (slot, (k, _)) in out.iter_mut().zip(pairs) {
            *slot = k;
        }
        Some(pairs.len())
    }

    /// As `Record for Value` does: an exact key first, then a dotted path.
    fn get(&self, path: &str) -> Option<Cow<'_, Value>> {
        let found = match self.field(path) {
            Some(v) => v,
            None if !path.contains('.') => return None,
            None => {
                let mut cur = self;
                for seg in path.split('.') {
                    cur = match cur {
                        Json::Object(_) => cur.field(seg)?,
                        Json::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                cur
            }
        };
        match found {
            Json::Null => None,
            v => Some(Cow::Owned(v.to_value())),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // serde_json's own Value turns a non-finite float into null the same way.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // Room for a typical record's keys: one allocation per object.
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        // A JSON key is always a string, read as a value is: borrowed when it has no escapes.
        while let Some(key) = map.next_key::<Json<'de>>()? {
            let Json::String(key) = key else {
                return Err(serde::de::Error::custom(
                    "an object key that is not a string",
                ));
            };
            pairs.push((key, map.next_value()?));
        }
        Ok(Json::Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Json<'_> {
        serde_json::from_str(s).unwrap()
    }

    /// Whatever the input, the value read in place is the value serde_json reads.
    #[test]
    fn reads_what_serde_json_reads() {
        for s in [
            r#"{"a": 1, "b": [true, null, -2, 3.5, "x\"y"], "c": {"d": "é\u00e9", "e": {}}, "f": []}"#,
            r#"{"dup": 1, "dup": 2}"#,
            r#"[1e300, -0, 18446744073709551615, -9223372036854775808]"#,
            r#""just a string""#,
            "null",
        ] {
            let ours = parse(s).to_value();
            let theirs: Value = serde_json::from_str(s).unwrap();
            assert_eq!(ours, theirs, "{s}");
        }
        // Strings without escapes are borrowed; keys too.
        let v = parse(r#"{"text": "plain", "esc": "a\nb"}"#);
        let Json::Object(pairs) = &v else {
            panic!("not an object")
        };
        assert!(matches!(
            pairs[0],
            (Cow::Borrowed("text"), Json::String(Cow::Borrowed("plain")))
        ));
        assert!(matches!(&pairs[1].1, Json::String(Cow::Owned(s)) if s == "a\nb"));
    }

    /// Paths reach what `Record for Value` reaches: the last of a repeated key, an exact dotted
    /// key before a nested one, array indexes, and null as absent.
    #[test]
    fn paths_find_what_value_paths_find() {
        let s = r#"{"user.name": "flat", "user": {"name": "nested", "id": 7}, "k": 1, "k": 2,
                    "list": [{"x": "first"}, {"x": "second"}], "gone": null}"#;
        let ours = parse(s);
        let theirs: Value = serde_json::from_str(s).unwrap();
        for path in [
            "user.name",
            "user.id",
            "user",
            "k",
            "list.1.x",
            "list.9.x",
            "gone",
            "missing",
            "k.deeper",
            "list.x",
        ] {
            assert_eq!(
                Record::get(&ours, path),
                Record::get(&theirs, path),
                "{path}"
            );
        }
        let mut keys = [""; MAX_LISTED_KEYS];
        let n = ours.top_keys(&mut keys).unwrap();
        assert_eq!(&keys[..n], ["user.name", "user", "k", "k", "list", "gone"]);
    }

    /// Syntax errors are serde_json's own, with the same line and column.
    #[test]
    fn errors_are_serde_jsons() {
        for s in [
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            "[1, 2",
            r#"{"a": "\x"}"#,
            "{\"a\":\n tru}",
        ] {
            let ours = serde_json::from_str::<Json>(s).unwrap_err();
            let theirs = serde_json::from_str::<Value>(s).unwrap_err();
            assert_eq!(
                (ours.line(), ours.column(), ours.to_string()),
                (theirs.line(), theirs.column(), theirs.to_string()),
                "{s}"
            );
        }
    }
}
