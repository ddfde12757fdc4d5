//! The event wire format, pinned by golden files recorded from a real server: one scenario makes
//! every event type (SPEC §7, plus the internal `session.revoked`); its outbox rows, the WebSocket
//! frames that carried them and a `resume` replay must be byte for byte what the recorded binary
//! wrote, once ids and timestamps are replaced by placeholders. The recorded rows are also what an
//! older binary left in the outbox: they must still read back, and write out unchanged.
//!
//! Re-record (only for a deliberate change of the wire format) with
//! `COLINK_RECORD_WIRE=1 cargo test wire_format`.

use std::{collections::HashMap, path::PathBuf};

use colink::{
    db::entity::outbox,
    domain::events::{Event, EventKind},
};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::*;

/// Every event type; the scenario must produce each at least once.
const EVENT_TYPES: [&str; 17] = [
    "message.created",
    "message.updated",
    "message.deleted",
    "reaction.added",
    "reaction.removed",
    "channel.created",
    "channel.updated",
    "channel.archived",
    "member.joined",
    "member.left",
    "conversation.read",
    "thread.updated",
    "file.uploaded",
    "session.revoked",
    "moderation.action",
    "user.updated",
    "channel.restricted",
];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wire")
        .join(name)
}

fn recording() -> bool {
    std::env::var_os("COLINK_RECORD_WIRE").is_some()
}

/// Compare `lines` with the golden file (after [`normalise`]), or record them.
fn check_golden(name: &str, lines: &[String]) {
    let path = golden(name);
    if recording() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).expect("the golden file");
    let recorded: Vec<String> = recorded.lines().map(str::to_string).collect();
    let (want, got) = (normalise(&recorded), normalise(lines));
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(g, w, "{name}, line {}", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{name}: number of lines");
}

/// Replace every JSON string that is a UUID with `<id N>` (N by first appearance across all the
/// lines, so equal ids stay equal) and every timestamp with `<time>` (or `<time tuple>`); all
/// other bytes are kept, including key order and whitespace.
fn normalise(lines: &[String]) -> Vec<String> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            let mut rest = line.as_str();
            while let Some(start) = rest.find('"') {
                out.push_str(&rest[..start]);
                let body = &rest[start + 1..];
                let mut end = 0;
                let bytes = body.as_bytes();
                while bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let s = &body[..end];
                if uuid::Uuid::parse_str(s).is_ok() {
                    let n = ids.len() + 1;
                    let n = *ids.entry(s.to_string()).or_insert(n);
                    out.push_str(&format!("\"<id {n}>\""));
                } else if time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok()
                {
                    out.push_str("\"<time>\"");
                } else {
                    out.push('"');
                    out.push_str(s);
                    out.push('"');
                }
                rest = &body[end + 1..];
            }
            out.push_str(rest);
            tuple_times(&out)
        })
        .collect()
}

/// Replace timestamps serialised as `time`'s tuple (`[year,ordinal day,h,m,s,ns,offset h,m,s]`,
/// what `channel.archived` carries in `archived_at`) with `<time tuple>`.
fn tuple_times(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find(']').unwrap_or(after.len());
        let parts: Vec<&str> = after[..end].split(',').collect();
        if parts.len() == 9 && parts.iter().all(|p| p.parse::<i64>().is_ok()) {
            out.push_str("\"<time tuple>\"");
            rest = &after[end + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The text of every frame up to the answer to a ping, unparsed.
async fn raw_frames(ws: &mut WsClient) -> Vec<String> {
    ws.send(json!({"type": "ping"})).await;
    let mut frames = Vec::new();
    loop {
        let text = tokio::time::timeout(FRAME_TIMEOUT, ws.ws.next_text())
            .await
            .unwrap_or_else(|_| panic!("no pong in time; before it: {frames:?}"));
        match text {
            Ok(text) if text.as_str() == r#"{"type":"pong"}"# => return frames,
            Ok(text) => frames.push(text.to_string()),
            Err(e) => panic!("connection ended: {e}"),
        }
    }
}

/// Frames up to and including the first event of type `kind`.
async fn frames_until(ws: &mut WsClient, kind: &str) -> Vec<String> {
    let marker = format!(r#""type":"{kind}""#);
    let mut frames = Vec::new();
    loop {
        let text = tokio::time::timeout(FRAME_TIMEOUT, ws.ws.next_text())
            .await
            .unwrap_or_else(|_| panic!("no {kind} in time; before it: {frames:?}"));
        match text {
            Ok(text) => {
                let done = text.contains(&marker);
                frames.push(text.to_string());
                if done {
                    return frames;
                }
            }
            Err(e) => panic!("connection ended: {e}"),
        }
    }
}

/// Rows an older binary left in the outbox read back as events and write out unchanged.
#[test]
fn recorded_outbox_rows_read_back_and_write_out_unchanged() {
    if recording() {
        return;
    }
    let rows = std::fs::read_to_string(golden("outbox.jsonl")).expect("the golden file");
    let mut seen = std::collections::HashSet::new();
    for row in rows.lines() {
        let event: Event = serde_json::from_str(row).unwrap_or_else(|e| panic!("{e}: {row}"));
        assert_eq!(serde_json::to_string(&event).unwrap(), row);
        let kind: Value = serde_json::from_str(row).unwrap();
        seen.insert(kind["type"].as_str().unwrap().to_string());
    }
    for kind in EVENT_TYPES {
        assert!(seen.contains(kind), "no recorded {kind} row");
    }
    // A new event type must join the scenario (and the recording).
    let declared: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(declared, EVENT_TYPES, "every declared type is covered");
}

/// The scenario: every event type, in channels, DMs and sessions.
#[tokio::test]
async fn every_event_type_keeps_its_wire_format() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    // Alice's connection: she is in every conversation below, so it sees their events.
    let mut alice_ws = app.ws(&alice.access).await;

    let public = app.channel(&alice, "wire", false).await;
    app.join(&bob, &public).await;
    let first = app.send(&alice, &public, "hello @bob and @channel").await;
    let first = first["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/messages/{first}/threads"),
        Some(&bob.access),
        json!({"content": "a reply"}),
    )
    .await
    .expect(201);
    let reaction = app
        .post(
            &format!("/messages/{first}/reactions"),
            Some(&bob.access),
            json!({"emoji": "👍"}),
        )
        .await
        .expect(201);
    app.post(
        &format!("/messages/{first}/reactions"),
        Some(&alice.access),
        json!({"emoji": "👍"}),
    )
    .await
    .expect(201);
    app.delete(
        &format!("/reactions/{}", reaction["id"].as_str().unwrap()),
        &bob.access,
    )
    .await
    .expect(204);
    app.put(
        &format!("/messages/{first}"),
        &alice.access,
        json!({"content": "hello again"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/messages/{first}/pin"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .expect(200);
    let second = app.send(&bob, &public, "to be deleted").await;
    app.post(
        &format!("/channels/{public}/read"),
        Some(&alice.access),
        json!({"seq": 2}),
    )
    .await
    .expect(200);
    app.delete(
        &format!("/messages/{}", second["id"].as_str().unwrap()),
        &bob.access,
    )
    .await
    .expect(204);
    app.put(
        &format!("/channels/{public}"),
        &alice.access,
        json!({"topic": "wires", "description": "about wires"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/channels/{public}/leave"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .expect(204);

    let private = app.channel(&alice, "hidden", true).await;
    app.post(
        &format!("/channels/{private}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    app.send(&bob, &private, "psst").await;
    app.delete(
        &format!("/channels/{private}/members/{}", bob.user_id),
        &alice.access,
    )
    .await
    .expect(204);
    app.delete(&format!("/channels/{private}"), &alice.access)
        .await
        .expect(204);
    app.delete(&format!("/channels/{public}"), &alice.access)
        .await
        .expect(204);

    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": [bob.user_id]}),
    )
    .await
    .expect(201);
    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": [bob.user_id, owner.user_id]}),
    )
    .await
    .expect(201);

    // Alice reads the thread in the (now archived) public channel: her own thread.updated.
    app.post(
        &format!("/messages/{first}/thread/read"),
        Some(&alice.access),
        json!({"seq": 2}),
    )
    .await
    .expect(200);

    // What alice's connection received: each event frame is its outbox row, verbatim. The relay
    // delivers after the write commits, so wait for the last write's event before the ping;
    // otherwise it could still be in flight when the replay socket below subscribes.
    let mut frames = frames_until(&mut alice_ws, "thread.updated").await;
    frames.extend(raw_frames(&mut alice_ws).await);

    // A replay rebuilds message events from the messages table (the message as it is now).
    let mut replay_ws = app.ws(&alice.access).await;
    replay_ws
        .send(json!({"type": "resume", "channel_id": public, "after_seq": 0}))
        .await;
    let mut replay = Vec::new();
    while replay.len() < 3 {
        match tokio::time::timeout(FRAME_TIMEOUT, replay_ws.ws.next_text()).await {
            Ok(Ok(text)) if text.starts_with(r#"{"type":"event","#) => {
                replay.push(text.to_string())
            }
            Ok(Ok(_)) => continue,
            other => panic!("the replay ended early ({replay:?}): {other:?}"),
        }
    }
    let after_replay = raw_frames(&mut replay_ws).await;
    assert!(after_replay.is_empty(), "three messages: {after_replay:?}");

    // Sessions: a logout (one session), a role change and a logout-all (every session).
    let spare = app.login("bob", PASSWORD).await;
    app.post(
        "/auth/logout",
        None,
        json!({"refresh_token": spare.refresh}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/admin/users/{}/role", bob.user_id),
        Some(&owner.access),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    app.post("/auth/logout-all", Some(&bob.access), json!({}))
        .await
        .expect(204);
    // An upload, confirmed: file.uploaded (private to the uploader).
    let notes = bytes::Bytes::from_static(b"wire notes\n");
    app.api_as(&alice)
        .upload(
            &colink_client::NewUpload {
                filename: "notes.txt",
                content_type: "text/plain",
                size_bytes: notes.len() as u64,
                channel_id: None,
            },
            notes,
        )
        .await
        .unwrap();

    // A reported message deleted from the moderation queue: moderation.action (private to the
    // admin).
    let moderated = app.channel(&alice, "moderated", false).await;
    let reported = app.send(&alice, &moderated, "reported").await;
    let reported = reported["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{reported}/report"),
        Some(&alice.access),
        json!({"reason": "wire"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/admin/moderation/queue/{reported}/resolve"),
        Some(&owner.access),
        json!({"action": "delete"}),
    )
    .await
    .expect(204);
    // An admin makes that channel private: channel.updated and the internal channel.restricted.
    app.put(
        &format!("/admin/channels/{moderated}/kind"),
        &owner.access,
        json!({"kind": "private"}),
    )
    .await
    .expect(204);

    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Position)
        .all(&app.state.db)
        .await
        .unwrap();
    for row in &rows {
        let parsed: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(parsed["type"], row.event_type.as_str(), "the type column");
        assert_eq!(
            parsed["id"],
            row.event_id.to_string(),
            "the event_id column"
        );
    }
    let payloads: Vec<String> = rows.iter().map(|r| r.payload.clone()).collect();
    for kind in EVENT_TYPES {
        assert!(
            rows.iter().any(|r| r.event_type == kind),
            "the scenario made no {kind}"
        );
    }

    let delivered: Vec<&String> = frames
        .iter()
        .filter(|f| f.starts_with(r#"{"type":"event","#))
        .collect();
    assert!(delivered.len() > 20, "alice saw the conversations' events");
    for frame in delivered {
        let row = payloads
            .iter()
            .find(|p| frame == &format!(r#"{{"type":"event","event":{p}}}"#));
        assert!(row.is_some(), "a frame that is no outbox row: {frame}");
    }

    check_golden("outbox.jsonl", &payloads);
    check_golden("replay.jsonl", &replay);
}
