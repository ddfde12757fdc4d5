//! `colink admin rules …` and `colink admin reports …`: the moderation rules and the queue, run
//! against the database (audit actor: none). A running server applies rule changes within
//! `moderation_rules::RELOAD_EVERY`.

use clap::Subcommand;
use uuid::Uuid;

use super::admin::{cli_error, operator};
use crate::{
    app::AppState,
    service::{RequestMeta, moderation, moderation_rules},
};

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// List the rules: id, action, severity, kind and pattern.
    List,
    /// Add a rule, checked against every new and edited message.
    Add {
        /// What to look for (case-insensitive).
        pattern: String,
        /// flag (a queue entry), hide (shown only to its author until restored) or block (the
        /// send or edit is refused).
        #[arg(long)]
        action: String,
        /// literal or regex.
        #[arg(long, default_value = "literal")]
        kind: String,
        /// low, medium or high.
        #[arg(long, default_value = "medium")]
        severity: String,
    },
    /// Remove a rule by its id.
    Remove {
        /// The rule's id (see `rules list`).
        id: Uuid,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportsAction {
    /// The moderation queue: reported messages, the longest-waiting first.
    List {
        /// The most entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Resolve a queue entry by its message id: dismiss, delete or restore.
    Resolve {
        /// The reported message's id (see `reports list`).
        message_id: Uuid,
        /// dismiss (keep the message), delete (delete it) or restore (show a message a hide
        /// rule held back).
        #[arg(long)]
        action: String,
    },
}

pub async fn rules(state: &AppState, meta: RequestMeta, action: RulesAction) -> anyhow::Result<()> {
    use moderation_rules::{Action, Kind, NewRule, Severity};
    match action {
        RulesAction::List => {
            let rules = moderation_rules::list(state).await.map_err(cli_error)?;
            let mut out = String::new();
            for r in &rules {
                out.push_str(&format!(
                    "{}  {:<5}  {:<6}  {:<7}  {}\n",
                    r.id, r.action, r.severity, r.kind, r.pattern
                ));
            }
            out.push_str(&format!("{} rule(s)\n", rules.len()));
            super::output::print(&out)?;
        }
        RulesAction::Add {
            pattern,
            action,
            kind,
            severity,
        } => {
            let rule = NewRule {
                pattern,
                action: Action::parse(&action)
                    .ok_or_else(|| anyhow::anyhow!("--action: flag, hide or block"))?,
                kind: Kind::parse(&kind)
                    .ok_or_else(|| anyhow::anyhow!("--kind: literal or regex"))?,
                severity: Severity::parse(&severity)
                    .ok_or_else(|| anyhow::anyhow!("--severity: low, medium or high"))?,
            };
            let added = moderation_rules::add(state, meta, operator(), rule)
                .await
                .map_err(cli_error)?;
            println!("rule {} added", added.id);
        }
        RulesAction::Remove { id } => {
            moderation_rules::remove(state, meta, operator(), id)
                .await
                .map_err(cli_error)?;
            println!("rule {id} removed");
        }
    }
    Ok(())
}

pub async fn reports(
    state: &AppState,
    meta: RequestMeta,
    action: ReportsAction,
) -> anyhow::Result<()> {
    match action {
        ReportsAction::List { limit } => {
            let page = moderation::queue(state, None, limit)
                .await
                .map_err(cli_error)?;
            let mut out = String::new();
            for e in &page.items {
                let author = e.author.as_ref().map_or("?", |u| u.username.as_str());
                let place = e.channel.name.as_deref().unwrap_or("(direct message)");
                let state = match (e.message.deleted_at, e.message.hidden_at) {
                    (Some(_), _) => " [deleted]",
                    (None, Some(_)) => " [hidden]",
                    _ => "",
                };
                out.push_str(&format!(
                    "{}  {} report(s)  @{author} in {place}{state}\n    {}\n",
                    e.message.id,
                    e.reports.len(),
                    one_line(&e.message.content),
                ));
                for r in &e.reports {
                    out.push_str(&format!("    - {}\n", one_line(&r.reason)));
                }
            }
            if page.next_cursor.is_some() {
                out.push_str("(more waiting: resolve these or raise --limit)\n");
            }
            out.push_str(&format!("{} message(s) waiting\n", page.items.len()));
            super::output::print(&out)?;
        }
        ReportsAction::Resolve { message_id, action } => {
            let resolution = match action.as_str() {
                "dismiss" => moderation::Resolution::Dismiss,
                "delete" => moderation::Resolution::Delete,
                "restore" => moderation::Resolution::Restore,
                _ => anyhow::bail!("--action: dismiss, delete or restore"),
            };
            moderation::resolve(state, meta, operator(), message_id, resolution)
                .await
                .map_err(cli_error)?;
            println!("{message_id}: {action} done");
        }
    }
    Ok(())
}

/// At most 120 characters of `text` on one line.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 {
        format!("{flat}…")
    } else {
        flat
    }
}
