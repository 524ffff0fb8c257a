//! The browser page in real headless Chromium (through chromedriver), against
//! the real components under minispin and a fresh database: two people
//! talking, safe rendering, history paging, unread counts, surviving a
//! server restart without losing or doubling anything, and edits, removals,
//! moderation, presence and mentions across two hosts. Writes screenshots
//! to `target/screenshots/`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::webdriver::{ChromeDriver, Session, keys, png_size, wait_for, wait_until};
use e2e::{Client, RunnerConfig, Server, TestDb, Value, json, workspace_root};

/// One browser test at a time: each runs Chromium and minispin, and the
/// timing checks (3 s delivery) should not depend on how many run at once.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const T: Duration = Duration::from_secs(15);

/// Opens the chat at `room`, not signed in: the join form shows.
fn open_join(s: &Session, runner: &Server, room: &str) {
    s.goto(&runner.url(&format!("/#/room/{room}")));
    s.wait_for_element("#name-input", T);
}

/// Opens the chat at `room` and joins as `name`.
fn join(s: &Session, runner: &Server, room: &str, name: &str) {
    open_join(s, runner, room);
    fill_join(s, name, "");
    s.find("#name-input").unwrap().send_keys(keys::ENTER);
    wait_composer(s, "the composer after joining");
}

/// Types into the composer; Enter sends.
fn type_message(s: &Session, text: &str) {
    s.find("#message-input")
        .expect("the composer")
        .send_keys(&format!("{text}{}", keys::ENTER));
}

/// What the page shows: (id or 0 while pending, author, body) in DOM order.
fn shown(s: &Session) -> Vec<(i64, String, String)> {
    let v = s.execute(
        "return Array.from(document.querySelectorAll('#message-list li.message')).map(li => [\
           Number(li.getAttribute('data-id') || 0),\
           (li.querySelector('.author') || {}).textContent || '',\
           (li.querySelector('.body') || li).textContent])",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn shows_body(s: &Session, body: &str) -> bool {
    shown(s).iter().any(|(id, _, b)| *id > 0 && b == body)
}

/// Everything stored in `room`, as the page should show it.
fn stored(c: &Client, room: &str) -> Vec<(i64, String, String)> {
    let (msgs, _) = c.messages_after(room, 0, 500);
    msgs.iter()
        .filter(|m| m["kind"] == "message")
        .map(|m| {
            (
                m["id"].as_i64().unwrap(),
                m["author"].as_str().unwrap().to_string(),
                m["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn status(s: &Session) -> String {
    s.execute(
        "return document.getElementById('status').textContent",
        vec![],
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

fn screenshot(s: &Session, width: u32, height: u32, name: &str) {
    s.set_viewport_size(width, height);
    // Let the page re-lay out and settle at the bottom of the conversation.
    s.execute(
        "const m = document.getElementById('messages'); m.scrollTop = m.scrollHeight; return 0",
        vec![],
    );
    let png = s.screenshot_png();
    assert_eq!(png_size(&png), (width, height), "{name} screenshot size");
    let dir = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{width}x{height}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("wrote {}", path.display());
}

#[test]
fn two_people_talk_and_see_the_same_conversation() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let driver = ChromeDriver::start();
    let alice = driver.new_session();
    let bob = driver.new_session();
    alice.set_window_size(1280, 800);
    bob.set_window_size(1280, 800);
    join(&alice, &runner, "general", "alice");
    join(&bob, &runner, "general", "bob");

    // The URL names the room and nothing else; the token is in sessionStorage.
    let url = alice.current_url();
    assert!(url.ends_with("/#/room/general"), "{url}");
    let stores = alice.execute(
        "return [sessionStorage.getItem('chat.session'), localStorage.getItem('chat.session')]",
        vec![],
    );
    let saved: Value = serde_json::from_str(stores[0].as_str().unwrap()).unwrap();
    assert_eq!(saved["name"], "alice");
    assert!(!url.contains(saved["token"].as_str().unwrap()) && !url.contains("alice"));
    assert_eq!(stores[1], Value::Null, "not remembered unless asked for");

    let conversation = [
        (&alice, "alice", "Hi Bob, are you there?"),
        (&bob, "bob", "Yes! Hello Alice."),
        (&alice, "alice", "Great: the chat works in two browsers."),
        (&bob, "bob", "And the links too: https://spinframework.dev"),
    ];
    for (from, name, text) in conversation {
        let start = Instant::now();
        type_message(from, text);
        let other = if name == "alice" { &bob } else { &alice };
        wait_for(
            Duration::from_secs(3),
            &format!("the other browser to show {text:?}"),
            || shows_body(other, text),
        );
        eprintln!(
            "{name}'s message reached the other browser in {:?}",
            start.elapsed()
        );
    }

    // Shift+Enter is a new line, Enter sends.
    alice.find("#message-input").unwrap().send_keys(&format!(
        "two{}{}{}lines{}",
        keys::SHIFT,
        keys::ENTER,
        keys::NULL,
        keys::ENTER
    ));
    wait_for(
        Duration::from_secs(3),
        "the two-line message at bob's",
        || shows_body(&bob, "two\nlines"),
    );

    // Both show exactly what is stored, in the same order, nothing pending.
    let expected = stored(&api, "general");
    assert_eq!(expected.len(), 5);
    for s in [&alice, &bob] {
        wait_for(T, "the page to match the stored conversation", || {
            shown(s) == expected
        });
    }
    let link = bob.execute(
        "const a = document.querySelectorAll('#message-list .body a'); \
         return Array.from(a).map(x => [x.href, x.rel, x.textContent])",
        vec![],
    );
    assert_eq!(
        link,
        json!([[
            "https://spinframework.dev/",
            "noopener noreferrer",
            "https://spinframework.dev"
        ]])
    );

    // Unread counts: bob reads another room while alice writes in general.
    bob.goto(&runner.url("/#/room/operating-systems"));
    wait_for(T, "bob in operating-systems", || {
        bob.execute(
            "return document.getElementById('room-title').textContent",
            vec![],
        )
        .as_str()
        .is_some_and(|t| t.contains("Operating"))
    });
    type_message(&alice, "one for later");
    type_message(&alice, "and another");
    let badge = "return (document.querySelector('#room-list li[data-room=\"general\"] .badge') || {}).textContent || ''";
    wait_for(T, "an unread count of 2 on general", || {
        bob.execute(badge, vec![]) == json!("2")
    });
    bob.find("#room-list li[data-room=\"general\"] a")
        .unwrap()
        .click();
    wait_for(T, "general to show what bob missed", || {
        shows_body(&bob, "and another") && bob.execute(badge, vec![]) == json!("")
    });
    assert!(bob.current_url().ends_with("/#/room/general"));
    assert_eq!(shown(&bob), stored(&api, "general"));

    // Something unread elsewhere, for the screenshots.
    let carol = api.login("carol");
    api.post_many(&carol, "distributed-systems", 3, "news ");
    let ds_badge = badge.replace("general", "distributed-systems");
    wait_for(T, "an unread count of 3 at alice's", || {
        alice.execute(&ds_badge, vec![]) == json!("3")
    });
    screenshot(&alice, 1280, 800, "chat");
    screenshot(&alice, 360, 740, "chat");
}

#[test]
fn html_in_bodies_and_names_is_shown_as_text() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let driver = ChromeDriver::start();
    let s = driver.new_session();

    let name = "<img src=x onerror=alert(1)>";
    let token = api.login(name);
    let payloads = [
        r#"<img src=x onerror="window.__xss=1">"#,
        "<script>window.__xss=1</script>",
        r#"<a href="javascript:window.__xss=1">click</a> &amp; &lt;b&gt;"#,
    ];
    for (i, p) in payloads.iter().enumerate() {
        let r = api.send_message(&token, "general", p, &format!("x{i}"));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // One typed in the browser too, and a link that must stay inert.
    join(&s, &runner, "general", "mallory");
    let typed =
        "<img src=x onerror=\"window.__xss=1\"> javascript:window.__xss=1 http://example.com/ok";
    type_message(&s, typed);
    wait_for(T, "all four messages", || {
        shown(&s).iter().filter(|m| m.0 > 0).count() == 4
    });

    let bodies: Vec<String> = shown(&s).into_iter().map(|m| m.2).collect();
    assert_eq!(bodies[..3], payloads.map(String::from));
    assert_eq!(bodies[3], typed);
    let authors: Vec<String> = shown(&s).into_iter().map(|m| m.1).collect();
    assert_eq!(authors[..3], [name, name, name]);
    let check = s.execute(
        "return {\
           xss: typeof window.__xss,\
           injected: document.querySelectorAll('#message-list img, #message-list script, #room-list img').length,\
           links: Array.from(document.querySelectorAll('#message-list a')).map(a => [a.protocol, a.rel])\
         }",
        vec![],
    );
    assert_eq!(check["xss"], "undefined");
    assert_eq!(check["injected"], 0);
    assert_eq!(check["links"], json!([["http:", "noopener noreferrer"]]));
}

#[test]
fn scrolling_up_loads_all_history_in_order_without_jumping() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let token = api.login("historian");
    api.post_many(&token, "general", 300, "message ");
    let driver = ChromeDriver::start();
    let s = driver.new_session();
    s.set_window_size(1280, 800);
    s.goto(&runner.url("/#/room/general"));

    // First load: the newest messages, scrolled to the bottom.
    let count = "return document.querySelectorAll('#message-list li.message').length";
    wait_for(T, "the first page", || {
        s.execute(count, vec![]) == json!(100)
    });
    let ids = |s: &Session| -> Vec<i64> { shown(s).into_iter().map(|m| m.0).collect() };
    assert_eq!(ids(&s), (201..=300).collect::<Vec<_>>());
    let at_bottom = s.execute(
        "const m = document.getElementById('messages'); \
         return m.scrollHeight - m.scrollTop - m.clientHeight < 2",
        vec![],
    );
    assert_eq!(at_bottom, json!(true));

    // Scroll to the top until everything is there; after each page the
    // message that was at the top must not move on screen.
    let started = Instant::now();
    let mut pages = 0;
    loop {
        let n = s
            .execute(
                "const m = document.getElementById('messages'); m.scrollTop = 0;\
                 const li = document.querySelector('#message-list li.message');\
                 window.__anchor = { id: li.getAttribute('data-id'), top: li.getBoundingClientRect().top };\
                 return document.querySelectorAll('#message-list li.message').length",
                vec![],
            )
            .as_i64()
            .unwrap();
        if n >= 300 {
            break;
        }
        let grown = wait_until(T, "an older page", || {
            let now = s.execute(count, vec![]).as_i64().unwrap();
            (now > n).then_some(now)
        });
        pages += 1;
        let moved = s.execute(
            "const a = window.__anchor;\
             const li = document.querySelector('#message-list li[data-id=\"' + a.id + '\"]');\
             return li.getBoundingClientRect().top - a.top",
            vec![],
        );
        assert!(
            moved.as_f64().unwrap().abs() < 2.0,
            "the view jumped by {moved}px after loading up to {grown}"
        );
    }
    eprintln!("{pages} older pages loaded in {:?}", started.elapsed());
    assert_eq!(ids(&s), (1..=300).collect::<Vec<_>>());
    let shown_all = shown(&s);
    assert!(
        shown_all
            .iter()
            .enumerate()
            .all(|(i, m)| m.2 == format!("message {}", i + 1))
    );
    wait_for(T, "the beginning-of-room marker", || {
        s.execute(
            "return !document.getElementById('history-start').hidden",
            vec![],
        ) == json!(true)
    });
}

#[test]
fn survives_a_server_restart_losing_and_doubling_nothing() {
    let _one = serial();
    let db = TestDb::new();
    let addr = format!("127.0.0.1:{}", e2e::free_port());
    let runner = RunnerConfig::chat(&db).listen(&addr).start();
    let driver = ChromeDriver::start();
    let s = driver.new_session();
    s.set_window_size(1280, 800);
    join(&s, &runner, "general", "alice");
    type_message(&s, "before the outage");
    wait_for(T, "the first message stored", || {
        shows_body(&s, "before the outage")
    });
    wait_for(T, "status connected", || status(&s) == "connected");

    // The server goes away: the page says it is reconnecting.
    let (exit, _) = runner.terminate();
    assert!(exit.success());
    let down = Instant::now();
    let text = wait_until(T, "a reconnecting status", || {
        let t = status(&s);
        t.starts_with("reconnecting in ").then_some(t)
    });
    eprintln!("status {text:?} {:?} after the stop", down.elapsed());

    // Meanwhile others write through another host on the same database...
    let other = RunnerConfig::chat(&db).start();
    let api = Client::new(&other);
    let bob = api.login("bob");
    api.post_many(&bob, "general", 5, "while you were away ");
    // ...and alice types a message that cannot be sent yet.
    type_message(&s, "typed while offline");
    wait_for(T, "the message marked as not sent, with retry", || {
        s.execute(
            "const p = document.querySelector('#message-list li.pending.failed');\
             return !!p && !!p.querySelector('button.retry')",
            vec![],
        ) == json!(true)
    });
    let count_offline = |db: &TestDb| -> i64 {
        db.connect()
            .query_one(
                "SELECT count(*) FROM chat.messages WHERE body = 'typed while offline'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(count_offline(&db), 0);
    // Long enough down for the back-off to grow past 4 s (1 + 2 + 4 s), as
    // in a real outage; "Reconnect now" is offered meanwhile.
    wait_until(Duration::from_secs(30), "a back-off of 4 s or more", || {
        let t = status(&s);
        let secs: u32 = t
            .strip_prefix("reconnecting in ")?
            .strip_suffix(" s")?
            .parse()
            .ok()?;
        (secs >= 4).then_some(())
    });
    assert_eq!(
        s.execute("return document.getElementById('reconnect').hidden", vec![]),
        json!(false),
        "Reconnect now, while down"
    );

    // The server comes back on the same address: the page catches up and
    // sends the pending message, once, within a second or so (the health
    // probe), not at the end of the grown back-off.
    let back = RunnerConfig::chat(&db).listen(&addr).start();
    let restarted = Instant::now();
    wait_until(Duration::from_secs(20), "the pending message sent", || {
        (count_offline(&db) == 1).then_some(())
    });
    let resumed = restarted.elapsed();
    eprintln!("resumed: the pending message was stored {resumed:?} after the server was back");
    assert!(
        resumed < Duration::from_secs(2),
        "sends resumed {resumed:?} after the server was back: the page waited out its back-off"
    );
    let expected = wait_until(Duration::from_secs(40), "the page to catch up", || {
        let want = stored(&api, "general");
        (want.len() == 7 && shown(&s) == want && status(&s) == "connected").then_some(want)
    });
    eprintln!(
        "caught up {:?} after the restart ({:?} after the stop)",
        restarted.elapsed(),
        down.elapsed()
    );
    assert_eq!(
        expected.iter().map(|m| m.2.as_str()).collect::<Vec<_>>(),
        [
            "before the outage",
            "while you were away 1",
            "while you were away 2",
            "while you were away 3",
            "while you were away 4",
            "while you were away 5",
            "typed while offline",
        ]
    );
    assert_eq!(count_offline(&db), 1);
    assert_eq!(
        s.execute("return document.getElementById('reconnect').hidden", vec![]),
        json!(true),
        "no Reconnect now once connected"
    );
    let c = Client::new(&back);
    assert_eq!(stored(&c, "general"), expected);
    assert_eq!(
        shown(&s)
            .iter()
            .filter(|m| m.2 == "typed while offline")
            .count(),
        1
    );
}

#[test]
fn posting_too_fast_says_slow_down_and_sends_after_the_wait() {
    let _one = serial();
    let db = TestDb::new();
    // Two posts at once, then one every two seconds.
    let runner = RunnerConfig::chat(&db)
        .set("post_burst", "2")
        .set("posts_per_minute", "30")
        .start();
    let api = Client::new(&runner);
    let driver = ChromeDriver::start();
    let s = driver.new_session();
    join(&s, &runner, "general", "speedy");

    for text in ["one", "two", "three"] {
        type_message(&s, text);
    }
    let said = wait_until(T, "the page to say slow down", || {
        let text = s.execute(
            "const e = document.getElementById('composer-error'); return e.hidden ? '' : e.textContent",
            vec![],
        );
        let text = text.as_str().unwrap_or_default().to_string();
        text.contains("Slow down").then_some(text)
    });
    assert!(said.contains("too fast"), "{said}");

    // The refused one goes out by itself once Retry-After has passed: all
    // three stored once, in order, and shown with their ids.
    wait_for(T, "the third message after the wait", || {
        shows_body(&s, "three")
    });
    let stored = stored(&api, "general");
    let bodies: Vec<&str> = stored.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "three"]);
    assert_eq!(shown(&s), stored);
}

/// One request per poll: after the first room list and the room's first
/// page, the page polls `/api/poll` alone, which keeps both the messages and
/// the unread counts current. A room never opened counts as unread only
/// what arrived after the page first listed it, not its history.
#[test]
fn one_poll_per_second_keeps_messages_and_unread_counts_current() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let carol = api.login("carol");
    api.post_many(&carol, "secure-software", 5, "history ");
    let driver = ChromeDriver::start();
    let dave = driver.new_session();
    join(&dave, &runner, "general", "dave");
    // Wait until the room is listed and a poll has answered since, then
    // count requests for a while. (Without the wait, a missing room would
    // read as an empty badge too.)
    wait_for(T, "secure-software listed and polled", || {
        dave.execute(
            "return !!document.querySelector('#room-list li[data-room=\"secure-software\"]') \
             && performance.getEntriesByType('resource').some(e => new URL(e.name).pathname === '/api/poll')",
            vec![],
        ) == json!(true)
    });
    let badge = "return (document.querySelector('#room-list li[data-room=\"secure-software\"] .badge') || {}).textContent || ''";
    assert_eq!(
        dave.execute(badge, vec![]),
        json!(""),
        "five messages from before the page first saw the room are not unread"
    );
    let count = "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)\
                 .filter(p => p.startsWith('/api/')).reduce((c, p) => { c[p] = (c[p] || 0) + 1; return c; }, {})";
    let before = dave.execute(count, vec![]);
    std::thread::sleep(Duration::from_secs(4));
    api.post_many(&carol, "secure-software", 2, "new ");
    wait_for(T, "an unread count of 2 on secure-software", || {
        dave.execute(badge, vec![]) == json!("2")
    });
    let after = dave.execute(count, vec![]);
    let n = |v: &Value, path: &str| v[path].as_i64().unwrap_or(0);
    let polls = n(&after, "/api/poll") - n(&before, "/api/poll");
    assert!(
        (4..=8).contains(&polls),
        "about one poll a second: {polls} in 4-5 s ({before} -> {after})"
    );
    for other in ["/api/rooms", "/api/rooms/general/messages"] {
        assert_eq!(
            n(&after, other),
            n(&before, other),
            "no other poller: {other} ({before} -> {after})"
        );
    }
    assert_eq!(n(&after, "/api/rooms"), 1, "the room list once, at start");
}

/// When each poll of the page started (ms on the page's clock).
fn poll_times(s: &Session) -> Vec<f64> {
    let v = s.execute(
        "return performance.getEntriesByType('resource')\
         .filter(e => new URL(e.name).pathname === '/api/poll').map(e => e.startTime)",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect()
}

#[test]
fn a_hidden_tab_polls_every_10_to_15_seconds_and_at_once_when_shown() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let driver = ChromeDriver::start();
    let erin = driver.new_session();
    join(&erin, &runner, "general", "erin");
    std::thread::sleep(Duration::from_millis(2500));
    let now = |s: &Session| {
        s.execute("return performance.now()", vec![])
            .as_f64()
            .unwrap()
    };
    let hidden_at = now(&erin);
    set_hidden(&erin, true);
    std::thread::sleep(Duration::from_secs(28));
    let shown_at = now(&erin);
    set_hidden(&erin, false);
    std::thread::sleep(Duration::from_secs(3));
    let times = poll_times(&erin);
    // The poll already due when the tab was hidden, then one every 10-15 s.
    let hidden: Vec<f64> = times
        .iter()
        .copied()
        .filter(|t| *t > hidden_at + 1500.0 && *t < shown_at)
        .collect();
    let gaps: Vec<f64> = hidden.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        (1..=3).contains(&hidden.len()) && gaps.iter().all(|g| (9_900.0..=15_500.0).contains(g)),
        "hidden for 28 s: polls {:?} ms after hiding, gaps {gaps:?}",
        hidden.iter().map(|t| t - hidden_at).collect::<Vec<_>>()
    );
    // Shown again: a poll at once, then one a second.
    let shown: Vec<f64> = times
        .iter()
        .map(|t| t - shown_at)
        .filter(|t| *t > 0.0)
        .collect();
    assert!(
        shown.first().is_some_and(|t| *t < 500.0) && shown.len() >= 3,
        "after showing the tab, polls at {shown:?} ms"
    );
}

/// The names the page lists as here now.
fn present(s: &Session) -> Vec<String> {
    let v = s.execute(
        "return Array.from(document.querySelectorAll('#presence li')).map(li => li.textContent)",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// Whether the page lists exactly these names (each entry may say more,
/// e.g. "(you)").
fn lists(s: &Session, names: &[&str]) -> bool {
    let shown = present(s);
    shown.len() == names.len() && names.iter().all(|n| shown.iter().any(|p| p.contains(n)))
}

/// The message `id`'s element, as a CSS selector.
fn message(id: i64) -> String {
    format!("#message-list li.message[data-id='{id}']")
}

/// Opens message `id`'s menu and picks `action`.
fn pick(s: &Session, id: i64, action: &str) {
    s.wait_for_element(&format!("{} button.message-menu", message(id)), T)
        .click();
    s.wait_for_element(&format!("#message-menu button[data-action='{action}']"), T)
        .click();
}

/// The id of the stored message with this body.
fn id_of(c: &Client, room: &str, body: &str) -> i64 {
    wait_until(T, "the message is stored", || {
        stored(c, room)
            .into_iter()
            .find(|(_, _, b)| b == body)
            .map(|(id, ..)| id)
    })
}

/// Makes the page think its tab is hidden (or visible again), as switching
/// tabs does; headless Chromium has no other tab to switch to.
fn set_hidden(s: &Session, hidden: bool) {
    s.execute(
        "const h = arguments[0];\
         Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => h ? 'hidden' : 'visible'});\
         Object.defineProperty(document, 'hidden', {configurable: true, get: () => h});\
         document.dispatchEvent(new Event('visibilitychange')); return 0",
        vec![json!(hidden)],
    );
}

#[test]
fn edits_removals_moderation_presence_and_mentions_across_two_hosts() {
    let _one = serial();
    let db = TestDb::new();
    // Alice's page talks to one host, Bob's to another: only the database
    // joins them, as in production.
    let host_a = RunnerConfig::chat(&db).start();
    let host_b = RunnerConfig::chat(&db).start();
    let api = Client::new(&host_a);
    let driver = ChromeDriver::start();
    let alice = driver.new_session();
    let bob = driver.new_session();
    alice.set_window_size(1280, 800);
    bob.set_window_size(1280, 800);
    join(&alice, &host_a, "general", "alice");
    join(&bob, &host_b, "general", "bob");

    // Presence: both pages list both people.
    wait_for(T, "both people present on both pages", || {
        lists(&alice, &["alice", "bob"]) && lists(&bob, &["alice", "bob"])
    });

    // An edit made on one page shows on the other within two polls.
    type_message(&alice, "helo wrld");
    let first = id_of(&api, "general", "helo wrld");
    wait_for(T, "Bob sees the message", || shows_body(&bob, "helo wrld"));
    pick(&alice, first, "edit");
    let editor = alice.wait_for_element(&format!("{} textarea.edit-body", message(first)), T);
    alice.execute(
        "document.querySelector(arguments[0]).value = ''; return 0",
        vec![json!(format!("{} textarea.edit-body", message(first)))],
    );
    editor.send_keys(&format!("hello world{}", keys::ENTER));
    let saved = Instant::now();
    wait_for(T, "Bob sees the edit", || {
        shows_body(&bob, "hello world")
            && bob.find(&format!("{} span.edited", message(first))).is_ok()
    });
    let took = saved.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the edit took {took:?}, more than two polls"
    );
    assert_eq!(stored(&api, "general")[0].2, "hello world");

    // A removal, the same way: a placeholder with no text, on both pages.
    pick(&alice, first, "remove");
    alice.wait_for_element("#confirm-ok", T).click();
    let removed = Instant::now();
    let placeholder = |s: &Session| {
        s.execute(
            "const li = document.querySelector(arguments[0]);\
             return li && li.classList.contains('removed') ? li.textContent : null",
            vec![json!(message(first))],
        )
    };
    wait_for(T, "Bob sees the removal", || {
        placeholder(&bob)
            .as_str()
            .is_some_and(|t| t.contains("Message removed"))
    });
    let took = removed.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the removal took {took:?}"
    );
    assert!(!placeholder(&alice).as_str().unwrap().contains("hello"));
    assert_eq!(stored(&api, "general")[0].2, "", "erased in the database");

    // Bob enters the admin token in the settings dialog, then removes one
    // of Alice's messages and mutes her in this room, from the page.
    type_message(&alice, "buy cheap watches");
    type_message(&alice, "and more");
    let spam = id_of(&api, "general", "buy cheap watches");
    let more = id_of(&api, "general", "and more");
    wait_for(T, "Bob sees the spam", || shows_body(&bob, "and more"));
    bob.find("#settings-button").unwrap().click();
    bob.wait_for_element("#admin-token", T)
        .send_keys(e2e::ADMIN_TOKEN);
    bob.find("#settings-save").unwrap().click();
    pick(&bob, spam, "remove");
    bob.wait_for_element("#confirm-ok", T).click();
    wait_for(T, "Alice sees the moderator's removal", || {
        let li = alice.execute(
            "const li = document.querySelector(arguments[0]); return li ? li.textContent : ''",
            vec![json!(message(spam))],
        );
        li.as_str()
            .is_some_and(|t| t.contains("Removed by a moderator"))
    });
    pick(&bob, more, "mute");
    bob.wait_for_element("#mute-duration", T);
    bob.execute(
        "document.getElementById('mute-duration').value = '600';\
         document.getElementById('mute-scope').value = 'room'; return 0",
        vec![],
    );
    bob.find("#mute-confirm").unwrap().click();
    wait_for(T, "Bob's page says Alice is muted", || {
        bob.execute(
            "return document.getElementById('action-status').textContent",
            vec![],
        )
        .as_str()
        .is_some_and(|t| t.contains("alice") && t.contains("muted"))
    });
    type_message(&alice, "can I still talk?");
    wait_for(T, "Alice's page says she is muted", || {
        alice
            .execute(
                "return document.getElementById('composer-error').textContent",
                vec![],
            )
            .as_str()
            .is_some_and(|t| t.contains("muted"))
    });
    assert!(
        !stored(&api, "general")
            .iter()
            .any(|m| m.2 == "can I still talk?")
    );
    let log: Vec<(String, String)> = db
        .connect()
        .query(
            "SELECT action, name FROM chat.moderation_log ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        log,
        [
            ("remove".into(), "alice".into()),
            ("mute".into(), "alice".into())
        ]
    );

    // A mention in a hidden tab: a notification (the browser's, replaced
    // here by a recorder granted permission) and the count in the title.
    alice.execute(
        "window.__notes = [];\
         const N = function (title, options) { window.__notes.push([title, options && options.body]); };\
         N.permission = 'granted'; N.requestPermission = () => Promise.resolve('granted');\
         window.Notification = N; return 0",
        vec![],
    );
    set_hidden(&alice, true);
    type_message(&bob, "@alice please read the rules");
    wait_for(
        Duration::from_secs(25),
        "a notification on Alice's hidden page",
        || alice.execute("return window.__notes.length", vec![]) == json!(1),
    );
    let note = alice.execute("return window.__notes[0]", vec![]);
    assert!(note[0].as_str().unwrap().contains("bob"), "{note}");
    assert_eq!(note[1], "@alice please read the rules");
    let title = alice.execute("return document.title", vec![]);
    assert!(title.as_str().unwrap().starts_with("(1) "), "{title}");
    assert!(
        alice
            .find("#message-list li.message span.mention.me")
            .is_ok(),
        "the mention is highlighted"
    );
    set_hidden(&alice, false);
    wait_for(T, "the count leaves the title", || {
        !alice
            .execute("return document.title", vec![])
            .as_str()
            .unwrap()
            .starts_with('(')
    });
    screenshot(&bob, 1280, 800, "moderation");

    // Bob closes his tab (WebDriver's Close Window): he drops out of
    // Alice's list within a minute; at once, when the page's leave on
    // `pagehide` gets out.
    let closed = Instant::now();
    let _ = bob.command("DELETE", "/window", None);
    wait_for(Duration::from_secs(70), "Bob drops out of presence", || {
        lists(&alice, &["alice"])
    });
    eprintln!(
        "Bob left Alice's list {:?} after his tab closed",
        closed.elapsed()
    );
}

/* ---------- accounts ---------- */

/// Fills the join form: the name, and a password unless it is empty.
fn fill_join(s: &Session, name: &str, password: &str) {
    wait_for(T, "the join form", || {
        s.execute(
            "return !document.getElementById('join-form').hidden",
            vec![],
        ) == json!(true)
    });
    s.execute(
        "document.getElementById('name-input').value = '';\
         document.getElementById('password-input').value = ''; return 0",
        vec![],
    );
    s.find("#name-input").unwrap().send_keys(name);
    if !password.is_empty() {
        s.find("#password-input").unwrap().send_keys(password);
    }
}

/// Opens the page at `room` and creates the account `name` there.
fn create_account(s: &Session, runner: &Server, room: &str, name: &str, password: &str) {
    open_join(s, runner, room);
    fill_join(s, name, password);
    s.find("#create-account").unwrap().click();
    wait_composer(s, &format!("{name}'s account"));
}

/// Opens the page at `room` and signs in to `name`'s account.
fn sign_in(s: &Session, runner: &Server, room: &str, name: &str, password: &str) {
    open_join(s, runner, room);
    fill_join(s, name, password);
    s.find("#password-input").unwrap().send_keys(keys::ENTER);
    wait_composer(s, &format!("{name} signed in"));
}

fn wait_composer(s: &Session, what: &str) {
    wait_for(T, what, || {
        s.execute(
            "return !document.getElementById('composer').hidden ? true : document.getElementById('join-error').textContent",
            vec![],
        ) == json!(true)
    });
}

fn text_of(s: &Session, id: &str) -> String {
    s.execute(
        "const e = document.getElementById(arguments[0]); return e && !e.hidden ? e.textContent : ''",
        vec![json!(id)],
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Nobody can speak under a claimed name without its password, in any case
/// or look-alike; an account is one person on every device (its messages
/// are its own in both browsers), and stays signed in across a reload.
/// Guests are marked as guests.
#[test]
fn a_claimed_name_is_its_accounts_alone_on_every_device() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let driver = ChromeDriver::start();
    let laptop = driver.new_session();
    let phone = driver.new_session();
    let mallory = driver.new_session();
    laptop.set_window_size(1280, 800);

    // Alice claims her name, remembered on this device.
    open_join(&laptop, &runner, "general");
    fill_join(&laptop, "alice", "correct horse");
    laptop.find("#remember").unwrap().click();
    laptop.find("#create-account").unwrap().click();
    wait_composer(&laptop, "alice's account");
    assert_eq!(text_of(&laptop, "whoami"), "alice");
    assert_eq!(
        text_of(&laptop, "guest-badge"),
        "",
        "an account is no guest"
    );
    type_message(&laptop, "from the laptop");
    let first = id_of(&api, "general", "from the laptop");

    // Mallory tries her name as a guest, in another case and in Cyrillic
    // look-alikes, then with a guessed password: each time the form says
    // why, and no session comes of it.
    open_join(&mallory, &runner, "general");
    for name in ["alice", "ALICE", "\u{0430}lice"] {
        fill_join(&mallory, name, "");
        mallory.find("#join-button").unwrap().click();
        wait_for(T, "the join form's refusal", || {
            text_of(&mallory, "join-error").contains("belongs to an account")
        });
        mallory.execute(
            "document.getElementById('join-error').textContent = ''; return 0",
            vec![],
        );
    }
    fill_join(&mallory, "alice", "password1");
    assert_eq!(text_of(&mallory, "join-button"), "Sign in");
    mallory.find("#join-button").unwrap().click();
    wait_for(T, "a wrong password refused", || {
        text_of(&mallory, "join-error").contains("do not match")
    });
    let stored_session = mallory.execute(
        "return sessionStorage.getItem('chat.session') || localStorage.getItem('chat.session')",
        vec![],
    );
    assert_eq!(stored_session, Value::Null, "no session for Mallory");
    assert!(
        mallory.execute("return document.getElementById('composer').hidden", vec![]) == json!(true)
    );

    // Alice on her phone: the laptop's message is hers there too (its menu
    // edits it), and the edit shows on the laptop.
    sign_in(&phone, &runner, "general", "alice", "correct horse");
    wait_for(T, "the phone shows the laptop's message as Alice's", || {
        phone
            .find(&format!("{}.mine button.message-menu", message(first)))
            .is_ok()
    });
    pick(&phone, first, "edit");
    let editor = phone.wait_for_element(&format!("{} textarea.edit-body", message(first)), T);
    phone.execute(
        "document.querySelector(arguments[0]).value = ''; return 0",
        vec![json!(format!("{} textarea.edit-body", message(first)))],
    );
    editor.send_keys(&format!("edited on the phone{}", keys::ENTER));
    wait_for(T, "the laptop sees the phone's edit", || {
        shows_body(&laptop, "edited on the phone")
    });

    // A guest's messages carry a guest mark; Alice's do not.
    let bob = api.login("bob");
    assert_eq!(
        api.send_message(&bob, "general", "hi from a guest", "g1")
            .status,
        201
    );
    wait_for(T, "the guest's message", || {
        shows_body(&laptop, "hi from a guest")
    });
    let marks = laptop.execute(
        "return Array.from(document.querySelectorAll('#message-list li.message')).map(li =>\
           [li.getAttribute('data-author'), !!li.querySelector('.meta .tag')])",
        vec![],
    );
    assert_eq!(marks, json!([["alice", false], ["bob", true]]));

    // Back tomorrow: a reload keeps Alice signed in.
    laptop.goto(&runner.url("/#/room/general"));
    wait_composer(&laptop, "still signed in after a reload");
    assert_eq!(text_of(&laptop, "whoami"), "alice");
    screenshot(&laptop, 1280, 800, "account");

    // A new password, set on the laptop, signs the phone out: its next
    // message asks Alice to sign in again, and is sent once she has.
    laptop.find("#change-password").unwrap().click();
    laptop
        .wait_for_element("#pw-current", T)
        .send_keys("correct horse");
    laptop.find("#pw-new").unwrap().send_keys("battery staple");
    laptop.find("#pw-save").unwrap().click();
    wait_for(T, "the new password", || {
        text_of(&laptop, "action-status").contains("password is changed")
    });
    type_message(&phone, "still me?");
    wait_for(T, "the phone asks to sign in again", || {
        text_of(&phone, "join-error").contains("signed out")
    });
    assert!(!stored(&api, "general").iter().any(|m| m.2 == "still me?"));
    fill_join(&phone, "alice", "battery staple");
    phone
        .find("#password-input")
        .unwrap()
        .send_keys(keys::ENTER);
    wait_for(T, "the waiting message sent once signed in", || {
        stored(&api, "general").iter().any(|m| m.2 == "still me?")
    });
}

/// A moderator is a person: they mute from the page with their own
/// session, and the log names their account. The mute outlives a rename:
/// the muted person sees one sentence with the end in local time, a closed
/// composer, and no retry. A members-only room shows a guest why the box is
/// closed and how to claim a name.
#[test]
fn a_mute_outlives_a_rename_and_a_members_only_room_closes_to_guests() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let r = api.post_json(
        "/api/accounts",
        None,
        &json!({"name": "mod", "password": "moderate well"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    db.connect()
        .execute("SELECT chat.grant_role('mod', 'moderator')", &[])
        .unwrap();
    let driver = ChromeDriver::start();
    let moder = driver.new_session();
    let bob = driver.new_session();
    let guest = driver.new_session();
    moder.set_window_size(1280, 800);
    bob.set_window_size(1280, 800);
    guest.set_window_size(1280, 800);

    sign_in(&moder, &runner, "general", "mod", "moderate well");
    assert_eq!(text_of(&moder, "admin-badge"), "Moderator");
    create_account(&bob, &runner, "general", "bob", "bobs password");
    type_message(&bob, "spam spam");
    let spam = id_of(&api, "general", "spam spam");

    // The moderator mutes Bob in every room, with no admin token.
    pick(&moder, spam, "mute");
    moder.wait_for_element("#mute-duration", T);
    moder.execute(
        "document.getElementById('mute-duration').value = '3600';\
         document.getElementById('mute-scope').value = 'everywhere'; return 0",
        vec![],
    );
    moder.find("#mute-confirm").unwrap().click();
    wait_for(T, "the moderator's page says Bob is muted", || {
        text_of(&moder, "action-status").contains("bob is muted")
    });
    let log: Vec<(String, String, Option<i64>)> = db
        .connect()
        .query(
            "SELECT l.action, l.name, a.id FROM chat.moderation_log l \
             LEFT JOIN chat.accounts a ON a.id = l.actor_account AND a.name = 'mod' \
             WHERE l.action <> 'grant_role' ORDER BY l.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].0.as_str(), log[0].1.as_str()), ("mute", "bob"));
    assert!(
        log[0].2.is_some(),
        "the log names the moderator's account: {log:?}"
    );

    // Bob is muted; he renames himself and tries again: still muted.
    type_message(&bob, "am I muted?");
    wait_for(T, "Bob's page says he is muted", || {
        text_of(&bob, "composer-error").starts_with("A moderator has muted you until ")
    });
    bob.find("#message-list li.pending button.discard")
        .unwrap()
        .click();
    bob.find("#change-name").unwrap().click();
    wait_for(T, "the rename form", || {
        text_of(&bob, "join-button") == "Rename"
    });
    fill_join(&bob, "bob_", "");
    bob.find("#join-button").unwrap().click();
    wait_composer(&bob, "renamed");
    assert_eq!(text_of(&bob, "whoami"), "bob_");
    assert_eq!(
        bob.execute(
            "return document.getElementById('message-input').disabled",
            vec![]
        ),
        json!(false),
        "a new name is a new session: the page does not know of the mute yet"
    );
    type_message(&bob, "I am someone else now");
    wait_for(T, "Bob's page says he is still muted", || {
        text_of(&bob, "composer-error").starts_with("A moderator has muted you until ")
    });
    let sentence = text_of(&bob, "composer-error");
    let local_end = bob
        .execute(
            "return new Date(Date.now() + 3600e3).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})",
            vec![],
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sentence.contains(&local_end) || sentence.contains(&local_end[..local_end.len() - 1]),
        "the end in local time: {sentence} / {local_end}"
    );
    assert!(!sentence.contains("UTC"), "{sentence}");
    let page = bob.execute(
        "return {\
           said: document.body.innerText.split('muted you').length - 1,\
           disabled: document.getElementById('message-input').disabled,\
           retry: document.querySelectorAll('#message-list li.pending button.retry').length,\
           pending: document.querySelectorAll('#message-list li.pending').length }",
        vec![],
    );
    assert_eq!(
        page,
        json!({"said": 1, "disabled": true, "retry": 0, "pending": 1}),
        "said once; no retry that cannot succeed"
    );
    assert!(
        !stored(&api, "general")
            .iter()
            .any(|m| m.2 == "I am someone else now")
    );
    // His earlier message is still his after the rename.
    assert!(
        bob.find(&format!("{}.mine button.message-menu", message(spam)))
            .is_ok()
    );

    // The moderator makes the room members-only; a guest who opens it
    // reads, and is told why the box is closed and how to claim a name.
    moder.find("#members-only").unwrap().click();
    wait_for(T, "the toggle on", || {
        moder.execute(
            "return document.getElementById('members-only').getAttribute('aria-pressed')",
            vec![],
        ) == json!("true")
    });
    join_as_guest_into_closed_room(&guest, &runner);
    assert!(
        text_of(&guest, "closed-text").contains("Only members write in #"),
        "{}",
        text_of(&guest, "closed-text")
    );
    assert!(shows_body(&guest, "spam spam"), "a guest reads");
    screenshot(&guest, 1280, 800, "members-only");
    guest.find("#closed-sign-in").unwrap().click();
    wait_for(T, "the join form, to sign in or claim a name", || {
        guest.execute(
            "return !document.getElementById('join-form').hidden",
            vec![],
        ) == json!(true)
    });
}

/// A guest joins and lands in a members-only room: the closed box, not the
/// composer.
fn join_as_guest_into_closed_room(s: &Session, runner: &Server) {
    open_join(s, runner, "general");
    fill_join(s, "carol", "");
    s.find("#join-button").unwrap().click();
    wait_for(T, "the closed box for a guest", || {
        s.execute(
            "return !document.getElementById('closed').hidden && document.getElementById('composer').hidden",
            vec![],
        ) == json!(true)
    });
}

/* ---------- the phone layout ---------- */

/// What sticks out past the viewport's right edge: the document's width,
/// the viewport's, and the widest offenders (for the failure message).
fn overflow(s: &Session) -> Value {
    s.execute(
        "const w = document.documentElement.clientWidth;\
         const out = Array.from(document.querySelectorAll('body *')).filter(e => {\
           const r = e.getBoundingClientRect();\
           if (!r.width || r.right <= w + 0.5) return false;\
           for (let p = e.parentElement; p; p = p.parentElement) {\
             const o = getComputedStyle(p).overflowX;\
             if (o !== 'visible' && p.getBoundingClientRect().right <= w + 0.5) return false;\
           }\
           return true;\
         }).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));\
         return {doc: document.documentElement.scrollWidth, view: w, out: out}",
        vec![],
    )
}

/// No horizontal overflow at phone widths (320-430 px), signed in or not,
/// with long names, long words and long links; rooms scrolled out of the
/// strip say at its edge that they have unread messages.
#[test]
fn the_phone_layout_fits_from_320_to_430_px() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let long = api.login("Maximilian Longname-Example");
    for (i, body) in [
        "https://example.com/a/very/long/path/that/does/not/break/anywhere/at/all/index.html",
        "Supercalifragilisticexpialidocious-and-then-some-more-letters-without-a-space",
        "a normal message",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            api.send_message(&long, "general", body, &format!("p{i}"))
                .status,
            201
        );
    }
    let driver = ChromeDriver::start();
    let s = driver.new_session();
    s.set_window_size(390, 844);
    s.goto(&runner.url("/#/room/general"));
    wait_for(T, "the messages", || shows_body(&s, "a normal message"));
    for width in [320, 360, 390, 430] {
        s.set_viewport_size(width, 800);
        let o = overflow(&s);
        assert!(
            o["doc"].as_i64() <= o["view"].as_i64() && o["out"] == json!([]),
            "before joining, at {width} px: {o}"
        );
    }
    join(&s, &runner, "general", "Another Rather Long Name");
    // The last room of the strip gets news while the strip shows the first.
    assert_eq!(
        api.send_message(&long, "secure-software", "news", "n1")
            .status,
        201
    );
    for width in [320, 360, 390, 430] {
        s.set_viewport_size(width, 800);
        wait_for(T, "the room list", || {
            s.find("#room-list li[data-room='secure-software'] .badge")
                .is_ok()
        });
        let o = overflow(&s);
        assert!(
            o["doc"].as_i64() <= o["view"].as_i64() && o["out"] == json!([]),
            "signed in, at {width} px: {o}"
        );
        let edge = s.execute(
            "const strip = document.querySelector('.rooms').getBoundingClientRect();\
             const chip = document.querySelector('#room-list li[data-room=\"secure-software\"]').getBoundingClientRect();\
             const more = document.getElementById('rooms-more');\
             return {hidden: chip.left >= strip.right - 1, more: more && !more.hidden ? more.textContent : ''}",
            vec![],
        );
        if edge["hidden"] == json!(true) {
            assert!(
                edge["more"].as_str().unwrap().contains('1'),
                "at {width} px an unread room out of view is summarised at the strip's edge: {edge}"
            );
        }
    }
    screenshot(&s, 390, 844, "phone");
}

/// The text of the first element matching `css`, or None.
fn text_at(s: &Session, css: &str) -> Option<String> {
    s.execute(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null",
        vec![json!(css)],
    )
    .as_str()
    .map(str::to_string)
}

/// A message's reactions as the page shows them: (emoji and count, pressed).
fn reactions_shown(s: &Session, id: i64) -> Vec<(String, bool)> {
    let v = s.execute(
        "return Array.from(document.querySelectorAll(arguments[0])).map(b =>\
           [b.textContent, b.getAttribute('aria-pressed') === 'true'])",
        vec![json!(format!("{} .reactions button.reaction", message(id)))],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_bool().unwrap()))
        .collect()
}

#[test]
fn replies_reactions_and_formatting_between_two_people() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    // History: a question, then more than a page of other messages, then
    // Bob's reply to the question, so the quoted message is not loaded.
    let carol = api.login("carol");
    api.send_message(&carol, "general", "deploy target?", "q1");
    api.post_many(&carol, "general", 120, "filler");
    let bob_token = api.login("bob");
    let r = api.post_json(
        "/api/rooms/general/messages",
        Some(&bob_token),
        &json!({"body": "staging", "client_id": "b1", "reply_to": 1}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let answer = id_of(&api, "general", "staging");

    let driver = ChromeDriver::start();
    let alice = driver.new_session();
    let bob = driver.new_session();
    alice.set_window_size(1280, 800);
    bob.set_window_size(1280, 800);
    join(&alice, &runner, "general", "alice");
    join(&bob, &runner, "general", "bob");
    wait_for(T, "Alice sees Bob's reply", || {
        shows_body(&alice, "staging")
    });
    assert!(
        alice.find(&message(1)).is_err(),
        "the question is not loaded"
    );
    // The quote names what it answers, asked for by itself.
    let quote = format!("{} .reply-quote", message(answer));
    wait_for(T, "the quote shows the question", || {
        text_at(&alice, &quote).is_some_and(|t| t.contains("carol: deploy target?"))
    });
    // Clicking it loads older pages until the question is there, and
    // shows it.
    alice.find(&quote).unwrap().click();
    wait_for(T, "the question is loaded and shown", || {
        alice
            .execute(
                "const li = document.querySelector(arguments[0]); if (!li) return false;\
                 const r = li.getBoundingClientRect(), v = document.getElementById('messages').getBoundingClientRect();\
                 return r.top >= v.top && r.bottom <= v.bottom",
                vec![json!(message(1))],
            )
            .as_bool()
            .unwrap_or(false)
    });

    // Alice answers Bob from the message's menu; the composer says to whom.
    pick(&alice, answer, "reply");
    wait_for(T, "the reply bar", || {
        text_at(&alice, "#reply-text").is_some_and(|t| t.contains("Replying to bob: staging"))
    });
    type_message(&alice, "thanks, **on it**: run `make deploy` _now_");
    let thanks = id_of(
        &api,
        "general",
        "thanks, **on it**: run `make deploy` _now_",
    );
    let (events, _) = api.messages_after("general", thanks - 1, 1);
    assert_eq!(events[0]["reply_to"], answer, "stored as a reply");
    assert_eq!(
        alice.execute("return document.getElementById('reply-bar').hidden", vec![]),
        json!(true),
        "the reply bar closes once sent"
    );
    wait_for(T, "Bob sees the reply with its quote", || {
        text_at(&bob, &format!("{} .reply-quote", message(thanks)))
            .is_some_and(|t| t.contains("bob: staging"))
    });
    // Formatting, as elements, never HTML.
    let formatted = bob.execute(
        "const b = document.querySelector(arguments[0] + ' .body');\
         return [b.querySelector('strong')?.textContent, b.querySelector('code')?.textContent,\
                 b.querySelector('em')?.textContent, b.textContent]",
        vec![json!(message(thanks))],
    );
    assert_eq!(
        formatted,
        json!([
            "on it",
            "make deploy",
            "now",
            "thanks, on it: run make deploy now"
        ])
    );

    // Reactions: Bob adds one from the palette, Alice adds hers from the
    // chip; both pages count them, with who.
    pick(&bob, thanks, "react");
    bob.wait_for_element(
        &format!("{} .palette button[data-react='👍']", message(thanks)),
        T,
    )
    .click();
    wait_for(T, "Alice sees Bob's reaction", || {
        reactions_shown(&alice, thanks) == [("👍 1".to_string(), false)]
    });
    let chip = format!("{} .reactions button.reaction", message(thanks));
    assert_eq!(
        alice.execute(
            "return document.querySelector(arguments[0]).title",
            vec![json!(chip)]
        ),
        json!("bob"),
        "who reacted"
    );
    alice.find(&chip).unwrap().click();
    wait_for(T, "both count two", || {
        reactions_shown(&alice, thanks) == [("👍 2".to_string(), true)]
            && reactions_shown(&bob, thanks) == [("👍 2".to_string(), true)]
    });
    // Bob withdraws his.
    bob.find(&chip).unwrap().click();
    wait_for(T, "both count one", || {
        reactions_shown(&alice, thanks) == [("👍 1".to_string(), true)]
            && reactions_shown(&bob, thanks) == [("👍 1".to_string(), false)]
    });
    // A page loaded afresh shows the reactions in force: with a message
    // after them, they come with its newest page, not from its polls.
    type_message(&alice, "one more");
    id_of(&api, "general", "one more");
    let carol_page = driver.new_session();
    carol_page.set_window_size(1280, 800);
    open_join(&carol_page, &runner, "general");
    wait_for(T, "a new page shows the reactions in force", || {
        reactions_shown(&carol_page, thanks) == [("👍 1".to_string(), false)]
    });

    // Bob removes what Alice answered (from where he sent it): her reply
    // keeps a "removed message" quote on both pages.
    let auth = format!("Bearer {bob_token}");
    let r = e2e::send(
        &api.agent,
        "DELETE",
        &runner.url(&format!("/api/rooms/general/messages/{answer}")),
        &[("authorization", auth.as_str())],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (who, s) in [("Alice", &alice), ("Bob", &bob)] {
        wait_for(
            T,
            &format!("{who} sees the quote of a removed message"),
            || {
                text_at(s, &format!("{} .reply-quote", message(thanks)))
                    .is_some_and(|t| t.contains("removed message") && !t.contains("staging"))
            },
        );
    }
    screenshot(&alice, 1280, 800, "replies");
    screenshot(&bob, 390, 844, "replies");
}

/// The open room, from the address bar.
fn open_room(s: &Session) -> String {
    s.execute("return location.hash", vec![])
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The text of the message element right after the unread line, if any.
fn after_divider(s: &Session) -> Option<String> {
    s.execute(
        "const d = document.querySelector('#message-list li.unread-divider');\
         const m = d && d.nextElementSibling;\
         return m ? (m.querySelector('.body') || m).textContent : null",
        vec![],
    )
    .as_str()
    .map(str::to_string)
}

#[test]
fn unread_line_mentions_keys_theme_and_titles() {
    let _one = serial();
    let db = TestDb::new();
    db.connect()
        .batch_execute(
            "UPDATE chat.rooms SET title = 'Distributed Systems and Consensus Protocols' \
             WHERE id = 'distributed-systems'",
        )
        .unwrap();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let bob = api.login("bob");
    api.send_message(&bob, "general", "before", "b0");
    let driver = ChromeDriver::start();
    let laptop = driver.new_desktop_session();
    laptop.set_window_size(1280, 800);
    create_account(
        &laptop,
        &runner,
        "general",
        "alice",
        "correct horse battery",
    );
    wait_for(T, "the laptop shows the room", || {
        shows_body(&laptop, "before")
    });

    // Up in the empty composer edits my last message.
    type_message(&laptop, "tpyo");
    wait_for(T, "the message is stored", || shows_body(&laptop, "tpyo"));
    laptop.find("#message-input").unwrap().send_keys(keys::UP);
    let editor = laptop.wait_for_element("textarea.edit-body", T);
    assert_eq!(
        laptop.execute(
            "return document.querySelector('textarea.edit-body').value",
            vec![]
        ),
        json!("tpyo")
    );
    editor.send_keys(keys::ESCAPE);

    // Alt+Down moves to the next room, whose long title shows whole on hover.
    laptop.find("#message-input").unwrap().click();
    laptop
        .find("#message-input")
        .unwrap()
        .send_keys(&format!("{}{}", keys::ALT, keys::DOWN));
    wait_for(T, "Alt+Down opens the next room", || {
        open_room(&laptop) == "#/room/distributed-systems"
    });
    let full = "#Distributed Systems and Consensus Protocols";
    wait_for(
        T,
        "the title and the room link carry the whole title",
        || {
            laptop.execute(
            "return [document.getElementById('room-title').title,\
                     document.querySelector('#room-list li[data-room=\"distributed-systems\"] a').title,\
                     document.getElementById('message-input').placeholder]",
            vec![],
        ) == json!([full, full, format!("Message {full}")])
        },
    );

    // Meanwhile in general: news, and a mention of alice. Its room gets an @.
    api.send_message(&bob, "general", "news one", "b1");
    api.send_message(&bob, "general", "news two, @alice please look", "b2");
    wait_for(T, "general shows an @ for the mention", || {
        laptop
            .execute(
                "return !!document.querySelector('#room-list li.mentioned[data-room=\"general\"] .at-badge')",
                vec![],
            )
            .as_bool()
            .unwrap_or(false)
    });
    // Alt+Up goes back: the unread line sits above what came meanwhile, and
    // the @ is gone.
    laptop
        .find("#message-input")
        .unwrap()
        .send_keys(&format!("{}{}", keys::ALT, keys::UP));
    wait_for(T, "the unread line above the first new message", || {
        open_room(&laptop) == "#/room/general"
            && after_divider(&laptop).as_deref() == Some("news one")
    });
    assert_eq!(
        laptop.execute(
            "return document.querySelectorAll('#room-list .at-badge').length",
            vec![]
        ),
        json!(0)
    );

    // The account remembers how far it has read: a phone that signs in
    // later draws the line where the laptop left off.
    std::thread::sleep(Duration::from_secs(4)); // the laptop sends its mark at most every 3 s
    laptop
        .find("#message-input")
        .unwrap()
        .send_keys(&format!("{}{}", keys::ALT, keys::DOWN));
    wait_for(T, "the laptop leaves general", || {
        open_room(&laptop) == "#/room/distributed-systems"
    });
    api.send_message(&bob, "general", "while you were away", "b3");
    let phone = driver.new_session();
    phone.set_window_size(390, 844);
    sign_in(&phone, &runner, "general", "alice", "correct horse battery");
    wait_for(
        T,
        "the phone draws the line from the account's mark",
        || after_divider(&phone).as_deref() == Some("while you were away"),
    );

    // The theme: system, light, dark, remembered across a reload.
    let background = |s: &Session| {
        s.execute(
            "return getComputedStyle(document.documentElement).backgroundColor",
            vec![],
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    };
    let theme = |s: &Session| {
        s.execute(
            "return document.documentElement.dataset.theme || 'system'",
            vec![],
        )
    };
    assert_eq!(theme(&laptop), json!("system"));
    laptop.find("#theme-button").unwrap().click();
    assert_eq!(theme(&laptop), json!("light"));
    let light = background(&laptop);
    laptop.find("#theme-button").unwrap().click();
    assert_eq!(theme(&laptop), json!("dark"));
    let dark = background(&laptop);
    assert_ne!(light, dark, "the colours change with the theme");
    laptop.goto(&runner.url("/#/room/general"));
    wait_composer(&laptop, "the laptop after a reload");
    wait_for(T, "the laptop shows general", || {
        shows_body(&laptop, "tpyo")
    });
    assert_eq!(theme(&laptop), json!("dark"), "remembered");
    assert_eq!(background(&laptop), dark);
    screenshot(&laptop, 1280, 800, "dark");

    // On a desktop the ... of a message shows on hover or focus only.
    let own = id_of(&api, "general", "tpyo");
    let opacity = |s: &Session| {
        s.execute(
            "return getComputedStyle(document.querySelector(arguments[0])).opacity",
            vec![json!(format!("{} button.message-menu", message(own)))],
        )
    };
    laptop.execute("document.activeElement.blur(); return 0", vec![]);
    laptop.find("#room-title").unwrap().click(); // the pointer away from the message
    let phone_opacity = phone.execute(
        "const b = document.querySelector('#message-list li.message button.message-menu');\
         return b ? getComputedStyle(b).opacity : null",
        vec![],
    );
    assert_eq!(phone_opacity, json!("1"), "always shown on a touch screen");
    assert_eq!(opacity(&laptop), json!("0"), "hidden until pointed at");
    laptop.execute(
        "document.querySelector(arguments[0]).focus(); return 0",
        vec![json!(format!("{} button.message-menu", message(own)))],
    );
    assert_eq!(opacity(&laptop), json!("1"), "shown when focused");
}

/// The pictures in the README (`docs/screenshot.png`, `docs/screenshot-phone.png`
/// are copies of what this writes): a short conversation with a reply,
/// reactions and formatting, at desktop size with a mouse and on a phone.
#[test]
fn screenshots_of_a_conversation_for_the_readme() {
    let _one = serial();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    let grace = api.login("grace");
    let post = |token: &str, body: &str, cid: &str, reply_to: Option<i64>| {
        let mut b = json!({"body": body, "client_id": cid});
        if let Some(to) = reply_to {
            b["reply_to"] = json!(to);
        }
        let r = api.post_json("/api/rooms/general/messages", Some(token), &b);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["message"]["id"].as_i64().unwrap()
    };
    let react = |token: &str, id: i64, emoji: &str| {
        let r = api.post_json(
            &format!("/api/rooms/general/messages/{id}/reactions"),
            Some(token),
            &json!({"emoji": emoji, "on": true}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    let driver = ChromeDriver::start();
    let alice = driver.new_desktop_session();
    alice.set_window_size(1280, 800);
    join(&alice, &runner, "general", "alice");
    let bob = driver.new_session();
    bob.set_window_size(390, 844);
    join(&bob, &runner, "general", "bob");
    let q = post(
        &grace,
        "Who is on call for the **deploy** tonight?",
        "s1",
        None,
    );
    type_message(&bob, "I am. The runbook is at https://example.org/runbook");
    let bobs = id_of(
        &api,
        "general",
        "I am. The runbook is at https://example.org/runbook",
    );
    react(&grace, bobs, "🙏");
    let newline = format!("{}{}{}", keys::SHIFT, keys::ENTER, keys::NULL);
    type_message(
        &alice,
        &[
            "Thanks @bob! Before you start:",
            "```",
            "cargo test --release",
            "```",
        ]
        .join(&newline),
    );
    let answer = post(
        &grace,
        "> Who is on call\n_Bob_, then me from midnight.",
        "s2",
        Some(q),
    );
    react(&grace, answer, "👍");
    wait_for(T, "both pages show the conversation", || {
        shown(&alice).len() >= 4 && shown(&bob).len() >= 4
    });
    pick(&alice, answer, "react");
    alice
        .wait_for_element(
            &format!("{} .palette button[data-react='👍']", message(answer)),
            T,
        )
        .click();
    wait_for(T, "two thumbs", || {
        reactions_shown(&bob, answer)
            .first()
            .is_some_and(|(t, _)| t.ends_with(" 2"))
    });
    alice.find("#message-input").unwrap().click();
    screenshot(&alice, 1280, 800, "readme");
    screenshot(&bob, 390, 844, "readme");
}
