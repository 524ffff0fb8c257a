//! The API's contract, `crates/chat/openapi.json`, served by the static
//! component; tests hold the validators and the route table to it.

/// The API's contract: the OpenAPI 3.1 document served at
/// `/api/openapi.json` (by the static component, which serves files).
/// `scripts/contract-check.sh` holds the running server to it.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Where the contract is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

#[cfg(test)]
mod tests {
    use super::*;

    /// The served contract is valid JSON, OpenAPI 3.1, and serves itself
    /// (the routes are held to it in `routes`).
    #[test]
    fn the_contract_is_openapi_3_1() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(doc["paths"][OPENAPI_PATH]["get"].is_object());
    }

    /// What the contract's patterns accept is what the validators accept,
    /// on the cases that matter: trimming, length limits, CRLF, control,
    /// format, bidi and zero-width characters, separators, look-alikes and
    /// emoji. (The validators count length in NFC, which no pattern can;
    /// the texts here are all in NFC already.)
    #[test]
    fn the_contracts_patterns_agree_with_the_validators() {
        use crate::validate;
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let pattern = |schema: &str, field: &str| {
            let p = doc["components"]["schemas"][schema]["properties"][field]["pattern"]
                .as_str()
                .unwrap_or_else(|| panic!("{schema}.{field} has no pattern"));
            regex_lite::Regex::new(p).unwrap_or_else(|e| panic!("{schema}.{field}: {e}"))
        };
        let mut corpus: Vec<String> = [
            "",
            " ",
            "\t",
            "\r\n",
            "a",
            "alice",
            " Ada Lovelace\t",
            "a\nb",
            "a\tb",
            "a\r\nb",
            "a\rb",
            "\r\na\r\n",
            "a\r\r\nb",
            "\ra",
            "a\r",
            "\u{85}a",
            "\u{A0}a\u{3000}",
            "a\u{7F}",
            "\u{9F}",
            "a\u{2028}b",
            "\u{2028}a",
            "a\u{2029}",
            "\u{430}lice",
            "Ren\u{e9}",
            "\u{65e5}\u{672c}",
            "\u{1F468}\u{200D}\u{1F469}",
            "\u{646}\u{200C}\u{627}",
            "general",
            "rust-beginners",
            "-x",
            "A",
            "a b",
            "0",
            "x!~",
            "\u{1F600}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every refused invisible character, alone, inside and at the edges.
        for c in [
            '\u{AD}',
            '\u{600}',
            '\u{61C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200E}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2064}',
            '\u{2066}',
            '\u{2069}',
            '\u{206F}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{110BD}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E007F}',
            '\u{0}',
            '\u{1B}',
        ] {
            corpus.extend([
                format!("{c}"),
                format!("a{c}b"),
                format!("{c}a"),
                format!("a{c}"),
            ]);
        }
        for n in [31, 32, 33, 63, 64, 65, 1999, 2000, 2001] {
            corpus.push("x".repeat(n));
            corpus.push(format!("  {}\n", "x".repeat(n)));
            corpus.push(format!("x{}x", "\r\n".repeat(n - 2)));
        }
        type Valid = fn(&str) -> bool;
        let checks: [(&str, &str, Valid); 5] = [
            ("NewSession", "name", |s| validate::name(s).is_ok()),
            ("NewRoom", "title", |s| validate::room_title(s).is_ok()),
            ("NewRoom", "id", |s| validate::room_id(s).is_ok()),
            ("NewMessage", "body", |s| validate::message_body(s).is_ok()),
            ("NewMessage", "client_id", |s| {
                validate::client_id(s).is_ok()
            }),
        ];
        for (schema, field, valid) in checks {
            let re = pattern(schema, field);
            for s in &corpus {
                let shown: String = s.chars().take(12).collect();
                assert_eq!(
                    re.is_match(s),
                    valid(s),
                    "{schema}.{field} and its validator disagree on {shown:?} ({} chars)",
                    s.chars().count()
                );
            }
        }
    }
}
