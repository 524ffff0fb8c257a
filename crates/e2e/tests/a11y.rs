//! The page's accessibility, checked by axe-core in real headless Chromium
//! (through chromedriver) against the real components under minispin and a
//! fresh database: the signed-out page with its join form (and its error),
//! the conversation after joining (a mention of the reader, a mention of
//! someone else, links, formatting, one's own messages, a reply, reactions),
//! a message's open menu, replying, the reaction palette, editing in place,
//! the remove and settings dialogs; each at a desktop and a phone size, in
//! the light and the dark colour scheme of the system, and dark chosen in
//! the page on a light system.
//!
//! axe-core comes from npm, pinned, through `ensure_axe` in `scripts/lib.sh`
//! (the test command runs it): the test reads the `axe.min.js` that
//! `OSTCHAT_AXE_JS` names, or the one `ensure_axe` leaves under the user's
//! cache, and fails saying how to get it when neither is there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::webdriver::{ChromeDriver, Session, keys, wait_for};
use e2e::{Client, RunnerConfig, TestDb, Value, json};

const T: Duration = Duration::from_secs(15);

/// The rules axe runs: WCAG 2.0 and 2.1 at levels A and AA (what the page
/// must meet), WCAG 2.2 AA's one rule (target size, which matters on the
/// phone layout), and axe's best practices (landmarks, one main, headings in
/// order, regions), which name real problems for screen-reader users and
/// report nothing on a page that gets them right. Not AAA (enhanced
/// contrast is beyond what the page promises) nor axe's experimental rules.
const TAGS: &[&str] = &[
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// A desktop window and a phone's (an iPhone 12 to 15, in CSS pixels).
const SIZES: [(u32, u32); 2] = [(1280, 800), (390, 844)];

/// The colour schemes: (name, the system's `prefers-color-scheme`, the
/// theme chosen in the page). style.css follows the system unless
/// html[data-theme] names a theme (the page's theme switch sets it), so both
/// ways to dark are checked.
const SCHEMES: [(&str, &str, &str); 3] = [
    ("light", "light", "system"),
    ("dark", "dark", "system"),
    ("dark chosen", "light", "dark"),
];

/// Where `ensure_axe` (scripts/lib.sh) installs axe-core when
/// `OSTCHAT_AXE_JS` is not set: the same rule as its
/// `${XDG_CACHE_HOME:-$HOME/.cache}/ostchat/axe`.
fn default_axe_path() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("ostchat/axe/node_modules/axe-core/axe.min.js"))
}

/// axe-core's source, read once.
fn axe_source() -> String {
    let path = std::env::var_os("OSTCHAT_AXE_JS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(default_axe_path)
        .expect("neither OSTCHAT_AXE_JS nor HOME is set: run `source scripts/lib.sh; ensure_axe`, which sets OSTCHAT_AXE_JS");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read axe-core's axe.min.js at {} ({e}): run `source scripts/lib.sh; ensure_axe` \
             (the test command does) and run the test again, or set OSTCHAT_AXE_JS to an axe.min.js",
            path.display()
        )
    })
}

/// Makes the page see `prefers-color-scheme: scheme`, through chromedriver's
/// door to the DevTools protocol (headless Chromium has no system theme to
/// switch), and waits until the page's media query agrees; then sets the
/// theme chosen in the page as its theme switch does ("system": none).
fn set_scheme(s: &Session, scheme: &str, theme: &str) {
    s.command(
        "POST",
        "/goog/cdp/execute",
        Some(json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] },
        })),
    )
    .unwrap_or_else(|e| panic!("cannot emulate prefers-color-scheme: {scheme}: {e}"));
    wait_for(T, &format!("the page in the {scheme} scheme"), || {
        s.execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        ) == json!(scheme == "dark")
    });
    s.execute(
        "const t = arguments[0], html = document.documentElement;\
         if (t === 'system') delete html.dataset.theme; else html.dataset.theme = t; return 0",
        vec![json!(theme)],
    );
    // The page's text colour says which scheme it shows: light text on
    // dark, dark text on light; so a scheme that did not apply cannot pass
    // as checked.
    let dark = scheme == "dark" || theme == "dark";
    wait_for(
        T,
        &format!("the page's colours in {scheme}/{theme}"),
        || s.execute(LIGHT_TEXT, vec![]) == json!(dark),
    );
}

/// Whether the page's text is light: the relative luminance (as WCAG
/// defines it) of the body's colour is over a half.
const LIGHT_TEXT: &str = "const c = getComputedStyle(document.body).color.match(/[\\d.]+/g).map(Number);\
    const l = c.slice(0, 3).map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);\
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2] > 0.5";

/// One rule's violation in one state of the page.
struct Violation {
    state: String,
    rule: Value,
}

/// What axe found in all states: violations fail the test; "needs review"
/// (axe could not decide, e.g. the contrast of a glyph) is only printed,
/// once per rule and element, for a person to look at.
#[derive(Default)]
struct Found {
    violations: Vec<Violation>,
    review: Vec<String>,
}

/// Runs axe on the whole document as it is now, injecting axe-core first
/// when the page has none (a navigation drops it). Prints what it found.
fn check(s: &Session, axe: &str, state: &str, found: &mut Found) {
    let start = Instant::now();
    // The source runs as an execute-script body, where the page's own
    // Content-Security-Policy does not apply; axe-core defines window.axe.
    if s.execute("return typeof window.axe === 'object'", vec![]) != json!(true) {
        let kind = s.execute(&format!("{axe}\n;return typeof window.axe"), vec![]);
        assert_eq!(kind, json!("object"), "axe-core did not load into the page");
    }
    // Only what a failure message needs, for at most five elements a rule.
    let result = s
        .command(
            "POST",
            "/execute/async",
            Some(json!({
                "script": "const done = arguments[arguments.length - 1];\
                    axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})\
                      .then(r => done({version: axe.version,\
                        violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,\
                          count: v.nodes.length,\
                          nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '), html: n.html,\
                            summary: n.failureSummary}))})),\
                        passes: r.passes.length,\
                        incomplete: r.incomplete.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ') + ': '\
                          + (n.failureSummary || '').split('\\n').slice(1).join(' ').trim())}))}),\
                        e => done({error: String(e && e.stack || e)}));",
                "args": [TAGS],
            })),
        )
        .unwrap_or_else(|e| panic!("axe.run in state {state}: {e}"));
    assert!(
        result["error"].is_null(),
        "axe.run failed in state {state}: {}",
        result["error"]
    );
    // A wrong tag or a broken injection would run no rule and pass.
    let passes = result["passes"].as_i64().unwrap_or(0);
    assert!(
        passes >= 10,
        "axe passed only {passes} rules in state {state}: did it run? {result}"
    );
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = violations
        .iter()
        .map(|v| v["id"].as_str().unwrap_or("?"))
        .collect();
    eprintln!(
        "axe {} on {state}: {} violation(s) {ids:?}, {passes} rules passed, in {:?}",
        result["version"].as_str().unwrap_or("?"),
        violations.len(),
        start.elapsed()
    );
    for rule in result["incomplete"].as_array().into_iter().flatten() {
        for node in rule["nodes"].as_array().into_iter().flatten() {
            let line = format!(
                "{} {}",
                rule["id"].as_str().unwrap_or("?"),
                node.as_str().unwrap_or("?")
            );
            if !found.review.contains(&line) {
                eprintln!("  needs review (not a failure): {line}");
                found.review.push(line);
            }
        }
    }
    found
        .violations
        .extend(violations.into_iter().map(|rule| Violation {
            state: state.to_string(),
            rule,
        }));
}

/// Every size and scheme of the page in its current state.
fn check_everywhere(
    s: &Session,
    axe: &str,
    state: &str,
    found: &mut Found,
    mut prepare: impl FnMut(&Session),
) {
    for (width, height) in SIZES {
        s.set_viewport_size(width, height);
        for (name, scheme, theme) in SCHEMES {
            set_scheme(s, scheme, theme);
            prepare(s);
            check(s, axe, &format!("{state} {width}x{height} {name}"), found);
        }
    }
    set_scheme(s, "light", "system");
}

/// The failure message: each rule once, with where it failed, and its first
/// elements (selector, markup, and axe's account of what is wrong, which for
/// contrast names both colours and the ratio).
fn report(found: &[Violation]) -> String {
    let mut by_rule: BTreeMap<String, Vec<&Violation>> = BTreeMap::new();
    for v in found {
        by_rule
            .entry(v.rule["id"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push(v);
    }
    let mut out = format!(
        "axe-core found {} rule(s) violated ({}):\n",
        by_rule.len(),
        TAGS.join(", ")
    );
    for (id, seen) in &by_rule {
        let first = &seen[0].rule;
        let states: Vec<&str> = seen.iter().map(|v| v.state.as_str()).collect();
        out += &format!(
            "\n{id} ({}, {} element(s)): {}\n  {}\n  in: {}\n",
            first["impact"].as_str().unwrap_or("?"),
            first["count"],
            first["help"].as_str().unwrap_or(""),
            first["helpUrl"].as_str().unwrap_or(""),
            states.join(", ")
        );
        // The same element in several states is listed once.
        let mut listed: Vec<String> = Vec::new();
        for v in seen {
            for n in v.rule["nodes"].as_array().into_iter().flatten() {
                let target = n["target"].as_str().unwrap_or("?").to_string();
                if listed.contains(&target) || listed.len() >= 6 {
                    continue;
                }
                let html: String = n["html"].as_str().unwrap_or("").chars().take(200).collect();
                let summary = n["summary"]
                    .as_str()
                    .unwrap_or("")
                    .replace('\n', "\n      ");
                out += &format!(
                    "  - {target} ({})\n      {html}\n      {summary}\n",
                    v.state
                );
                listed.push(target);
            }
        }
    }
    out
}

/* ---------- the page (as in browser.rs) ---------- */

fn shows_body(s: &Session, body: &str) -> bool {
    s.execute(
        "return Array.from(document.querySelectorAll('#message-list li.message[data-id]'))\
           .some(li => Number(li.getAttribute('data-id')) > 0 &&\
             ((li.querySelector('.body') || li).textContent === arguments[0]))",
        vec![json!(body)],
    ) == json!(true)
}

fn join(s: &Session, name: &str) {
    wait_for(T, "the join form", || {
        s.execute(
            "return !document.getElementById('join-form').hidden",
            vec![],
        ) == json!(true)
    });
    s.find("#name-input").unwrap().send_keys(name);
    s.find("#name-input").unwrap().send_keys(keys::ENTER);
    wait_for(T, "the composer after joining", || {
        s.execute(
            "return !document.getElementById('composer').hidden ? true : document.getElementById('join-error').textContent",
            vec![],
        ) == json!(true)
    });
}

fn type_message(s: &Session, text: &str) {
    s.find("#message-input")
        .expect("the composer")
        .send_keys(&format!("{text}{}", keys::ENTER));
    wait_for(T, &format!("{text:?} sent and shown"), || {
        shows_body(s, text)
    });
}

/// The conversation scrolled to its end, where the newest messages are.
fn to_bottom(s: &Session) {
    s.execute(
        "const m = document.getElementById('messages'); m.scrollTop = m.scrollHeight; return 0",
        vec![],
    );
}

fn menu_open(s: &Session) -> bool {
    s.execute(
        "return !document.getElementById('message-menu').hidden",
        vec![],
    ) == json!(true)
}

/// The message `id`'s element, as a CSS selector.
fn message(id: i64) -> String {
    format!("#message-list li.message[data-id='{id}']")
}

/// The id of the stored message with this body.
fn id_of(api: &Client, body: &str) -> i64 {
    let (events, _) = api.messages_after("general", 0, 500);
    events
        .iter()
        .find(|m| m["kind"] == "message" && m["body"] == body)
        .and_then(|m| m["id"].as_i64())
        .unwrap_or_else(|| panic!("no stored message {body:?}"))
}

/// Opens message `id`'s menu unless it is open; its button only shows on
/// hover or focus on a desktop, which the click gives it.
fn open_menu(s: &Session, id: i64) {
    if menu_open(s) {
        return;
    }
    s.wait_for_element(&format!("{} button.message-menu", message(id)), T)
        .click();
    wait_for(T, "the message's menu", || menu_open(s));
}

/// Picks `action` in message `id`'s menu.
fn pick(s: &Session, id: i64, action: &str) {
    open_menu(s, id);
    s.wait_for_element(&format!("#message-menu button[data-action='{action}']"), T)
        .click();
}

fn visible(s: &Session, css: &str) -> bool {
    s.execute(
        "const e = document.querySelector(arguments[0]); return !!e && !e.hidden && e.getClientRects().length > 0",
        vec![json!(css)],
    ) == json!(true)
}

fn dialog_open(s: &Session, id: &str) -> bool {
    s.execute(
        "return document.getElementById(arguments[0]).open",
        vec![json!(id)],
    ) == json!(true)
}

fn close_menu(s: &Session) {
    if menu_open(s) {
        s.execute(
            "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); return 0",
            vec![],
        );
        wait_for(T, "the menu to close", || !menu_open(s));
    }
}

const MENTION: &str = "Hi @alice, the notes are at https://example.com/notes";
/// Every kind of formatting the page renders (format.js).
const FORMATTED: &str =
    "**Bold**, _italic_ and `code`:\n```\nlet port = 5432;\n```\n> a quoted line\nand plain text";

/// Runs axe over the page's states, sizes and schemes, and fails listing
/// every violation with the elements to fix.
#[test]
fn the_page_passes_axe_at_desktop_and_phone_sizes() {
    let start = Instant::now();
    let axe = axe_source();
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Client::new(&runner);
    // Someone else has mentioned the reader, linked and formatted
    // something: shown before and after joining.
    let bob = api.login("bob");
    for (i, body) in [MENTION, FORMATTED].iter().enumerate() {
        let r = api.send_message(&bob, "general", body, &format!("a11y-{i}"));
        assert_eq!(r.status, 201, "bob's message: {}", r.body);
    }
    let (mention, formatted) = (id_of(&api, MENTION), id_of(&api, FORMATTED));

    let driver = ChromeDriver::start();
    let s = driver.new_session();
    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    s.goto(&runner.url("/#/room/general"));
    s.wait_for_element("#name-input", T);
    wait_for(T, "bob's messages", || {
        shows_body(&s, MENTION) && s.find(&message(formatted)).is_ok()
    });
    let mut found = Found::default();
    check_everywhere(&s, &axe, "signed out", &mut found, |_| {});

    // No name: the form says what is wrong.
    s.find("#name-input").unwrap().send_keys(keys::ENTER);
    wait_for(T, "the join form's error", || visible(&s, "#join-error"));
    check_everywhere(&s, &axe, "join error", &mut found, |_| {});

    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    join(&s, "alice");
    type_message(&s, "Thanks @bob, reading https://example.com/notes now");
    type_message(&s, "Back in ten minutes.");
    let own = id_of(&api, "Back in ten minutes.");
    // Bob's reaction on the reader's message: a chip, not pressed.
    let r = api.post_json(
        &format!("/api/rooms/general/messages/{own}/reactions"),
        Some(&bob),
        &json!({ "emoji": "👍", "on": true }),
    );
    assert_eq!(r.status, 200, "bob's reaction: {}", r.body);
    wait_for(T, "bob's reaction", || {
        s.find(&format!("{} .reactions button", message(own)))
            .is_ok()
    });

    // Resizing can scroll the button out of sight, which closes the menu: it
    // is opened anew where needed.
    check_everywhere(&s, &axe, "menu open", &mut found, |s| {
        to_bottom(s);
        open_menu(s, own)
    });
    close_menu(&s);

    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    pick(&s, mention, "reply");
    wait_for(T, "the reply bar", || visible(&s, "#reply-bar"));
    check_everywhere(&s, &axe, "replying", &mut found, |_| {});
    type_message(&s, "Yes, got them.");

    // The reader's own reaction, from the palette: a pressed chip.
    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    pick(&s, mention, "react");
    s.wait_for_element(&format!("{} .palette", message(mention)), T);
    check_everywhere(&s, &axe, "reaction palette", &mut found, |_| {});
    s.find(&format!("{} .palette button[data-react]", message(mention)))
        .unwrap()
        .click();
    wait_for(T, "the reader's reaction", || {
        s.find(&format!(
            "{} .reactions button[aria-pressed='true']",
            message(mention)
        ))
        .is_ok()
    });

    // The whole conversation: mentions, links, formatting, a reply with its
    // quote, reactions, the reader's own messages.
    check_everywhere(&s, &axe, "joined", &mut found, to_bottom);

    // The editor is built by the page's script, its label with it.
    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    to_bottom(&s);
    pick(&s, own, "edit");
    s.wait_for_element("#message-list textarea.edit-body", T);
    check_everywhere(&s, &axe, "editing", &mut found, to_bottom);
    s.find("#message-list [data-action='cancel-edit']")
        .expect("the editor's cancel button")
        .click();
    wait_for(T, "the editor to close", || {
        s.find("#message-list textarea.edit-body").is_err()
    });

    s.set_viewport_size(SIZES[0].0, SIZES[0].1);
    to_bottom(&s);
    pick(&s, own, "remove");
    wait_for(T, "the remove dialog", || dialog_open(&s, "confirm-dialog"));
    check_everywhere(&s, &axe, "remove dialog", &mut found, |_| {});
    s.find("#confirm-cancel").unwrap().click();
    wait_for(T, "the remove dialog to close", || {
        !dialog_open(&s, "confirm-dialog")
    });

    s.find("#settings-button").unwrap().click();
    wait_for(T, "the settings dialog", || dialog_open(&s, "settings"));
    check_everywhere(&s, &axe, "settings dialog", &mut found, |_| {});
    s.find("#settings-close").unwrap().click();

    eprintln!("checked in {:?}", start.elapsed());
    assert!(found.violations.is_empty(), "{}", report(&found.violations));
}
