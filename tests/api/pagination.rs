//! Cursor pagination on every list (SPEC §4): `limit` (default 50, at most 200), `cursor`,
//! `{"items", "next_cursor"}`; paging through a list yields every item once, in order.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

/// Follow `next_cursor` from the first page to the last; every item, in order.
async fn all_pages(app: &TestApp, who: &Session, path: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let page = app.get(&url, &who.access).await.expect(200);
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit, "{url}: {} items", got.len());
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(got.len(), limit, "{url}: a short page before the last");
                cursor = Some(next.to_string());
            }
            None => return items,
        }
    }
    panic!("{path}: more than 100 pages");
}

fn ids(items: &[Value]) -> Vec<String> {
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "duplicates: {ids:?}"
    );
    ids
}

#[tokio::test]
async fn channels_members_pins_and_threads_page_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    // Channels, by name: the public ones (#general first) and the private one bob is in; not
    // alice's other one.
    let general = app.get("/channels", &bob.access).await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut expected = vec![general];
    for i in 0..7 {
        expected.push(app.channel(&alice, &format!("room-{i}"), false).await);
    }
    let private = app.channel(&alice, "room-private", true).await;
    app.post(
        &format!("/channels/{private}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    expected.push(private);
    app.channel(&alice, "room-zz-hidden", true).await;
    let listed = all_pages(&app, &bob, "/channels", 3).await;
    assert_eq!(ids(&listed), expected);

    // Members, by username (of room-0).
    let ch = &expected[1];
    let carol = app.member(&owner, &ws, "carol").await;
    for who in [&bob, &carol, &owner] {
        app.join(who, ch).await;
    }
    let members = all_pages(&app, &bob, &format!("/channels/{ch}/members"), 3).await;
    let names: Vec<&str> = members
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol", "owner"]);

    // Pins, most recently pinned first.
    let mut pinned = Vec::new();
    for i in 0..7 {
        let m = app.send(&alice, ch, &format!("pin {i}")).await;
        let id = m["id"].as_str().unwrap().to_string();
        app.post(&format!("/messages/{id}/pin"), Some(&bob.access), json!({}))
            .await
            .expect(200);
        pinned.push(id);
    }
    pinned.reverse();
    let pins = all_pages(&app, &bob, &format!("/channels/{ch}/pins"), 3).await;
    assert_eq!(ids(&pins), pinned);

    // A thread: the root, then the replies oldest first.
    let root = app.send(&alice, ch, "root").await;
    let root_id = root["id"].as_str().unwrap().to_string();
    let mut thread = vec![root_id.clone()];
    for i in 0..7 {
        let r = app
            .post(
                &format!("/messages/{root_id}/threads"),
                Some(&bob.access),
                json!({"content": format!("reply {i}")}),
            )
            .await
            .expect(201);
        thread.push(r["id"].as_str().unwrap().to_string());
    }
    for limit in [1, 3, 8, 50] {
        let got = all_pages(&app, &bob, &format!("/messages/{root_id}/thread"), limit).await;
        assert_eq!(ids(&got), thread, "limit {limit}");
    }
    // Asking through a reply gives the same thread.
    let got = all_pages(&app, &bob, &format!("/messages/{}/thread", thread[3]), 4).await;
    assert_eq!(ids(&got), thread);
}

#[tokio::test]
async fn dms_page_by_last_activity_counting_empty_dms_from_their_creation() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let dave = app.member(&owner, &ws, "dave").await;
    let people = [&bob.user_id, &carol.user_id, &dave.user_id];
    // Seven conversations (every non-empty subset of the three others); every second one gets
    // a message right after it is opened, the others stay empty.
    let mut activity = Vec::new();
    for mask in 1..8usize {
        let subset: Vec<&String> = (0..3)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| people[i])
            .collect();
        let id = app
            .post(
                "/dms",
                Some(&alice.access),
                json!({ "participant_ids": subset }),
            )
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        if mask % 2 == 0 {
            app.send(&alice, &id, "hello").await;
        }
        activity.push(id);
    }
    // A message in the first (until now oldest) conversation makes it the most recent; an
    // empty DM opened before that message stays below it.
    app.send(&alice, &activity[0], "bump").await;
    let first = activity.remove(0);
    activity.push(first);
    activity.reverse();
    let listed = all_pages(&app, &alice, "/dms", 3).await;
    assert_eq!(ids(&listed), activity);
    let whole = app.get("/dms", &alice.access).await.expect(200);
    assert!(whole["next_cursor"].is_null());
    assert_eq!(ids(whole["items"].as_array().unwrap()), activity);
}

#[tokio::test]
async fn limits_and_cursors_are_validated_on_every_list() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let m = app.send(&alice, &ch, "root").await;
    let m = m["id"].as_str().unwrap();
    let lists = [
        "/channels".to_string(),
        "/dms".to_string(),
        "/conversations".to_string(),
        format!("/channels/{ch}/members"),
        format!("/channels/{ch}/pins"),
        format!("/channels/{ch}/messages"),
        format!("/messages/{m}/thread"),
    ];
    for path in &lists {
        for bad in ["limit=201", "limit=0", "limit=-1", "limit=ten"] {
            app.get(&format!("{path}?{bad}"), &alice.access)
                .await
                .problem(400, "validation_failed");
        }
        let page = app
            .get(&format!("{path}?limit=200"), &alice.access)
            .await
            .expect(200);
        assert!(page["items"].is_array(), "{path}: {page}");
        assert!(page["next_cursor"].is_null(), "{path}: {page}");
    }
    for path in [
        "/dms".to_string(),
        "/conversations".to_string(),
        format!("/channels/{ch}/pins"),
        format!("/messages/{m}/thread"),
    ] {
        app.get(&format!("{path}?cursor=garbage"), &alice.access)
            .await
            .problem(400, "validation_failed");
    }
}

/// Set the activity time of these conversations (or the pin time of these messages) to one
/// instant, straight in the database: the API never produces equal times, but the order must
/// still be total (ties broken by id, descending) so that no page repeats or skips an item.
async fn same_time(app: &TestApp, table: &str, ids: &[&String]) {
    use colink::db::entity::{channel, pin};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let at = colink::domain::clock::now();
    let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.parse().unwrap()).collect();
    let changed = match table {
        "channels" => {
            channel::Entity::update_many()
                .col_expr(channel::Column::LastMessageAt, Expr::value(at))
                .filter(channel::Column::Id.is_in(ids.clone()))
                .exec(&app.state.db)
                .await
        }
        _ => {
            pin::Entity::update_many()
                .col_expr(pin::Column::PinnedAt, Expr::value(at))
                .filter(pin::Column::MessageId.is_in(ids.clone()))
                .exec(&app.state.db)
                .await
        }
    };
    assert_eq!(changed.unwrap().rows_affected, ids.len() as u64);
}

/// Ids in the order of a tie: descending.
fn by_id_desc(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids
}

#[tokio::test]
async fn activity_lists_page_in_order_with_ties_broken_by_id() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let general = app.get("/channels", &alice.access).await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Created one after the other: without messages, a conversation counts from its creation.
    let mut c = Vec::new();
    for i in 0..6 {
        c.push(app.channel(&alice, &format!("room-{i}"), false).await);
    }
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let note = app
        .post("/dms", Some(&alice.access), json!({"participant_ids": []}))
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.send(&alice, &c[1], "news").await;
    // An archived channel is not a conversation any more.
    app.delete(&format!("/channels/{}", c[3]), &alice.access)
        .await
        .expect(204);
    // Three conversations tied on the latest activity.
    same_time(&app, "channels", &[&c[2], &c[4], &dm]).await;

    let mut expected = by_id_desc(&[&c[2], &c[4], &dm]);
    expected.extend([&c[1], &note, &c[5], &c[0], &general].map(|s| s.to_string()));
    for limit in [1, 2, 3, 200] {
        let got = all_pages(&app, &alice, "/conversations", limit).await;
        assert_eq!(ids(&got), expected, "limit {limit}");
    }
    // Only the last message of c[1] is there.
    let got = all_pages(&app, &alice, "/conversations", 200).await;
    assert_eq!(got[3]["last_message"]["content"], "news");
    assert!(got[0]["last_message"].is_null());

    // DMs: the same order, restricted to DMs.
    let expected_dms = vec![dm.clone(), note.clone()];
    for limit in [1, 2] {
        let got = all_pages(&app, &alice, "/dms", limit).await;
        assert_eq!(ids(&got), expected_dms, "limit {limit}");
    }

    // Pins: most recently pinned first, ties by message id.
    let ch = &c[0];
    let mut pinned = Vec::new();
    for i in 0..5 {
        let m = app.send(&alice, ch, &format!("pin {i}")).await;
        let id = m["id"].as_str().unwrap().to_string();
        app.post(
            &format!("/messages/{id}/pin"),
            Some(&alice.access),
            json!({}),
        )
        .await
        .expect(200);
        pinned.push(id);
    }
    same_time(&app, "pins", &[&pinned[0], &pinned[2], &pinned[3]]).await;
    let mut expected = by_id_desc(&[&pinned[0], &pinned[2], &pinned[3]]);
    expected.extend([&pinned[4], &pinned[1]].map(|s| s.to_string()));
    for limit in [1, 2, 4] {
        let got = all_pages(&app, &alice, &format!("/channels/{ch}/pins"), limit).await;
        assert_eq!(ids(&got), expected, "limit {limit}");
    }
    // Not a member of a private channel: 403, cursor or not.
    let private = app.channel(&alice, "secret", true).await;
    app.get(&format!("/channels/{private}/pins"), &bob.access)
        .await
        .problem(403, "forbidden");
    let cursor = format!("1_{dm}");
    app.get(
        &format!("/channels/{private}/pins?cursor={cursor}"),
        &bob.access,
    )
    .await
    .problem(403, "forbidden");
    // Cursors that do not parse, or name a time no timestamp holds, are bad input.
    for bad in [
        "1".to_string(),
        format!("x_{dm}"),
        format!("99999999999999999999999999999_{dm}"),
    ] {
        for path in [
            "/conversations".to_string(),
            "/dms".to_string(),
            format!("/channels/{ch}/pins"),
        ] {
            app.get(&format!("{path}?cursor={bad}"), &alice.access)
                .await
                .problem(400, "validation_failed");
        }
    }
}
