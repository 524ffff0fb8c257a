//! Passwords: what a new one must be, its Argon2id hash, and checking one.
//!
//! Only the hash is stored (a PHC string: algorithm, parameters, salt and
//! hash, so old hashes keep verifying after the parameters change). The
//! parameters are OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane;
//! Password Storage Cheat Sheet). BENCHMARKS.md has what one costs.
//!
//! Checking never says whether an account exists: for an unknown name (or
//! an account without a password, after a reset) the password is checked
//! against [`DUMMY_HASH`], a hash with the same parameters, so both take the
//! time of one real verification and both fail the same way. The
//! comparison of hashes inside `argon2` is constant-time. Passwords are
//! never logged: they live in the request body only, and no error carries
//! them.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

/// Memory in KiB, passes and lanes: OWASP's minimum for Argon2id.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

pub const MIN_CHARS: usize = 8;
/// Long enough for any passphrase; bounds the bytes hashed per request.
pub const MAX_CHARS: usize = 128;

/// A hash with the parameters above that no password is known to match
/// (its hash part is random bytes): what an unknown name is checked
/// against. A test holds its parameters to the ones above.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3N0Y2hhdC1kdW1teS1zYWx0$DwsNqlsjk5KxgkW+ZP9gxHWr4UXaylGW4xKDkVoEXhU";

fn hasher() -> Argon2<'static> {
    // Constant, valid parameters: `new` cannot fail with them.
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, None).expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password: 8 to 128 characters, not the name itself. No
/// rules about kinds of characters (NIST SP 800-63B): length is what
/// counts.
pub fn check_new(password: &str, name: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&n) {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!(
                "a password has {MIN_CHARS} to {MAX_CHARS} characters; a few words \
                 make a good one"
            ),
        ));
    }
    if crate::names::key(password) == crate::names::key(name) {
        return Err(ApiError::bad_request(
            "invalid_password",
            "the password must not be the name; choose another",
        ));
    }
    Ok(())
}

/// The Argon2id hash of `password` with the 16 random bytes `salt`, as a
/// PHC string. `None` only if the hasher refuses (it does not for valid
/// inputs; the caller answers 500).
pub fn hash(password: &str, salt: [u8; 16]) -> Option<String> {
    let salt = SaltString::encode_b64(&salt).ok()?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
}

/// Whether `password` matches `stored` (a PHC string). With no usable hash
/// (an unknown name, a reset account, a malformed row) the password is
/// checked against [`DUMMY_HASH`] and `false` comes back, in the time a
/// real check takes.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
    let (hash, real) = match parsed {
        Some(h) => (h, true),
        None => (
            PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses"),
            false,
        ),
    };
    let ok = hasher().verify_password(password.as_bytes(), &hash).is_ok();
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery", [7; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("", Some(&h)));
        // Another salt, another hash.
        assert_ne!(h, hash("correct horse battery", [8; 16]).unwrap());
    }

    #[test]
    fn no_usable_hash_never_verifies() {
        for stored in [None, Some("!"), Some(""), Some("$argon2id$garbage")] {
            assert!(!verify("anything at all", stored), "{stored:?}");
        }
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let d = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(d.algorithm.as_str(), "argon2id");
        let p = Params::try_from(&d).unwrap();
        assert_eq!(
            (p.m_cost(), p.t_cost(), p.p_cost()),
            (M_COST_KIB, T_COST, P_COST)
        );
        // Nobody's password matches it, not even the empty one.
        assert!(!verify("", Some(DUMMY_HASH)));
    }

    #[test]
    fn new_passwords_have_a_length_and_are_not_the_name() {
        assert!(check_new("seven77", "alice").is_err());
        assert!(check_new("eight888", "alice").is_ok());
        assert!(check_new(&"x".repeat(128), "alice").is_ok());
        assert_eq!(
            check_new(&"x".repeat(129), "alice").unwrap_err().code,
            "invalid_password"
        );
        assert!(check_new("Alice123", "alice123").is_err());
        // Characters, not bytes.
        assert!(check_new("ééééééé", "alice").is_err());
        assert!(check_new("éééééééé", "alice").is_ok());
    }
}
