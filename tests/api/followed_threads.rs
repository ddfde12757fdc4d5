//! Followed threads (`GET /threads`, follow/unfollow, read state per thread): who follows
//! automatically, unread counts after every kind of change, paging, access.

use std::collections::BTreeSet;

use colink_client::{Client, FollowedThread, Page, PageQuery, StatusCode, Uuid};

use crate::helpers::{Session, TestApp, spawn_app, uuid_of};

async fn threads(api: &Client) -> Vec<FollowedThread> {
    api.threads(&PageQuery::default()).await.unwrap().items
}

/// The caller's only followed thread.
async fn only(api: &Client) -> FollowedThread {
    let mut list = threads(api).await;
    assert_eq!(list.len(), 1, "{list:?}");
    list.remove(0)
}

async fn reply(app: &TestApp, who: &Session, root: Uuid, content: &str) -> colink_client::Message {
    app.api_as(who).reply(root, content, None).await.unwrap()
}

async fn root(app: &TestApp, who: &Session, ch: &str, content: &str) -> Uuid {
    uuid_of(app.send(who, ch, content).await["id"].as_str().unwrap())
}

#[tokio::test]
async fn authors_repliers_and_mentioned_follow_and_an_unfollow_sticks_until_you_reply() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let dave = app.member(&owner, &ws, "dave").await;
    let eve = app.member(&owner, &ws, "eve").await;
    let ch = app.channel(&alice, "dev", false).await;
    for s in [&bob, &carol, &dave, &eve] {
        app.join(s, &ch).await;
    }
    let r = root(&app, &alice, &ch, "plan for @carol").await;
    // No replies yet: not a thread in anyone's list.
    assert!(threads(&app.api_as(&alice)).await.is_empty());

    reply(&app, &bob, r, "first").await;
    reply(&app, &bob, r, "ask @dave").await;
    reply(&app, &bob, r, "@channel look").await;
    let (a, b, c, d) = (
        only(&app.api_as(&alice)).await,
        only(&app.api_as(&bob)).await,
        only(&app.api_as(&carol)).await,
        only(&app.api_as(&dave)).await,
    );
    // @channel is a mention but not a follow.
    assert!(threads(&app.api_as(&eve)).await.is_empty());
    assert_eq!(a.root.id, r);
    assert_eq!(a.reply_count, 3);
    assert_eq!((a.unread_replies, a.unread_mentions), (3, 1));
    assert_eq!((b.unread_replies, b.unread_mentions), (0, 0));
    assert_eq!((c.unread_replies, c.unread_mentions), (3, 1));
    // Dave was mentioned in the second reply: that one and the @channel one mention him.
    assert_eq!((d.unread_replies, d.unread_mentions), (3, 2));
    assert_eq!(
        a.participants,
        [alice.user_id.as_str(), &bob.user_id].map(uuid_of)
    );

    // An unfollow sticks: replies (also mentioning nobody new) do not follow again.
    app.api_as(&alice).unfollow(r).await.unwrap();
    app.api_as(&alice).unfollow(r).await.unwrap();
    reply(&app, &carol, r, "late").await;
    assert!(threads(&app.api_as(&alice)).await.is_empty());
    let c = only(&app.api_as(&carol)).await;
    assert_eq!(
        c.participants,
        [&alice.user_id, &bob.user_id, &carol.user_id].map(|u| uuid_of(u))
    );
    // ... until she replies herself: followed again, read up to her reply.
    let mine = reply(&app, &alice, r, "back").await;
    let a = only(&app.api_as(&alice)).await;
    assert_eq!(
        (a.last_read_seq, a.unread_replies, a.unread_mentions),
        (mine.seq, 0, 0)
    );

    // Explicit follow by someone uninvolved: starts read, counts what comes after.
    app.api_as(&eve).follow(r).await.unwrap();
    app.api_as(&eve).follow(r).await.unwrap();
    assert_eq!(only(&app.api_as(&eve)).await.unread_replies, 0);
    reply(&app, &bob, r, "news").await;
    assert_eq!(only(&app.api_as(&eve)).await.unread_replies, 1);
    // Following a reply's id follows its thread.
    app.api_as(&eve).unfollow(mine.id).await.unwrap();
    assert!(threads(&app.api_as(&eve)).await.is_empty());
}

#[tokio::test]
async fn unread_counts_are_exact_after_replies_edits_deletes_and_reads() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let r = root(&app, &alice, &ch, "root").await;
    let api = app.api_as(&alice);
    let counts = |t: FollowedThread| (t.unread_replies, t.unread_mentions);

    reply(&app, &bob, r, "one").await;
    reply(&app, &bob, r, "hey @alice").await;
    reply(&app, &bob, r, "three").await;
    reply(&app, &alice, r, "my own").await;
    // Her own reply read everything before it.
    assert_eq!(counts(only(&api).await), (0, 0));
    let r4 = reply(&app, &bob, r, "four @alice").await;
    assert_eq!(counts(only(&api).await), (1, 1));

    // Read back to the start: never backwards.
    let state = api.read_thread(r, 0).await.unwrap();
    assert_eq!((state.unread_replies, state.unread_mentions), (1, 1));
    assert!(state.following);

    // Unfollowing and following again keeps the marker (a new follow starts read, see above).
    api.unfollow(r).await.unwrap();
    assert!(threads(&api).await.is_empty());
    api.follow(r).await.unwrap();
    assert_eq!(counts(only(&api).await), (1, 1));
    let state = api.read_thread(r4.id, r4.seq).await.unwrap();
    assert_eq!((state.unread_replies, state.unread_mentions), (0, 0));
    assert_eq!(counts(only(&api).await), (0, 0));

    // Edits and deletes, on bob's side of a fresh thread.
    let r = root(&app, &bob, &ch, "second root").await;
    let x1 = reply(&app, &alice, r, "x1 @bob").await;
    let x2 = reply(&app, &alice, r, "x2").await;
    let x3 = reply(&app, &alice, r, "x3 @bob").await;
    let bapi = app.api_as(&bob);
    let find = |list: Vec<FollowedThread>| list.into_iter().find(|t| t.root.id == r).unwrap();
    assert_eq!(counts(find(threads(&bapi).await)), (3, 2));
    // Edit: the mention goes away, the reply stays unread.
    app.api_as(&alice).edit_message(x1.id, "x1").await.unwrap();
    assert_eq!(counts(find(threads(&bapi).await)), (3, 1));
    // Edit: a mention added.
    app.api_as(&alice)
        .edit_message(x2.id, "x2 @bob")
        .await
        .unwrap();
    assert_eq!(counts(find(threads(&bapi).await)), (3, 2));
    // Delete: gone from both counts.
    app.api_as(&alice).delete_message(x3.id).await.unwrap();
    assert_eq!(counts(find(threads(&bapi).await)), (2, 1));
    // Read up to x1: x2 remains.
    let s = bapi.read_thread(r, x1.seq).await.unwrap();
    assert_eq!(
        (s.last_read_seq, s.unread_replies, s.unread_mentions),
        (x1.seq, 1, 1)
    );
    assert_eq!(counts(find(threads(&bapi).await)), (1, 1));
    // Past the end: clamped, all read.
    let s = bapi.read_thread(x2.id, i64::MAX / 2).await.unwrap();
    assert_eq!((s.unread_replies, s.unread_mentions), (0, 0));
    assert_eq!(counts(find(threads(&bapi).await)), (0, 0));
}

#[tokio::test]
async fn pages_are_newest_reply_first_without_repeats() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let other = app.channel(&alice, "ops", false).await;
    app.join(&bob, &ch).await;
    app.join(&bob, &other).await;
    let mut roots = Vec::new();
    for i in 0..7 {
        let c = if i % 2 == 0 { &ch } else { &other };
        roots.push(root(&app, &alice, c, &format!("root {i}")).await);
    }
    // Replies in a shuffled order: the newest reply decides the order.
    let order = [3, 0, 6, 1, 5, 2, 4];
    for &i in &order {
        reply(&app, &bob, roots[i], "reply").await;
    }
    let want: Vec<Uuid> = order.iter().rev().map(|&i| roots[i]).collect();
    let api = app.api_as(&alice);
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page: Page<FollowedThread> = api
            .threads(&PageQuery {
                cursor: cursor.clone(),
                limit: Some(3),
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        got.extend(page.items.iter().map(|t| t.root.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, want);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 7);

    // A new reply moves its thread to the top.
    reply(&app, &bob, roots[3], "again").await;
    assert_eq!(threads(&api).await[0].root.id, roots[3]);

    // Bad cursors and limits are refused.
    let bad = api
        .threads(&PageQuery {
            cursor: Some("nope".into()),
            limit: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(StatusCode::BAD_REQUEST));
    let bad = api
        .threads(&PageQuery {
            cursor: None,
            limit: Some(201),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn losing_access_hides_the_thread_and_non_members_get_403() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let private = app.channel(&alice, "secret", true).await;
    app.api_as(&alice)
        .add_member(uuid_of(&private), uuid_of(&bob.user_id))
        .await
        .unwrap();
    let r = root(&app, &alice, &private, "psst @carol").await;
    reply(&app, &bob, r, "ok").await;
    assert_eq!(only(&app.api_as(&bob)).await.root.id, r);
    // Carol was mentioned but is no member: she follows, but cannot see it.
    assert!(threads(&app.api_as(&carol)).await.is_empty());

    app.api_as(&bob).leave(uuid_of(&private)).await.unwrap();
    assert!(threads(&app.api_as(&bob)).await.is_empty());
    assert_eq!(only(&app.api_as(&alice)).await.unread_replies, 1);

    // Non-members: 403, as on the other message routes.
    let thread = app.api_as(&carol).thread(r, &PageQuery::default()).await;
    assert_eq!(thread.unwrap_err().status(), Some(StatusCode::FORBIDDEN));
    let carol_api = app.api_as(&carol);
    for result in [
        carol_api.follow(r).await,
        carol_api.unfollow(r).await,
        carol_api.read_thread(r, 1).await.map(|_| ()),
    ] {
        assert_eq!(result.unwrap_err().status(), Some(StatusCode::FORBIDDEN));
    }
    // Unknown messages: 404.
    let unknown = carol_api.follow(Uuid::now_v7()).await.unwrap_err();
    assert_eq!(unknown.status(), Some(StatusCode::NOT_FOUND));

    // Added back: the thread is there again.
    app.api_as(&alice)
        .add_member(uuid_of(&private), uuid_of(&bob.user_id))
        .await
        .unwrap();
    assert_eq!(only(&app.api_as(&bob)).await.root.id, r);
}

#[tokio::test]
async fn thread_changes_reach_only_the_users_own_connections() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let r = root(&app, &alice, &ch, "root").await;
    reply(&app, &bob, r, "one").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&ch).await;

    let state = app
        .api_as(&alice)
        .read_thread(r, i64::MAX / 2)
        .await
        .unwrap();
    let e = alice_ws.event("thread.updated").await;
    assert_eq!(e["data"]["root_id"], r.to_string());
    assert_eq!(e["data"]["last_read_seq"], state.last_read_seq);
    assert_eq!(e["data"]["unread_replies"], 0);
    assert_eq!(e["data"]["following"], true);
    app.api_as(&alice).unfollow(r).await.unwrap();
    let e = alice_ws.event("thread.updated").await;
    assert_eq!(e["data"]["following"], false);
    // Bob, subscribed to the channel, sees none of it.
    let frames = bob_ws.drain().await;
    assert!(
        frames
            .iter()
            .all(|f| f["event"]["type"] != "thread.updated"),
        "{frames:?}"
    );
}

#[tokio::test]
async fn the_migration_backfills_follows_of_existing_threads() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let dave = app.member(&owner, &ws, "dave").await;
    let ch = app.channel(&alice, "dev", false).await;
    for s in [&bob, &carol, &dave] {
        app.join(s, &ch).await;
    }
    let r = root(&app, &alice, &ch, "root for @carol").await;
    reply(&app, &bob, r, "hi @dave").await;
    root(&app, &alice, &ch, "no replies").await;

    // Drop the table (and every migration after it) and build it again: the backfill finds the
    // same follows. On a connection of its own, so that no pooled connection's open read can
    // see the schema as it was before the rollback.
    let db = sea_orm::Database::connect(app.state.config.database_url())
        .await
        .unwrap();
    let after_conversations = migration::Migrator::migrations().len() - 2;
    let steps = u32::try_from(after_conversations).unwrap();
    migration::Migrator::down(&db, Some(steps)).await.unwrap();
    migration::Migrator::up(&db, None).await.unwrap();
    db.close().await.unwrap();
    for s in [&alice, &bob, &carol, &dave] {
        assert_eq!(only(&app.api_as(s)).await.root.id, r);
    }
    assert_eq!(only(&app.api_as(&alice)).await.unread_replies, 1);
    assert!(threads(&app.api_as(&owner)).await.is_empty());
}
