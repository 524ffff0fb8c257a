//! The behaviour every [`Store`] must have: [`store_suite`] runs on the
//! in-memory store in the domain's unit tests and on the SQL functions of a
//! real Postgres in `crates/e2e/tests/store_suite.rs`.

use crate::model::{EventKind, Message, Room};
use crate::model::{Page, PollQuery};
use crate::store::*;

/// The last message id a room lists, `None` when the room is not listed.
async fn last_id(store: &impl Store, room: &str) -> Option<i64> {
    let rooms = store.run(&ListRooms).await.expect("list rooms");
    rooms
        .iter()
        .find(|r| r.id == room)
        .map(|r| r.last_message_id)
}

/// The behaviour every [`Store`] must have, on a store that has a room
/// `general` (and any others). Creates rooms named `suite-*`, so it needs a
/// store it has not run on before. Panics, naming the check, on the first
/// difference.
pub async fn store_suite(store: &impl Store) {
    let ids = |page: &[Message]| page.iter().map(|m| m.id).collect::<Vec<_>>();
    let page = |after: Option<i64>, before: Option<i64>, limit: i64| match (after, before) {
        (Some(after), Some(before)) => Page::Between {
            after,
            before,
            limit,
        },
        (Some(after), None) => Page::After { after, limit },
        (None, Some(before)) => Page::Before { before, limit },
        (None, None) => Page::Latest { limit },
    };
    store.run(&Health).await.expect("health");

    // Rooms: a new one is listed last, with no messages; its id is unique.
    let before = store.run(&ListRooms).await.expect("list rooms");
    assert!(before.iter().any(|r| r.id == "general"), "general exists");
    let room = store
        .run(&CreateRoom {
            members_only: false,
            by: Moderator::OPERATOR,
            id: "suite-a",
            title: "Suite A",
        })
        .await
        .expect("create room")
        .done()
        .expect("a new id creates a room");
    assert_eq!(
        (room.id.as_str(), room.title.as_str(), room.last_message_id),
        ("suite-a", "Suite A", 0)
    );
    let again = store
        .run(&CreateRoom {
            members_only: false,
            by: Moderator::OPERATOR,
            id: "suite-a",
            title: "Other title",
        })
        .await
        .expect("create room");
    assert_eq!(again, RoomSet::Exists, "a taken id creates nothing");
    let after = store.run(&ListRooms).await.expect("list rooms");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        after.last(),
        Some(&room),
        "the new room is listed last, unchanged"
    );

    // Unknown rooms are an outcome, for every kind of page and for a post.
    for p in [
        page(Some(0), None, 10),
        page(None, Some(5), 10),
        page(None, None, 10),
        page(Some(0), Some(5), 10),
    ] {
        assert_eq!(
            store
                .run(&ReadPage {
                    room: "suite-none",
                    page: p
                })
                .await
                .expect("page"),
            None,
            "{p:?}"
        );
    }
    let sent = store
        .run(&Post {
            reply_to: None,
            writer: Default::default(),
            room: "suite-none",
            author: "a",
            body: "b",
            client_id: "c",
            session: None,
            limit: Limit::OFF,
        })
        .await
        .expect("send");
    assert_eq!(sent, Posted::UnknownRoom, "a post to an unknown room");
    // An empty room: empty pages, not an unknown room.
    for p in [
        page(Some(0), None, 10),
        page(None, Some(5), 10),
        page(None, None, 10),
        page(Some(0), Some(5), 10),
    ] {
        assert_eq!(
            store
                .run(&ReadPage {
                    room: "suite-a",
                    page: p
                })
                .await
                .expect("page"),
            Some(vec![]),
            "{p:?}"
        );
    }

    // Sending: dense ids from 1; a replay returns the original, unchanged.
    let send = |author: &'static str, body: String, client_id: String, limit: Limit| async move {
        store
            .run(&Post {
                reply_to: None,
                writer: Default::default(),
                room: "suite-a",
                author,
                body: &body,
                client_id: &client_id,
                session: None,
                limit,
            })
            .await
            .expect("send")
    };
    for i in 1..=5 {
        let Posted::Created(m) = send("alice", format!("m{i}"), format!("c{i}"), Limit::OFF).await
        else {
            panic!("message {i} is created");
        };
        assert_eq!(
            (m.id, m.body.clone(), m.room.as_str()),
            (i, format!("m{i}"), "suite-a")
        );
        assert!(
            m.sent_at.len() == 24 && m.sent_at.ends_with('Z') && &m.sent_at[10..11] == "T",
            "sent_at is RFC 3339 UTC with milliseconds: {}",
            m.sent_at
        );
    }
    let replay = send("alice", "edited?".into(), "c1".into(), Limit::OFF).await;
    assert!(
        matches!(&replay, Posted::Replayed(m) if m.id == 1 && m.body == "m1"),
        "a replay: {replay:?}"
    );
    let other = send("bob", "hello".into(), "c1".into(), Limit::OFF).await;
    assert!(
        matches!(&other, Posted::Created(m) if m.id == 6),
        "another author's client_id: {other:?}"
    );
    assert_eq!(
        last_id(store, "suite-a").await,
        Some(6),
        "the room's counter follows"
    );

    // Limits: per author per room, counted before storing, never for a
    // replay; with one token a minute, the wait is up to a minute.
    let limit = Limit {
        burst: 2,
        per_minute: 1,
    };
    for i in 1..=2 {
        let p = send("carol", format!("l{i}"), format!("l{i}"), limit).await;
        assert!(matches!(p, Posted::Created(_)), "within the burst: {p:?}");
    }
    let p = send("carol", "l3".into(), "l3".into(), limit).await;
    assert!(
        matches!(p, Posted::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
        "over the burst: {p:?}"
    );
    let p = send("carol", "again".into(), "l1".into(), limit).await;
    assert!(
        matches!(p, Posted::Replayed(_)),
        "a replay is never limited: {p:?}"
    );
    let p = send("dave", "hi".into(), "d1".into(), limit).await;
    assert!(
        matches!(p, Posted::Created(_)),
        "another author has a bucket of his own: {p:?}"
    );
    assert_eq!(
        last_id(store, "suite-a").await,
        Some(9),
        "the limited post stored nothing"
    );
    let session = Limit {
        burst: 1,
        per_minute: 1,
    };
    assert_eq!(
        store
            .run(&GuestJoin {
                name_key: "suite-guest",
                client: "suite-client",
                limit: session
            })
            .await
            .expect("session"),
        Joined::Ok
    );
    let wait = store
        .run(&GuestJoin {
            name_key: "suite-guest",
            client: "suite-client",
            limit: session,
        })
        .await
        .expect("session");
    assert!(
        matches!(wait, Joined::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
        "{wait:?}"
    );
    assert_eq!(
        store
            .run(&GuestJoin {
                name_key: "suite-guest",
                client: "suite-other",
                limit: session
            })
            .await
            .expect("session"),
        Joined::Ok
    );
    assert_eq!(
        store
            .run(&GuestJoin {
                name_key: "suite-guest",
                client: "suite-client",
                limit: Limit::OFF
            })
            .await
            .expect("session"),
        Joined::Ok
    );

    // Pages: ascending, bounded, from the cursor.
    let read = |p: Page| async move {
        store
            .run(&ReadPage {
                room: "suite-a",
                page: p,
            })
            .await
            .expect("page")
            .expect("room")
    };
    assert_eq!(ids(&read(page(Some(0), None, 3)).await), [1, 2, 3]);
    assert_eq!(ids(&read(page(Some(4), None, 2)).await), [5, 6]);
    assert_eq!(ids(&read(page(Some(9), None, 10)).await), Vec::<i64>::new());
    assert_eq!(
        ids(&read(page(Some(99), None, 10)).await),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&read(page(None, None, 2)).await), [8, 9]);
    assert_eq!(
        ids(&read(page(None, None, 100)).await),
        [1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(ids(&read(page(None, Some(4), 2)).await), [2, 3]);
    assert_eq!(ids(&read(page(None, Some(1), 10)).await), Vec::<i64>::new());
    assert_eq!(ids(&read(page(Some(2), Some(9), 3)).await), [3, 4, 5]);
    assert_eq!(ids(&read(page(Some(6), Some(9), 10)).await), [7, 8]);
    assert_eq!(
        ids(&read(page(Some(5), Some(3), 10)).await),
        Vec::<i64>::new()
    );
    let first = read(page(Some(0), None, 1)).await;
    assert_eq!(
        (
            first[0].author.as_str(),
            first[0].body.as_str(),
            first[0].client_id.as_str()
        ),
        ("alice", "m1", "c1")
    );
    // The single poll: the open room after the cursor, every room's newest
    // id, in one snapshot; the listed rooms only when a list is given.
    let poll = |room: &'static str, after: i64, limit: i64, rooms: Option<Vec<&'static str>>| {
        let q = PollQuery {
            room: room.into(),
            after,
            limit,
            known: None,
            rooms: rooms.map(|ids| ids.into_iter().map(Into::into).collect()),
        };
        async move { store.run(&Poll::new(&q)).await.expect("poll") }
    };
    let p = poll("suite-a", 6, 2, None).await.expect("a known room");
    assert_eq!(ids(&p.messages), [7, 8]);
    assert_eq!(p.source, ReadSource::PRIMARY, "the suite runs on a primary");
    let listed: Vec<Room> = store
        .run(&ListRooms)
        .await
        .expect("list rooms")
        .into_iter()
        .map(|r| Room {
            members_only: None,
            ..r
        })
        .collect();
    assert_eq!(
        p.rooms, listed,
        "every room, as listed (a poll's rooms leave out members_only)"
    );
    let p = poll(
        "suite-a",
        9,
        100,
        Some(vec!["general", "suite-a", "suite-none"]),
    )
    .await
    .expect("a known room");
    assert!(p.messages.is_empty(), "nothing after the newest");
    assert_eq!(
        p.rooms
            .iter()
            .map(|r| (r.id.as_str(), r.last_message_id))
            .filter(|(id, _)| *id == "suite-a")
            .collect::<Vec<_>>(),
        [("suite-a", 9)]
    );
    assert_eq!(
        p.rooms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["general", "suite-a"],
        "the listed rooms that exist, in the list's order of creation"
    );
    assert_eq!(
        poll("suite-none", 0, 10, None).await,
        None,
        "an unknown room"
    );
    assert_eq!(
        store.run(&Source).await.expect("read source"),
        ReadSource::PRIMARY
    );

    events_suite(store).await;
    accounts_suite(store).await;
    edit_limit_suite(store).await;
    replies_and_reactions_suite(store).await;
    read_marks_suite(store).await;

    // Other rooms are untouched.
    assert_eq!(
        store
            .run(&ReadPage {
                room: "general",
                page: page(Some(0), None, 500)
            })
            .await
            .expect("page")
            .map(|p| p.iter().filter(|m| m.room != "general").count()),
        Some(0)
    );
}

/// Edits take from the author's bucket as posts do (so editing cannot
/// flood a room either), in a room of its own (`suite-l`).
/// Accounts: claiming a name, signing in, what a claimed name and a
/// members-only room refuse, signing out by a new password, and mutes that
/// hold an account or a guest's address.
async fn accounts_suite(store: &impl Store) {
    let limit = Limit {
        burst: 2,
        per_minute: 1,
    };
    // A free name may be claimed; the claim makes it taken.
    let claim = |key: &'static str, client: &'static str| async move {
        store
            .run(&ClaimAllowed {
                name_key: key,
                client,
                limit: Limit::OFF,
            })
            .await
            .expect("claim allowed")
    };
    assert_eq!(claim("suite-ann", "suite-c1").await, ClaimCheck::Ok);
    let ann = store
        .run(&CreateAccount {
            name: "Suite Ann",
            name_key: "suite-ann",
            hash: "$argon2id$suite",
        })
        .await
        .expect("create account")
        .expect("a free name");
    assert_eq!((ann.name.as_str(), ann.moderator), ("Suite Ann", false));
    let again = store
        .run(&CreateAccount {
            name: "SUITE ANN",
            name_key: "suite-ann",
            hash: "$argon2id$other",
        })
        .await
        .expect("create account");
    assert_eq!(again, None, "one account per name key");
    assert_eq!(claim("suite-ann", "suite-c1").await, ClaimCheck::NameTaken);

    // Guests may not join under it; under another name they may.
    let join = |key: &'static str, client: &'static str| async move {
        store
            .run(&GuestJoin {
                name_key: key,
                client,
                limit: Limit::OFF,
            })
            .await
            .expect("guest join")
    };
    assert_eq!(join("suite-ann", "suite-c2").await, Joined::NameClaimed);
    assert_eq!(join("suite-gus", "suite-c2").await, Joined::Ok);

    // Signing in reads the account (or none), after the buckets.
    let login = |key: &'static str, client: &'static str, limit: Limit| async move {
        store
            .run(&LoginStart {
                name_key: key,
                client,
                limit,
            })
            .await
            .expect("login start")
    };
    let Signin::Found { account, hash, .. } = login("suite-ann", "suite-c3", Limit::OFF).await
    else {
        panic!("no limit, no wait")
    };
    assert_eq!(account.as_ref(), Some(&ann));
    assert_eq!(hash.as_deref(), Some("$argon2id$suite"));
    let Signin::Found { account, hash, .. } = login("suite-nobody", "suite-c3", Limit::OFF).await
    else {
        panic!("no limit, no wait")
    };
    assert_eq!(
        (account, hash),
        (None, None),
        "an unknown name reads as none"
    );
    // The name's bucket holds `burst` tries wherever they come from.
    assert!(matches!(
        login("suite-ann", "suite-c4", limit).await,
        Signin::Found { .. }
    ));
    assert!(matches!(
        login("suite-ann", "suite-c5", limit).await,
        Signin::Found { .. }
    ));
    assert!(matches!(
        login("suite-ann", "suite-c6", limit).await,
        Signin::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)
    ));
    // An address's bucket holds twice that, whatever names it tries.
    for (i, key) in ["suite-k1", "suite-k2", "suite-k3", "suite-k4"]
        .into_iter()
        .enumerate()
    {
        assert!(
            matches!(login(key, "suite-c7", limit).await, Signin::Found { .. }),
            "try {i}"
        );
    }
    assert!(matches!(
        login("suite-k5", "suite-c7", limit).await,
        Signin::RateLimited { .. }
    ));

    // Writing: a guest under a claimed name, a guest in a members-only
    // room, an account signed out by a new password.
    let room = "suite-members";
    assert!(
        store
            .run(&CreateRoom {
                id: room,
                title: "Members",
                members_only: false,
                by: Moderator::OPERATOR,
            })
            .await
            .expect("create")
            .done()
            .is_some()
    );
    let ann_ref = ann.reference();
    let as_ann = Writer {
        account: Some(ann_ref),
        name_key: "suite-ann",
        client: "suite-c1",
    };
    let impostor = Writer {
        account: None,
        name_key: "suite-ann",
        client: "suite-c2",
    };
    let gus = Writer {
        account: None,
        name_key: "suite-gus",
        client: "suite-c2",
    };
    let post = |author: &'static str, client_id: &'static str, writer: Writer<'static>| async move {
        store
            .run(&Post {
                reply_to: None,
                room,
                author,
                body: "hi",
                client_id,
                session: Some("suite-s"),
                limit: Limit::OFF,
                writer,
            })
            .await
            .expect("post")
    };
    assert!(matches!(
        post("Suite Ann", "a1", as_ann).await,
        Posted::Created(_)
    ));
    assert_eq!(
        post("suite ann", "i1", impostor).await,
        Posted::Refused(Refusal::NameClaimed)
    );
    assert!(matches!(post("gus", "g1", gus).await, Posted::Created(_)));
    // Only a moderator changes a room: a member's account is refused.
    let as_member = Moderator {
        actor: "Suite Ann",
        account: Some(ann_ref),
    };
    let set = |members_only: bool, by: Moderator<'static>| async move {
        store
            .run(&SetMembersOnly {
                room,
                members_only,
                by,
            })
            .await
            .expect("set room")
    };
    assert_eq!(set(true, as_member).await, RoomSet::NotModerator);
    let RoomSet::Done(closed) = set(true, Moderator::OPERATOR).await else {
        panic!("the operator changes rooms")
    };
    assert_eq!(closed.members_only, Some(true));
    assert_eq!(
        store
            .run(&SetMembersOnly {
                room: "suite-none",
                members_only: true,
                by: Moderator::OPERATOR,
            })
            .await
            .expect("set room"),
        RoomSet::UnknownRoom
    );
    let listed = store.run(&ListRooms).await.expect("list rooms");
    assert_eq!(
        listed
            .iter()
            .find(|r| r.id == room)
            .and_then(|r| r.members_only),
        Some(true)
    );
    assert_eq!(
        post("gus", "g2", gus).await,
        Posted::Refused(Refusal::MembersOnly)
    );
    assert!(matches!(
        post("Suite Ann", "a2", as_ann).await,
        Posted::Created(_)
    ));
    // Guests are still shown present there.
    let here = store
        .run(&Announce {
            room,
            key: "suite-gus",
            name: "gus",
            writer: gus,
        })
        .await
        .expect("announce");
    assert!(matches!(here, Ok(Some(names)) if names.contains(&"gus".to_string())));
    assert_eq!(
        store
            .run(&Announce {
                room,
                key: "suite-impostor",
                name: "suite ann",
                writer: impostor,
            })
            .await
            .expect("announce"),
        Err(Refusal::NameClaimed)
    );
    // A new password: the old version is signed out, a stale change is
    // refused.
    let version = store
        .run(&SetPassword {
            account: ann_ref,
            hash: "$argon2id$new",
        })
        .await
        .expect("set password")
        .expect("current version");
    assert_eq!(version, ann.version + 1);
    assert_eq!(
        store
            .run(&SetPassword {
                account: ann_ref,
                hash: "$argon2id$stale",
            })
            .await
            .expect("set password"),
        None
    );
    assert_eq!(
        post("Suite Ann", "a3", as_ann).await,
        Posted::Refused(Refusal::SignedOut)
    );
    let as_ann = Writer {
        account: Some(AccountRef {
            id: ann.id,
            version,
        }),
        ..as_ann
    };
    assert!(matches!(
        post("Suite Ann", "a4", as_ann).await,
        Posted::Created(_)
    ));

    // Mutes: an account's holds the account under any name; a guest's
    // holds its name and the addresses its sessions came from.
    let mute = |name: &'static str, key: &'static str, secs: i64| async move {
        store
            .run(&MuteName {
                name,
                name_key: key,
                room: None,
                secs,
                by: Moderator::OPERATOR,
                recent_secs: 86_400,
            })
            .await
            .expect("mute")
    };
    assert!(matches!(
        mute("Suite Ann", "suite-ann", 600).await,
        Muted::Until(_)
    ));
    assert!(matches!(
        post("Another Name", "a5", as_ann).await,
        Posted::Muted { .. }
    ));
    assert_eq!(mute("Suite Ann", "suite-ann", 0).await, Muted::Lifted);
    assert!(matches!(
        post("Suite Ann", "a6", as_ann).await,
        Posted::Created(_)
    ));
    let RoomSet::Done(_) = set(false, Moderator::OPERATOR).await else {
        panic!("opened again")
    };
    // Another guest who came from gus's address before the mute.
    assert_eq!(join("suite-early", "suite-c2").await, Joined::Ok);
    let early = Writer {
        account: None,
        name_key: "suite-early",
        client: "suite-c2",
    };
    assert!(matches!(
        mute("gus", "suite-gus", 600).await,
        Muted::Until(_)
    ));
    assert!(
        matches!(post("early", "e1", early).await, Posted::Created(_)),
        "a guest there before the mute is not held by it"
    );
    let renamed = Writer {
        account: None,
        name_key: "suite-gus2",
        client: "suite-c2",
    };
    assert!(
        matches!(post("gus2", "g3", renamed).await, Posted::Muted { .. }),
        "a new name from a muted guest's address"
    );
    let elsewhere = Writer {
        account: None,
        name_key: "suite-gus3",
        client: "suite-c9",
    };
    assert!(matches!(
        post("gus3", "g4", elsewhere).await,
        Posted::Created(_)
    ));
    assert!(matches!(
        claim("suite-new", "suite-c2").await,
        ClaimCheck::Muted { .. }
    ));
    assert_eq!(mute("gus", "suite-gus", 0).await, Muted::Lifted);
    assert!(matches!(
        post("gus2", "g5", renamed).await,
        Posted::Created(_)
    ));
    let not_mod = store
        .run(&MuteName {
            name: "gus",
            name_key: "suite-gus",
            room: None,
            secs: 60,
            by: as_member,
            recent_secs: 60,
        })
        .await
        .expect("mute");
    assert_eq!(not_mod, Muted::NotModerator);

    // A rename: the new name is the account's, the old one free, older
    // sessions signed out; a taken name stays taken.
    let current = AccountRef {
        id: ann.id,
        version,
    };
    store
        .run(&CreateAccount {
            name: "Suite Bea",
            name_key: "suite-bea",
            hash: "$argon2id$bea",
        })
        .await
        .expect("create account")
        .expect("a free name");
    let rename = |account: AccountRef, key: &'static str| async move {
        store
            .run(&RenameAccount {
                account,
                name: "Renamed",
                name_key: key,
            })
            .await
            .expect("rename")
    };
    assert_eq!(rename(current, "suite-bea").await, Renamed::NameTaken);
    assert_eq!(rename(ann_ref, "suite-anne").await, Renamed::SignedOut);
    let Renamed::Renamed(anne) = rename(current, "suite-anne").await else {
        panic!("a free name")
    };
    assert_eq!(
        (anne.id, anne.name.as_str(), anne.version),
        (ann.id, "Renamed", version + 1)
    );
    assert_eq!(
        claim("suite-ann", "suite-c1").await,
        ClaimCheck::Ok,
        "the old name is free"
    );
    assert_eq!(claim("suite-anne", "suite-c1").await, ClaimCheck::NameTaken);
}

async fn edit_limit_suite(store: &impl Store) {
    let room = "suite-l";
    store
        .run(&CreateRoom {
            members_only: false,
            by: Moderator::OPERATOR,
            id: room,
            title: "Limits",
        })
        .await
        .expect("create")
        .done()
        .expect("a new room");
    let posted = store
        .run(&Post {
            reply_to: None,
            writer: Default::default(),
            room,
            author: "erin",
            body: "typo",
            client_id: "l1",
            session: Some("se"),
            limit: Limit::OFF,
        })
        .await
        .expect("post");
    assert!(
        matches!(posted, Posted::Created(ref m) if m.id == 1),
        "{posted:?}"
    );
    let limit = Limit {
        burst: 1,
        per_minute: 1,
    };
    let edit = |body| Edit {
        writer: Default::default(),
        room,
        id: 1,
        session: Some("se"),
        body,
        window_secs: 900,
        limit,
    };
    let first = store.run(&edit("fixed")).await.expect("edit");
    assert!(
        matches!(first, Edited::Edited(_)),
        "within the burst: {first:?}"
    );
    let second = store.run(&edit("fixed again")).await.expect("edit");
    assert!(
        matches!(second, Edited::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
        "over the burst: {second:?}"
    );
    assert_eq!(
        last_id(store, room).await,
        Some(2),
        "the limited edit stored nothing"
    );
}

/// The suite's part for edits, removals, mutes and presence, in a room of
/// its own (`suite-e`).
async fn events_suite(store: &impl Store) {
    let room = "suite-e";
    assert!(
        store
            .run(&CreateRoom {
                members_only: false,
                by: Moderator::OPERATOR,
                id: room,
                title: "Events"
            })
            .await
            .expect("create")
            .done()
            .is_some()
    );
    let post = |author, body, client_id, session| Post {
        reply_to: None,
        writer: Default::default(),
        room,
        author,
        body,
        client_id,
        session,
        limit: Limit::OFF,
    };
    let created = |p: Posted| match p {
        Posted::Created(m) => m,
        other => panic!("expected a new message, got {other:?}"),
    };
    let m1 = created(
        store
            .run(&post("alice", "first", "e1", Some("sa")))
            .await
            .expect("post"),
    );
    assert_eq!((m1.id, m1.session.as_deref()), (1, Some("sa")));
    assert_eq!(m1.kind, EventKind::Message);
    created(
        store
            .run(&post("bob", "second", "e2", Some("sb")))
            .await
            .expect("post"),
    );
    let m3 = created(
        store
            .run(&post("carol", "old token", "e3", None))
            .await
            .expect("post"),
    );
    assert_eq!(m3.session, None, "a token without a session id");

    // Edits: only by the message's session, within the window, and a
    // retried edit (the same text) writes nothing.
    let edit = |id, session, body, window_secs| Edit {
        writer: Default::default(),
        room,
        id,
        session,
        body,
        window_secs,
        limit: Limit::OFF,
    };
    let edited = |e: Edit<'static>| async move { store.run(&e).await.expect("edit") };
    assert_eq!(
        edited(edit(1, Some("sb"), "x", 900)).await,
        Edited::NotYours
    );
    assert_eq!(edited(edit(3, None, "x", 900)).await, Edited::NotYours);
    assert_eq!(
        edited(edit(99, Some("sa"), "x", 900)).await,
        Edited::UnknownMessage
    );
    assert_eq!(
        store
            .run(&Edit {
                writer: Default::default(),
                room: "suite-none",
                ..edit(1, Some("sa"), "x", 900)
            })
            .await
            .expect("edit"),
        Edited::UnknownRoom
    );
    assert!(matches!(
        edited(edit(1, Some("sa"), "x", 0)).await,
        Edited::WindowClosed(m) if m.body == "first" && m.edited_at.is_none()
    ));
    let Edited::Edited(now) = edited(edit(1, Some("sa"), "first, fixed", 900)).await else {
        panic!("the author edits within the window");
    };
    assert_eq!((now.id, now.body.as_str()), (1, "first, fixed"));
    assert!(now.edited_at.is_some());
    assert!(matches!(
        edited(edit(1, Some("sa"), "first, fixed", 900)).await,
        Edited::Unchanged(m) if m == now
    ));
    assert_eq!(last_id(store, room).await, Some(4), "one edit, one new id");
    assert_eq!(
        edited(edit(4, Some("sa"), "x", 900)).await,
        Edited::UnknownMessage,
        "an edit is not a message"
    );

    // Removals: the author's session any time, a moderator any message;
    // twice is the same answer and writes nothing.
    let remove = |id, by| async move {
        store
            .run(&Remove {
                room,
                id,
                by,
                account: None,
            })
            .await
            .expect("remove")
    };
    assert_eq!(
        remove(2, Remover::Author(Some("sa"))).await,
        Removed::NotYours
    );
    assert_eq!(remove(3, Remover::Author(None)).await, Removed::NotYours);
    assert_eq!(
        remove(99, Remover::Author(Some("sa"))).await,
        Removed::UnknownMessage
    );
    let Removed::Removed(gone) = remove(1, Remover::Author(Some("sa"))).await else {
        panic!("the author removes");
    };
    assert_eq!(
        (gone.body.as_str(), gone.removed_by.as_deref()),
        ("", Some("author"))
    );
    assert!(gone.removed_at.is_some());
    assert_eq!(
        remove(1, Remover::Author(Some("sa"))).await,
        Removed::AlreadyRemoved(gone.clone())
    );
    let Removed::Removed(by_mod) = remove(3, Remover::Moderator("suite-admin", None)).await else {
        panic!("a moderator removes any message");
    };
    assert_eq!(by_mod.removed_by.as_deref(), Some("moderator"));
    assert!(matches!(
        remove(3, Remover::Moderator("suite-admin", None)).await,
        Removed::AlreadyRemoved(_)
    ));
    assert!(matches!(
        edited(edit(1, Some("sa"), "again", 900)).await,
        Edited::Removed(_)
    ));
    assert_eq!(last_id(store, room).await, Some(6));

    // After a cursor: every event, texts erased; scrolling back: messages
    // as they are now.
    let events = store
        .run(&ReadPage {
            room,
            page: Page::After {
                after: 0,
                limit: 100,
            },
        })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(
        events
            .iter()
            .map(|m| (m.id, m.kind, m.target))
            .collect::<Vec<_>>(),
        [
            (1, EventKind::Message, None),
            (2, EventKind::Message, None),
            (3, EventKind::Message, None),
            (4, EventKind::Edit, Some(1)),
            (5, EventKind::Removal, Some(1)),
            (6, EventKind::Removal, Some(3)),
        ]
    );
    assert_eq!(events[0], gone, "the message as it is now");
    assert_eq!(events[3].body, "", "a removal erases the edits' texts too");
    assert_eq!(events[3].client_id, "");
    assert_eq!(
        (
            events[4].removed_by.as_deref(),
            events[5].removed_by.as_deref()
        ),
        (Some("author"), Some("moderator"))
    );
    let back = store
        .run(&ReadPage {
            room,
            page: Page::Latest { limit: 10 },
        })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(back.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(back[1].body, "second");
    let back = store
        .run(&ReadPage {
            room,
            page: Page::Before {
                before: 3,
                limit: 10,
            },
        })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(back.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
    let q = PollQuery {
        room: room.into(),
        after: 3,
        limit: 100,
        known: None,
        rooms: None,
    };
    let polled = store
        .run(&Poll::new(&q))
        .await
        .expect("poll")
        .expect("room");
    assert_eq!(
        polled.messages,
        events[3..],
        "a poll carries the same events"
    );

    // Mutes: per room or everywhere, any case of the name; refused posts
    // and edits change nothing; a duration of 0 lifts it.
    let Muted::Until(until) = store
        .run(&MuteName {
            name: "Dave",
            name_key: &crate::names::key("Dave"),
            room: Some(room),
            secs: 600,
            by: Moderator {
                actor: "suite-admin",
                account: None,
            },
            recent_secs: 86_400,
        })
        .await
        .expect("mute")
    else {
        panic!("muted");
    };
    assert_eq!(
        store
            .run(&post("dave", "hi", "d1", Some("sd")))
            .await
            .expect("post"),
        Posted::Muted {
            until: until.clone()
        }
    );
    created(
        store
            .run(&Post {
                reply_to: None,
                writer: Default::default(),
                room: "general",
                ..post("dave", "hi", "d1", Some("sd"))
            })
            .await
            .expect("post"),
    );
    assert_eq!(
        store
            .run(&MuteName {
                name: "DAVE",
                name_key: &crate::names::key("DAVE"),
                room: Some(room),
                secs: 0,
                by: Moderator {
                    actor: "suite-admin",
                    account: None,
                },
                recent_secs: 86_400,
            })
            .await
            .expect("unmute"),
        Muted::Lifted
    );
    let d = created(
        store
            .run(&post("dave", "hi", "d1", Some("sd")))
            .await
            .expect("post"),
    );
    assert_eq!(d.id, 7, "the refused post took no id");
    assert!(matches!(
        store
            .run(&MuteName {
                name: "dave",
                name_key: &crate::names::key("dave"),
                room: None,
                secs: 600,
                by: Moderator {
                    actor: "suite-admin",
                    account: None,
                },
                recent_secs: 86_400,
            })
            .await
            .expect("mute"),
        Muted::Until(_)
    ));
    assert!(matches!(
        edited(edit(7, Some("sd"), "hello", 900)).await,
        Edited::Muted { .. }
    ));
    assert!(matches!(
        store
            .run(&Post {
                reply_to: None,
                writer: Default::default(),
                room: "general",
                ..post("dave", "again", "d2", Some("sd"))
            })
            .await
            .expect("post"),
        Posted::Muted { .. }
    ));
    assert_eq!(
        store
            .run(&MuteName {
                name: "dave",
                name_key: &crate::names::key("dave"),
                room: Some("suite-none"),
                secs: 60,
                by: Moderator {
                    actor: "suite-admin",
                    account: None,
                },
                recent_secs: 86_400,
            })
            .await
            .expect("mute"),
        Muted::UnknownRoom
    );
    store
        .run(&MuteName {
            name: "dave",
            name_key: &crate::names::key("dave"),
            room: None,
            secs: 0,
            by: Moderator {
                actor: "suite-admin",
                account: None,
            },
            recent_secs: 86_400,
        })
        .await
        .expect("unmute");
    assert_eq!(last_id(store, room).await, Some(7));

    // Presence: names by session, each once, sorted; leaving drops one.
    let here = |key, name| async move {
        store
            .run(&Announce {
                room,
                key,
                name,
                writer: Writer::default(),
            })
            .await
            .expect("announce")
            .expect("a guest with no key is never refused")
    };
    assert_eq!(here("sb", "bob").await, Some(vec!["bob".to_string()]));
    assert_eq!(
        here("sa", "alice").await,
        Some(vec!["alice".into(), "bob".into()])
    );
    assert_eq!(
        here("sa2", "alice").await,
        Some(vec!["alice".into(), "bob".into()])
    );
    let polled = store
        .run(&Poll::new(&q))
        .await
        .expect("poll")
        .expect("room");
    assert_eq!(polled.present, ["alice", "bob"]);
    assert_eq!(
        store.run(&Leave { room, key: "sb" }).await.expect("leave"),
        Some(vec!["alice".to_string()])
    );
    assert_eq!(
        store
            .run(&Announce {
                room: "suite-none",
                key: "sa",
                name: "alice",
                writer: Writer::default(),
            })
            .await
            .expect("announce"),
        Ok(None)
    );
    assert_eq!(
        store
            .run(&Leave {
                room: "suite-none",
                key: "sa"
            })
            .await
            .expect("leave"),
        None
    );
}

/// Replies and reactions (`suite-r`): a reply names a message of its room
/// that is not removed; a person has each emoji once per message; both are
/// events of the log, pass the writer's gate, and a removal leaves replies
/// as they are while its message takes no more reactions.
async fn replies_and_reactions_suite(store: &impl Store) {
    let room = "suite-r";
    for id in [room, "suite-r2"] {
        assert!(
            store
                .run(&CreateRoom {
                    members_only: false,
                    by: Moderator::OPERATOR,
                    id,
                    title: "Replies",
                })
                .await
                .expect("create")
                .done()
                .is_some()
        );
    }
    let post = |room, author, body, client_id, session, reply_to| Post {
        reply_to,
        writer: Default::default(),
        room,
        author,
        body,
        client_id,
        session: Some(session),
        limit: Limit::OFF,
    };
    let react = |id, author, session, emoji, on| React {
        room,
        id,
        author,
        session,
        emoji,
        on,
        limit: Limit::OFF,
        writer: Default::default(),
    };
    let q = store
        .run(&post(room, "alice", "which port?", "r1", "sa", None))
        .await
        .expect("post");
    let Posted::Created(q) = q else {
        panic!("a question: {q:?}")
    };
    let a = store
        .run(&post(room, "bob", "5432", "r2", "sb", Some(q.id)))
        .await
        .expect("reply");
    let Posted::Created(a) = a else {
        panic!("a reply: {a:?}")
    };
    assert_eq!(
        (a.kind, a.reply_to, a.target),
        (EventKind::Message, Some(q.id), None),
        "a reply is a message that names what it answers"
    );
    for (r, to) in [(room, 999), (room, -1), ("suite-r2", q.id)] {
        assert_eq!(
            store
                .run(&post(r, "bob", "lost", "r-x", "sb", Some(to)))
                .await
                .expect("post"),
            Posted::UnknownReply,
            "a reply to {to} in {r} names no message of its room"
        );
    }

    // Reactions: each person's emoji once; withdrawing what is not there,
    // or adding twice, writes nothing.
    let reacted = |r: Reacted| match r {
        Reacted::Reacted(e) => *e,
        other => panic!("expected an event, got {other:?}"),
    };
    let run = |r: React<'static>| async move { store.run(&r).await.expect("react") };
    let e1 = reacted(run(react(q.id, "bob", "sb", "👍", true)).await);
    assert_eq!(
        (
            e1.kind,
            e1.target,
            e1.body.as_str(),
            e1.session.as_deref(),
            e1.author.as_str()
        ),
        (EventKind::Reaction, Some(q.id), "👍", Some("sb"), "bob")
    );
    assert_eq!(e1.id, a.id + 1, "a reaction takes the room's next id");
    assert_eq!(
        run(react(q.id, "bob", "sb", "👍", true)).await,
        Reacted::Unchanged
    );
    let e2 = reacted(run(react(q.id, "carol", "sc", "👍", true)).await);
    let e3 = reacted(run(react(q.id, "bob", "sb", "❤️", true)).await);
    let e4 = reacted(run(react(q.id, "bob", "sb", "👍", false)).await);
    assert_eq!((e4.kind, e4.body.as_str()), (EventKind::Unreaction, "👍"));
    assert_eq!(
        run(react(q.id, "bob", "sb", "👍", false)).await,
        Reacted::Unchanged
    );
    assert_eq!(
        last_id(store, room).await,
        Some(e4.id),
        "unchanged writes no event"
    );
    assert_eq!(
        run(react(999, "bob", "sb", "👍", true)).await,
        Reacted::UnknownMessage
    );
    assert_eq!(
        run(react(e1.id, "bob", "sb", "👍", true)).await,
        Reacted::UnknownMessage,
        "a reaction is not a message to react to"
    );
    assert_eq!(
        store
            .run(&React {
                room: "suite-none",
                ..react(q.id, "bob", "sb", "👍", true)
            })
            .await
            .expect("react"),
        Reacted::UnknownRoom
    );

    // Every event after a cursor, reactions too; scrolling back, the
    // messages and then the reactions in force on them.
    let all = store
        .run(&ReadPage {
            room,
            page: Page::After {
                after: 0,
                limit: 50,
            },
        })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(
        all.iter().map(|m| (m.id, m.kind)).collect::<Vec<_>>(),
        [
            (q.id, EventKind::Message),
            (a.id, EventKind::Message),
            (e1.id, EventKind::Reaction),
            (e2.id, EventKind::Reaction),
            (e3.id, EventKind::Reaction),
            (e4.id, EventKind::Unreaction),
        ]
    );
    assert_eq!(all[1].reply_to, Some(q.id));
    let latest = store
        .run(&ReadPage {
            room,
            page: Page::Latest { limit: 50 },
        })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(
        latest.iter().map(|m| (m.id, m.kind)).collect::<Vec<_>>(),
        [
            (q.id, EventKind::Message),
            (a.id, EventKind::Message),
            (e2.id, EventKind::Reaction),
            (e3.id, EventKind::Reaction),
        ],
        "bob's withdrawn thumb is not in force; carol's and bob's heart are"
    );
    let polled = store
        .run(&Poll::new(&PollQuery {
            room: room.into(),
            after: a.id,
            limit: 50,
            known: None,
            rooms: None,
        }))
        .await
        .expect("poll")
        .expect("room");
    assert_eq!(
        polled.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [e1.id, e2.id, e3.id, e4.id],
        "a poll carries reactions"
    );

    // A message holds at most MAX_EMOJI_PER_MESSAGE different emoji; those
    // there may still be added by others.
    let symbols = [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰",
        "😗", "😙", "😚", "🙂", "🤗", "🤩",
    ];
    assert_eq!(symbols.len(), MAX_EMOJI_PER_MESSAGE as usize + 1);
    for e in &symbols[..MAX_EMOJI_PER_MESSAGE as usize] {
        reacted(run(react(a.id, "dave", "sd", e, true)).await);
    }
    assert_eq!(
        run(react(
            a.id,
            "erin",
            "se",
            symbols[MAX_EMOJI_PER_MESSAGE as usize],
            true
        ))
        .await,
        Reacted::TooMany
    );
    reacted(run(react(a.id, "erin", "se", symbols[0], true)).await);

    // The writer's gate: the post bucket and mutes.
    let limited = React {
        limit: Limit {
            burst: 1,
            per_minute: 1,
        },
        ..react(q.id, "frank", "sf", "👀", true)
    };
    reacted(store.run(&limited).await.expect("react"));
    assert!(
        matches!(
            store
                .run(&React {
                    emoji: "🎉",
                    ..limited
                })
                .await
                .expect("react"),
            Reacted::RateLimited { .. }
        ),
        "reactions take from the post bucket"
    );
    let Muted::Until(_) = store
        .run(&MuteName {
            name: "Gina",
            name_key: &crate::names::key("Gina"),
            room: Some(room),
            secs: 600,
            by: Moderator::OPERATOR,
            recent_secs: 86_400,
        })
        .await
        .expect("mute")
    else {
        panic!("muted");
    };
    assert!(matches!(
        run(react(q.id, "gina", "sg", "👀", true)).await,
        Reacted::Muted { .. }
    ));
    assert!(matches!(
        store
            .run(&post(room, "gina", "me too", "g1", "sg", Some(q.id)))
            .await
            .expect("post"),
        Posted::Muted { .. }
    ));

    // A removal: the question takes no more reactions or replies, its old
    // reactions go from pages, and the answer still names it.
    assert!(matches!(
        store
            .run(&Remove {
                room,
                id: q.id,
                by: Remover::Author(Some("sa")),
                account: None,
            })
            .await
            .expect("remove"),
        Removed::Removed(_)
    ));
    assert_eq!(
        run(react(q.id, "bob", "sb", "🎉", true)).await,
        Reacted::Removed
    );
    assert_eq!(
        store
            .run(&post(room, "bob", "late", "r3", "sb", Some(q.id)))
            .await
            .expect("post"),
        Posted::ReplyRemoved
    );
    assert!(
        matches!(
            store
                .run(&post(room, "bob", "5432", "r2", "sb", Some(q.id)))
                .await
                .expect("post"),
            Posted::Replayed(m) if m.id == a.id
        ),
        "a retry of the reply is answered with it"
    );
    let latest = store
        .run(&ReadPage {
            room,
            page: Page::Latest { limit: 50 },
        })
        .await
        .expect("page")
        .expect("room");
    assert!(latest[0].removed_at.is_some() && latest[1].reply_to == Some(q.id));
    assert!(
        latest
            .iter()
            .filter(|m| m.kind == EventKind::Reaction)
            .all(|r| r.target == Some(a.id)),
        "a removed message's reactions are no longer carried"
    );
    assert_eq!(
        latest
            .iter()
            .filter(|m| m.kind == EventKind::Reaction)
            .count(),
        MAX_EMOJI_PER_MESSAGE as usize + 1
    );
}

/// Read marks: per account and room, never back, never past the room's
/// last id; a password change signs the old session out of them too.
async fn read_marks_suite(store: &impl Store) {
    let zoe = store
        .run(&CreateAccount {
            name: "Suite Zoe",
            name_key: "suite-zoe",
            hash: "$argon2id$suite",
        })
        .await
        .expect("create account")
        .expect("a free name")
        .reference();
    let mark = |room: &'static str, id: i64| async move {
        store
            .run(&MarkRead {
                account: zoe,
                room,
                id,
            })
            .await
            .expect("mark read")
    };
    let last = last_id(store, "suite-r").await.expect("suite-r exists");
    assert!(last > 3, "the room has events");
    assert_eq!(mark("suite-r", 3).await, Marked::Marked(3));
    assert_eq!(mark("suite-r", 2).await, Marked::Marked(3), "never back");
    assert_eq!(
        mark("suite-r", last + 50).await,
        Marked::Marked(last),
        "never past the last id"
    );
    assert_eq!(mark("suite-none", 1).await, Marked::UnknownRoom);
    assert_eq!(mark("suite-e", 0).await, Marked::Marked(0));
    let marks = store
        .run(&ReadMarks { account: zoe })
        .await
        .expect("read marks")
        .expect("signed in");
    assert_eq!(
        marks.into_iter().collect::<Vec<_>>(),
        [("suite-e".to_string(), 0), ("suite-r".to_string(), last)]
    );
    assert!(
        store
            .run(&SetPassword {
                account: zoe,
                hash: "$argon2id$new",
            })
            .await
            .expect("set password")
            .is_some()
    );
    assert_eq!(mark("suite-r", 1).await, Marked::SignedOut);
    assert_eq!(
        store.run(&ReadMarks { account: zoe }).await.expect("marks"),
        None
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemStore, block_on};

    #[test]
    fn the_in_memory_store_passes_the_store_suite() {
        block_on(store_suite(&MemStore::seeded()));
    }

    #[test]
    fn a_down_store_fails_every_call_as_unavailable() {
        let store = MemStore::seeded();
        block_on(store.run(&Post {
            reply_to: None,
            writer: Default::default(),
            room: "general",
            author: "alice",
            body: "hi",
            client_id: "c1",
            session: None,
            limit: Limit::OFF,
        }))
        .unwrap();
        store.set_down(true);
        let unavailable = |what: &str, e: Option<StoreError>| match e {
            Some(StoreError::Unavailable(_)) => {}
            other => panic!("{what} while down: {other:?}, not Unavailable"),
        };
        let query = PollQuery {
            room: "general".into(),
            after: 0,
            limit: 10,
            known: None,
            rooms: None,
        };
        let post = Post {
            reply_to: None,
            writer: Default::default(),
            room: "general",
            author: "alice",
            body: "x",
            client_id: "c2",
            session: None,
            limit: Limit::OFF,
        };
        let edit = Edit {
            writer: Default::default(),
            room: "general",
            id: 1,
            session: None,
            body: "y",
            window_secs: 900,
            limit: Limit::OFF,
        };
        // Every operation (crate::store), one line each.
        unavailable("list_rooms", block_on(store.run(&ListRooms)).err());
        unavailable(
            "create_room",
            block_on(store.run(&CreateRoom {
                members_only: false,
                by: Moderator::OPERATOR,
                id: "r",
                title: "R",
            }))
            .err(),
        );
        let page = ReadPage {
            room: "general",
            page: Page::Latest { limit: 5 },
        };
        unavailable("messages", block_on(store.run(&page)).err());
        unavailable("post", block_on(store.run(&post)).err());
        unavailable("edit_message", block_on(store.run(&edit)).err());
        let remove = store.run(&Remove {
            room: "general",
            id: 1,
            by: Remover::Moderator("m", None),
            account: None,
        });
        unavailable("remove_message", block_on(remove).err());
        unavailable(
            "mute",
            block_on(store.run(&MuteName {
                name: "bob",
                name_key: &crate::names::key("bob"),
                room: None,
                secs: 60,
                by: Moderator {
                    actor: "m",
                    account: None,
                },
                recent_secs: 86_400,
            }))
            .err(),
        );
        unavailable(
            "announce",
            block_on(store.run(&Announce {
                room: "general",
                key: "k",
                name: "a",
                writer: Writer::default(),
            }))
            .err(),
        );
        unavailable(
            "leave",
            block_on(store.run(&Leave {
                room: "general",
                key: "k",
            }))
            .err(),
        );
        let allow = store.run(&GuestJoin {
            name_key: "x",
            client: "192.0.2.1",
            limit: Limit::OFF,
        });
        unavailable("allow_session", block_on(allow).err());
        unavailable("health", block_on(store.run(&Health)).err());
        unavailable("read_health", block_on(store.read_health()).err());
        unavailable("poll", block_on(store.run(&Poll::new(&query))).err());
        unavailable("read_source", block_on(store.run(&Source)).err());
        store.set_down(false);
        assert_eq!(store.messages().len(), 1, "nothing was stored while down");
    }
}
