//! Session token verification: any string as a token, under the current and
//! the previous secret, at any time.
//!
//! Never a panic; every refusal a 401 (`invalid_token` or `expired_token`).
//! A token that verifies must be one this secret issued: re-issuing its name
//! with its expiry gives the same token, byte for byte (so no other
//! encoding of a token, e.g. with other base64 padding bits, is accepted).
//! And issuing then verifying a valid name gives the name back, under
//! rotation too, and one changed byte makes the token invalid.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat::token;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef-0123";
const PREVIOUS: &[u8] = b"fuzz-previous-0123456789abcdef-01";

#[derive(Arbitrary, Debug)]
struct Input {
    token: String,
    name: String,
    now: i64,
    ttl: u32,
    flip_at: usize,
    flip_to: u8,
}

fuzz_target!(|input: Input| {
    let now = input.now;
    // Arbitrary strings.
    for secret in [SECRET, PREVIOUS] {
        match token::verify(&input.token, secret, now) {
            Ok(name) => {
                // Forging an HMAC is out of reach, so this is a token the
                // secret issued (from the seed corpus): it must be the
                // canonical one, what issuing its name and expiry gives.
                let payload = input.token.split_once('.').unwrap().0;
                let json = URL_SAFE_NO_PAD.decode(payload).unwrap();
                let fields: serde_json::Value = serde_json::from_slice(&json).unwrap();
                let expires = fields["e"].as_i64().unwrap();
                assert_eq!(fields["n"].as_str(), Some(name.as_str()));
                let again = token::issue(&name, secret, expires, 0).token;
                assert_eq!(again, input.token, "a non-canonical token verified");
            }
            Err(e) => {
                assert_eq!(e.status, 401);
                assert!(matches!(e.code, "invalid_token" | "expired_token"));
            }
        }
    }
    // Rotation accepts exactly what one of the two secrets accepts.
    assert_eq!(
        token::verify_rotated(&input.token, SECRET, PREVIOUS, now).is_ok(),
        token::verify(&input.token, SECRET, now).is_ok()
            || token::verify(&input.token, PREVIOUS, now).is_ok()
    );

    // Round trips, under the current and the previous secret.
    let Ok(name) = chat::validate::name(&input.name) else {
        return;
    };
    let issued_at = now.clamp(0, 4_000_000_000);
    let ttl = i64::from(input.ttl.max(1));
    for secret in [SECRET, PREVIOUS] {
        let t = token::issue(&name, secret, issued_at, ttl).token;
        assert_eq!(
            token::verify_rotated(&t, SECRET, PREVIOUS, issued_at).as_deref(),
            Ok(name.as_str())
        );
        let expired = token::verify(&t, secret, issued_at + ttl).unwrap_err();
        assert_eq!(expired.code, "expired_token");
        // One byte changed (to another byte that keeps it a string).
        let mut bytes = t.clone().into_bytes();
        let at = input.flip_at % bytes.len();
        let to = input.flip_to & 0x7f;
        if bytes[at] != to {
            bytes[at] = to;
            let forged = String::from_utf8(bytes).unwrap();
            assert!(
                token::verify_rotated(&forged, SECRET, PREVIOUS, issued_at).is_err(),
                "{t} changed at {at} to {to:#x} still verifies"
            );
        }
    }
});
