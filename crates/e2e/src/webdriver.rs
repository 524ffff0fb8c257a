//! A minimal synchronous W3C WebDriver client (JSON over `testkit::http`)
//! for driving headless Chromium through `chromedriver`.
//!
//! [`ChromeDriver::start`] runs `chromedriver --port=<free port>` as a child
//! process (killed on drop); [`ChromeDriver::new_session`] opens a browser
//! with a fresh profile directory (closed and removed on drop). Override the
//! binaries with `CHROMEDRIVER` and `CHROMIUM`.

use std::fmt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use testkit::http;

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver key codes, for [`Element::send_keys`].
pub mod keys {
    /// Releases held modifiers.
    pub const NULL: &str = "\u{E000}";
    pub const ENTER: &str = "\u{E007}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ALT: &str = "\u{E00A}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const UP: &str = "\u{E013}";
    pub const DOWN: &str = "\u{E015}";
}

pub fn chromedriver_bin() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

pub fn chromium_bin() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// An error answer of the remote end (or a transport failure, status 0).
#[derive(Debug, Clone)]
pub struct WdError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

impl std::error::Error for WdError {}

/// Polls `f` every 50 ms until it returns `Some`, panicking with `what` after
/// `timeout`. Every wait in the browser tests goes through this.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`wait_until`] for a condition.
pub fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    wait_until(timeout, what, || f().then_some(()))
}

fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, WdError> {
    let reply = http::try_send_json(agent, method, url, &[], body).map_err(|e| WdError {
        status: 0,
        error: "transport".into(),
        message: chat::error::report(&*e),
    })?;
    let mut v: Value = serde_json::from_str(&reply.body).map_err(|e| WdError {
        status: reply.status,
        error: "bad reply".into(),
        message: format!("{e}: {}", reply.body),
    })?;
    if reply.status >= 400 {
        return Err(WdError {
            status: reply.status,
            error: v["value"]["error"].as_str().unwrap_or("unknown").into(),
            message: v["value"]["message"].as_str().unwrap_or("").into(),
        });
    }
    Ok(v["value"].take())
}

/// A running `chromedriver`.
pub struct ChromeDriver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl ChromeDriver {
    /// Starts chromedriver on a free port and waits until `/status` says ready.
    pub fn start() -> ChromeDriver {
        let bin = chromedriver_bin();
        assert!(
            bin.exists(),
            "{} is missing: install Debian's chromium and chromium-driver (scripts/test.sh does)",
            bin.display()
        );
        let port = crate::free_port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut driver = ChromeDriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let status_url = format!("{}/status", driver.base);
        wait_for(Duration::from_secs(20), "chromedriver to be ready", || {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited at start-up: {status}");
            }
            request(&driver.agent, "GET", &status_url, None)
                .map(|v| v["ready"] == json!(true))
                .unwrap_or(false)
        });
        driver
    }

    /// A new headless Chromium with its own fresh profile. Headless, it has
    /// no pointing device: `(hover: hover)` does not match, as on a phone.
    pub fn new_session(&self) -> Session {
        self.session_with(&[])
    }

    /// As [`ChromeDriver::new_session`], with a mouse: `(hover: hover)` and
    /// `(pointer: fine)` match, as on a desktop (Blink's settings for the
    /// pointer and hover types: 4 is fine, 2 is hover).
    pub fn new_desktop_session(&self) -> Session {
        self.session_with(
            &["--blink-settings=primaryHoverType=2,availableHoverTypes=2,\
             primaryPointerType=4,availablePointerTypes=4"],
        )
    }

    fn session_with(&self, extra: &[&str]) -> Session {
        let profile = std::env::temp_dir().join(crate::unique_name("ostchat-chromium-"));
        std::fs::create_dir_all(&profile).expect("create a Chromium profile directory");
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium_bin(),
                        "args": args,
                    },
                },
            },
        });
        let value = request(
            &self.agent,
            "POST",
            &format!("{}/session", self.base),
            Some(&caps),
        )
        .unwrap_or_else(|e| panic!("cannot start a browser session: {e}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"));
        Session {
            agent: self.agent.clone(),
            base: format!("{}/session/{id}", self.base),
            profile,
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser (a WebDriver session); quits on drop.
pub struct Session {
    agent: ureq::Agent,
    /// `http://127.0.0.1:<port>/session/<id>`
    base: String,
    profile: PathBuf,
}

impl Session {
    /// A command relative to the session; POSTs always carry a JSON body.
    pub fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let body = match (method, body) {
            ("POST", None) => Some(json!({})),
            (_, b) => b,
        };
        request(
            &self.agent,
            method,
            &format!("{}{path}", self.base),
            body.as_ref(),
        )
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.must("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn element(&self, v: &Value) -> Element {
        let id = v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {v}"));
        Element {
            agent: self.agent.clone(),
            base: format!("{}/element/{id}", self.base),
        }
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element, WdError> {
        let v = self.command(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(self.element(&v))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.must(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array()
            .map(|a| a.iter().map(|e| self.element(e)).collect())
            .unwrap_or_default()
    }

    /// Waits for an element matching `css` to exist.
    pub fn wait_for_element(&self, css: &str, timeout: Duration) -> Element {
        wait_until(timeout, &format!("an element {css}"), || {
            self.find(css).ok()
        })
    }

    /// Runs `script` (a function body; use `return`) with `args` as
    /// `arguments`, and returns its JSON result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The viewport as PNG bytes.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let b64 = self.must("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("a base64 screenshot")
    }

    pub fn set_window_size(&self, width: u32, height: u32) {
        self.must(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Sizes the window so that the page's viewport (what screenshots show)
    /// is `width` x `height`: headless Chromium still reserves room for
    /// window decorations, so the window is grown by the difference.
    pub fn set_viewport_size(&self, width: u32, height: u32) {
        let inner = |s: &Session| -> (i64, i64) {
            let v = s.execute("return [window.innerWidth, window.innerHeight]", vec![]);
            (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0))
        };
        self.set_window_size(width, height);
        let (iw, ih) = inner(self);
        let grow = |want: u32, got: i64| (i64::from(want) - got).max(0) as u32;
        let (dw, dh) = (grow(width, iw), grow(height, ih));
        if (dw, dh) != (0, 0) {
            self.set_window_size(width + dw, height + dh);
        }
        wait_for(
            Duration::from_secs(10),
            &format!("a {width}x{height} viewport"),
            || inner(self) == (i64::from(width), i64::from(height)),
        );
    }

    /// Ends the session (also done on drop).
    pub fn quit(self) {}
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = request(&self.agent, "DELETE", &self.base, None);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// An element of the page.
pub struct Element {
    agent: ureq::Agent,
    /// `.../session/<id>/element/<eid>`
    base: String,
}

impl Element {
    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        request(
            &self.agent,
            method,
            &format!("{}{path}", self.base),
            body.as_ref(),
        )
        .unwrap_or_else(|e| panic!("WebDriver {method} element{path}: {e}"))
    }

    /// Types `text` (may contain [`keys`]) into the element.
    pub fn send_keys(&self, text: &str) {
        self.must("POST", "/value", Some(json!({ "text": text })));
    }

    pub fn click(&self) {
        self.must("POST", "/click", Some(json!({})));
    }

    /// The rendered text.
    pub fn text(&self) -> String {
        self.must("GET", "/text", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Width and height from a PNG's header.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}
