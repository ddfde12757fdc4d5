//! The WebSocket gateway (SPEC §6): connect with a ticket or token, subscribe, read frames.

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;
pub use tokio_tungstenite::{
    self, MaybeTlsStream, WebSocketStream,
    tungstenite::{Message as WsMessage, Utf8Bytes, protocol::WebSocketConfig},
};
use uuid::Uuid;

use crate::{Client, Error};

/// How a connection proves who it is: `?ticket=` (single use, from `POST /ws/ticket`) or
/// `?token=` (an access token).
#[derive(Debug, Clone, Copy)]
pub enum WsAuth<'a> {
    Ticket(&'a str),
    Token(&'a str),
}

/// What a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame<'a> {
    Subscribe {
        channel_id: Uuid,
    },
    Unsubscribe {
        channel_id: Uuid,
    },
    Typing {
        channel_id: Uuid,
    },
    /// `online`, `away` or `dnd`.
    Presence {
        status: &'a str,
    },
    Ping,
    /// Replay the channel's events after `after_seq`.
    Resume {
        channel_id: Uuid,
        after_seq: i64,
    },
    /// A fresh access token of the same user, before the current one expires.
    Auth {
        token: &'a str,
    },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Subscribed {
        channel_id: Uuid,
    },
    Event {
        event: Event,
    },
    Typing {
        channel_id: Uuid,
        user_id: Uuid,
        username: String,
    },
    Presence {
        user_id: Uuid,
        status: String,
    },
    Pong,
    /// The answer to an `auth` frame: the connection now lasts until `expires_at` (unix s).
    Authenticated {
        expires_at: i64,
    },
    Error {
        code: String,
        message: String,
        #[serde(default)]
        channel_id: Option<Uuid>,
    },
    /// A frame type this client does not know yet.
    #[serde(other)]
    Other,
}

/// The event envelope of SPEC §7; `data` depends on `kind` (e.g. a message for
/// `message.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(default)]
    pub workspace_id: Option<Uuid>,
    #[serde(default)]
    pub channel_id: Option<Uuid>,
    #[serde(default)]
    pub actor_id: Option<Uuid>,
    #[serde(default)]
    pub seq: Option<i64>,
    pub data: serde_json::Value,
}

/// An open WebSocket to `/ws`, over any stream (`MaybeTlsStream<TcpStream>` by default).
pub struct Connection<S = MaybeTlsStream<tokio::net::TcpStream>> {
    socket: WebSocketStream<S>,
}

impl Client {
    /// `ws://…/ws?ticket=…` (or `token=`) for this client's server.
    pub fn ws_url(&self, auth: WsAuth<'_>) -> String {
        let base = self.base_url();
        let base = match base.strip_prefix("http") {
            Some(rest) => format!("ws{rest}"),
            None => base.to_owned(),
        };
        let (key, value) = match auth {
            WsAuth::Ticket(t) => ("ticket", t),
            WsAuth::Token(t) => ("token", t),
        };
        let mut url = format!("{base}/ws?{key}=");
        crate::encode(&mut url, value);
        url
    }

    /// Connect with a fresh single-use ticket (the token never appears in a URL).
    pub async fn ws_connect(&self) -> Result<Connection, Error> {
        let ticket = self.ws_ticket().await?;
        self.ws_connect_with(WsAuth::Ticket(&ticket.ticket), None)
            .await
    }

    /// Connect with this credential and tungstenite settings (e.g. small buffers for
    /// thousands of connections).
    pub async fn ws_connect_with(
        &self,
        auth: WsAuth<'_>,
        config: Option<WebSocketConfig>,
    ) -> Result<Connection, Error> {
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(self.ws_url(auth), config, false).await?;
        Ok(Connection { socket })
    }
}

impl<S> Connection<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    /// The handshake over a stream you opened yourself (e.g. a socket with small buffers).
    pub async fn handshake(
        stream: S,
        url: &str,
        config: Option<WebSocketConfig>,
    ) -> Result<Self, Error> {
        let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, config).await?;
        Ok(Connection { socket })
    }

    pub async fn send(&mut self, frame: &ClientFrame<'_>) -> Result<(), Error> {
        self.send_json(frame).await
    }

    /// Send any JSON value as a text frame (for frames this crate has no type for).
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, frame: &T) -> Result<(), Error> {
        let text = serde_json::to_string(frame)
            .map_err(|e| Error::decode("serialising a frame", b"", e))?;
        self.send_text(text).await
    }

    /// Send a text frame as it is (malformed on purpose if you like).
    pub async fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.socket.send(WsMessage::Text(text.into())).await?;
        Ok(())
    }

    /// The next text frame, control frames skipped. A close (or the end of the stream) is
    /// [`Error::Closed`], with the close code when the server sent one.
    pub async fn next_text(&mut self) -> Result<Utf8Bytes, Error> {
        loop {
            match self.socket.next().await {
                Some(Ok(WsMessage::Text(text))) => return Ok(text),
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(Error::Closed {
                        code: frame.map(|f| f.code.into()),
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Error::Closed { code: None }),
            }
        }
    }

    /// The next frame, decoded as `T` (any type: a lean struct of your own, or
    /// `serde_json::Value`).
    pub async fn next_as<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let text = self.next_text().await?;
        serde_json::from_str(text.as_str())
            .map_err(|e| Error::decode("a WebSocket frame", text.as_bytes(), e))
    }

    /// The next frame.
    pub async fn next_frame(&mut self) -> Result<ServerFrame, Error> {
        self.next_as().await
    }

    /// Subscribe to a channel and wait for the confirmation; frames that arrive before it are
    /// skipped. An `error` frame (e.g. `forbidden`) is [`Error::Refused`].
    pub async fn subscribe(&mut self, channel_id: Uuid) -> Result<(), Error> {
        self.send(&ClientFrame::Subscribe { channel_id }).await?;
        loop {
            match self.next_frame().await? {
                ServerFrame::Subscribed { channel_id: id } if id == channel_id => return Ok(()),
                ServerFrame::Error { code, message, .. } => {
                    return Err(Error::Refused { code, message });
                }
                _ => continue,
            }
        }
    }

    /// Close the connection (a normal close frame).
    pub async fn close(&mut self) -> Result<(), Error> {
        self.socket.close(None).await?;
        Ok(())
    }

    /// The tungstenite stream, for anything this type does not cover.
    pub fn get_mut(&mut self) -> &mut WebSocketStream<S> {
        &mut self.socket
    }

    pub fn into_inner(self) -> WebSocketStream<S> {
        self.socket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_wire_shape() {
        let id = Uuid::nil();
        let text = serde_json::to_string(&ClientFrame::Resume {
            channel_id: id,
            after_seq: 4,
        })
        .unwrap();
        assert_eq!(
            text,
            format!(r#"{{"type":"resume","channel_id":"{id}","after_seq":4}}"#)
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Ping).unwrap(),
            r#"{"type":"ping"}"#
        );
        let frame: ServerFrame = serde_json::from_str(&format!(
            r#"{{"type":"event","event":{{"id":"{id}","type":"message.created",
                "occurred_at":"2026-01-02T03:04:05.123Z","workspace_id":"{id}",
                "channel_id":"{id}","actor_id":null,"seq":7,"data":{{"content":"hi"}}}}}}"#
        ))
        .unwrap();
        let ServerFrame::Event { event } = frame else {
            panic!("an event frame")
        };
        assert_eq!(
            (event.kind.as_str(), event.seq),
            ("message.created", Some(7))
        );
        assert_eq!(event.data["content"], "hi");
        let other: ServerFrame = serde_json::from_str(r#"{"type":"something_new"}"#).unwrap();
        assert_eq!(other, ServerFrame::Other);
    }

    #[test]
    fn ws_urls_follow_the_base_url() {
        let c = Client::new("https://chat.example.com");
        assert_eq!(
            c.ws_url(WsAuth::Ticket("a b")),
            "wss://chat.example.com/ws?ticket=a%20b"
        );
    }
}
