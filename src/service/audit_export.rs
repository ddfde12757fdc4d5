//! Exporting the audit log (`GET /admin/audit/export`, `colink admin audit`): every entry that
//! matches a filter, oldest first, as CSV (RFC 4180) or JSON lines, produced page by page so an
//! export of any size holds one page in memory.
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
//! carriage return) are prefixed with `'`: reasons and details are typed by people.

use bytes::Bytes;
use futures_util::Stream;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::{db::entity::audit_log, error::AppResult};

/// Rows read per query.
const BATCH: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/x-ndjson",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

/// Which entries to export (all of them when empty).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    pub target_id: Option<Uuid>,
    pub action: Option<String>,
    /// Inclusive.
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub to: Option<OffsetDateTime>,
}

impl Filter {
    /// `select` narrowed to the matching entries.
    pub fn apply(&self, mut q: Select<audit_log::Entity>) -> Select<audit_log::Entity> {
        if let Some(actor) = self.actor_id {
            q = q.filter(audit_log::Column::ActorId.eq(actor));
        }
        if let Some(target) = self.target_id {
            q = q.filter(audit_log::Column::TargetId.eq(target));
        }
        if let Some(action) = &self.action {
            q = q.filter(audit_log::Column::Action.eq(action.as_str()));
        }
        if let Some(from) = self.from {
            q = q.filter(audit_log::Column::CreatedAt.gte(from));
        }
        if let Some(to) = self.to {
            q = q.filter(audit_log::Column::CreatedAt.lt(to));
        }
        q
    }
}

pub const CSV_HEADER: &str = "id,created_at,actor_id,action,target_type,target_id,ip,details\r\n";

/// The export as a stream of chunks (a CSV header first), oldest entry first.
pub fn stream(
    db: DatabaseConnection,
    filter: Filter,
    format: Format,
) -> impl Stream<Item = AppResult<Bytes>> + Send + 'static {
    struct Cursor {
        db: DatabaseConnection,
        filter: Filter,
        after: Option<Uuid>,
        started: bool,
        done: bool,
    }
    let start = Cursor {
        db,
        filter,
        after: None,
        started: false,
        done: false,
    };
    futures_util::stream::unfold(start, move |mut c| async move {
        if c.done {
            return None;
        }
        let mut out = String::new();
        if !c.started {
            c.started = true;
            if format == Format::Csv {
                out.push_str(CSV_HEADER);
            }
        }
        let rows = match page(&c.db, &c.filter, c.after, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                c.done = true;
                return Some((Err(e), c));
            }
        };
        c.done = (rows.len() as u64) < BATCH;
        c.after = rows.last().map(|r| r.id);
        for row in &rows {
            match format {
                Format::Csv => csv_row(&mut out, row),
                Format::JsonLines => {
                    out.push_str(&json_line(row).to_string());
                    out.push('\n');
                }
            }
        }
        Some((Ok(Bytes::from(out)), c))
    })
}

async fn page(
    db: &DatabaseConnection,
    f: &Filter,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<audit_log::Model>> {
    let mut q = f
        .apply(audit_log::Entity::find())
        .order_by_asc(audit_log::Column::Id);
    if let Some(after) = after {
        q = q.filter(audit_log::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// One entry as a JSON object (the same fields as `GET /admin/audit`).
pub fn json_line(row: &audit_log::Model) -> serde_json::Value {
    serde_json::json!({
        "id": row.id,
        "created_at": timestamp(row.created_at),
        "actor_id": row.actor_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "ip": row.ip,
        "details": row.details.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
    })
}

fn csv_row(out: &mut String, row: &audit_log::Model) {
    let id = |v: Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    let cells = [
        row.id.to_string(),
        timestamp(row.created_at),
        id(row.actor_id),
        row.action.clone(),
        row.target_type.clone().unwrap_or_default(),
        id(row.target_id),
        row.ip.clone().unwrap_or_default(),
        row.details.clone().unwrap_or_default(),
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, cell);
    }
    out.push_str("\r\n");
}

fn csv_cell(out: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quote {
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(s: &str) -> String {
        let mut out = String::new();
        csv_cell(&mut out, s);
        out
    }

    #[test]
    fn cells_are_quoted_when_needed_and_formulas_are_defused() {
        assert_eq!(cell("user.suspended"), "user.suspended");
        assert_eq!(
            cell(r#"{"reason":"spam, lots"}"#),
            r#""{""reason"":""spam, lots""}""#
        );
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell(""), "");
    }
}
