//! Per-node caches follow the bus. A node caches token states, open sessions and post
//! permissions (see `identity::token_state`, `service::access`); the node that makes a change
//! forgets the affected entries after its commit, and every node — itself included, again,
//! harmlessly — forgets them when the change's event arrives on the bus. So with a shared bus a
//! suspension, a revoked session, a role change, a removal from a channel or an archived
//! channel takes effect on every node within the bus's latency, not the caches' TTL.

use crate::{
    app::AppState,
    domain::events::{Event, EventData},
};

/// Forget what `event` makes stale. Called by the hub worker for every bus event.
pub fn apply(state: &AppState, event: &Event) {
    match &event.data {
        EventData::SessionRevoked(revoked) => {
            state.token_states.forget(&revoked.user_id);
            if let Some(session) = revoked.session_id {
                state.sessions.forget(&session);
            }
        }
        // Role or standing changed (profile changes cost one lookup more, no harm).
        EventData::UserUpdated(user) => state.token_states.forget(&user.id),
        EventData::MemberLeft(member) => {
            if let Some(channel) = event.channel_id {
                state.post_access.forget_member(channel, member.user_id);
            }
        }
        EventData::ChannelArchived(_) | EventData::ChannelRestricted(_) => {
            if let Some(channel) = event.channel_id {
                state.post_access.forget_channel(channel);
            }
        }
        _ => {}
    }
}

/// Forget everything: the bus lost events, so some changes may have been missed.
pub fn forget_all(state: &AppState) {
    state.token_states.forget_where(|_| true);
    state.sessions.forget_where(|_| true);
    state.post_access.forget_all();
}
