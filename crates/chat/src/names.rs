//! When two names are the same name: the key a claimed name is unique by.
//!
//! A name is shown as its owner typed it (trimmed, NFC; see
//! [`crate::validate::name`]), but two names are one name when their keys
//! are equal. The key is:
//!
//! 1. NFKC, so compatibility forms fold to their plain letters
//!    ("ｆｕｌｌ" and "ﬁ" become "full" and "fi");
//! 2. case folding (lower case, with the full foldings lower-casing misses:
//!    "ß" is "ss", a final "ς" is "σ"), so "Alice" and "ALICE" are one name;
//! 3. the confusable skeleton of Unicode TS #39 of that lower-case form, so
//!    names that only look alike across scripts are one name too: "аlice"
//!    with a Cyrillic "а", "bοb" with a Greek "ο", "ρaul" with a Greek "ρ";
//! 4. case folding and NFKC again, so the key is stable.
//!
//! What it does not catch: look-alikes that need case to look alike, such
//! as "ALlCE" (a lower-case L among capitals) beside "ALICE". Folding case
//! first makes "alice" and "ALICE" one name, and from then on "allce" and
//! "alice" differ; catching both would make every "i" an "l" ("Ali" and
//! "All" one name). The page marks guests and shows who is signed in, so
//! such a name cannot borrow an account's trust. Mixed scripts are allowed
//! otherwise ("Zoë 🦀" is a fine name).

use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// NFKC and full case folding.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc().flat_map(char::to_lowercase) {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'ς' => out.push('σ'),
            c => out.push(c),
        }
    }
    out.nfkc().collect()
}

/// The key of a (validated) name: equal keys, one name.
pub fn key(name: &str) -> String {
    let folded = fold(name.trim());
    let skeleton: String = skeleton(&folded).collect();
    fold(&skeleton)
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn case_width_and_compatibility_forms_are_one_name() {
        for same in [
            "Alice",
            "ALICE",
            "alice",
            " alice ",
            "ＡＬＩＣＥ",
            "Ａｌｉｃｅ",
        ] {
            assert_eq!(key(same), key("alice"), "{same}");
        }
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("ΟΔΥΣΣΕΥΣ"), key("οδυσσευς"));
        assert_eq!(key("οδυσσευς"), key("οδυσσευσ"));
        assert_eq!(key("ﬁona"), key("fiona"));
    }

    #[test]
    fn look_alikes_across_scripts_are_one_name() {
        // Cyrillic а (U+0430), Greek ο (U+03BF) and ρ (U+03C1) in Latin
        // names, in either case.
        assert_eq!(key("\u{0430}lice"), key("alice"));
        assert_eq!(key("\u{0410}LICE"), key("alice"));
        assert_eq!(key("b\u{03BF}b"), key("bob"));
        assert_eq!(key("\u{03C1}aul"), key("paul"));
    }

    #[test]
    fn different_names_stay_different() {
        for (a, b) in [
            ("alice", "alicia"),
            ("bob", "rob"),
            ("Zoë", "Zoe"),
            ("李雷", "韩梅梅"),
            ("anna", "anne"),
        ] {
            assert_ne!(key(a), key(b), "{a} / {b}");
        }
        assert!(!key("Zoë 🦀").is_empty());
    }
}
