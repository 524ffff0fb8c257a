//! The abuse a public chat meets on day one, through the real components
//! under the runner (strict settings): invisible and direction-changing
//! characters, look-alike and shared names, claimed names and password
//! guessing, hostile JSON and numbers, and a session secret rotated under
//! people's feet. (Slow senders are the
//! runner's: `crates/minispin/tests/host.rs`; rate limits: `limits.rs`.)

use e2e::{Client, RunnerConfig, TestDb, json, send};

fn messages_in(c: &Client, room: &str) -> Vec<e2e::Value> {
    c.messages_after(room, 0, 500).0
}

#[test]
fn invisible_and_direction_characters_are_refused_and_text_is_nfc() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    for bad in [
        "\u{202E}nimda",
        "zero\u{200B}width",
        "a\u{2066}b\u{2069}",
        "\u{FEFF}bom",
    ] {
        let r = c.post_json("/api/session", None, &json!({ "name": bad }));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "invalid_name"),
            "{bad:?}"
        );
    }
    let token = c.login("Rene\u{301}");
    for bad in ["\u{202E}txt.exe", "hidden\u{200B}space", "x\u{2067}y"] {
        let r = c.send_message(&token, "general", bad, "c-bad");
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "invalid_body"),
            "{bad:?}"
        );
    }
    // Stored in NFC; emoji with joiners pass.
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
    assert_eq!(
        c.send_message(&token, "general", "caf\u{65}\u{301}", "c-1")
            .status,
        201
    );
    assert_eq!(c.send_message(&token, "general", family, "c-2").status, 201);
    let stored = messages_in(&c, "general");
    assert_eq!(stored.len(), 2, "nothing refused was stored");
    assert_eq!(stored[0]["body"], "caf\u{e9}");
    assert_eq!(stored[0]["author"], "Ren\u{e9}");
    assert_eq!(stored[1]["body"], family);
}

/// A name is a label, not an account: look-alikes and the very same name
/// are other people's to pick too (SECURITY.md says so). A token proves only
/// the name it was issued for: to the server, two people who picked "sam"
/// are the same author.
#[test]
fn guest_names_are_labels_look_alikes_and_shared_names_included() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    let alice = c.login("alice");
    let look_alike = c.login("\u{0430}lice"); // Cyrillic а
    let sam1 = c.login("sam");
    let sam2 = c.login("sam");
    assert_eq!(c.send_message(&alice, "general", "hi", "a-1").status, 201);
    assert_eq!(
        c.send_message(&look_alike, "general", "hi", "a-1").status,
        201
    );
    assert_eq!(c.send_message(&sam1, "general", "one", "s-1").status, 201);
    assert_eq!(c.send_message(&sam2, "general", "two", "s-2").status, 201);
    let stored = messages_in(&c, "general");
    let authors: Vec<&str> = stored
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["alice", "\u{0430}lice", "sam", "sam"]);
    // Two people with one name share its idempotency scope: the same
    // client_id from the other "sam" is a replay of the first one's message.
    let r = c.send_message(&sam2, "general", "three", "s-1");
    assert_eq!(
        (r.status, r.json()["message"]["body"].as_str()),
        (200, Some("one"))
    );
}

#[test]
fn hostile_json_and_numbers_are_4xx() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    let token = c.login("alice");
    let auth = format!("Bearer {token}");
    let url = runner.url("/api/rooms/general/messages");
    let post = |body: &[u8]| {
        send(
            &c.agent,
            "POST",
            &url,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
    };
    // Deeply nested (within the size limit), oversized, wrong shapes.
    let nested = format!("{}{}", "[".repeat(8000), "]".repeat(8000));
    assert_eq!(post(nested.as_bytes()).error_code(), "invalid_json");
    let deep_object = format!("{}1{}", "{\"a\":".repeat(2000), "}".repeat(2000));
    assert_eq!(post(deep_object.as_bytes()).status, 400);
    let huge = format!(
        "{{\"body\":\"{}\",\"client_id\":\"x\"}}",
        "a".repeat(64 * 1024)
    );
    assert_eq!(post(huge.as_bytes()).status, 413);
    for body in [
        r#"{"body": 5, "client_id": "x"}"#,
        r#"{"body": "hi", "client_id": ["x"]}"#,
        r#"{"body": "\ud800", "client_id": "x"}"#,
        "\u{FEFF}{\"body\":\"hi\",\"client_id\":\"x\"}",
    ] {
        let r = post(body.as_bytes());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    // Paging numbers: huge, negative, not numbers, in other notations.
    for q in [
        "after=99999999999999999999",
        "after=9223372036854775808",
        "before=-1",
        "limit=1e3",
        "limit=0x10",
        "after=+5",
        "after=%20%205",
        "after=5&after=6",
        "limit=500000000000",
        "after=NaN",
    ] {
        let r = c.get(&format!("/api/rooms/general/messages?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.error_code(), "invalid_query", "{q}");
    }
    assert!(messages_in(&c, "general").is_empty(), "nothing was stored");
}

/// Operators rotate the session secret by moving the old one to
/// `session_secret_previous`: tokens signed before the rotation keep
/// working until they expire, and nobody is logged out.
#[test]
fn a_rotated_session_secret_keeps_people_logged_in() {
    let db = TestDb::new();
    let old = "old-secret-0123456789abcdef";
    let new = "new-secret-0123456789abcdef";
    let before = RunnerConfig::chat(&db).set("session_secret", old).start();
    let token = Client::new(&before).login("alice");
    drop(before);

    let rotated = RunnerConfig::chat(&db)
        .set("session_secret", new)
        .set("session_secret_previous", old)
        .start();
    let c = Client::new(&rotated);
    assert_eq!(
        c.send_message(&token, "general", "still here", "r-1")
            .status,
        201
    );
    let fresh = c.login("bob");
    assert_eq!(
        c.send_message(&fresh, "general", "new token", "r-2").status,
        201
    );
    drop(rotated);

    // Once the previous secret is dropped, the old token is refused.
    let later = RunnerConfig::chat(&db).set("session_secret", new).start();
    let c = Client::new(&later);
    let r = c.send_message(&token, "general", "too late", "r-3");
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    assert_eq!(c.send_message(&fresh, "general", "fine", "r-4").status, 201);
}

/// Claims `name` with `password` on the runner `c` talks to.
fn claim(c: &Client, name: &str, password: &str) -> e2e::Reply {
    c.post_json(
        "/api/accounts",
        None,
        &json!({ "name": name, "password": password }),
    )
}

fn sign_in(c: &Client, name: &str, password: &str) -> e2e::Reply {
    c.post_json(
        "/api/session",
        None,
        &json!({ "name": name, "password": password }),
    )
}

#[test]
fn a_claimed_name_is_the_accounts_in_every_case_and_look_alike() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    // A guest had the name first; the claim takes it from then on.
    let early = c.login("alice");
    let r = claim(&c, "Alice", "a long passphrase");
    assert_eq!(
        (r.status, r.json()["role"].as_str()),
        (201, Some("member")),
        "{}",
        r.body
    );
    let account = r.json()["token"].as_str().unwrap().to_string();
    for other in ["alice", "ALICE", "\u{0430}lice", "ａｌｉｃｅ"] {
        let r = c.post_json("/api/session", None, &json!({ "name": other }));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (409, "name_claimed"),
            "{other:?}"
        );
        let r = claim(&c, other, "another passphrase");
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (409, "name_taken"),
            "{other:?}"
        );
    }
    let r = c.send_message(&early, "general", "I am alice", "g-1");
    assert_eq!((r.status, r.error_code().as_str()), (403, "name_claimed"));
    assert_eq!(
        c.send_message(&account, "general", "I am Alice", "a-1")
            .status,
        201
    );
    let authors: Vec<String> = messages_in(&c, "general")
        .iter()
        .map(|m| m["author"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        authors,
        ["Alice"],
        "nothing under the name but the account's"
    );
    // Only the password signs in; a wrong one and an unknown name alike.
    assert_eq!(sign_in(&c, "ALICE", "a long passphrase").status, 201);
    let wrong = sign_in(&c, "alice", "a wrong passphrase");
    let unknown = sign_in(&c, "nobody", "a long passphrase");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);
}

#[test]
fn password_guessing_is_throttled_across_two_hosts() {
    let db = TestDb::new();
    // Three tries per name, then one a minute; both hosts share the count.
    let config = RunnerConfig::chat(&db)
        .set("login_burst", "3")
        .set("logins_per_minute", "1");
    let (a, b) = (config.start(), config.start());
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    assert_eq!(claim(&ca, "victim", "the right passphrase").status, 201);
    for (i, host) in [&ca, &cb, &ca].into_iter().enumerate() {
        let r = sign_in(host, "victim", &format!("guess number {i}"));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "invalid_credentials"),
            "try {i}"
        );
    }
    // The fourth guess, on either host, is refused before any check: even
    // the right password waits.
    for host in [&cb, &ca] {
        let r = sign_in(host, "victim", "the right passphrase");
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (429, "rate_limited"),
            "{}",
            r.body
        );
        let wait: u32 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    // The address's own bucket (twice the name's: six) counts every try,
    // the refused ones too, and stops guessing across names: one more name
    // gets its try, then none does.
    assert_eq!(sign_in(&cb, "other-1", "a guess").status, 401);
    let r = sign_in(&ca, "other-2", "a guess");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "rate_limited"),
        "{}",
        r.body
    );
}

#[test]
fn timing_does_not_tell_whether_an_account_exists() {
    use std::time::Instant;
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db)
        .set("login_burst", "100000")
        .set("logins_per_minute", "100000")
        .start();
    let c = Client::new(&runner);
    assert_eq!(claim(&c, "known", "the right passphrase").status, 201);
    let time = |name: &str| {
        let started = Instant::now();
        let r = sign_in(&c, name, "a wrong passphrase");
        assert_eq!(r.status, 401, "{}", r.body);
        started.elapsed().as_secs_f64() * 1000.0
    };
    // Warm the component and its connections, then alternate, so drift in
    // the machine's speed lands on both sides.
    for i in 0..3 {
        time("known");
        time(&format!("warm-{i}"));
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..15 {
        known.push(time("known"));
        unknown.push(time(&format!("unknown-{i}")));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    println!(
        "sign-in with a wrong password: known name {k:.1} ms, unknown name {u:.1} ms (medians of 15)"
    );
    // One Argon2id verification is tens of milliseconds; a path that
    // skipped it for unknown names would take a few. Within a factor of two
    // either way, the two cannot be told apart by a guesser's clock
    // without far more samples than the throttle allows.
    assert!(
        u > k / 2.0 && k > u / 2.0,
        "known {k:.1} ms, unknown {u:.1} ms"
    );
}
