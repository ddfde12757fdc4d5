//! The WebSocket gateway (SPEC §6): delivery of events, typing, presence, authentication,
//! permissions, resume, slow consumers and limits.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Owner + alice + bob, all in a public channel created by alice; returns the channel id.
pub(crate) async fn team_in_channel(app: &TestApp) -> (Session, Session, Session, String) {
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "general-chat", false).await;
    app.join(&bob, &channel).await;
    (owner, alice, bob, channel)
}

fn is_presence_of(frame: &Value, user: &str, status: &str) -> bool {
    frame["type"] == "presence" && frame["user_id"] == user && frame["status"] == status
}

pub(crate) fn message_seqs(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .filter(|f| f["type"] == "event" && f["event"]["type"] == "message.created")
        .map(|f| f["event"]["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn realtime_changes_arrive_as_the_exact_event_envelope() {
    let app = spawn_app().await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    let mut alice_ws = app.ws(&alice.access).await;

    let sent = app.send(&alice, &channel, "hello @bob").await;
    let event = ws.event("message.created").await;
    // Exactly what the outbox recorded, byte for byte once parsed.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = colink::db::entity::outbox::Entity::find()
        .filter(
            colink::db::entity::outbox::Column::EventId.eq(event["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()),
        )
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the event is in the outbox");
    assert_eq!(serde_json::from_str::<Value>(&row.payload).unwrap(), event);
    let keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "type",
        "occurred_at",
        "workspace_id",
        "channel_id",
        "actor_id",
        "seq",
        "data",
    ] {
        assert!(keys.contains(&key), "{key} missing from {event}");
    }
    assert_eq!(keys.len(), 8, "{event}");
    assert_eq!(event["channel_id"], channel);
    assert_eq!(event["actor_id"], alice.user_id);
    assert_eq!(event["seq"], sent["seq"]);
    assert_eq!(event["data"]["id"], sent["id"]);
    assert_eq!(event["data"]["content"], "hello @bob");
    assert_eq!(event["data"]["mentions"]["user_ids"], json!([bob.user_id]));

    let id = sent["id"].as_str().unwrap();
    app.put(
        &format!("/messages/{id}"),
        &alice.access,
        json!({"content": "edited"}),
    )
    .await
    .expect(200);
    let updated = ws.event("message.updated").await;
    assert_eq!(updated["data"]["content"], "edited");

    let reaction = app
        .post(
            &format!("/messages/{id}/reactions"),
            Some(&alice.access),
            json!({"emoji": "👍"}),
        )
        .await
        .expect(201);
    let added = ws.event("reaction.added").await;
    assert_eq!(
        (
            added["data"]["emoji"].as_str(),
            added["data"]["message_id"].as_str()
        ),
        (Some("👍"), Some(id))
    );
    app.delete(
        &format!("/reactions/{}", reaction["id"].as_str().unwrap()),
        &alice.access,
    )
    .await
    .expect(204);
    ws.event("reaction.removed").await;

    app.post(
        &format!("/channels/{channel}/read"),
        Some(&alice.access),
        json!({"seq": sent["seq"]}),
    )
    .await
    .expect(200);
    // A read marker is private: it reaches the reader's own connections (other devices), not
    // the other members.
    let read = alice_ws.event("conversation.read").await;
    assert_eq!(read["data"]["user_id"], alice.user_id);

    app.delete(&format!("/messages/{id}"), &alice.access)
        .await
        .expect(204);
    let next = ws.expect(|f| f["type"] == "event").await;
    assert_eq!(
        next["event"]["type"], "message.deleted",
        "bob saw no read marker"
    );
    assert_eq!(next["event"]["data"]["id"], id);
}

#[tokio::test]
async fn typing_reaches_the_others_and_expires() {
    let app = spawn_with(|c| c.realtime.typing_ttl.0 = Duration::from_millis(600)).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut a = app.ws(&alice.access).await;
    let mut b = app.ws(&bob.access).await;
    a.subscribe(&channel).await;
    b.subscribe(&channel).await;

    a.send(json!({"type": "typing", "channel_id": channel}))
        .await;
    let typing = b.expect(|f| f["type"] == "typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "channel_id": channel, "user_id": alice.user_id, "username": "alice"})
    );
    assert!(
        !a.drain().await.iter().any(|f| f["type"] == "typing"),
        "the typer is not told about themself"
    );
    // (That typing again at once is not re-broadcast is a unit test of the typing store: here
    // it would be a timing assertion.)

    // The mark expires after the TTL; typing after that is broadcast again.
    let channel_id: uuid::Uuid = channel.parse().unwrap();
    let typing_store = app.state.realtime.typing.clone();
    tokio::time::timeout(FRAME_TIMEOUT, async {
        while !typing_store.typing_in(channel_id).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the typing mark expires");
    a.send(json!({"type": "typing", "channel_id": channel}))
        .await;
    b.expect(|f| f["type"] == "typing").await;

    // Typing where one cannot post is refused.
    let (owner, _) = (app.login("owner", PASSWORD).await, ());
    let private = app.channel(&owner, "secret", true).await;
    a.send(json!({"type": "typing", "channel_id": private}))
        .await;
    let err = a.expect(|f| f["type"] == "error").await;
    assert_eq!(err["code"], "forbidden");
}

#[tokio::test]
async fn presence_goes_online_dnd_away_and_offline() {
    let app = spawn_with(|c| {
        c.realtime.away_after.0 = Duration::from_millis(1500);
        c.realtime.offline_grace.0 = Duration::from_millis(300);
    })
    .await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut b = app.ws(&bob.access).await;
    let a_user = alice.user_id.clone();

    let mut a = app.ws(&alice.access).await;
    b.expect(|f| is_presence_of(f, &a_user, "online")).await;
    a.send(json!({"type": "presence", "status": "dnd"})).await;
    b.expect(|f| is_presence_of(f, &a_user, "dnd")).await;
    let user = app
        .get(&format!("/users/{a_user}"), &bob.access)
        .await
        .expect(200);
    assert_eq!(user["presence"], "dnd");
    let members = app
        .get(&format!("/channels/{channel}/members"), &bob.access)
        .await
        .expect(200);
    let listed = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == a_user)
        .unwrap()
        .clone();
    assert_eq!(listed["presence"], "dnd");

    a.send(json!({"type": "presence", "status": "online"}))
        .await;
    b.expect(|f| is_presence_of(f, &a_user, "online")).await;
    // Idle: away after `away_after`.
    b.expect(|f| is_presence_of(f, &a_user, "away")).await;
    // Last connection closed: offline after the grace.
    a.ws.close().await.unwrap();
    b.expect(|f| is_presence_of(f, &a_user, "offline")).await;
    let user = app
        .get(&format!("/users/{a_user}"), &bob.access)
        .await
        .expect(200);
    assert_eq!(user["presence"], "offline");
}

#[tokio::test]
async fn bad_expired_and_revoked_credentials_close_with_4001() {
    let app = spawn_with(|c| c.realtime.ping_interval.0 = Duration::from_millis(200)).await;
    let (_, _, alice, _) = app.team().await;
    let key = app.state.keys.jwt;
    let forge = |exp_offset: i64| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({"sub": alice.user_id, "iss": "colink", "aud": "colink-api", "iat": now - 120,
                            "exp": now + exp_offset, "jti": uuid::Uuid::now_v7(), "ver": 0, "scope": "full"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&key),
        )
        .unwrap()
    };
    for query in [
        String::new(),
        "token=garbage".to_string(),
        format!("token={}", forge(-60)),
        "ticket=unknown".to_string(),
    ] {
        let mut ws = WsClient {
            ws: app.ws_raw(&query, None).await,
        };
        assert_eq!(ws.closed().await, WsEnd::Code(4001), "{query}");
    }

    // A live connection is closed once the session is revoked; the token no longer opens one.
    let mut ws = app.ws(&alice.access).await;
    app.post("/auth/logout-all", Some(&alice.access), json!({}))
        .await
        .expect(204);
    assert_eq!(ws.closed().await, WsEnd::Code(4001));
    let mut again = WsClient {
        ws: app.ws_raw(&format!("token={}", alice.access), None).await,
    };
    assert_eq!(again.closed().await, WsEnd::Code(4001));
    assert!(app.state.realtime.metrics.snapshot().rejected_connections >= 5);
}

#[tokio::test]
async fn tickets_work_once() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    app.call(reqwest::Method::POST, "/ws/ticket", None, Some(json!({})))
        .await
        .problem(401, "unauthorized");
    let issued = app
        .post("/ws/ticket", Some(&alice.access), json!({}))
        .await
        .expect(201);
    assert_eq!(issued["expires_in"], 30);
    let ticket = issued["ticket"].as_str().unwrap();
    let mut ws = WsClient {
        ws: app.ws_raw(&format!("ticket={ticket}"), None).await,
    };
    ws.send(json!({"type": "ping"})).await;
    ws.expect(|f| f["type"] == "pong").await;
    let mut reused = WsClient {
        ws: app.ws_raw(&format!("ticket={ticket}"), None).await,
    };
    assert_eq!(reused.closed().await, WsEnd::Code(4001));
}

#[tokio::test]
async fn only_readable_channels_can_be_subscribed_and_bad_frames_are_answered() {
    let app = spawn_app().await;
    let (owner, _, _, bob) = app.team().await;
    let private = app.channel(&owner, "board", true).await;
    let mut ws = app.ws(&bob.access).await;
    ws.send(json!({"type": "subscribe", "channel_id": private}))
        .await;
    let err = ws.expect(|f| f["type"] == "error").await;
    assert_eq!(
        (err["code"].as_str(), err["channel_id"].as_str()),
        (Some("forbidden"), Some(private.as_str()))
    );
    assert!(err["message"].is_string());
    ws.send(json!({"type": "resume", "channel_id": private, "after_seq": 0}))
        .await;
    assert_eq!(
        ws.expect(|f| f["type"] == "error").await["code"],
        "forbidden"
    );
    ws.send(json!({"type": "subscribe", "channel_id": uuid::Uuid::now_v7()}))
        .await;
    assert_eq!(
        ws.expect(|f| f["type"] == "error").await["code"],
        "not_found"
    );
    for bad in [
        json!("not an object"),
        json!({"type": "fly"}),
        json!({"type": "subscribe"}),
    ] {
        ws.send(bad).await;
        assert_eq!(
            ws.expect(|f| f["type"] == "error").await["code"],
            "bad_request"
        );
    }
    // Still up; and nothing from the private channel arrives.
    app.send(&owner, &private, "board only").await;
    assert!(message_seqs(&ws.drain().await).is_empty());
}

#[tokio::test]
async fn removal_from_a_private_channel_stops_delivery_at_once() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let private = app.channel(&alice, "plans", true).await;
    let mut ws = app.ws(&bob.access).await;
    // Being added is a user-scoped event, and subscribes bob's connections.
    app.post(
        &format!("/channels/{private}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    let joined = ws.event("member.joined").await;
    assert_eq!(joined["data"]["user_id"], bob.user_id);
    ws.expect(|f| f["type"] == "subscribed" && f["channel_id"] == private)
        .await;
    app.send(&alice, &private, "welcome").await;
    ws.event("message.created").await;

    app.delete(
        &format!("/channels/{private}/members/{}", bob.user_id),
        &alice.access,
    )
    .await
    .expect(204);
    let left = ws.event("member.left").await;
    assert_eq!(left["data"]["user_id"], bob.user_id);
    app.send(&alice, &private, "after bob left").await;
    // Alice's own connection proves the message went out before bob's drain ends.
    let mut a = app.ws(&alice.access).await;
    a.subscribe(&private).await;
    app.send(&alice, &private, "and another").await;
    a.event("message.created").await;
    assert!(
        message_seqs(&ws.drain().await).is_empty(),
        "bob got nothing more"
    );
    ws.send(json!({"type": "subscribe", "channel_id": private}))
        .await;
    assert_eq!(
        ws.expect(|f| f["type"] == "error").await["code"],
        "forbidden"
    );
}

#[tokio::test]
async fn resume_replays_what_was_missed_in_order_and_once() {
    let app = spawn_app().await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    app.send(&alice, &channel, "m1").await;
    let seen = ws.event("message.created").await["seq"].as_i64().unwrap();
    ws.ws.close().await.unwrap();

    for i in 2..=6 {
        app.send(&alice, &channel, &format!("m{i}")).await;
    }
    let mut ws = app.ws(&bob.access).await;
    ws.send(json!({"type": "resume", "channel_id": channel, "after_seq": seen}))
        .await;
    // More messages race the replay: the seam must have no gap and no duplicate.
    let sender = async {
        for i in 7..=11 {
            app.send(&alice, &channel, &format!("m{i}")).await;
        }
    };
    let receiver = async {
        let mut seqs = Vec::new();
        while seqs.last() != Some(&(seen + 10)) {
            let event = ws.event("message.created").await;
            seqs.push(event["seq"].as_i64().unwrap());
        }
        seqs
    };
    let ((), seqs) = tokio::join!(sender, receiver);
    assert_eq!(seqs, ((seen + 1)..=(seen + 10)).collect::<Vec<_>>());
    assert!(
        message_seqs(&ws.drain().await).is_empty(),
        "no duplicate after the seam"
    );

    // Resuming from the current end replays nothing; too far behind asks for a resync.
    let app2 = spawn_with(|c| c.realtime.resume_max_messages = 3).await;
    let (_, alice, bob, channel) = team_in_channel(&app2).await;
    // An observer sees the last of these go out, so none is still on its way through the hub
    // when bob connects (it would reach him live, not by replay).
    let mut observer = app2.ws(&alice.access).await;
    observer.subscribe(&channel).await;
    for i in 0..5 {
        app2.send(&alice, &channel, &format!("x{i}")).await;
    }
    while observer.event("message.created").await["seq"] != 5 {}
    let mut ws = app2.ws(&bob.access).await;
    ws.send(json!({"type": "resume", "channel_id": channel, "after_seq": 0}))
        .await;
    assert_eq!(ws.expect(|f| f["type"] == "error").await["code"], "resync");
    ws.send(json!({"type": "resume", "channel_id": channel, "after_seq": 2}))
        .await;
    let replayed: Vec<i64> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(ws.event("message.created").await["seq"].as_i64().unwrap());
        }
        v
    };
    assert_eq!(replayed, vec![3, 4, 5]);
}

#[tokio::test]
async fn frame_rate_and_connection_limits() {
    let app = spawn_with(|c| {
        c.realtime.max_frames_per_second = 5;
        c.realtime.max_connections_per_user = 2;
    })
    .await;
    let (_, _, alice, bob) = app.team().await;
    let mut ws = WsClient {
        ws: app.ws_raw(&format!("token={}", alice.access), None).await,
    };
    for _ in 0..12 {
        ws.send(json!({"type": "ping"})).await;
    }
    let mut frames = Vec::new();
    for _ in 0..12 {
        frames.push(
            ws.expect(|f| f["type"] == "pong" || f["type"] == "error")
                .await,
        );
    }
    let limited = frames
        .iter()
        .filter(|f| f["type"] == "error" && f["code"] == "rate_limited")
        .count();
    let pongs = frames.iter().filter(|f| f["type"] == "pong").count();
    assert!(
        limited >= 1 && pongs >= 5 && limited + pongs == 12,
        "{frames:?}"
    );
    assert!(app.state.realtime.metrics.snapshot().rate_limited_frames >= 1);

    let _second = WsClient {
        ws: app.ws_raw(&format!("token={}", alice.access), None).await,
    };
    let mut third = WsClient {
        ws: app.ws_raw(&format!("token={}", alice.access), None).await,
    };
    assert_eq!(
        third.expect(|f| f["type"] == "error").await["code"],
        "rate_limited"
    );
    assert_eq!(third.closed().await, WsEnd::Code(4029));

    // Sustained abuse: ten times the limit within one window closes the connection.
    let mut flood = app.ws(&bob.access).await;
    for _ in 0..60 {
        flood.send(json!({"type": "ping"})).await;
    }
    assert_eq!(flood.closed().await, WsEnd::Code(4029));
}

#[tokio::test]
async fn user_scoped_events_reach_the_user_without_a_subscription() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let public = app.channel(&alice, "town-square", false).await;
    let private = app.channel(&alice, "inner-circle", true).await;
    let mut o = app.ws(&owner.access).await;
    let mut b = app.ws(&bob.access).await;

    // A mention in a channel the user can read but has not subscribed to.
    app.send(&alice, &public, "ping @owner").await;
    let mention = o.event("message.created").await;
    assert_eq!(mention["data"]["content"], "ping @owner");
    // A mention where the mentioned user cannot read: nothing.
    app.send(&alice, &private, "about @bob").await;

    // A new DM: the participant hears of it and is subscribed to it at once.
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    let dm_id = dm["id"].as_str().unwrap();
    // (The public channel created above may reach bob too, workspace-wide, if it was still on
    // its way when he connected: look for the DM's.)
    let created = b
        .expect(|f| {
            f["type"] == "event"
                && f["event"]["type"] == "channel.created"
                && f["event"]["channel_id"] == dm_id
        })
        .await;
    assert_eq!(created["event"]["data"]["kind"], "dm");
    b.expect(|f| f["type"] == "subscribed" && f["channel_id"] == dm_id)
        .await;
    app.send(&alice, dm_id, "hi bob").await;
    let first = b.event("message.created").await;
    assert_eq!(
        first["data"]["content"], "hi bob",
        "not the private mention"
    );
}
