//! Mentions: who can be mentioned, and how mentions and replies count.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn only_people_of_the_channels_workspace_can_be_mentioned() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let other = app
        .post("/workspaces", Some(&owner.access), json!({"name": "Other"}))
        .await
        .expect(201);
    let other = other["id"].as_str().unwrap().to_string();
    // zed exists, but only in the other workspace.
    let zed = app.member(&owner, &other, "zed").await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;

    let sent = app.send(&alice, &ch, "@zed @bob @nobody hello").await;
    assert_eq!(sent["mentions"]["user_ids"], json!([bob.user_id]));
    let id = sent["id"].as_str().unwrap();
    let edited = app
        .put(
            &format!("/messages/{id}"),
            &alice.access,
            json!({"content": "@zed again"}),
        )
        .await
        .expect(200);
    assert_eq!(edited["mentions"]["user_ids"], json!([]));
    let reply = app
        .post(
            &format!("/messages/{id}/threads"),
            Some(&alice.access),
            json!({"content": "@zed @bob in a thread"}),
        )
        .await
        .expect(201);
    assert_eq!(reply["mentions"]["user_ids"], json!([bob.user_id]));
    // Stored mentions follow: the list shows the same, and zed has nothing to count.
    let listed = app
        .get(&format!("/channels/{ch}/messages"), &alice.access)
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["mentions"]["user_ids"], json!([]));
    use colink::db::entity::mention;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let zed_id: uuid::Uuid = zed.user_id.parse().unwrap();
    let stored = mention::Entity::find()
        .filter(mention::Column::UserId.eq(zed_id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

/// Bob's view of `ch` in the conversations list and the channels list (which must agree).
async fn counts(
    app: &crate::helpers::TestApp,
    bob: &crate::helpers::Session,
    ch: &str,
) -> (u64, u64, serde_json::Value) {
    let convs = app.get("/conversations", &bob.access).await.expect(200);
    let conv = convs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch)
        .unwrap()
        .clone();
    let channels = app.get("/channels", &bob.access).await.expect(200);
    let listed = channels["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch)
        .unwrap()
        .clone();
    let one = app
        .get(&format!("/channels/{ch}"), &bob.access)
        .await
        .expect(200);
    for field in [
        "unread_count",
        "mention_count",
        "last_message_at",
        "last_seq",
    ] {
        assert_eq!(
            conv[field], listed[field],
            "{field}: /conversations vs /channels"
        );
        assert_eq!(
            one[field], listed[field],
            "{field}: /channels/{{id}} vs /channels"
        );
    }
    (
        listed["unread_count"].as_u64().unwrap(),
        listed["mention_count"].as_u64().unwrap(),
        conv["last_message"].clone(),
    )
}

#[tokio::test]
async fn replies_count_as_mentions_but_not_as_unread_and_are_never_the_last_message() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let root = app.send(&alice, &ch, "hello").await;
    let root_id = root["id"].as_str().unwrap();
    let (unread, mentions, last) = counts(&app, &bob, &ch).await;
    assert_eq!((unread, mentions), (1, 0));
    assert_eq!(last["content"], "hello");
    app.post(
        &format!("/channels/{ch}/read"),
        Some(&bob.access),
        json!({"seq": 1}),
    )
    .await
    .expect(200);

    let thread = format!("/messages/{root_id}/threads");
    let reply = |content: &'static str| {
        app.post(&thread, Some(&alice.access), json!({ "content": content }))
    };
    reply("@bob have a look").await.expect(201);
    reply("and another thing").await.expect(201);
    // Replies: no unread, the mention counts, the last message stays the top-level one,
    // while the conversation's activity time moves.
    let (unread, mentions, last) = counts(&app, &bob, &ch).await;
    assert_eq!((unread, mentions), (0, 1));
    assert_eq!(last["id"], root_id);
    let listed = app.get("/channels", &bob.access).await.expect(200);
    assert_eq!(listed["items"][0]["last_seq"], 3);
    assert_ne!(listed["items"][0]["last_message_at"], root["created_at"]);

    app.send(&alice, &ch, "@channel standup").await;
    let (unread, mentions, last) = counts(&app, &bob, &ch).await;
    assert_eq!((unread, mentions), (1, 2));
    assert_eq!(last["content"], "@channel standup");

    // Reading past the replies clears their mention too.
    let read = app
        .post(
            &format!("/channels/{ch}/read"),
            Some(&bob.access),
            json!({"seq": 4}),
        )
        .await
        .expect(200);
    assert_eq!(read["unread_count"], 0);
    assert_eq!(read["mention_count"], 0);
    reply("a reply after reading").await.expect(201);
    let (unread, mentions, last) = counts(&app, &bob, &ch).await;
    assert_eq!((unread, mentions), (0, 0));
    assert_eq!(last["content"], "@channel standup");
}

#[tokio::test]
async fn at_channel_in_a_large_channel_is_only_for_its_owners_and_admins() {
    let app = spawn_with(|c| c.limits.mention_all_max_members = 2).await;
    let (owner, _, alice, bob) = app.team().await;
    let big = app.channel(&alice, "big", false).await; // alice owns it
    app.join(&bob, &big).await;
    app.join(&owner, &big).await;

    // A plain member: posted as written, not expanded, and told why.
    let plain = app.send(&bob, &big, "@channel lunch? @here").await;
    assert_eq!(plain["content"], "@channel lunch? @here");
    assert_eq!(plain["mentions"]["channel"], false);
    assert_eq!(plain["mentions"]["here"], false);
    assert_eq!(plain["notices"][0]["code"], "broadcast_mention_not_allowed");
    // Replies follow the same rule.
    let reply = app
        .post(
            &format!("/messages/{}/threads", plain["id"].as_str().unwrap()),
            Some(&bob.access),
            json!({"content": "@all again"}),
        )
        .await
        .expect(201);
    assert_eq!(reply["mentions"]["channel"], false);
    assert_eq!(reply["notices"][0]["code"], "broadcast_mention_not_allowed");
    // Nobody was notified.
    let seen_by_alice = app
        .get(&format!("/channels/{big}"), &alice.access)
        .await
        .expect(200);
    assert_eq!(seen_by_alice["mention_count"], 0, "{seen_by_alice}");

    // The channel's owner and a workspace admin may.
    let by_owner = app.send(&alice, &big, "@channel standup").await;
    assert_eq!(by_owner["mentions"]["channel"], true);
    assert!(by_owner.get("notices").is_none(), "{by_owner}");
    let by_admin = app.send(&owner, &big, "@here deploy").await;
    assert_eq!(by_admin["mentions"]["here"], true);

    // Small channels: anyone.
    let small = app.channel(&owner, "small", false).await;
    app.join(&bob, &small).await;
    let ok = app.send(&bob, &small, "@channel hi").await;
    assert_eq!(ok["mentions"]["channel"], true);
    assert!(ok.get("notices").is_none());
}
