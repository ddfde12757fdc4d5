//! Reactions in message views are summarised in SQL and bounded: per emoji a count, the first
//! 20 people and whether the caller is among all of them; at most 50 emoji per message.

use colink::{
    db::entity::reaction,
    domain::{Email, Role, Username},
    service::accounts::{self, NewAccount},
};
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// `n` accounts made straight in the database (they only need to exist to react).
async fn people(app: &TestApp, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let user = accounts::create(
            &app.state.db,
            NewAccount {
                username: Username::parse(&format!("fan{i}")).unwrap(),
                email: Email::parse(&format!("fan{i}@example.com")).unwrap(),
                display_name: None,
                password_hash: None,
                role: Role::Member,
                email_verified: true,
            },
        )
        .await
        .unwrap();
        ids.push(user.id);
    }
    ids
}

/// Reactions inserted straight in the database, in this order.
async fn react_as(app: &TestApp, message: &str, reactions: &[(Uuid, String)]) {
    let message_id: Uuid = message.parse().unwrap();
    let rows = reactions.iter().map(|(user, emoji)| reaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(message_id),
        user_id: Set(*user),
        emoji: Set(emoji.clone()),
        created_at: Set(colink::domain::clock::now()),
    });
    reaction::Entity::insert_many(rows)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
}

/// The message as `GET /channels/{ch}/messages` shows it to `token`'s owner.
async fn listed(app: &TestApp, token: &str, ch: &str, message: &str) -> Value {
    let page = app
        .get(&format!("/channels/{ch}/messages?limit=200"), token)
        .await
        .expect(200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message)
        .cloned()
        .unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn many_reactors_give_the_full_count_the_first_twenty_and_me() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let m = app.send(&alice, &ch, "vote").await;
    let m = m["id"].as_str().unwrap().to_string();
    // Alice first (through the API, which also tells the stored form of the emoji), then 25
    // others, then bob.
    let first = app
        .post(
            &format!("/messages/{m}/reactions"),
            Some(&alice.access),
            json!({"emoji": "thumbsup"}),
        )
        .await
        .expect(201);
    let emoji = first["emoji"].as_str().unwrap().to_string();
    let fans = people(&app, 25).await;
    let rows: Vec<(Uuid, String)> = fans.iter().map(|u| (*u, emoji.clone())).collect();
    react_as(&app, &m, &rows).await;
    app.post(
        &format!("/messages/{m}/reactions"),
        Some(&bob.access),
        json!({"emoji": "thumbsup"}),
    )
    .await
    .expect(201);
    // Another emoji, used after: listed second.
    react_as(&app, &m, &[(fans[3], "tada".to_string())]).await;

    let mut first_twenty = vec![alice.user_id.clone()];
    first_twenty.extend(fans[..19].iter().map(Uuid::to_string));
    for (who, me) in [(&bob, true), (&alice, true), (&owner, false)] {
        let view = listed(&app, &who.access, &ch, &m).await;
        let reactions = view["reactions"].as_array().unwrap();
        assert_eq!(reactions.len(), 2, "{view}");
        assert_eq!(reactions[0]["emoji"], emoji.as_str());
        assert_eq!(reactions[0]["count"], 27);
        assert_eq!(strings(&reactions[0]["user_ids"]), first_twenty);
        // Bob reacted 27th: not listed, but the view knows it is him.
        assert_eq!(reactions[0]["me"], me, "{}", who.user_id);
        assert_eq!(reactions[1]["emoji"], "tada");
        assert_eq!(reactions[1]["count"], 1);
        assert_eq!(strings(&reactions[1]["user_ids"]), [fans[3].to_string()]);
        assert_eq!(reactions[1]["me"], false);
    }
    // The same summary wherever a message is shown: a pin answer, the thread, the pins list.
    let pinned = app
        .post(&format!("/messages/{m}/pin"), Some(&bob.access), json!({}))
        .await
        .expect(200);
    let thread = app
        .get(&format!("/messages/{m}/thread"), &bob.access)
        .await
        .expect(200);
    let pins = app
        .get(&format!("/channels/{ch}/pins"), &bob.access)
        .await
        .expect(200);
    let in_list = listed(&app, &bob.access, &ch, &m).await;
    for view in [&pinned, &thread["items"][0], &pins["items"][0]] {
        assert_eq!(view["reactions"], in_list["reactions"], "{view}");
    }
}

#[tokio::test]
async fn a_message_shows_its_first_fifty_emoji_and_other_messages_are_unaffected() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let busy = app.send(&alice, &ch, "busy").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let quiet = app.send(&alice, &ch, "quiet").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fans = people(&app, 2).await;
    // 60 emoji, each used by both fans, in this order.
    let emoji: Vec<String> = (0..60).map(|i| format!("e{i:02}")).collect();
    let mut rows = Vec::new();
    for e in &emoji {
        rows.push((fans[0], e.clone()));
    }
    for e in &emoji {
        rows.push((fans[1], e.clone()));
    }
    react_as(&app, &busy, &rows).await;
    react_as(&app, &quiet, &[(fans[1], "e59".to_string())]).await;

    let view = listed(&app, &bob.access, &ch, &busy).await;
    let reactions = view["reactions"].as_array().unwrap();
    let shown: Vec<&str> = reactions
        .iter()
        .map(|r| r["emoji"].as_str().unwrap())
        .collect();
    assert_eq!(shown, emoji[..50]);
    for r in reactions {
        assert_eq!(r["count"], 2);
        assert_eq!(
            strings(&r["user_ids"]),
            [fans[0].to_string(), fans[1].to_string()]
        );
        assert_eq!(r["me"], false);
    }
    let view = listed(&app, &bob.access, &ch, &quiet).await;
    assert_eq!(
        view["reactions"],
        json!([{"emoji": "e59", "count": 1, "user_ids": [fans[1]], "me": false}])
    );
}

#[tokio::test]
async fn a_reaction_is_removed_by_message_and_emoji_by_its_author_only() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let m = app.send(&alice, &ch, "party").await;
    let m = m["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/messages/{m}/reactions"),
        Some(&bob.access),
        json!({"emoji": "🎉"}),
    )
    .await
    .expect(201);
    // Percent-encoded in the path, as a browser sends it. Alice has no 🎉 there: 404, and
    // bob's stays.
    let path = format!("/messages/{m}/reactions/%F0%9F%8E%89");
    app.delete(&path, &alice.access).await.expect(404);
    assert_eq!(
        listed(&app, &alice.access, &ch, &m).await["reactions"][0]["count"],
        1
    );
    app.delete(&path, &bob.access).await.expect(204);
    assert_eq!(
        listed(&app, &alice.access, &ch, &m).await["reactions"],
        json!([])
    );
    app.delete(&path, &bob.access).await.expect(404);
    // Not an emoji: 400.
    app.delete(&format!("/messages/{m}/reactions/nope%20nope"), &bob.access)
        .await
        .expect(400);
}
