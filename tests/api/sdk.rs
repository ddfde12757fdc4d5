//! `colink-client` against the real server: every typed call decodes what the server sends, and
//! refusals come back as problems (with `Retry-After` on 429).

use std::time::Duration;

use colink::kv::Bucket;
use colink_client::{
    ChannelKind, ChannelRole, Client, Error, History, Login, NewChannel, NewMessage, PageQuery,
    Uuid,
    ws::{ServerFrame, WsAuth},
};
use totp_rs::{Algorithm, Builder, Secret};

use crate::helpers::*;

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, Error>, status: u16, code: &str) -> Error {
    let err = result.expect_err("a refusal");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{err}");
    assert_eq!(err.code(), Some(code), "{err}");
    assert_eq!(err.problem().unwrap().status, status);
    err
}

#[tokio::test]
async fn channels_messages_threads_reactions_pins_and_dms() {
    let app = spawn_app().await;
    assert!(app.api.setup_status().await.unwrap().needs_setup);
    let (owner, ws) = app.setup_owner().await;
    let (alice, bob) = (
        app.member(&owner, &ws, "alice").await,
        app.member(&owner, &ws, "bob").await,
    );
    let (a, b) = (app.api_as(&alice), app.api_as(&bob));
    assert!(!app.api.setup_status().await.unwrap().needs_setup);

    let me = a.me().await.unwrap();
    assert_eq!(me.username, "alice");
    assert_eq!(me.email.as_deref(), Some("alice@example.com"));
    assert_eq!(b.user(me.id).await.unwrap().username, "alice");
    let workspaces = a.workspaces().await.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(a.workspace(workspaces[0].id).await.unwrap().name, "Acme");

    let channel = a
        .create_channel(&NewChannel {
            name: "sdk",
            description: Some("typed"),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    assert_eq!(channel.kind, ChannelKind::Public);
    assert_eq!(channel.description.as_deref(), Some("typed"));
    assert_eq!(b.join(channel.id).await.unwrap().id, channel.id);
    let listed = b.channels(&PageQuery::default()).await.unwrap();
    assert!(listed.items.iter().any(|c| c.id == channel.id));
    assert_eq!(b.channel(channel.id).await.unwrap().member_count, 2);
    let members = a.members(channel.id, &PageQuery::default()).await.unwrap();
    let roles: Vec<_> = members.items.iter().map(|m| m.role).collect();
    assert!(roles.contains(&ChannelRole::Owner) && roles.contains(&ChannelRole::Member));
    let bob_id = uuid_of(&bob.user_id);

    // Messages: idempotent send, history both ways, edit, delete.
    let hello = NewMessage::new("hello @bob").client_id("sdk-1");
    let first = a.send_message(channel.id, &hello).await.unwrap();
    assert_eq!(first.mentions.user_ids, vec![bob_id]);
    assert_eq!(first.client_id.as_deref(), Some("sdk-1"));
    let again = a
        .post_message(&a.messages_url(channel.id), &hello)
        .await
        .unwrap();
    assert!(!again.created());
    assert_eq!(again.message().unwrap().id, first.id);
    let second = a
        .send_message(channel.id, &NewMessage::new("second"))
        .await
        .unwrap();
    let before = History {
        before: Some(second.seq),
        ..History::default()
    };
    let older = b.messages(channel.id, &before).await.unwrap();
    assert_eq!(
        older.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first.id]
    );
    let after = History {
        after: Some(first.seq),
        limit: Some(10),
        ..History::default()
    };
    let newer = b.messages(channel.id, &after).await.unwrap();
    assert_eq!(
        newer.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [second.id]
    );
    let edited = a.edit_message(second.id, "second, edited").await.unwrap();
    assert!(edited.edited_at.is_some());
    refused(
        b.edit_message(second.id, "not mine").await,
        403,
        "forbidden",
    );
    a.delete_message(second.id).await.unwrap();

    // Threads, reactions, pins, read markers.
    let reply = b.reply(first.id, "a reply", Some("sdk-r1")).await.unwrap();
    assert_eq!(reply.thread_root_id, Some(first.id));
    let thread = a.thread(first.id, &PageQuery::default()).await.unwrap();
    assert!(thread.items.iter().any(|m| m.id == reply.id));
    let reaction = b.react(first.id, "thumbsup").await.unwrap();
    refused(b.react(first.id, "thumbsup").await, 409, "conflict");
    b.unreact(reaction.id).await.unwrap();
    assert!(a.pin(first.id).await.unwrap().pinned);
    let pins = a.pins(channel.id, &PageQuery::default()).await.unwrap();
    assert_eq!(
        pins.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first.id]
    );
    assert!(!a.unpin(first.id).await.unwrap().pinned);
    let read = b.mark_read(channel.id, first.seq).await.unwrap();
    assert_eq!(read.last_read_seq, first.seq);

    // DMs and conversations.
    let dm = a.open_dm(&[bob_id]).await.unwrap();
    assert_eq!(dm.kind, ChannelKind::Dm);
    assert_eq!(a.open_dm(&[bob_id]).await.unwrap().id, dm.id);
    a.send_message(dm.id, &NewMessage::new("psst"))
        .await
        .unwrap();
    let dms = b.dms(&PageQuery::default()).await.unwrap();
    assert_eq!(dms.items.iter().map(|c| c.id).collect::<Vec<_>>(), [dm.id]);
    let conversations = b.conversations(&PageQuery::default()).await.unwrap();
    let newest = &conversations.items[0];
    assert_eq!(newest.channel.id, dm.id);
    assert_eq!(newest.last_message.as_ref().unwrap().content, "psst");

    // Paging: one channel a page, until next_cursor runs out.
    for name in ["sdk-2", "sdk-3"] {
        a.create_channel(&NewChannel {
            name,
            ..NewChannel::default()
        })
        .await
        .unwrap();
    }
    let mut page = PageQuery {
        cursor: None,
        limit: Some(1),
    };
    let mut seen = Vec::new();
    loop {
        let p = a.channels(&page).await.unwrap();
        seen.extend(p.items.iter().map(|c| c.id));
        match p.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert!(seen.len() >= 3 && seen.contains(&channel.id), "{seen:?}");

    // Refusals are problems.
    refused(a.channel(Uuid::now_v7()).await, 404, "not_found");
    let bad = NewChannel {
        name: "no spaces",
        ..NewChannel::default()
    };
    let err = refused(a.create_channel(&bad).await, 400, "validation_failed");
    assert_eq!(err.problem().unwrap().errors[0].field, "name");
    assert!(matches!(app.api.me().await, Err(Error::NoToken)));
    refused(
        app.api.with_token("nonsense").me().await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn sessions_bots_audit_and_the_websocket() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let (o, a) = (app.api_as(&owner), app.api_as(&alice));

    // Sessions: login, refresh (rotation), logout.
    let Some(Login::Tokens(tokens)) = app.api.login("alice", PASSWORD).await.unwrap().into_login()
    else {
        panic!("tokens");
    };
    let rotated = app.api.refresh(&tokens.refresh_token).await.unwrap();
    assert_ne!(rotated.refresh_token, tokens.refresh_token);
    app.api.logout(&rotated.refresh_token).await.unwrap();
    refused(
        app.api.refresh(&rotated.refresh_token).await,
        401,
        "token_revoked",
    );

    // Bots and the audit log.
    let bot = o.create_bot("Echo", "echo").await.unwrap();
    assert!(
        o.bots()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == bot.client.id)
    );
    let token = app
        .api
        .client_token(&bot.client.client_id, &bot.client_secret)
        .await
        .unwrap();
    let echo = app.api.with_token(token.access_token.as_str());
    assert_eq!(echo.me().await.unwrap().role, "bot");
    let audit = o
        .audit(Some("client.created"), &PageQuery::default())
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].actor_id, Some(uuid_of(&owner.user_id)));

    // The WebSocket, with a ticket: subscribe, then the event of a message.
    let town = o
        .create_channel(&NewChannel {
            name: "town",
            ..NewChannel::default()
        })
        .await
        .unwrap();
    let secret = o
        .create_channel(&NewChannel {
            name: "secret",
            is_private: true,
            ..NewChannel::default()
        })
        .await
        .unwrap();
    a.join(town.id).await.unwrap();
    let mut socket = a.ws_connect().await.unwrap();
    socket.subscribe(town.id).await.unwrap();
    match socket.subscribe(secret.id).await {
        Err(Error::Refused { code, .. }) => assert_eq!(code, "forbidden"),
        other => panic!("subscribing to a private channel: {other:?}"),
    }
    let sent = o
        .send_message(town.id, &NewMessage::new("live"))
        .await
        .unwrap();
    let event = tokio::time::timeout(FRAME_TIMEOUT, async {
        loop {
            if let ServerFrame::Event { event } = socket.next_frame().await.unwrap()
                && event.kind == "message.created"
            {
                return event;
            }
        }
    })
    .await
    .expect("the message event");
    assert_eq!(
        (event.channel_id, event.seq),
        (Some(town.id), Some(sent.seq))
    );
    assert_eq!(event.data["content"], "live");
    socket.close().await.unwrap();

    // A bad credential: close code 4001.
    let url = app.api.ws_url(WsAuth::Token("nonsense"));
    let mut bad = colink_client::ws::Connection::handshake(
        tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .unwrap(),
        &url,
        None,
    )
    .await
    .unwrap();
    let end = tokio::time::timeout(FRAME_TIMEOUT, bad.next_text()).await;
    assert!(
        matches!(end, Ok(Err(Error::Closed { code: Some(4001) }))),
        "{end:?}"
    );
}

fn totp_code(secret_b32: &str) -> String {
    let secret = Secret::try_from_base32(secret_b32).unwrap();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret)
        .with_digits(6)
        .with_step_duration(30)
        .build()
        .unwrap();
    totp.generate(time::OffsetDateTime::now_utc().unix_timestamp() as u64)
        .to_string()
}

#[tokio::test]
async fn a_login_with_a_second_factor_takes_two_steps() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let o = app.api_as(&owner);
    let enrollment = o.totp_setup(PASSWORD).await.unwrap();
    let codes = o
        .totp_confirm(&totp_code(&enrollment.secret))
        .await
        .unwrap();
    assert!(!codes.recovery_codes.is_empty());
    let answer = app.api.login("owner", PASSWORD).await.unwrap();
    let Some(Login::MfaRequired { mfa_token }) = answer.into_login() else {
        panic!("a second-factor challenge");
    };
    let tokens = app
        .api
        .login_totp(&mfa_token, &codes.recovery_codes[0])
        .await
        .unwrap();
    let me = app.api.with_token(tokens.access_token).me().await.unwrap();
    assert_eq!(me.username, "owner");
}

#[tokio::test]
async fn rate_limited_calls_say_when_to_retry() {
    let app = spawn_with(|c| {
        c.limits.writes.messages = Bucket {
            capacity: 1,
            per_minute: 1,
        }
    })
    .await;
    let (owner, _) = app.setup_owner().await;
    let o: Client = app.api_as(&owner);
    let town = o
        .create_channel(&NewChannel {
            name: "town",
            ..NewChannel::default()
        })
        .await
        .unwrap();
    o.send_message(town.id, &NewMessage::new("one"))
        .await
        .unwrap();
    let err = refused(
        o.send_message(town.id, &NewMessage::new("two")).await,
        429,
        "rate_limited",
    );
    let wait = err.retry_after().expect("Retry-After");
    assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60));
}
