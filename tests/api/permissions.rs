//! Authorization over every conversation route, as a table: who gets what.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

struct Fixture {
    channel: String,
    message: String,
    reaction: String,
    member: String,
}

/// A private channel owned by alice, with bob as a plain member, a message by alice and a
/// reaction by alice.
async fn fixture(app: &TestApp, alice: &Session, bob: &Session) -> Fixture {
    let channel = app.channel(alice, "private-room", true).await;
    app.post(
        &format!("/channels/{channel}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    let message = app.send(alice, &channel, "secret").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reaction = app
        .post(
            &format!("/messages/{message}/reactions"),
            Some(&alice.access),
            json!({"emoji": "eyes"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    Fixture {
        channel,
        message,
        reaction,
        member: bob.user_id.clone(),
    }
}

fn routes(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let (c, m, r, u) = (&f.channel, &f.message, &f.reaction, &f.member);
    vec![
        (Method::GET, format!("/channels/{c}"), None),
        (Method::GET, format!("/channels/{c}/messages"), None),
        (
            Method::POST,
            format!("/channels/{c}/messages"),
            Some(json!({"content": "x"})),
        ),
        (Method::GET, format!("/channels/{c}/members"), None),
        (
            Method::POST,
            format!("/channels/{c}/members"),
            Some(json!({"user_id": u})),
        ),
        (Method::DELETE, format!("/channels/{c}/members/{u}"), None),
        (
            Method::PUT,
            format!("/channels/{c}"),
            Some(json!({"topic": "x"})),
        ),
        (Method::DELETE, format!("/channels/{c}"), None),
        (Method::POST, format!("/channels/{c}/join"), Some(json!({}))),
        (
            Method::POST,
            format!("/channels/{c}/leave"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/channels/{c}/read"),
            Some(json!({"seq": 1})),
        ),
        (Method::GET, format!("/channels/{c}/pins"), None),
        (
            Method::PUT,
            format!("/messages/{m}"),
            Some(json!({"content": "x"})),
        ),
        (Method::DELETE, format!("/messages/{m}"), None),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "x"})),
        ),
        (Method::GET, format!("/messages/{m}/thread"), None),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "wave"})),
        ),
        (Method::DELETE, format!("/reactions/{r}"), None),
        (
            Method::DELETE,
            format!("/messages/{m}/reactions/wave"),
            None,
        ),
        (Method::POST, format!("/messages/{m}/pin"), Some(json!({}))),
        (Method::DELETE, format!("/messages/{m}/pin"), None),
    ]
}

#[tokio::test]
async fn a_non_member_gets_403_on_every_route_of_a_private_channel() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let f = fixture(&app, &alice, &bob).await;
    let eve = app.member(&owner, &ws, "eve").await;
    for (method, path, body) in routes(&f) {
        let reply = app
            .call(method.clone(), &path, Some(&eve.access), body.clone())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            403,
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(reply.body["code"], "forbidden", "{method} {path}");
        let anonymous = app.call(method.clone(), &path, None, body).await;
        assert_eq!(
            anonymous.status.as_u16(),
            401,
            "{method} {path} without a token"
        );
    }
}

#[tokio::test]
async fn a_plain_member_cannot_manage_the_channel_or_touch_others_messages() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let f = fixture(&app, &alice, &bob).await;
    let carol = app.member(&owner, &ws, "carol").await;
    let (c, m, r) = (&f.channel, &f.message, &f.reaction);
    let forbidden: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PUT,
            format!("/channels/{c}"),
            Some(json!({"topic": "x"})),
        ),
        (Method::DELETE, format!("/channels/{c}"), None),
        (
            Method::POST,
            format!("/channels/{c}/members"),
            Some(json!({"user_id": carol.user_id})),
        ),
        (
            Method::DELETE,
            format!("/channels/{c}/members/{}", alice.user_id),
            None,
        ),
        (
            Method::PUT,
            format!("/messages/{m}"),
            Some(json!({"content": "x"})),
        ),
        (Method::DELETE, format!("/messages/{m}"), None),
        (Method::DELETE, format!("/reactions/{r}"), None),
    ];
    for (method, path, body) in forbidden {
        let reply = app
            .call(method.clone(), &path, Some(&bob.access), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            403,
            "{method} {path}: {}",
            reply.body
        );
    }
    // What a member may do.
    let allowed: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/channels/{c}"), None, 200),
        (Method::GET, format!("/channels/{c}/messages"), None, 200),
        (
            Method::POST,
            format!("/channels/{c}/messages"),
            Some(json!({"content": "hi"})),
            201,
        ),
        (Method::GET, format!("/channels/{c}/members"), None, 200),
        (
            Method::POST,
            format!("/channels/{c}/read"),
            Some(json!({"seq": 1})),
            200,
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "wave"})),
            201,
        ),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "re"})),
            201,
        ),
        (Method::GET, format!("/messages/{m}/thread"), None, 200),
        (
            Method::POST,
            format!("/messages/{m}/pin"),
            Some(json!({})),
            200,
        ),
        (Method::GET, format!("/channels/{c}/pins"), None, 200),
    ];
    for (method, path, body, status) in allowed {
        let reply = app
            .call(method.clone(), &path, Some(&bob.access), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn server_admins_moderate_channels_without_membership_but_not_dms() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let f = fixture(&app, &alice, &bob).await;
    let (c, m) = (&f.channel, &f.message);
    for (method, path, body, status) in [
        (Method::GET, format!("/channels/{c}"), None, 200),
        (Method::GET, format!("/channels/{c}/messages"), None, 200),
        (Method::GET, format!("/channels/{c}/members"), None, 200),
        (Method::DELETE, format!("/messages/{m}"), None, 204),
        (
            Method::DELETE,
            format!("/channels/{c}/members/{}", bob.user_id),
            None,
            204,
        ),
        (
            Method::PUT,
            format!("/channels/{c}"),
            Some(json!({"topic": "moderated"})),
            200,
        ),
        (Method::DELETE, format!("/channels/{c}"), None, 204),
    ] {
        let reply = app
            .call(method.clone(), &path, Some(&owner.access), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path}: {}",
            reply.body
        );
    }
    // Moderation is not membership: the admin cannot post there.
    let fresh = app.channel(&alice, "another", true).await;
    app.post(
        &format!("/channels/{fresh}/messages"),
        Some(&owner.access),
        json!({"content": "x"}),
    )
    .await
    .problem(403, "forbidden");
    // DMs stay private, even from admins.
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    let dm = dm["id"].as_str().unwrap();
    app.get(&format!("/channels/{dm}/messages"), &owner.access)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn nobody_outside_a_dm_reaches_any_of_its_routes_not_even_an_admin() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let eve = app.member(&owner, &ws, "eve").await;
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    let channel = dm["id"].as_str().unwrap().to_string();
    let message = app.send(&alice, &channel, "between us").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reaction = app
        .post(
            &format!("/messages/{message}/reactions"),
            Some(&bob.access),
            json!({"emoji": "eyes"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let f = Fixture {
        channel,
        message,
        reaction,
        member: bob.user_id.clone(),
    };
    for outsider in [&eve, &owner] {
        for (method, path, body) in routes(&f) {
            let reply = app
                .call(method.clone(), &path, Some(&outsider.access), body)
                .await;
            assert_eq!(
                reply.status.as_u16(),
                403,
                "{method} {path}: {}",
                reply.body
            );
            assert_eq!(reply.body["code"], "forbidden", "{method} {path}");
        }
    }
    // Still intact for the participants.
    let listed = app
        .get(&format!("/channels/{}/messages", f.channel), &bob.access)
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["content"], "between us");
    assert_eq!(listed["items"][0]["reactions"][0]["count"], 1);
}

#[tokio::test]
async fn a_workspace_member_reads_a_public_channel_but_joins_before_writing() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let c = app.channel(&alice, "open-room", false).await;
    let m = app.send(&alice, &c, "hello").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // bob is in the workspace but not in the channel.
    let rows: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/channels/{c}"), None, 200),
        (Method::GET, format!("/channels/{c}/messages"), None, 200),
        (Method::GET, format!("/channels/{c}/members"), None, 200),
        (Method::GET, format!("/channels/{c}/pins"), None, 200),
        (Method::GET, format!("/messages/{m}/thread"), None, 200),
        (
            Method::POST,
            format!("/channels/{c}/messages"),
            Some(json!({"content": "x"})),
            403,
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "wave"})),
            403,
        ),
        (
            Method::POST,
            format!("/messages/{m}/pin"),
            Some(json!({})),
            403,
        ),
        (Method::DELETE, format!("/messages/{m}/pin"), None, 403),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "x"})),
            403,
        ),
        (
            Method::POST,
            format!("/channels/{c}/read"),
            Some(json!({"seq": 1})),
            403,
        ),
        (
            Method::PUT,
            format!("/messages/{m}"),
            Some(json!({"content": "x"})),
            403,
        ),
        (Method::DELETE, format!("/messages/{m}"), None, 403),
        (
            Method::PUT,
            format!("/channels/{c}"),
            Some(json!({"topic": "x"})),
            403,
        ),
        (Method::DELETE, format!("/channels/{c}"), None, 403),
        // Leaving a channel one is not in changes nothing.
        (
            Method::POST,
            format!("/channels/{c}/leave"),
            Some(json!({})),
            204,
        ),
    ];
    for (method, path, body, status) in rows {
        let reply = app
            .call(method.clone(), &path, Some(&bob.access), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path}: {}",
            reply.body
        );
        if status == 403 {
            assert_eq!(reply.body["code"], "forbidden", "{method} {path}");
        }
    }
    let msg = app
        .get(&format!("/channels/{c}/messages"), &alice.access)
        .await
        .expect(200);
    assert_eq!(msg["items"].as_array().unwrap().len(), 1);
    assert_eq!(msg["items"][0]["reactions"], json!([]));
    assert_eq!(msg["items"][0]["pinned"], false);
    assert_eq!(msg["items"][0]["reply_count"], 0);
}
