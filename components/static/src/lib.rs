//! The browser page and its assets (all UTF-8 text), compiled into the component so it needs
//! no file mounts. Answers `ETag` revalidation with 304 so repeat loads are
//! cheap, and unknown `/api/...` paths with the API's JSON 404. It also
//! serves the API's contract (`/api/openapi.json`), a file like the others.

use spin_sdk::http::{IntoResponse, Method, Request, Response, StatusCode};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// The contract is JSON like the rest of the API, so its errors are too.
const CONTRACT: Asset = Asset {
    path: chat::api::OPENAPI_PATH,
    content_type: "application/json",
    body: chat::api::OPENAPI,
};

/// One asset, compiled in from `assets/` (as `build.rs` copies it, without
/// comments), served at `/` + its path there.
macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: concat!("/", $path),
            content_type: $content_type,
            body: include_str!(concat!(env!("OUT_DIR"), "/assets/", $path)),
        }
    };
}

/// Every file under `assets/`: an e2e test checks that each one is served.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("js/api.js", "text/javascript; charset=utf-8"),
    asset!("js/events.js", "text/javascript; charset=utf-8"),
    asset!("js/format.js", "text/javascript; charset=utf-8"),
    asset!("js/storage.js", "text/javascript; charset=utf-8"),
    asset!("js/text.js", "text/javascript; charset=utf-8"),
    asset!("js/time.js", "text/javascript; charset=utf-8"),
    asset!("js/unread.js", "text/javascript; charset=utf-8"),
    asset!("js/page/actions.js", "text/javascript; charset=utf-8"),
    asset!("js/page/dom.js", "text/javascript; charset=utf-8"),
    asset!("js/page/messages.js", "text/javascript; charset=utf-8"),
    asset!("js/page/model.js", "text/javascript; charset=utf-8"),
    asset!("js/page/rooms.js", "text/javascript; charset=utf-8"),
    asset!("js/page/session.js", "text/javascript; charset=utf-8"),
    asset!("js/page/state.js", "text/javascript; charset=utf-8"),
    asset!("js/page/sync.js", "text/javascript; charset=utf-8"),
];

/// A strong validator from the content (the first 128 bits of its SHA-256),
/// stable across hosts, so any replica answers a revalidation the same way.
fn etag(body: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn text(status: StatusCode, body: &'static str) -> Response<String> {
    let mut res = Response::new(body.to_string());
    *res.status_mut() = status;
    res.headers_mut().insert(
        "content-type",
        spin_sdk::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    chat_spin::whole(secure(res))
}

/// The page's security headers (`chat::api::PAGE_HEADERS`) on a response.
fn secure(mut res: Response<String>) -> Response<String> {
    for (name, value) in chat::api::PAGE_HEADERS {
        res.headers_mut()
            .insert(name, spin_sdk::http::HeaderValue::from_static(value));
    }
    res
}

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let path = req.uri().path();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    if path == CONTRACT.path {
        if !get {
            return chat_spin::respond(chat::api::Reply::error(
                chat::ApiError::method_not_allowed("GET, HEAD"),
            ));
        }
        return serve(&req, &CONTRACT);
    }
    if path == "/api" || path.starts_with("/api/") {
        return chat_spin::respond(chat::api::not_found(path));
    }
    if !get {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        res.headers_mut().insert(
            "allow",
            spin_sdk::http::HeaderValue::from_static("GET, HEAD"),
        );
        return res;
    }
    let path = if path == "/" { "/index.html" } else { path };
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    serve(&req, asset)
}

/// An asset for a GET or HEAD, or 304 when the client's copy is current.
fn serve(req: &Request, asset: &Asset) -> Response<String> {
    let tag = etag(asset.body);
    let fresh = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    // A HEAD gets the GET's body too: the host sends only the head, with
    // the length the GET would have.
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, String::new())
    } else {
        (StatusCode::OK, asset.body.to_string())
    };
    Response::builder()
        .status(status)
        .header("content-type", asset.content_type)
        .header("etag", tag)
        // Revalidate every time: the names are not content-hashed, so a new
        // deploy must be picked up at once; a 304 costs a few bytes.
        .header("cache-control", "no-cache")
        .body(body)
        .map(secure)
        // A 304 has no body and must not claim a length other than the
        // 200's: it carries none.
        .map(|res| if fresh { res } else { chat_spin::whole(res) })
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}
