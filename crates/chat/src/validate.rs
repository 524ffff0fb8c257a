//! Pure input validation.
//!
//! Limits are counted in Unicode scalar values (`char`s), not bytes, so a
//! 32-character name in Greek or emoji is as valid as one in ASCII. The same
//! limits are mirrored by CHECK constraints in `sql/0001_init.sql`
//! (Postgres' `char_length` also counts characters), so the database would
//! refuse anything that slipped past this module.

use crate::error::ApiError;
use crate::model::{Page, PollQuery};
use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// Text as it is stored: Unicode NFC, so the same visible text is the same
/// string ("é" typed as one character or as "e" plus an accent).
fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Characters that change how the text around them looks or reads while
/// being invisible themselves: bidirectional embeddings, overrides and
/// isolates (the "Trojan Source" characters), zero-width spaces, word
/// joiners and invisible operators, the Mongolian vowel separator and the
/// byte-order mark. Refused in bodies and titles. The joiners (ZWJ, ZWNJ)
/// are not among them: emoji sequences and several scripts need them.
fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{180E}'
        | '\u{200B}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}')
}

pub const NAME_MAX_CHARS: usize = 32;
pub const ROOM_ID_MAX_LEN: usize = 32;
pub const ROOM_TITLE_MAX_CHARS: usize = 64;
pub const BODY_MAX_CHARS: usize = 2000;
pub const CLIENT_ID_MAX_LEN: usize = 64;
pub const LIMIT_DEFAULT: i64 = 100;
pub const LIMIT_MAX: i64 = 500;

/// Is `c` a Unicode format character (general category `Cf`)?
///
/// The standard library has no category tables, and pulling in a crate for
/// one category is not worth it; this is the complete `Cf` list of
/// Unicode 15. Format characters are invisible (zero-width spaces, bidi
/// overrides, ...) and make names that look identical to other names.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// Printable in the sense used for display names: not a control character
/// (`Cc`), not a format character (`Cf`), not a line or paragraph separator
/// (`Zl`, `Zp`). Ordinary spaces are printable ("Ada Lovelace").
fn is_printable(c: char) -> bool {
    !c.is_control() && !is_format(c) && c != '\u{2028}' && c != '\u{2029}'
}

/// Validates a display name; returns it trimmed, in NFC. Look-alikes of
/// other names (a Cyrillic "а" for a Latin "a") are accepted: a name is a
/// label people choose, not an account (see SECURITY.md).
pub fn name(raw: &str) -> Result<String, ApiError> {
    let name = nfc(raw.trim());
    let name = name.as_str();
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX_CHARS || !name.chars().all(is_printable) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "name must be 1-32 printable characters (no control or invisible characters); \
             choose a shorter or plainer name",
        ));
    }
    Ok(name.to_string())
}

/// Is `id` a syntactically valid room id: `^[a-z0-9][a-z0-9-]{0,31}$`?
///
/// Not trimmed: ids appear in URL paths, where " general" is simply a
/// different (invalid) id.
pub fn is_room_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= ROOM_ID_MAX_LEN
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Validates a room id for room creation.
pub fn room_id(raw: &str) -> Result<String, ApiError> {
    if !is_room_id(raw) {
        return Err(ApiError::bad_request(
            "invalid_room_id",
            "room id must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or \
             digit; choose an id like \"rust-beginners\"",
        ));
    }
    Ok(raw.to_string())
}

/// Validates a room title; returns it trimmed, in NFC. Control characters
/// and the deceptive invisible ones are refused (titles may contain emoji,
/// whose sequences use the zero-width joiner).
pub fn room_title(raw: &str) -> Result<String, ApiError> {
    let title = nfc(raw.trim());
    let title = title.as_str();
    let n = title.chars().count();
    if n == 0
        || n > ROOM_TITLE_MAX_CHARS
        || title.chars().any(|c| c.is_control() || is_deceptive(c))
    {
        return Err(ApiError::bad_request(
            "invalid_title",
            "title must be 1-64 characters without control or invisible direction characters; \
             choose a shorter or plainer title",
        ));
    }
    Ok(title.to_string())
}

/// Validates a message body; returns it normalised (NFC) and trimmed.
///
/// `\r\n` is first normalised to `\n`, so text pasted from Windows clients
/// is accepted and stored in one canonical form. After that, the only
/// control characters allowed are `\n` and `\t`; a lone `\r` is refused
/// (it can overwrite the visible line in terminals). The 1-2000 character
/// limit applies after normalisation and trimming, i.e. to what is stored.
pub fn message_body(raw: &str) -> Result<String, ApiError> {
    let normalised = nfc(&raw.replace("\r\n", "\n"));
    let body = normalised.trim();
    let n = body.chars().count();
    if n == 0 || n > BODY_MAX_CHARS {
        return Err(ApiError::bad_request(
            "invalid_body",
            "message body must be 1-2000 characters after trimming whitespace; \
             send a non-empty, shorter message",
        ));
    }
    if body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::bad_request(
            "invalid_body",
            "message body must not contain control characters other than newline and tab; \
             remove them and send again",
        ));
    }
    if body.chars().any(is_deceptive) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "message body must not contain invisible direction or spacing characters \
             (bidirectional overrides and isolates, zero-width spaces); remove them and send again",
        ));
    }
    Ok(body.to_string())
}

/// Validates a client-chosen idempotency key.
///
/// Printable ASCII without spaces (`!`..=`~`), 1-64 characters: enough for a
/// UUID, a ULID or a counter, and safe to log and compare byte-wise without
/// any Unicode normalisation questions. Not trimmed, because a key is
/// compared exactly; leading spaces are simply refused.
pub fn client_id(raw: &str) -> Result<String, ApiError> {
    let b = raw.as_bytes();
    if b.is_empty() || b.len() > CLIENT_ID_MAX_LEN || !b.iter().all(|&c| (b'!'..=b'~').contains(&c))
    {
        return Err(ApiError::bad_request(
            "invalid_client_id",
            "client_id must be 1-64 printable ASCII characters without spaces; \
             use a random id such as a UUID",
        ));
    }
    Ok(raw.to_string())
}

/// The longest emoji accepted, in code points: a family or a flag with
/// its joiners and modifiers fits.
pub const EMOJI_MAX_CHARS: usize = 16;

/// A reaction's emoji: 1 to [`EMOJI_MAX_CHARS`] code points, none of them
/// an ASCII letter, a space, a control or an invisible formatting
/// character (the zero-width joiner of emoji sequences excepted). Not an
/// emoji grammar (Unicode's grows every year), and the contract's pattern
/// says exactly this: it keeps reactions to symbols, not words or blanks.
pub fn emoji(raw: &str) -> Result<String, ApiError> {
    let n = raw.chars().count();
    if !(1..=EMOJI_MAX_CHARS).contains(&n) || raw.chars().any(not_in_emoji) {
        return Err(ApiError::bad_request(
            "invalid_emoji",
            format!(
                "emoji must be one emoji (1-{EMOJI_MAX_CHARS} characters, no letters, spaces or \
                 invisible characters), such as \"👍\"; send it as the JSON string of the emoji itself"
            ),
        ));
    }
    Ok(raw.to_string())
}

/// The characters an emoji may not hold (openapi.json, `NewReaction`).
fn not_in_emoji(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{20}' | '\u{7f}'..='\u{a0}' | '\u{ad}' | '\u{1680}'
        | '\u{2000}'..='\u{200c}' | '\u{200e}'..='\u{200f}' | '\u{2028}'..='\u{202f}'
        | '\u{205f}'..='\u{206f}' | '\u{3000}' | '\u{feff}' | 'A'..='Z' | 'a'..='z')
}

/// Parses a non-negative decimal integer; only ASCII digits, so "+1",
/// " 1" or "1e3" are refused instead of being guessed at.
fn non_negative(key: &str, value: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_query",
            format!("{key} must be a non-negative integer; pass e.g. {key}=0"),
        )
    };
    if value.is_empty() || !value.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse::<i64>().map_err(|_| bad())
}

/// A page's size: the default when not given; outside 1..=500 refused, not
/// clamped, so a client bug shows up instead of silently paging wrong.
/// `then` says how to get the rest instead.
fn page_limit(limit: Option<i64>, then: &str) -> Result<i64, ApiError> {
    match limit {
        None => Ok(LIMIT_DEFAULT),
        Some(l) if (1..=LIMIT_MAX).contains(&l) => Ok(l),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and 500; ask for fewer messages and {then}"),
        )),
    }
}

/// Parses `after`, `before` and `limit` from a raw query string
/// (`after=17&limit=50`). Unknown parameters are ignored so clients may add
/// cache busters; a known parameter given twice is refused because either
/// interpretation could be the wrong one. Out-of-range limits are refused,
/// not clamped, so a client bug shows up instead of silently paging wrong.
pub fn page(query: &str) -> Result<Page, ApiError> {
    let (mut after, mut before, mut limit) = (None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "after" => &mut after,
            "before" => &mut before,
            "limit" => &mut limit,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{key} is given more than once; pass it at most once"),
            ));
        }
        *slot = Some(non_negative(key, value)?);
    }
    let limit = page_limit(limit, "page with after/before")?;
    match (after, before) {
        (Some(after), Some(before)) => Ok(Page::Between {
            after,
            before,
            limit,
        }),
        (Some(after), None) => Ok(Page::After { after, limit }),
        (None, Some(before)) => Ok(Page::Before { before, limit }),
        (None, None) => Ok(Page::Latest { limit }),
    }
}

/// At most this many rooms in a poll's `rooms` list.
pub const POLL_ROOMS_MAX: usize = 100;

/// A query string's key or value as sent: `+` is a space and `%XX` a byte
/// (form encoding, what browsers and HTTP libraries send), the result
/// UTF-8. Borrowed when there is nothing to decode.
fn form_decoded(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    if !raw.contains(['%', '+']) {
        return Ok(Cow::Borrowed(raw));
    }
    let bad = || {
        ApiError::bad_request(
            "invalid_query",
            "the query string is not well percent-encoded UTF-8; encode it as a form would",
        )
    };
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| bad())
}

/// Parses `room`, `after`, `limit`, `known` and `rooms` (comma-separated
/// room ids) from a raw query string, with the same rules as [`page`]:
/// unknown parameters are ignored, a known one given twice is refused,
/// numbers are plain non-negative decimals, and a limit outside 1..=500 is
/// refused rather than clamped.
pub fn poll_query(query: &str) -> Result<PollQuery<'_>, ApiError> {
    let (mut room, mut after, mut limit, mut known, mut rooms) = (None, None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (form_decoded(key)?, form_decoded(value)?);
        let (key, value) = (key.as_ref(), value);
        let taken = match key {
            "room" => room.replace(value).is_some(),
            "rooms" => rooms.replace(value).is_some(),
            "after" => after.replace(non_negative(key, &value)?).is_some(),
            "limit" => limit.replace(non_negative(key, &value)?).is_some(),
            "known" => known.replace(non_negative(key, &value)?).is_some(),
            _ => false,
        };
        if taken {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{key} is given more than once; pass it at most once"),
            ));
        }
    }
    let room = room.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            "room is required: the id of the room you show, e.g. room=general",
        )
    })?;
    let after = after.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            "after is required: the id of the newest message you have of the room (0 for none)",
        )
    })?;
    let limit = page_limit(limit, "poll again")?;
    let rooms = match rooms {
        None => None,
        Some(list) => {
            let ids: Vec<Cow<'_, str>> = match list {
                Cow::Borrowed(l) => l.split(',').map(Cow::Borrowed).collect(),
                Cow::Owned(l) => l.split(',').map(|id| Cow::Owned(id.to_string())).collect(),
            };
            if ids.len() > POLL_ROOMS_MAX {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "rooms lists {} rooms; list at most {POLL_ROOMS_MAX}, or leave it out for every room",
                        ids.len()
                    ),
                ));
            }
            if let Some(bad) = ids.iter().find(|id| !is_room_id(id)) {
                let shown: String = bad.chars().take(40).collect();
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "rooms holds {shown:?}, which is not a room id; list ids separated by commas, e.g. rooms=general,random"
                    ),
                ));
            }
            Some(ids)
        }
    };
    Ok(PollQuery {
        room,
        after,
        limit,
        known,
        rooms,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_emoji_is_a_symbol_not_a_word() {
        for ok in ["👍", "❤️", "👩‍👩‍👧‍👦", "🇫🇷", "👍🏽", "#\u{fe0f}\u{20e3}", "✓", "+1"]
        {
            assert_eq!(super::emoji(ok).as_deref(), Ok(ok), "{ok:?}");
        }
        for bad in [
            "",
            "ok",
            "a👍",
            "👍 ",
            "\u{0}👍",
            "<script>",
            "\u{200b}",
            "👍\u{202e}",
        ] {
            let e = super::emoji(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_emoji"), "{bad:?}");
        }
        assert!(super::emoji(&"😀".repeat(super::EMOJI_MAX_CHARS)).is_ok());
        assert!(super::emoji(&"😀".repeat(super::EMOJI_MAX_CHARS + 1)).is_err());
    }

    use super::*;

    fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn name_limits() {
        assert_eq!(name("  alice \t").unwrap(), "alice");
        assert_eq!(name("Ada Lovelace").unwrap(), "Ada Lovelace");
        assert_eq!(name(&"a".repeat(32)).unwrap().len(), 32);
        assert_eq!(code(name(&"a".repeat(33))), "invalid_name");
        // 32 multi-byte characters (64 / 128 bytes) are fine, 33 are not.
        assert!(name(&"é".repeat(32)).is_ok());
        assert!(name(&"🦀".repeat(32)).is_ok());
        assert!(name(&"🦀".repeat(33)).is_err());
        // Surrounding whitespace does not count towards the limit.
        assert!(name(&format!("  {}  ", "a".repeat(32))).is_ok());
        assert!(name("").is_err());
        assert!(name("   ").is_err());
        assert_eq!(name(&"a".repeat(33)).unwrap_err().status, 400);
    }

    #[test]
    fn name_refuses_unprintable() {
        for bad in [
            "al\0ice",
            "al\nice",
            "al\tice",
            "al\u{7f}ice",
            "al\u{85}ice",
            "al\u{200b}ice",
            "al\u{202e}ice",
            "al\u{feff}ice",
            "al\u{2028}ice",
            "al\u{2029}ice",
            "al\u{e0041}",
        ] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
        assert!(name("Zoë 李 🦀").is_ok());
    }

    #[test]
    fn room_id_patterns() {
        for ok in [
            "a",
            "0",
            "general",
            "distributed-systems",
            "a-",
            "9-9",
            &"a".repeat(32),
        ] {
            assert!(is_room_id(ok), "{ok:?}");
            assert_eq!(room_id(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "-a",
            "A",
            "General",
            "a_b",
            "a b",
            " a",
            "a.b",
            "a/b",
            "é",
            "a\n",
            &"a".repeat(33),
        ] {
            assert!(!is_room_id(bad), "{bad:?}");
            assert_eq!(code(room_id(bad)), "invalid_room_id");
        }
    }

    #[test]
    fn room_title_limits() {
        assert_eq!(room_title("  Rust  ").unwrap(), "Rust");
        assert!(room_title(&"ü".repeat(64)).is_ok());
        assert!(room_title(&"ü".repeat(65)).is_err());
        assert!(room_title("").is_err());
        assert!(room_title("a\tb").is_err());
        assert!(room_title("a\u{1b}b").is_err());
        // Emoji ZWJ sequences are fine in titles.
        assert!(room_title("family 👨\u{200d}👩\u{200d}👧").is_ok());
    }

    #[test]
    fn body_limits() {
        assert_eq!(message_body("  hi \n").unwrap(), "hi");
        assert_eq!(message_body(&"x".repeat(2000)).unwrap().len(), 2000);
        assert_eq!(code(message_body(&"x".repeat(2001))), "invalid_body");
        assert!(message_body(&"ß".repeat(2000)).is_ok());
        assert!(message_body(&"ß".repeat(2001)).is_err());
        // Limit applies after trimming.
        assert!(message_body(&format!("\n\n{}  ", "x".repeat(2000))).is_ok());
        assert!(message_body("").is_err());
        assert!(message_body(" \n\t ").is_err());
    }

    #[test]
    fn body_control_characters() {
        assert_eq!(message_body("a\nb\tc").unwrap(), "a\nb\tc");
        assert_eq!(message_body("a\r\nb").unwrap(), "a\nb");
        // \r\n counts as one character after normalisation.
        let long = format!("{}\r\n{}", "x".repeat(1000), "y".repeat(999));
        assert_eq!(message_body(&long).unwrap().chars().count(), 2000);
        for bad in ["a\rb", "a\0b", "a\u{1b}[2Jb", "a\u{7f}", "a\u{9b}b"] {
            assert!(message_body(bad).is_err(), "{bad:?}");
        }
        // Format characters (emoji joiners) are allowed in bodies.
        assert!(message_body("👩\u{200d}💻").is_ok());
    }

    #[test]
    fn client_id_limits() {
        assert!(client_id("a").is_ok());
        assert!(client_id(&"a".repeat(64)).is_ok());
        assert!(client_id("550e8400-e29b-41d4-a716-446655440000").is_ok());
        assert!(client_id("!~").is_ok());
        assert_eq!(code(client_id(&"a".repeat(65))), "invalid_client_id");
        for bad in ["", " a", "a b", "a\n", "é", "a\u{7f}"] {
            assert!(client_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_parsing() {
        assert_eq!(page("").unwrap(), Page::Latest { limit: 100 });
        assert_eq!(page("limit=1").unwrap(), Page::Latest { limit: 1 });
        assert_eq!(page("limit=500").unwrap(), Page::Latest { limit: 500 });
        assert_eq!(
            page("after=17&limit=50").unwrap(),
            Page::After {
                after: 17,
                limit: 50
            }
        );
        assert_eq!(
            page("after=0").unwrap(),
            Page::After {
                after: 0,
                limit: 100
            }
        );
        assert_eq!(
            page("before=9&x=y&flag&&_=123").unwrap(),
            Page::Before {
                before: 9,
                limit: 100
            }
        );
        assert_eq!(
            page(&format!("after={}", i64::MAX)).unwrap(),
            Page::After {
                after: i64::MAX,
                limit: 100
            }
        );
        assert_eq!(page("after=5").unwrap().limit(), 100);
        assert_eq!(
            page("before=9&after=2&limit=3").unwrap(),
            Page::Between {
                after: 2,
                before: 9,
                limit: 3
            }
        );
        for bad in [
            "limit=0",
            "limit=501",
            "limit=-1",
            "limit=",
            "limit",
            "limit=abc",
            "after=-1",
            "after=+1",
            "after=1e3",
            "after= 1",
            "after=99999999999999999999",
            "after=1&after=2",
            "limit=5&limit=5",
        ] {
            let e = page(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_query"), "{bad:?}");
        }
    }

    #[test]
    fn text_is_stored_in_nfc() {
        // "é" as "e" and a combining accent is stored as the one character.
        assert_eq!(name("Rene\u{301}").unwrap(), "Ren\u{e9}");
        assert_eq!(message_body("caf\u{65}\u{301}").unwrap(), "caf\u{e9}");
        assert_eq!(room_title("Cre\u{300}me").unwrap(), "Cr\u{e8}me");
        // Limits count what is stored.
        assert!(name(&"e\u{301}".repeat(32)).is_ok());
    }

    #[test]
    fn invisible_direction_and_spacing_characters_are_refused() {
        for bad in [
            "\u{202E}evil",
            "a\u{2066}b\u{2069}",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "x\u{2060}y",
        ] {
            assert_eq!(
                message_body(bad).unwrap_err().code,
                "invalid_body",
                "{bad:?}"
            );
            assert_eq!(name(bad).unwrap_err().code, "invalid_name", "{bad:?}");
            assert_eq!(
                room_title(bad).unwrap_err().code,
                "invalid_title",
                "{bad:?}"
            );
        }
        // Joiners stay: emoji sequences and scripts need them.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(message_body(family).unwrap(), family);
        assert!(message_body("\u{0646}\u{200C}\u{0627}").is_ok());
    }

    #[test]
    fn look_alike_names_are_other_names() {
        // A Cyrillic "а" is accepted and is not "alice": names are labels.
        let cyrillic = name("\u{0430}lice").unwrap();
        assert_ne!(cyrillic, name("alice").unwrap());
    }

    #[test]
    fn poll_queries() {
        let q = poll_query("room=general&after=17").unwrap();
        assert_eq!(
            q,
            PollQuery {
                room: "general".into(),
                after: 17,
                limit: LIMIT_DEFAULT,
                known: None,
                rooms: None,
            }
        );
        let q = poll_query("after=0&room=rust&limit=5&known=9&rooms=rust,general&x=1").unwrap();
        assert_eq!(
            (q.room.as_ref(), q.after, q.limit, q.known),
            ("rust", 0, 5, Some(9))
        );
        assert_eq!(q.rooms, Some(vec!["rust".into(), "general".into()]));
        // As a form (a browser, an HTTP library) encodes it.
        let q = poll_query("room=rust&after=0&rooms=rust%2Cgeneral&x=a+b").unwrap();
        assert_eq!(q.rooms, Some(vec!["rust".into(), "general".into()]));
        let q = poll_query("room=r%75st&%61fter=3").unwrap();
        assert_eq!((q.room.as_ref(), q.after), ("rust", 3));
        for bad in [
            "",
            "room=general",
            "after=1",
            "room=general&after=-1",
            "room=general&after=x",
            "room=general&after=1&limit=0",
            "room=general&after=1&limit=501",
            "room=general&after=1&known=1e3",
            "room=general&room=rust&after=1",
            "room=general&after=1&after=2",
            "room=general&after=1&rooms=",
            "room=general&after=1&rooms=general,,rust",
            "room=general&after=1&rooms=General",
            "room=general&after=1&rooms=a%2",
            "room=general&after=1&rooms=a%zz",
            "room=general&after=1&rooms=%ff",
            "room=general&after=1&rooms=a%2C%2Cb",
        ] {
            let e = poll_query(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_query"), "{bad:?}");
        }
        let many = (0..=POLL_ROOMS_MAX)
            .map(|i| format!("r{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let e = poll_query(&format!("room=general&after=0&rooms={many}")).unwrap_err();
        assert!(e.message.contains("at most 100"), "{}", e.message);
        let fits = many.rsplit_once(',').unwrap().0;
        assert!(poll_query(&format!("room=general&after=0&rooms={fits}")).is_ok());
    }
}
