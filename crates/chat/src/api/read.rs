//! `GET|PUT /api/read`: how far an account has read each room. A page
//! keeps this in the browser for everyone; for an account it is kept here
//! too, so its other devices show "new since you were last here" where this
//! one left off. Guests have nowhere to keep it but their browser.

use super::auth::session_claims;
use super::reply::{Reply, refused, reply, unknown_room};
use super::request::Request;
use crate::config::Config;
use crate::error::ApiError;
use crate::model::{NewReadMark, ReadMark, ReadMarkList, parse_json};
use crate::store::{AccountRef, MarkRead, Marked, ReadMarks, Refusal, Store};
use crate::validate;

/// `GET`: every mark of the account.
pub(super) async fn list(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(list_marks(req, cfg, now_unix, store).await)
}

/// `PUT`: the account has read a room up to an event id.
pub(super) async fn mark(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(set_mark(req, cfg, now_unix, store).await)
}

fn account(req: &Request<'_>, cfg: &Config, now_unix: i64) -> Result<AccountRef, ApiError> {
    let claims = session_claims(req, cfg, now_unix)?;
    let a = claims.account.ok_or_else(|| {
        ApiError::forbidden(
            "not_an_account",
            "only an account keeps how far it has read on the server; \
             a guest's page keeps it in the browser",
        )
    })?;
    Ok(AccountRef {
        id: a.id,
        version: a.version,
    })
}

async fn list_marks(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let account = account(req, cfg, now_unix)?;
    let read = store
        .run(&ReadMarks { account })
        .await?
        .ok_or_else(|| refused(Refusal::SignedOut))?;
    Ok(Reply::json(200, &ReadMarkList { read }))
}

async fn set_mark(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let account = account(req, cfg, now_unix)?;
    let new: NewReadMark = parse_json(req.content_type, req.body)?;
    if !validate::is_room_id(&new.room) {
        return Err(unknown_room());
    }
    if new.id < 0 {
        return Err(ApiError::bad_request(
            "invalid_id",
            "id must be the id of an event of the room (0 or more); \
             take it from the cursor of GET /api/poll",
        ));
    }
    match store
        .run(&MarkRead {
            account,
            room: &new.room,
            id: new.id,
        })
        .await?
    {
        Marked::Marked(last_read) => Ok(Reply::json(
            200,
            &ReadMark {
                room: new.room,
                last_read,
            },
        )),
        Marked::UnknownRoom => Err(unknown_room()),
        Marked::SignedOut => Err(refused(Refusal::SignedOut)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn an_account_keeps_its_marks_and_a_guest_is_told_why_not() {
        let store = MemStore::seeded();
        let ann = register(&store, "ann");
        let guest = login("gus");
        for n in 0..5 {
            post(&store, &guest, "general", "hi", &format!("c{n}"));
        }
        let put = |auth: &str, b: &str| call(&store, &cfg(), "PUT", "/api/read", Some(auth), b);
        let r = put(&ann, r#"{"room":"general","id":3}"#);
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"room":"general","last_read":3}"#)
        );
        assert_common_headers(&r);
        // Never back, never past the room's last id.
        assert_eq!(
            body(&put(&ann, r#"{"room":"general","id":1}"#))["last_read"],
            3
        );
        assert_eq!(
            body(&put(&ann, r#"{"room":"general","id":99}"#))["last_read"],
            5
        );
        let r = call(&store, &cfg(), "GET", "/api/read", Some(&ann), "");
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"read":{"general":5}}"#)
        );
        for (auth, b, status, code) in [
            (
                guest.as_str(),
                r#"{"room":"general","id":1}"#,
                403,
                "not_an_account",
            ),
            (
                ann.as_str(),
                r#"{"room":"nope","id":1}"#,
                404,
                "unknown_room",
            ),
            (
                ann.as_str(),
                r#"{"room":"general","id":-1}"#,
                400,
                "invalid_id",
            ),
            (ann.as_str(), r#"{"room":"general"}"#, 400, "invalid_json"),
            (
                "Bearer x",
                r#"{"room":"general","id":1}"#,
                401,
                "invalid_token",
            ),
        ] {
            let r = put(auth, b);
            assert_eq!((r.status, error_code(&r).as_str()), (status, code), "{b}");
        }
        let r = call(&store, &cfg(), "GET", "/api/read", Some(&guest), "");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "not_an_account"));
    }
}
