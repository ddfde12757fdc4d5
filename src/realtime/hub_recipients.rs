//! Who receives an event, beyond what the hub's delivery loop does with it (see the hub's
//! module docs): the rules that pick recipients by the event's kind.

use std::collections::HashSet;

use uuid::Uuid;

use super::{ConnId, Registry};
use crate::domain::{
    ChannelKind,
    events::{Event, EventData},
};

/// News for the whole workspace: `channel.created` / `updated` / `archived` of a public channel,
/// and `user.updated`.
pub(super) fn workspace_news(event: &Event) -> bool {
    let kind = match &event.data {
        EventData::ChannelCreated(c) | EventData::ChannelUpdated(c) => c.kind,
        EventData::ChannelArchived(archived) => archived.kind,
        EventData::UserUpdated(_) => return true,
        _ => return false,
    };
    kind == ChannelKind::Public
}

/// Users an event is about, who may see it whatever they subscribed to.
pub(super) fn named_users(event: &Event) -> Vec<Uuid> {
    match &event.data {
        EventData::MemberJoined(member) | EventData::MemberLeft(member) => vec![member.user_id],
        EventData::ChannelCreated(created) => created.participant_ids.clone(),
        _ => Vec::new(),
    }
}

/// Who receives `event` first: the conversation's subscribers; for a held-back message its
/// author only; for private events (read markers, thread state, uploads) the actor only; for
/// `moderation.action` every admin.
pub(super) fn first_audience(
    reg: &Registry,
    event: &Event,
    held_back: Option<Uuid>,
) -> HashSet<ConnId> {
    let private = matches!(
        event.data,
        EventData::ConversationRead(_) | EventData::ThreadUpdated(_) | EventData::FileUploaded(_)
    );
    if let Some(author) = held_back {
        reg.conns_of(author).collect()
    } else if let EventData::ModerationAction(_) = event.data {
        reg.conns
            .iter()
            .filter(|(_, c)| c.admin)
            .map(|(id, _)| *id)
            .collect()
    } else if private {
        event
            .actor_id
            .map(|u| reg.conns_of(u).collect())
            .unwrap_or_default()
    } else {
        event
            .channel_id
            .and_then(|c| reg.by_channel.get(&c))
            .cloned()
            .unwrap_or_default()
    }
}

/// For a message a `hide` moderation rule holds back: its author, the only one who hears of it.
pub(super) fn held_back_author(event: &Event) -> Option<Uuid> {
    match &event.data {
        EventData::MessageCreated(m) | EventData::MessageUpdated(m) if m.hidden => Some(m.user_id),
        _ => None,
    }
}
