//! Moderation rules: patterns every new and edited message is checked against, and what a match
//! does — `flag` (a queue entry), `hide` (the message is held for review: only its author and
//! admins see it) or `block` (the send or edit is refused with 422 `content_blocked`).
//!
//! Invariants:
//! - Checking costs time linear in the message's length, whatever the rules: every rule is
//!   compiled by the `regex` crate (finite automata, no backtracking, so `(a+)+$` is as cheap
//!   as any pattern), each within [`RULE_SIZE_LIMIT`] and all of them together, as one
//!   `RegexSet` matched in one pass, within [`SET_SIZE_LIMIT`]. A rule that would break either
//!   limit is refused when it is added.
//! - Every node checks against its own compiled copy ([`RuleBook`]), swapped in whole. The node
//!   that changes a rule reloads at once; the others (and a server beside the CLI) within
//!   [`RELOAD_EVERY`], by comparing the set of rule ids (rules are never edited, only added
//!   and removed, so the same ids are the same rules).
//! - Patterns match case-insensitively (a regex can opt out with `(?-i)`).

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{Principal, RequestMeta, audit, now, users};
use crate::{
    app::AppState,
    db::entity::{moderation_rule, report},
    error::{AppError, AppResult},
};

/// The longest pattern, in characters.
pub const MAX_PATTERN: usize = 500;
/// The most rules a workspace keeps.
pub const MAX_RULES: u64 = 500;
/// The most memory one compiled rule may take.
pub const RULE_SIZE_LIMIT: usize = 1 << 20;
/// The most memory all rules compiled together may take.
pub const SET_SIZE_LIMIT: usize = 32 << 20;
/// How often a node looks for rules changed elsewhere.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// How a rule's pattern is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The text itself, anywhere in the message.
    Literal,
    /// A regular expression (the `regex` crate's syntax).
    Regex,
}

/// How serious a match is (shown in the queue; it does not change what happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// What a match does; the strongest of all matching rules wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Flag,
    Hide,
    Block,
}

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some($ty::$variant),)* _ => None }
            }
        }
    };
}
names!(Kind { Literal = "literal", Regex = "regex" });
names!(Severity { Low = "low", Medium = "medium", High = "high" });
names!(Action { Flag = "flag", Hide = "hide", Block = "block" });

/// A rule to add.
pub struct NewRule {
    pub pattern: String,
    pub kind: Kind,
    pub severity: Severity,
    pub action: Action,
}

/// The regular expression a rule's pattern stands for.
fn expression(kind: Kind, pattern: &str) -> String {
    match kind {
        Kind::Literal => regex::escape(pattern),
        Kind::Regex => pattern.to_string(),
    }
}

/// Check that `rule` compiles within the limit on its own.
fn check_pattern(kind: Kind, pattern: &str) -> AppResult<()> {
    if pattern.trim().is_empty() || pattern.chars().count() > MAX_PATTERN {
        return Err(AppError::validation(
            "pattern: between 1 and 500 characters, not blank",
        ));
    }
    RegexBuilder::new(&expression(kind, pattern))
        .case_insensitive(true)
        .size_limit(RULE_SIZE_LIMIT)
        .build()
        .map(drop)
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                AppError::validation("pattern: too complex (it would compile to more than 1 MiB)")
            }
            e => AppError::validation(format!("pattern: not a regular expression: {e}")),
        })
}

/// One rule, as the checker knows it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Uuid,
    pub pattern: String,
    pub severity: Severity,
    pub action: Action,
}

/// A rule that matched a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule_id: Uuid,
    /// Why, as the queue shows it: the rule's pattern and severity.
    pub reason: String,
    pub action: Action,
}

/// What the rules say about a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Every matching rule, in rule order.
    pub hits: Vec<Hit>,
}

impl Verdict {
    /// The strongest action of the matching rules.
    pub fn action(&self) -> Option<Action> {
        self.hits.iter().map(|h| h.action).max()
    }

    /// Refuse the content when a `block` rule matched.
    pub fn refuse_blocked(&self) -> AppResult<()> {
        match self.action() {
            Some(Action::Block) => Err(AppError::new(
                crate::error::ErrorCode::ContentBlocked,
                "the message matches a moderation rule of this workspace",
            )),
            _ => Ok(()),
        }
    }

    pub fn hides(&self) -> bool {
        self.action() == Some(Action::Hide)
    }
}

/// Rules compiled into one matcher.
#[derive(Default)]
pub struct Compiled {
    /// Sorted: what [`RuleBook::reload`] compares.
    ids: Vec<Uuid>,
    rules: Vec<Loaded>,
    set: Option<RegexSet>,
}

impl Compiled {
    /// Compile `rules`; a rule that no longer compiles (limits lowered since) is left out, with
    /// a warning.
    fn new(rows: Vec<moderation_rule::Model>) -> Result<Self, regex::Error> {
        let mut ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let mut rules = Vec::with_capacity(rows.len());
        let mut expressions = Vec::with_capacity(rows.len());
        for row in rows {
            let (Some(kind), Some(severity), Some(action)) = (
                Kind::parse(&row.kind),
                Severity::parse(&row.severity),
                Action::parse(&row.action),
            ) else {
                tracing::warn!(rule_id = %row.id, "moderation rule with unknown kind, severity or action left out");
                continue;
            };
            if let Err(e) = check_pattern(kind, &row.pattern) {
                tracing::warn!(rule_id = %row.id, error = %e, "moderation rule left out");
                continue;
            }
            expressions.push(expression(kind, &row.pattern));
            rules.push(Loaded {
                id: row.id,
                pattern: row.pattern,
                severity,
                action,
            });
        }
        let set = if expressions.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(expressions)
                    .case_insensitive(true)
                    .size_limit(SET_SIZE_LIMIT)
                    .build()?,
            )
        };
        Ok(Self { ids, rules, set })
    }

    pub fn check(&self, text: &str) -> Verdict {
        let Some(set) = &self.set else {
            return Verdict::default();
        };
        let hits = set
            .matches(text)
            .into_iter()
            .map(|i| {
                let rule = &self.rules[i];
                Hit {
                    rule_id: rule.id,
                    reason: format!(
                        "Matched the moderation rule \u{201c}{}\u{201d} ({} severity)",
                        rule.pattern,
                        rule.severity.as_str()
                    ),
                    action: rule.action,
                }
            })
            .collect();
        Verdict { hits }
    }
}

/// This node's compiled rules (kept in the app state).
#[derive(Default)]
pub struct RuleBook {
    current: RwLock<Arc<Compiled>>,
}

impl RuleBook {
    fn get(&self) -> Arc<Compiled> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, compiled: Compiled) {
        let compiled = Arc::new(compiled);
        match self.current.write() {
            Ok(mut c) => *c = compiled,
            Err(poisoned) => *poisoned.into_inner() = compiled,
        }
    }

    /// The rules stored in `db`, compiled.
    pub async fn load(db: &impl sea_orm::ConnectionTrait) -> AppResult<Self> {
        let book = Self::default();
        book.reload(db).await?;
        Ok(book)
    }

    /// Check `text` against the rules.
    pub fn check(&self, text: &str) -> Verdict {
        self.get().check(text)
    }

    /// Load the rules again if they changed; true when they did.
    pub async fn reload(&self, db: &impl sea_orm::ConnectionTrait) -> AppResult<bool> {
        let mut ids: Vec<Uuid> = moderation_rule::Entity::find()
            .select_only()
            .column(moderation_rule::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        ids.sort_unstable();
        if ids == self.get().ids {
            return Ok(false);
        }
        let rows = moderation_rule::Entity::find()
            .order_by_asc(moderation_rule::Column::Id)
            .all(db)
            .await?;
        let compiled = Compiled::new(rows).map_err(|e| {
            AppError::internal(format!("the moderation rules do not compile together: {e}"))
        })?;
        self.set(compiled);
        Ok(true)
    }
}

/// Screen the text of a send or an edit: refused (422 `content_blocked`) when a `block` rule
/// matches; otherwise what the `flag` and `hide` rules said.
pub fn screen(state: &AppState, text: &str) -> AppResult<Verdict> {
    let verdict = state.moderation_rules.check(text);
    verdict.refuse_blocked()?;
    Ok(verdict)
}

/// The queue entries a verdict files for a message: one report per matching rule, its
/// reporter being the rule (see migration 000011).
pub fn report_rows(
    verdict: &Verdict,
    message_id: Uuid,
    channel_id: Uuid,
    at: time::OffsetDateTime,
) -> Vec<report::ActiveModel> {
    verdict
        .hits
        .iter()
        .map(|hit| report::ActiveModel {
            id: Set(Uuid::now_v7()),
            message_id: Set(message_id),
            channel_id: Set(channel_id),
            reporter_id: Set(hit.rule_id),
            reason: Set(hit.reason.clone()),
            open_for: Set(Some(message_id)),
            created_at: Set(at),
            resolution: Set(None),
            resolved_by: Set(None),
            resolved_at: Set(None),
            rule_id: Set(Some(hit.rule_id)),
        })
        .collect()
}

/// File a verdict's reports for an edited message (inside the edit's transaction); a rule
/// whose report on it is still open files none again.
pub async fn file_reports(
    tx: &sea_orm::DatabaseTransaction,
    verdict: &Verdict,
    message_id: Uuid,
    channel_id: Uuid,
) -> AppResult<()> {
    let rows = report_rows(verdict, message_id, channel_id, now());
    if rows.is_empty() {
        return Ok(());
    }
    report::Entity::insert_many(rows)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                report::Column::OpenFor,
                report::Column::ReporterId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(tx)
        .await?;
    Ok(())
}

/// Every rule, oldest first.
pub async fn list(state: &AppState) -> AppResult<Vec<moderation_rule::Model>> {
    Ok(moderation_rule::Entity::find()
        .order_by_asc(moderation_rule::Column::Id)
        .all(&state.db)
        .await?)
}

/// Add a rule (admins); one audit entry. This node applies it at once, the others within
/// [`RELOAD_EVERY`].
#[tracing::instrument(skip_all)]
pub async fn add(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    rule: NewRule,
) -> AppResult<moderation_rule::Model> {
    users::require_admin(principal)?;
    check_pattern(rule.kind, &rule.pattern)?;
    let row = moderation_rule::Model {
        id: Uuid::now_v7(),
        pattern: rule.pattern,
        kind: rule.kind.as_str().into(),
        severity: rule.severity.as_str().into(),
        action: rule.action.as_str().into(),
        created_by: principal.audit_actor(),
        created_at: now(),
    };
    let (tx, _write) = state.begin_write().await?;
    let existing = moderation_rule::Entity::find().all(&tx).await?;
    if existing.len() as u64 >= MAX_RULES {
        return Err(AppError::conflict(
            "a workspace keeps at most 500 moderation rules: remove one first",
        ));
    }
    let mut together = existing;
    together.push(row.clone());
    Compiled::new(together).map_err(|_| {
        AppError::validation(
            "pattern: the rules together would compile to more than 32 MiB: simplify or remove some",
        )
    })?;
    let stored = moderation_rule::ActiveModel::from(row).insert(&tx).await?;
    audit::record(
        &tx,
        meta,
        audit::Entry {
            actor: principal.audit_actor(),
            action: audit::action::RULE_ADDED,
            target: Some(("moderation_rule", stored.id)),
            details: Some(serde_json::json!({
                "pattern": stored.pattern,
                "kind": stored.kind,
                "severity": stored.severity,
                "action": stored.action,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    state.moderation_rules.reload(&state.db).await?;
    Ok(stored)
}

/// Remove a rule (admins); one audit entry. Messages it hid stay hidden until resolved.
#[tracing::instrument(skip_all, fields(rule_id = %id))]
pub async fn remove(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    id: Uuid,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let (tx, _write) = state.begin_write().await?;
    let rule = moderation_rule::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found("moderation rule"))?;
    moderation_rule::Entity::delete_by_id(id).exec(&tx).await?;
    audit::record(
        &tx,
        meta,
        audit::Entry {
            actor: principal.audit_actor(),
            action: audit::action::RULE_REMOVED,
            target: Some(("moderation_rule", id)),
            details: Some(serde_json::json!({
                "pattern": rule.pattern,
                "action": rule.action,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    state.moderation_rules.reload(&state.db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pattern: &str, kind: Kind, action: Action) -> moderation_rule::Model {
        moderation_rule::Model {
            id: Uuid::now_v7(),
            pattern: pattern.into(),
            kind: kind.as_str().into(),
            severity: Severity::High.as_str().into(),
            action: action.as_str().into(),
            created_by: None,
            created_at: crate::domain::clock::now(),
        }
    }

    #[test]
    fn literal_patterns_match_case_insensitively_and_are_not_regexes() {
        let c = Compiled::new(vec![row("Buy.Now", Kind::Literal, Action::Flag)]).unwrap();
        assert_eq!(c.check("please BUY.NOW today").action(), Some(Action::Flag));
        assert_eq!(c.check("buy now, buyXnow").action(), None);
    }

    #[test]
    fn the_strongest_action_wins() {
        let c = Compiled::new(vec![
            row("spam", Kind::Literal, Action::Flag),
            row(r"sp\w+m", Kind::Regex, Action::Block),
            row("ham", Kind::Literal, Action::Hide),
        ])
        .unwrap();
        let v = c.check("spam and ham");
        assert_eq!(v.hits.len(), 3);
        assert_eq!(v.action(), Some(Action::Block));
        assert!(v.refuse_blocked().is_err());
        assert_eq!(c.check("ham only").action(), Some(Action::Hide));
        assert!(c.check("nothing").hits.is_empty());
    }

    #[test]
    fn catastrophic_backtracking_patterns_are_linear() {
        // A backtracking engine takes 2^n steps on this input; the regex crate's automata
        // take one pass.
        let c = Compiled::new(vec![row("(a+)+$", Kind::Regex, Action::Block)]).unwrap();
        let near_miss = format!("{}!", "a".repeat(4000));
        assert_eq!(c.check(&near_miss).action(), None);
        assert_eq!(c.check(&"a".repeat(4000)).action(), Some(Action::Block));
    }

    #[test]
    fn patterns_that_compile_too_big_or_do_not_parse_are_refused() {
        assert!(check_pattern(Kind::Regex, "(a").is_err());
        assert!(check_pattern(Kind::Regex, r"\w{1000}{1000}").is_err());
        assert!(check_pattern(Kind::Regex, "   ").is_err());
        assert!(check_pattern(Kind::Literal, &"x".repeat(501)).is_err());
        assert!(check_pattern(Kind::Literal, "(a").is_ok());
    }
}
