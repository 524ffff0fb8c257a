//! Rate limits hold across hosts: two runner processes on one database are
//! limited as one, since the buckets live in Postgres and are taken inside
//! the same SQL call that does the work.

use e2e::{Client, RunnerConfig, TestDb, json};

fn limited(db: &TestDb) -> RunnerConfig {
    RunnerConfig::chat(db)
        .set("post_burst", "3")
        .set("posts_per_minute", "1")
        .set("session_burst", "2")
        .set("sessions_per_minute", "1")
}

#[test]
fn two_runners_on_one_database_are_limited_as_one() {
    let db = TestDb::new();
    let (a, b) = (limited(&db).start(), limited(&db).start());
    let (ca, cb) = (Client::new(&a), Client::new(&b));

    // Sessions per client address (both runners see 127.0.0.1): two in all.
    let alice = ca.login("alice");
    let bob = cb.login("bob");
    let r = ca.post_json("/api/session", None, &json!({"name": "carol"}));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "rate_limited"),
        "{}",
        r.body
    );
    let wait: u32 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        cb.post_json("/api/session", None, &json!({"name": "dave"}))
            .status,
        429
    );

    // Posts per author per room: three in all, through either runner.
    for (i, c) in [&ca, &cb, &ca].into_iter().enumerate() {
        let r = c.send_message(&alice, "general", &format!("m{i}"), &format!("c{i}"));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = cb.send_message(&alice, "general", "one too many", "c9");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "rate_limited"),
        "{}",
        r.body
    );
    assert!(r.header("retry-after").is_some());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too fast")
    );
    // A retry of a stored message is never limited; another author is not.
    assert_eq!(ca.send_message(&alice, "general", "m0", "c0").status, 200);
    assert_eq!(cb.send_message(&bob, "general", "hi", "b1").status, 201);
    // Another room is another bucket.
    assert_eq!(
        ca.send_message(&alice, "secure-software", "x", "x1").status,
        201
    );

    // Nothing limited was stored.
    let (messages, _) = ca.messages_after("general", 0, 100);
    assert_eq!(messages.len(), 4);
    assert!(messages.iter().all(|m| m["body"] != "one too many"));
}
