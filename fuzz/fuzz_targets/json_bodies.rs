//! The JSON bodies of the three POST endpoints, as raw bytes: malformed,
//! oversized, deeply nested, arrays for objects, duplicate keys, numbers
//! for strings, invalid UTF-8 and lone surrogates.
//!
//! Parsing must give a value or a 400, 413 or 415 with a code and a message
//! that says what to send instead; never a panic. What parses as a body
//! must also come out of the validators as a value or a 400.

#![no_main]

use chat::ApiError;
use chat::model::{NewMessage, NewRoom, NewSession, parse_json};
use chat::validate;
use libfuzzer_sys::fuzz_target;

fn refused(e: &ApiError) {
    assert!(
        matches!(e.status, 400 | 413 | 415),
        "{} {}",
        e.status,
        e.code
    );
    let json: serde_json::Value = serde_json::from_str(&e.to_json()).expect("errors are JSON");
    assert!(!json["error"]["message"].as_str().unwrap().is_empty());
}

fn valid(r: Result<String, ApiError>) {
    if let Err(e) = r {
        assert_eq!(e.status, 400, "{}", e.code);
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the content type, so that path is fuzzed too.
    let (content_type, body) = match data.split_first() {
        Some((0, rest)) => (None, rest),
        Some((1, rest)) => (Some("text/plain"), rest),
        Some((2, rest)) => (Some("application/json; charset=utf-8"), rest),
        Some((_, rest)) => (Some("application/json"), rest),
        None => (Some("application/json"), data),
    };
    match parse_json::<NewSession>(content_type, body) {
        Ok(s) => valid(validate::name(&s.name)),
        Err(e) => refused(&e),
    }
    match parse_json::<NewRoom>(content_type, body) {
        Ok(r) => {
            valid(validate::room_id(&r.id));
            valid(validate::room_title(&r.title));
        }
        Err(e) => refused(&e),
    }
    match parse_json::<NewMessage>(content_type, body) {
        Ok(m) => {
            valid(validate::message_body(&m.body));
            valid(validate::client_id(&m.client_id));
        }
        Err(e) => refused(&e),
    }
});
