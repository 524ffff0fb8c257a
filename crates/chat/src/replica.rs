//! Reads from a streaming replica, writes to the primary.
//!
//! [`Replicated`] is a [`Store`] over two stores of the same kind: every
//! write (a post, a room, a session's rate limit) and the health check go to
//! the primary; polls and room lists go to the replica when it is fit to
//! answer, and to the primary otherwise. It is never worse than the primary
//! alone: a replica that refuses connections, was promoted (it is no longer
//! in recovery, so it no longer follows the primary), or lags further than
//! `max_lag_ms` costs one more statement, never a 5xx, and
//! [`Replicated::on_fallback`] is told why so the host can log it.
//!
//! Why a replica keeps the cursor gapless: ids in a room become visible on
//! the primary in id order (the room's row lock); a replica replays commits
//! in the primary's order, so it may be behind but never shows id N+1
//! without N. A poller that alternates between hosts reading the primary and
//! hosts reading a replica only ever sees its cursor wait, never jump.
//!
//! Read your writes: a client that has posted passes the id of its post as
//! `known` ([`crate::model::PollQuery::known`]); a replica's answer that does not reach it
//! (no message with that id or later, and not a full page) is dropped and
//! the primary answers, so one's own post is in one's next poll.

use crate::store::{Access, Health, Operation, ReadSource, Source, Store, StoreError};

/// Why a read went to the primary instead of the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// The replica could not be reached or failed the statement.
    Unreachable(StoreError),
    /// It is no replica (promoted, or the address names a primary).
    NotAReplica,
    /// Its replay is this far behind, over the limit.
    Lagging { lag_ms: i64, max_lag_ms: i64 },
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::Unreachable(e) => {
                write!(f, "the replica failed ({})", crate::error::report(e))
            }
            Fallback::NotAReplica => write!(
                f,
                "the read database is not a replica (promoted, or database_read_url names a primary)"
            ),
            Fallback::Lagging { lag_ms, max_lag_ms } => write!(
                f,
                "the replica is {lag_ms} ms behind (replica_max_lag_ms is {max_lag_ms})"
            ),
        }
    }
}

/// A store that reads from a replica when it can (see the module doc).
pub struct Replicated<S, F: Fn(&Fallback)> {
    pub primary: S,
    /// `None`: no replica is configured, or the host knows it is down.
    pub replica: Option<S>,
    /// A replica further behind than this is not read.
    pub max_lag_ms: i64,
    /// Called each time a read goes to the primary for a reason worth
    /// logging.
    pub on_fallback: F,
}

impl<S: Store, F: Fn(&Fallback)> Replicated<S, F> {
    /// Whether a source may answer reads.
    fn fit(&self, source: ReadSource) -> Result<(), Fallback> {
        if !source.replica {
            Err(Fallback::NotAReplica)
        } else if source.lag_ms > self.max_lag_ms {
            Err(Fallback::Lagging {
                lag_ms: source.lag_ms,
                max_lag_ms: self.max_lag_ms,
            })
        } else {
            Ok(())
        }
    }

    /// Whether the replica says it is fit to answer (one short statement).
    async fn replica_is_fit(&self, replica: &S) -> bool {
        let verdict = match replica.run(&Source).await {
            Ok(source) => self.fit(source),
            Err(e) => Err(Fallback::Unreachable(e)),
        };
        match verdict {
            Ok(()) => true,
            Err(why) => {
                (self.on_fallback)(&why);
                false
            }
        }
    }
}

/// The one read path: a write goes to the primary; a read to a fit
/// replica, whose answer is taken when the operation says it will do
/// (see [`Operation::replica_may_answer`]); otherwise to the primary.
impl<S: Store, F: Fn(&Fallback)> Store for Replicated<S, F> {
    async fn run<O: Operation>(&self, op: &O) -> Result<O::Output, StoreError> {
        let replica = self
            .replica
            .as_ref()
            .filter(|_| O::ACCESS != Access::Primary);
        if let Some(replica) = replica
            && (O::ACCESS == Access::ReplicaSaysSource || self.replica_is_fit(replica).await)
        {
            match replica.run(op).await {
                Ok(answer) => {
                    let fit = op.source(&answer).map_or(Ok(()), |s| self.fit(s));
                    match fit {
                        Ok(()) if op.replica_may_answer(&answer) => return Ok(answer),
                        // Not there yet: usual right after one's own post.
                        Ok(()) => {}
                        Err(why) => (self.on_fallback)(&why),
                    }
                }
                Err(e) => (self.on_fallback)(&Fallback::Unreachable(e)),
            }
        }
        self.primary.run(op).await
    }

    /// The replica answers: polls and room lists can be served while the
    /// primary is away (during a failover, say).
    async fn read_health(&self) -> Result<(), StoreError> {
        match &self.replica {
            Some(replica) => replica.run(&Health).await,
            None => Err(StoreError::new(true, "no replica is configured")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Page, PollQuery};
    use crate::store::{CreateRoom, Limit, ListRooms, Poll, Polled, Post, Posted, ReadPage};
    use crate::testing::{MemStore, block_on};
    use std::cell::RefCell;

    const REPLICA: ReadSource = ReadSource {
        replica: true,
        lag_ms: 10,
    };

    /// The fallbacks a store reported, in order.
    type Reported = std::rc::Rc<RefCell<Vec<Fallback>>>;

    /// A primary with messages 1..=`on_primary` in `general`, a replica with
    /// the first `on_replica` of them, and the fallbacks it reported.
    fn pair(
        on_primary: i64,
        on_replica: i64,
    ) -> (Replicated<MemStore, impl Fn(&Fallback)>, Reported) {
        let primary = MemStore::seeded();
        let replica = MemStore::seeded();
        replica.set_source(REPLICA);
        for i in 1..=on_primary {
            for store in [&primary, &replica]
                .into_iter()
                .take(if i <= on_replica { 2 } else { 1 })
            {
                block_on(store.run(&Post {
                    reply_to: None,
                    writer: Default::default(),
                    room: "general",
                    author: "a",
                    body: "m",
                    client_id: &format!("c{i}"),
                    session: None,
                    limit: Limit::OFF,
                }))
                .unwrap();
            }
        }
        let seen = std::rc::Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        (
            Replicated {
                primary,
                replica: Some(replica),
                max_lag_ms: 1000,
                on_fallback: move |f: &Fallback| sink.borrow_mut().push(f.clone()),
            },
            seen,
        )
    }

    fn query(after: i64, known: Option<i64>) -> PollQuery<'static> {
        PollQuery {
            room: "general".into(),
            after,
            limit: 100,
            known,
            rooms: None,
        }
    }

    fn ids(p: &Polled) -> Vec<i64> {
        p.messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn polls_and_lists_come_from_a_fit_replica_writes_from_the_primary() {
        let (store, fallbacks) = pair(5, 3);
        let p = block_on(store.run(&Poll::new(&query(0, None))))
            .unwrap()
            .unwrap();
        assert_eq!((ids(&p), p.source), (vec![1, 2, 3], REPLICA));
        assert_eq!(
            block_on(store.run(&ListRooms)).unwrap()[0].last_message_id,
            3
        );
        let page = block_on(store.run(&ReadPage {
            room: "general",
            page: Page::After { after: 0, limit: 9 },
        }));
        assert_eq!(page.unwrap().unwrap().len(), 3);
        let sent = block_on(store.run(&Post {
            reply_to: None,
            writer: Default::default(),
            room: "general",
            author: "b",
            body: "x",
            client_id: "y",
            session: None,
            limit: Limit::OFF,
        }))
        .unwrap();
        assert!(
            matches!(sent, Posted::Created(m) if m.id == 6),
            "to the primary"
        );
        assert_eq!(
            block_on(store.replica.as_ref().unwrap().run(&ListRooms)).unwrap()[0].last_message_id,
            3
        );
        assert!(fallbacks.borrow().is_empty());
    }

    #[test]
    fn ones_own_post_is_in_ones_next_poll() {
        let (store, fallbacks) = pair(5, 3);
        // The client posted message 5; the replica has only 1..=3.
        let p = block_on(store.run(&Poll::new(&query(0, Some(5)))))
            .unwrap()
            .unwrap();
        assert_eq!(
            (ids(&p), p.source),
            (vec![1, 2, 3, 4, 5], ReadSource::PRIMARY)
        );
        // A replica that has it answers.
        let p = block_on(store.run(&Poll::new(&query(0, Some(3)))))
            .unwrap()
            .unwrap();
        assert_eq!(p.source, REPLICA);
        // Not a failure worth a log line.
        assert!(fallbacks.borrow().is_empty());
    }

    #[test]
    fn a_lagging_promoted_or_unreachable_replica_is_never_an_error() {
        let (store, fallbacks) = pair(4, 2);
        let replica = store.replica.as_ref().unwrap();
        replica.set_source(ReadSource {
            replica: true,
            lag_ms: 5000,
        });
        let p = block_on(store.run(&Poll::new(&query(0, None))))
            .unwrap()
            .unwrap();
        assert_eq!(ids(&p), [1, 2, 3, 4]);
        assert_eq!(
            block_on(store.run(&ListRooms)).unwrap()[0].last_message_id,
            4
        );
        replica.set_source(ReadSource::PRIMARY);
        assert_eq!(
            ids(&block_on(store.run(&Poll::new(&query(0, None))))
                .unwrap()
                .unwrap())
            .len(),
            4
        );
        replica.set_down(true);
        assert_eq!(
            ids(&block_on(store.run(&Poll::new(&query(0, None))))
                .unwrap()
                .unwrap())
            .len(),
            4
        );
        let page = block_on(store.run(&ReadPage {
            room: "general",
            page: Page::Latest { limit: 9 },
        }));
        assert_eq!(page.unwrap().unwrap().len(), 4);
        let f = fallbacks.borrow();
        assert!(
            matches!(
                f[0],
                Fallback::Lagging {
                    lag_ms: 5000,
                    max_lag_ms: 1000
                }
            ),
            "{f:?}"
        );
        assert_eq!(f[2], Fallback::NotAReplica);
        assert!(matches!(f[3], Fallback::Unreachable(_)), "{f:?}");
        // What the host's log says for each: the reason and what to check.
        assert_eq!(
            f[0].to_string(),
            "the replica is 5000 ms behind (replica_max_lag_ms is 1000)"
        );
        assert_eq!(
            f[2].to_string(),
            "the read database is not a replica (promoted, or database_read_url names a primary)"
        );
        let unreachable = f[3].to_string();
        assert!(
            unreachable.starts_with("the replica failed (")
                && unreachable.contains("connect 10.1.2.3:5432 refused"),
            "{unreachable}"
        );
    }

    #[test]
    fn a_room_the_replica_does_not_know_yet_is_read_from_the_primary() {
        let (store, _) = pair(1, 1);
        block_on(store.run(&CreateRoom {
            members_only: false,
            by: crate::store::Moderator::OPERATOR,
            id: "fresh",
            title: "Fresh",
        }))
        .unwrap()
        .done()
        .unwrap();
        let q = PollQuery {
            room: "fresh".into(),
            ..query(0, None)
        };
        assert!(block_on(store.run(&Poll::new(&q))).unwrap().is_some());
        let page = block_on(store.run(&ReadPage {
            room: "fresh",
            page: Page::Latest { limit: 9 },
        }))
        .unwrap();
        assert_eq!(page, Some(vec![]));
        // Unknown everywhere stays unknown.
        let q = PollQuery {
            room: "nowhere".into(),
            ..query(0, None)
        };
        assert_eq!(block_on(store.run(&Poll::new(&q))).unwrap(), None);
    }

    #[test]
    fn without_a_replica_everything_goes_to_the_primary() {
        let (mut store, fallbacks) = pair(2, 0);
        store.replica = None;
        assert_eq!(
            ids(&block_on(store.run(&Poll::new(&query(0, None))))
                .unwrap()
                .unwrap()),
            [1, 2]
        );
        assert!(fallbacks.borrow().is_empty());
    }

    /// During a failover the primary is away but the replica still
    /// answers: the health check says `read_only` (200) and polls go on
    /// from the replica; only when neither answers is the host unhealthy.
    #[test]
    fn a_host_whose_primary_is_away_serves_reads_from_the_replica() {
        let (store, _) = pair(3, 3);
        fn status(store: &impl Store) -> (u16, String) {
            let cfg = crate::api::test_support::cfg();
            let cx = crate::api::Context {
                cfg: &cfg,
                now_unix: 0,
                random: None,
                component: None,
            };
            let req = crate::api::Request {
                method: "GET",
                path: "/api/health",
                query: "",
                authorization: None,
                content_type: None,
                body: b"",
                client_addr: None,
                forwarded_for: None,
            };
            let r = block_on(crate::api::handle(&req, &cx, store));
            (r.status, r.body)
        }
        assert_eq!(status(&store), (200, r#"{"status":"ok"}"#.to_string()));
        store.primary.set_down(true);
        assert_eq!(
            status(&store),
            (200, r#"{"status":"read_only"}"#.to_string())
        );
        let p = block_on(store.run(&Poll::new(&query(0, None))))
            .unwrap()
            .unwrap();
        assert_eq!(ids(&p), vec![1, 2, 3]);
        assert!(
            block_on(store.run(&Post {
                reply_to: None,
                writer: Default::default(),
                room: "general",
                author: "a",
                body: "m",
                client_id: "c9",
                session: None,
                limit: Limit::OFF
            }))
            .is_err(),
            "writes need the primary"
        );
        store.replica.as_ref().unwrap().set_down(true);
        assert_eq!(status(&store).0, 503);
        // Without a replica, a primary that is away is a 503.
        let alone = Replicated {
            primary: MemStore::seeded(),
            replica: None,
            max_lag_ms: 1000,
            on_fallback: |_: &Fallback| {},
        };
        alone.primary.set_down(true);
        assert_eq!(status(&alone).0, 503);
    }
}
