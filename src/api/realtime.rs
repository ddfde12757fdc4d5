//! Realtime: tickets for the WebSocket gateway (`GET /ws`, outside the OpenAPI document).

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, payload::Json};

use super::{
    ApiTags,
    dto::Created,
    security::BearerAuth,
    statuses::{self as s, ApiResult},
};
use crate::{app::AppState, realtime::ticket};

pub struct RealtimeApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct Ticket {
    /// Pass as `/ws?ticket=…`; works once.
    ticket: String,
    /// Seconds until it expires unused.
    expires_in: u64,
}

#[OpenApi(prefix_path = "/ws", tag = "ApiTags::Realtime")]
impl RealtimeApi {
    /// A single-use ticket to open the WebSocket (`/ws?ticket=`) without putting the access
    /// token in a URL. Valid for `realtime.ticket_ttl` (30 s by default).
    #[oai(path = "/ticket", method = "post")]
    async fn ticket(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<Created<Ticket>, (s::Authed, s::TooManyRequests)> {
        let (ticket, expires_in) = ticket::issue(&self.state, auth.0).await?;
        Ok(Created::Created(Json(Ticket { ticket, expires_in })))
    }
}
