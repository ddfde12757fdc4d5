//! One typed method per route, grouped as SPEC §5 groups them.

use serde::Serialize;
use uuid::Uuid;

use crate::{
    AdminStats, AuditEntry, BotClient, Channel, ClientToken, Conversation, CreatedBot, Error,
    FollowedThread, History, Invite, LoginResponse, Member, Message, MessagesUrl, Method,
    NewChannel, NewInvite, NewMessage, Page, PageQuery, Reaction, ReadState, RecoveryCodes,
    Register, Sent, Setup, SetupDone, SetupStatus, ThreadState, Ticket, Tokens, TotpEnrollment,
    User, Workspace, query,
};

/// No request body.
const NONE: Option<&()> = None;

#[derive(Serialize)]
struct RefreshBody<'a> {
    refresh_token: &'a str,
}

#[derive(Serialize)]
struct ContentBody<'a> {
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

fn page_query(q: &PageQuery) -> String {
    query(&[
        ("cursor", q.cursor.clone()),
        ("limit", q.limit.map(|l| l.to_string())),
    ])
}

/// Setup, accounts and sessions.
impl crate::Client {
    pub async fn setup_status(&self) -> Result<SetupStatus, Error> {
        self.call(Method::GET, "/setup/status", NONE).await
    }

    /// First-run setup: the owner account and the first workspace (only while no user exists).
    pub async fn setup(&self, body: &Setup<'_>) -> Result<SetupDone, Error> {
        self.call(Method::POST, "/setup", Some(body)).await
    }

    pub async fn register(&self, body: &Register<'_>) -> Result<User, Error> {
        self.call(Method::POST, "/auth/register", Some(body)).await
    }

    /// Tokens, or a second-factor challenge: see [`LoginResponse::into_login`].
    pub async fn login(&self, login: &str, password: &str) -> Result<LoginResponse, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            login: &'a str,
            password: &'a str,
        }
        let body = Body { login, password };
        self.call(Method::POST, "/auth/login", Some(&body)).await
    }

    /// The second step of a login with 2FA: a TOTP code or a recovery code.
    pub async fn login_totp(&self, mfa_token: &str, code: &str) -> Result<Tokens, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            mfa_token: &'a str,
            code: &'a str,
        }
        let body = Body { mfa_token, code };
        self.call(Method::POST, "/auth/login/totp", Some(&body))
            .await
    }

    /// A new token pair for a refresh token (which is used up).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let body = RefreshBody { refresh_token };
        self.call(Method::POST, "/auth/refresh", Some(&body)).await
    }

    /// End the session of this refresh token.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), Error> {
        let body = RefreshBody { refresh_token };
        self.call_empty(Method::POST, "/auth/logout", Some(&body))
            .await
    }

    /// End every session of the caller.
    pub async fn logout_all(&self) -> Result<(), Error> {
        self.require_token()?;
        self.call_empty(Method::POST, "/auth/logout-all", NONE)
            .await
    }

    /// The OAuth2 client-credentials grant: an access token for a bot.
    pub async fn client_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<ClientToken, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            grant_type: &'a str,
            client_id: &'a str,
            client_secret: &'a str,
        }
        let body = Body {
            grant_type: "client_credentials",
            client_id,
            client_secret,
        };
        self.call(Method::POST, "/auth/token", Some(&body)).await
    }

    /// Start TOTP enrolment (needs the current password).
    pub async fn totp_setup(&self, password: &str) -> Result<TotpEnrollment, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            password: &'a str,
        }
        self.call(Method::POST, "/auth/totp/setup", Some(&Body { password }))
            .await
    }

    /// Finish TOTP enrolment with a first code; the recovery codes are shown once.
    pub async fn totp_confirm(&self, code: &str) -> Result<RecoveryCodes, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
        }
        self.call(Method::POST, "/auth/totp/confirm", Some(&Body { code }))
            .await
    }

    pub async fn me(&self) -> Result<User, Error> {
        self.require_token()?;
        self.call(Method::GET, "/users/me", NONE).await
    }

    pub async fn user(&self, id: Uuid) -> Result<User, Error> {
        self.call(Method::GET, &format!("/users/{id}"), NONE).await
    }
}

/// Workspaces, invites, bots and the audit log.
impl crate::Client {
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, Error> {
        let list: Items<Workspace> = self.call(Method::GET, "/workspaces", NONE).await?;
        Ok(list.items)
    }

    pub async fn workspace(&self, id: Uuid) -> Result<Workspace, Error> {
        self.call(Method::GET, &format!("/workspaces/{id}"), NONE)
            .await
    }

    pub async fn create_invite(&self, workspace: Uuid, body: &NewInvite) -> Result<Invite, Error> {
        let path = format!("/workspaces/{workspace}/invites");
        self.call(Method::POST, &path, Some(body)).await
    }

    /// An existing user joins the invite's workspace.
    pub async fn accept_invite(&self, token: &str) -> Result<Workspace, Error> {
        let mut path = String::from("/invites/");
        crate::encode(&mut path, token);
        path.push_str("/accept");
        self.call(Method::POST, &path, NONE).await
    }

    /// A bot account with client credentials (admins).
    pub async fn create_bot(&self, name: &str, username: &str) -> Result<CreatedBot, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            name: &'a str,
            username: &'a str,
        }
        let body = Body { name, username };
        self.call(Method::POST, "/admin/clients", Some(&body)).await
    }

    pub async fn bots(&self) -> Result<Vec<BotClient>, Error> {
        let list: Items<BotClient> = self.call(Method::GET, "/admin/clients", NONE).await?;
        Ok(list.items)
    }

    /// The workspace's numbers (admins).
    pub async fn admin_stats(&self) -> Result<AdminStats, Error> {
        self.call(Method::GET, "/admin/stats", NONE).await
    }

    /// Audit entries, newest first, optionally of one `action` (admins).
    pub async fn audit(
        &self,
        action: Option<&str>,
        page: &PageQuery,
    ) -> Result<Page<AuditEntry>, Error> {
        let q = query(&[
            ("action", action.map(str::to_owned)),
            ("cursor", page.cursor.clone()),
            ("limit", page.limit.map(|l| l.to_string())),
        ]);
        self.call(Method::GET, &format!("/admin/audit{q}"), NONE)
            .await
    }

    /// A single-use ticket for `/ws?ticket=` (see [`crate::Client::ws_connect`]).
    pub async fn ws_ticket(&self) -> Result<Ticket, Error> {
        self.require_token()?;
        self.call(Method::POST, "/ws/ticket", NONE).await
    }
}

/// Channels, DMs and conversations.
impl crate::Client {
    /// Create a channel; the caller becomes its owner.
    pub async fn create_channel(&self, body: &NewChannel<'_>) -> Result<Channel, Error> {
        self.call(Method::POST, "/channels", Some(body)).await
    }

    /// Public channels of the (first) workspace and the private ones the caller is in.
    pub async fn channels(&self, page: &PageQuery) -> Result<Page<Channel>, Error> {
        self.call(Method::GET, &format!("/channels{}", page_query(page)), NONE)
            .await
    }

    pub async fn channel(&self, id: Uuid) -> Result<Channel, Error> {
        self.call(Method::GET, &format!("/channels/{id}"), NONE)
            .await
    }

    pub async fn join(&self, id: Uuid) -> Result<Channel, Error> {
        self.call(Method::POST, &format!("/channels/{id}/join"), NONE)
            .await
    }

    pub async fn leave(&self, id: Uuid) -> Result<(), Error> {
        self.call_empty(Method::POST, &format!("/channels/{id}/leave"), NONE)
            .await
    }

    pub async fn members(&self, id: Uuid, page: &PageQuery) -> Result<Page<Member>, Error> {
        let path = format!("/channels/{id}/members{}", page_query(page));
        self.call(Method::GET, &path, NONE).await
    }

    pub async fn add_member(&self, id: Uuid, user_id: Uuid) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Body {
            user_id: Uuid,
        }
        let path = format!("/channels/{id}/members");
        self.call_empty(Method::POST, &path, Some(&Body { user_id }))
            .await
    }

    pub async fn remove_member(&self, id: Uuid, user_id: Uuid) -> Result<(), Error> {
        let path = format!("/channels/{id}/members/{user_id}");
        self.call_empty(Method::DELETE, &path, NONE).await
    }

    /// Move the read marker to `seq` (never backwards).
    pub async fn mark_read(&self, id: Uuid, seq: i64) -> Result<ReadState, Error> {
        #[derive(Serialize)]
        struct Body {
            seq: i64,
        }
        let path = format!("/channels/{id}/read");
        self.call(Method::POST, &path, Some(&Body { seq })).await
    }

    /// The DM or group DM with these people (the caller is added); the same people give the
    /// same conversation.
    pub async fn open_dm(&self, participant_ids: &[Uuid]) -> Result<Channel, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            participant_ids: &'a [Uuid],
        }
        self.call(Method::POST, "/dms", Some(&Body { participant_ids }))
            .await
    }

    pub async fn dms(&self, page: &PageQuery) -> Result<Page<Channel>, Error> {
        self.call(Method::GET, &format!("/dms{}", page_query(page)), NONE)
            .await
    }

    /// Channels and DMs the caller is in, most recent activity first.
    pub async fn conversations(&self, page: &PageQuery) -> Result<Page<Conversation>, Error> {
        let path = format!("/conversations{}", page_query(page));
        self.call(Method::GET, &path, NONE).await
    }
}

/// Messages, threads, reactions and pins.
impl crate::Client {
    /// Where messages of channel `id` are posted; build it once for [`Self::post_message`].
    pub fn messages_url(&self, id: Uuid) -> MessagesUrl {
        MessagesUrl(self.url(&format!("/channels/{id}/messages")))
    }

    /// Post a message and get the answer undecoded: the lean form for hot loops (no URL
    /// formatting, no JSON parsing of the answer). A non-2xx answer is [`Error::Api`].
    pub async fn post_message(
        &self,
        to: &MessagesUrl,
        body: &NewMessage<'_>,
    ) -> Result<Sent, Error> {
        let (status, body) = self.fetch_url(Method::POST, &to.0, Some(body)).await?;
        Ok(Sent { status, body })
    }

    /// Post a message to channel `id`.
    pub async fn send_message(&self, id: Uuid, body: &NewMessage<'_>) -> Result<Message, Error> {
        self.post_message(&self.messages_url(id), body)
            .await?
            .message()
    }

    /// Top-level messages of a channel, newest first (oldest first with `after`).
    pub async fn messages(&self, id: Uuid, history: &History) -> Result<Page<Message>, Error> {
        let q = query(&[
            ("before", history.before.map(|s| s.to_string())),
            ("after", history.after.map(|s| s.to_string())),
            ("limit", history.limit.map(|l| l.to_string())),
        ]);
        self.call(Method::GET, &format!("/channels/{id}/messages{q}"), NONE)
            .await
    }

    /// Change a message's content (its author only).
    pub async fn edit_message(&self, id: Uuid, content: &str) -> Result<Message, Error> {
        let body = ContentBody {
            content,
            client_id: None,
        };
        self.call(Method::PUT, &format!("/messages/{id}"), Some(&body))
            .await
    }

    pub async fn delete_message(&self, id: Uuid) -> Result<(), Error> {
        self.call_empty(Method::DELETE, &format!("/messages/{id}"), NONE)
            .await
    }

    /// Reply in the thread of `root`.
    pub async fn reply(
        &self,
        root: Uuid,
        content: &str,
        client_id: Option<&str>,
    ) -> Result<Message, Error> {
        let body = ContentBody { content, client_id };
        let path = format!("/messages/{root}/threads");
        self.call(Method::POST, &path, Some(&body)).await
    }

    /// The replies of a thread, oldest first.
    pub async fn thread(&self, root: Uuid, page: &PageQuery) -> Result<Page<Message>, Error> {
        let path = format!("/messages/{root}/thread{}", page_query(page));
        self.call(Method::GET, &path, NONE).await
    }

    /// The caller's followed threads, most recent reply first.
    pub async fn threads(&self, page: &PageQuery) -> Result<Page<FollowedThread>, Error> {
        let path = format!("/threads{}", page_query(page));
        self.call(Method::GET, &path, NONE).await
    }

    /// Follow the thread of `message` (idempotent).
    pub async fn follow(&self, message: Uuid) -> Result<(), Error> {
        let path = format!("/messages/{message}/follow");
        self.call_empty(Method::PUT, &path, NONE).await
    }

    /// Unfollow the thread of `message` (idempotent; replies by others do not follow it again).
    pub async fn unfollow(&self, message: Uuid) -> Result<(), Error> {
        let path = format!("/messages/{message}/follow");
        self.call_empty(Method::DELETE, &path, NONE).await
    }

    /// Move the caller's read marker in the thread of `message` to `seq` (never backwards).
    pub async fn read_thread(&self, message: Uuid, seq: i64) -> Result<ThreadState, Error> {
        #[derive(Serialize)]
        struct Body {
            seq: i64,
        }
        let path = format!("/messages/{message}/thread/read");
        self.call(Method::POST, &path, Some(&Body { seq })).await
    }

    pub async fn react(&self, message: Uuid, emoji: &str) -> Result<Reaction, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            emoji: &'a str,
        }
        let path = format!("/messages/{message}/reactions");
        self.call(Method::POST, &path, Some(&Body { emoji })).await
    }

    /// Remove a reaction by its id.
    pub async fn unreact(&self, reaction: Uuid) -> Result<(), Error> {
        self.call_empty(Method::DELETE, &format!("/reactions/{reaction}"), NONE)
            .await
    }

    pub async fn pin(&self, message: Uuid) -> Result<Message, Error> {
        self.call(Method::POST, &format!("/messages/{message}/pin"), NONE)
            .await
    }

    pub async fn unpin(&self, message: Uuid) -> Result<Message, Error> {
        self.call(Method::DELETE, &format!("/messages/{message}/pin"), NONE)
            .await
    }

    pub async fn pins(&self, channel: Uuid, page: &PageQuery) -> Result<Page<Message>, Error> {
        let path = format!("/channels/{channel}/pins{}", page_query(page));
        self.call(Method::GET, &path, NONE).await
    }
}
