//! Reports (any member) and the moderation queue (admins): see `service::moderation`.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{
        ApiTags,
        body::JsonBody,
        dto::{Created, NoContent, Page, User},
        security::{BearerAuth, meta},
        statuses::{self as s, ApiResult},
        users::default_limit,
    },
    app::AppState,
    db::entity::moderation_rule,
    domain::MessageBody,
    service::{moderation, moderation_rules, users, views::MessageView},
};

pub struct ModerationApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct ReportBody {
    /// Why the message should be looked at (shown to admins): not blank.
    #[oai(validator(min_length = 1, max_length = 500, pattern = r"\S"))]
    reason: String,
}

/// A report, as its reporter sees it.
#[derive(Object)]
struct ReportView {
    id: Uuid,
    message_id: Uuid,
    reason: String,
    created_at: OffsetDateTime,
}

/// One report in the queue: by a person, or by a moderation rule.
#[derive(Object)]
struct QueueReport {
    id: Uuid,
    /// The person who reported; null for a rule's report.
    #[oai(nullable)]
    reporter_id: Option<Uuid>,
    /// The moderation rule that matched; null for a person's report.
    #[oai(nullable)]
    rule_id: Option<Uuid>,
    reason: String,
    created_at: OffsetDateTime,
}

/// Where the reported message is.
#[derive(Object)]
struct QueueChannel {
    id: Uuid,
    /// The channel's name; empty for DMs.
    name: String,
    /// public, private, dm or group_dm.
    kind: String,
}

/// A reported message with its open reports.
#[derive(Object)]
struct QueueEntry {
    /// The message's id: resolve the entry with it.
    message_id: Uuid,
    content: String,
    message_created_at: OffsetDateTime,
    /// Already deleted (by its author or a channel admin) while the reports were open.
    deleted: bool,
    /// Held back by a `hide` rule: only its author sees it until restored (or deleted).
    hidden: bool,
    channel: QueueChannel,
    #[oai(nullable)]
    author: Option<User>,
    report_count: u64,
    /// Oldest first.
    reports: Vec<QueueReport>,
}

#[derive(Object)]
struct ResolveBody {
    action: ResolveAction,
}

/// What to do with a reported message.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ResolveAction {
    /// Keep the message; close its reports.
    Dismiss,
    /// Delete the message; close its reports.
    Delete,
    /// Show a message a `hide` rule held back to everyone again; close its reports.
    Restore,
}

/// How a rule's pattern is read.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum RuleKind {
    /// The text itself, anywhere in a message (case-insensitive).
    Literal,
    /// A regular expression (Rust `regex` syntax, case-insensitive unless `(?-i)`; no
    /// look-around or back-references; at most 1 MiB compiled).
    Regex,
}

/// How serious a match is (shown in the queue).
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum RuleSeverity {
    Low,
    Medium,
    High,
}

/// What a match does.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum RuleAction {
    /// A queue entry; the message is posted.
    Flag,
    /// A queue entry; the message is shown only to its author until an admin restores it.
    Hide,
    /// The send or edit is refused with 422 `content_blocked`.
    Block,
}

fn default_kind() -> RuleKind {
    RuleKind::Literal
}

fn default_severity() -> RuleSeverity {
    RuleSeverity::Medium
}

#[derive(Object)]
struct NewRuleBody {
    /// What to look for: not blank.
    #[oai(validator(min_length = 1, max_length = 500, pattern = r"\S"))]
    pattern: String,
    #[oai(default = "default_kind")]
    kind: RuleKind,
    #[oai(default = "default_severity")]
    severity: RuleSeverity,
    action: RuleAction,
}

/// A moderation rule, checked against every new and edited message.
#[derive(Object)]
struct RuleView {
    id: Uuid,
    pattern: String,
    kind: RuleKind,
    severity: RuleSeverity,
    action: RuleAction,
    /// The admin who made it; null when made with the CLI.
    #[oai(nullable)]
    created_by: Option<Uuid>,
    created_at: OffsetDateTime,
}

impl RuleView {
    fn of(r: moderation_rule::Model) -> Self {
        use moderation_rules::{Action, Kind, Severity};
        Self {
            kind: match Kind::parse(&r.kind) {
                Some(Kind::Regex) => RuleKind::Regex,
                _ => RuleKind::Literal,
            },
            severity: match Severity::parse(&r.severity) {
                Some(Severity::Low) => RuleSeverity::Low,
                Some(Severity::High) => RuleSeverity::High,
                _ => RuleSeverity::Medium,
            },
            action: match Action::parse(&r.action) {
                Some(Action::Block) => RuleAction::Block,
                Some(Action::Hide) => RuleAction::Hide,
                _ => RuleAction::Flag,
            },
            id: r.id,
            pattern: r.pattern,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A text to check against the rules.
#[derive(Object)]
struct RuleTestBody {
    /// As a message would be sent: 1–40,000 characters.
    content: MessageBody,
}

/// What the rules would do with a text.
#[derive(Object)]
struct RuleTest {
    /// The strongest action of the matching rules: block over hide over flag; null when no
    /// rule matches.
    #[oai(nullable)]
    action: Option<RuleAction>,
    /// The matching rules, in rule order.
    rule_ids: Vec<Uuid>,
}

/// Messages around a reported one.
#[derive(Object)]
struct MessageContext {
    /// Oldest first; the reported message among them.
    items: Vec<MessageView>,
}

fn default_around() -> u64 {
    3
}

#[OpenApi(tag = "ApiTags::Admin")]
impl ModerationApi {
    /// The moderation rules, oldest first (at most 500).
    #[oai(path = "/admin/moderation/rules", method = "get")]
    async fn rules(&self, auth: BearerAuth) -> ApiResult<Json<Vec<RuleView>>, s::Authed> {
        users::require_admin(auth.0)?;
        let rules = moderation_rules::list(&self.state).await?;
        Ok(Json(rules.into_iter().map(RuleView::of).collect()))
    }

    /// Add a moderation rule: every new and edited message is checked against it from now on,
    /// on every server within seconds. A regex that does not parse or compiles too big is
    /// refused (400); 409 when there are 500 rules already. One audit entry.
    #[oai(path = "/admin/moderation/rules", method = "post")]
    async fn add_rule(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: JsonBody<NewRuleBody>,
    ) -> ApiResult<Created<RuleView>, (s::Authed, s::Body, s::Conflict)> {
        use moderation_rules::{Action, Kind, NewRule, Severity};
        let b = body.0;
        let rule = NewRule {
            pattern: b.pattern,
            kind: match b.kind {
                RuleKind::Literal => Kind::Literal,
                RuleKind::Regex => Kind::Regex,
            },
            severity: match b.severity {
                RuleSeverity::Low => Severity::Low,
                RuleSeverity::Medium => Severity::Medium,
                RuleSeverity::High => Severity::High,
            },
            action: match b.action {
                RuleAction::Flag => Action::Flag,
                RuleAction::Hide => Action::Hide,
                RuleAction::Block => Action::Block,
            },
        };
        let meta = meta(&self.state, req);
        let added = moderation_rules::add(&self.state, meta, auth.0, rule).await?;
        Ok(Created::Created(Json(RuleView::of(added))))
    }

    /// What the rules in force would do with a text, without sending anything: the strongest
    /// action of the matching rules (null when none matches) and those rules.
    #[oai(path = "/admin/moderation/rules/test", method = "post")]
    async fn test_rules(
        &self,
        auth: BearerAuth,
        body: JsonBody<RuleTestBody>,
    ) -> ApiResult<Json<RuleTest>, (s::Authed, s::Body)> {
        use moderation_rules::Action;
        users::require_admin(auth.0)?;
        let verdict = self.state.moderation_rules.check(body.content.as_str());
        Ok(Json(RuleTest {
            action: verdict.action().map(|a| match a {
                Action::Flag => RuleAction::Flag,
                Action::Hide => RuleAction::Hide,
                Action::Block => RuleAction::Block,
            }),
            rule_ids: verdict.hits.iter().map(|h| h.rule_id).collect(),
        }))
    }

    /// Remove a moderation rule; messages it held back stay in the queue. One audit entry.
    #[oai(path = "/admin/moderation/rules/:id", method = "delete")]
    async fn remove_rule(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        let meta = meta(&self.state, req);
        moderation_rules::remove(&self.state, meta, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Report a message you can read to the admins, with a reason. One open report per
    /// person and message (409 for a second).
    #[oai(
        path = "/messages/:id/report",
        method = "post",
        tag = "ApiTags::Messages"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ReportBody>,
    ) -> ApiResult<Created<ReportView>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let r = moderation::report(&self.state, auth.0, id.0, &body.reason).await?;
        Ok(Created::Created(Json(ReportView {
            id: r.id,
            message_id: r.message_id,
            reason: r.reason,
            created_at: r.created_at,
        })))
    }

    /// The moderation queue: messages with open reports, the longest-waiting first.
    #[oai(path = "/admin/moderation/queue", method = "get")]
    async fn queue(
        &self,
        auth: BearerAuth,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<QueueEntry>>, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let page = moderation::queue(&self.state, cursor.as_deref(), limit.0).await?;
        let items = page
            .items
            .into_iter()
            .map(|e| QueueEntry {
                message_id: e.message.id,
                content: e.message.content.clone(),
                message_created_at: e.message.created_at,
                deleted: e.message.deleted_at.is_some(),
                hidden: e.message.hidden_at.is_some(),
                channel: QueueChannel {
                    id: e.channel.id,
                    name: e.channel.name.clone().unwrap_or_default(),
                    kind: e.channel.kind.as_str().into(),
                },
                author: e.author.map(|u| User::view(u, Some(&auth.0))),
                report_count: e.reports.len() as u64,
                reports: e
                    .reports
                    .into_iter()
                    .map(|r| QueueReport {
                        id: r.id,
                        reporter_id: r.rule_id.is_none().then_some(r.reporter_id),
                        rule_id: r.rule_id,
                        reason: r.reason,
                        created_at: r.created_at,
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(Page {
            items,
            next_cursor: page.next_cursor,
        }))
    }

    /// A reported message in its place: up to `around` messages (default 3, at most 10) before
    /// and after it in its conversation or thread, oldest first, deleted ones left out. 404 for
    /// a message nobody reported.
    #[oai(path = "/admin/moderation/queue/:id/context", method = "get")]
    async fn context(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(
            default = "default_around",
            validator(minimum(value = "0"), maximum(value = "10"))
        )]
        around: Query<u64>,
    ) -> ApiResult<Json<MessageContext>, (s::Authed, s::BadRequest, s::NotFound)> {
        users::require_admin(auth.0)?;
        let items = moderation::context(&self.state, auth.0.user_id, id.0, around.0).await?;
        Ok(Json(MessageContext { items }))
    }

    /// Resolve a queue entry (by its message id): dismiss the reports, delete the message, or
    /// restore a message a `hide` rule held back (409 when it is not held back). Each emits
    /// `moderation.action` and writes one audit entry. 404 when the message has no open
    /// reports.
    #[oai(path = "/admin/moderation/queue/:id/resolve", method = "post")]
    async fn resolve(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ResolveBody>,
    ) -> ApiResult<NoContent, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let resolution = match body.action {
            ResolveAction::Dismiss => moderation::Resolution::Dismiss,
            ResolveAction::Delete => moderation::Resolution::Delete,
            ResolveAction::Restore => moderation::Resolution::Restore,
        };
        let meta = meta(&self.state, req);
        moderation::resolve(&self.state, meta, auth.0, id.0, resolution).await?;
        Ok(NoContent::NoContent)
    }

    /// Delete any message, in any conversation (DMs too), closing its open reports; emits
    /// `message.deleted` and `moderation.action`, writes one audit entry.
    #[oai(path = "/admin/messages/:id", method = "delete")]
    async fn delete_message(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        let meta = meta(&self.state, req);
        moderation::delete(&self.state, meta, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }
}
