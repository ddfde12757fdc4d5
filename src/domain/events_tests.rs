//! Unit tests of the event envelope and its payloads (the recorded wire format of every type is
//! checked end to end by `tests/api/wire_format.rs`).

use super::*;

fn read(user: Uuid) -> EventData {
    EventData::ConversationRead(ConversationRead {
        user_id: user,
        last_read_seq: 4,
    })
}

#[test]
fn envelope_shape() {
    let user = Uuid::now_v7();
    let e = Event::new(Uuid::now_v7(), Some(Uuid::now_v7()), Some(user), read(user)).with_seq(7);
    let text = serde_json::to_string(&e).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys = [
        "id",
        "type",
        "occurred_at",
        "workspace_id",
        "channel_id",
        "actor_id",
        "seq",
        "data",
    ];
    // In this order, and nothing else.
    let at: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(v.as_object().unwrap().len(), keys.len());
    assert_eq!(v["type"], "conversation.read");
    assert!(v["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        v["data"],
        serde_json::json!({"user_id": user, "last_read_seq": 4})
    );
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
    // Without a seq, the key is absent.
    let plain = serde_json::to_value(Event::new(Uuid::now_v7(), None, None, read(user))).unwrap();
    assert!(plain.get("seq").is_none());
}

/// Payload keys come out sorted whatever the field order (as `serde_json::Value` wrote them).
#[test]
fn payload_keys_are_sorted() {
    let data = EventData::MemberJoined(MemberChange {
        user_id: Uuid::nil(),
        role: ChannelRole::Owner,
        channel_kind: ChannelKind::GroupDm,
    });
    let e = Event::new(Uuid::nil(), None, None, data);
    let text = serde_json::to_string(&e).unwrap();
    assert!(
        text.ends_with(
            r#""data":{"channel_kind":"group_dm","role":"owner","user_id":"00000000-0000-0000-0000-000000000000"}}"#
        ),
        "{text}"
    );
}

#[test]
fn every_type_has_one_name_that_reads_back() {
    let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    for kind in EventKind::ALL {
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), EventKind::ALL.len(), "names are unique");
    assert_eq!(EventKind::ALL.len(), 17);
}

#[test]
fn unknown_types_and_mismatched_payloads_are_refused() {
    let user = Uuid::now_v7();
    let mut v = serde_json::to_value(Event::new(Uuid::now_v7(), None, None, read(user))).unwrap();
    v["type"] = "message.exploded".into();
    assert!(serde_json::from_value::<Event>(v.clone()).is_err());
    v["type"] = "member.joined".into();
    let err = serde_json::from_value::<Event>(v).unwrap_err();
    assert!(err.to_string().contains("member.joined data"), "{err}");
}

#[test]
fn revocations_name_their_reason() {
    let data = EventData::SessionRevoked(SessionRevoked {
        user_id: Uuid::nil(),
        session_id: None,
        reason: Revoked::Role,
    });
    assert_eq!(
        data.to_json().unwrap(),
        serde_json::json!({"user_id": Uuid::nil(), "session_id": null, "reason": "role"})
    );
    assert_eq!(data.kind(), EventKind::SessionRevoked);
}

#[test]
fn archived_at_is_rfc3339_and_older_rows_in_tuple_form_still_read() {
    let at = time::macros::datetime!(2026-11-30 07:40:32.879921631 UTC);
    let data = ChannelArchived {
        archived_at: Some(at),
        kind: ChannelKind::Private,
    };
    let text = serde_json::to_string(&data).unwrap();
    assert_eq!(
        text,
        r#"{"archived_at":"2026-11-30T07:40:32.879921631Z","kind":"private"}"#
    );
    let older = r#"{"archived_at":[2026,334,7,40,32,879921631,0,0,0],"kind":"private"}"#;
    let read: ChannelArchived = serde_json::from_str(older).unwrap();
    assert_eq!(read, data);
    let none: ChannelArchived =
        serde_json::from_str(r#"{"archived_at":null,"kind":"public"}"#).unwrap();
    assert_eq!(none.archived_at, None);
}
