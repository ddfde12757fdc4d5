//! The embedded backend: a tantivy index of messages under `<data_dir>/search` (or
//! `search.path`).
//!
//! One document per live message: its id (stored), channel, author, time, whether it has files,
//! and its text (analysed by `analyzer`, with positions for phrases). Nothing about who may read
//! what is stored: the caller's readable channels are a filter of each query, so membership
//! changes need no re-indexing and a result page is never thinned out after the fact.
//!
//! The index's commit payload records its schema version and the indexer's watermark (see
//! `indexer`). An index that cannot be opened, has another schema version or no watermark (a
//! rebuild that did not finish) is emptied and rebuilt.

use std::{collections::HashSet, ops::Bound, path::Path, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, Term,
    collector::{Count, TopDocs},
    directory::MmapDirectory,
    query::{
        AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery,
        TermQuery, TermSetQuery,
        doc_predicate_query::{DocPredicateQuery, FunctionPredicate},
    },
    schema::{
        FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
        TextOptions, Value,
    },
};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{Document, MessageSearch, SearchError, analyzer};

/// Bumped whenever the schema or the analyzer changes: older indexes are rebuilt.
const SCHEMA_VERSION: u32 = 2;
/// The indexing buffer; a segment is written when it fills.
const WRITER_MEMORY: usize = 20_000_000;
/// Exact phrases of all the words rank this much higher than the words scattered.
const PHRASE_BOOST: Score = 2.0;
/// Recency: a message this many days old gets half the boost of one sent now.
const RECENCY_HALF_DAYS: f32 = 7.0;

/// A channel filter is a union of the channels' posting lists when they hold at most this
/// share of the index (or there are at most `MAX_POSTING_FILTER` of them); otherwise each
/// candidate document's channel is checked against the set (fast fields): the union of
/// hundreds of channels' postings costs as much as reading the whole index, while checking
/// every document of a common word costs more than reading a few channels' postings.
const POSTING_FILTER_SHARE: u64 = 4;
const MAX_POSTING_FILTER: usize = 8;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    channel: Field,
    /// The channel id's two halves, as fast fields (per-document channel checks).
    channel_hi: Field,
    channel_lo: Field,
    user: Field,
    at: Field,
    has_file: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer::NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        channel: builder.add_text_field("channel", STRING),
        channel_hi: builder.add_u64_field("channel_hi", FAST),
        channel_lo: builder.add_u64_field("channel_lo", FAST),
        user: builder.add_text_field("user", STRING),
        at: builder.add_i64_field("at", INDEXED | FAST),
        has_file: builder.add_bool_field("has_file", INDEXED),
        text: builder.add_text_field("text", text),
    };
    (builder.build(), fields)
}

/// What the index's last commit recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Payload {
    pub schema: u32,
    /// Every event that occurred before this time is in the index (see `indexer`); `None`
    /// while a rebuild has not finished.
    #[serde(with = "time::serde::rfc3339::option")]
    pub watermark: Option<OffsetDateTime>,
}

impl Payload {
    pub fn at(watermark: Option<OffsetDateTime>) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            watermark,
        }
    }
}

/// The index, shared by searches; the indexer holds the one writer.
pub struct TantivyIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

/// How the index was found when it was opened.
pub enum Opened {
    /// Usable, with everything before `watermark` in it.
    Current { watermark: OffsetDateTime },
    /// Missing, unreadable, of another schema version or half-built: it is empty now and must
    /// be rebuilt from the database. The reason is for the log.
    Rebuild { reason: String },
}

impl TantivyIndex {
    /// Open the index in `dir`, or make an empty one there (see [`Opened`]).
    pub fn open(dir: &Path) -> Result<(Self, Opened), SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::io("creating", dir, e))?;
        let reason = match Self::open_existing(dir) {
            Ok(Ok((index, watermark))) => return Ok((index, Opened::Current { watermark })),
            Ok(Err(reason)) => reason,
            Err(e) => format!("the index could not be opened ({e})"),
        };
        // Start again from an empty directory.
        std::fs::remove_dir_all(dir).map_err(|e| SearchError::io("emptying", dir, e))?;
        std::fs::create_dir_all(dir).map_err(|e| SearchError::io("creating", dir, e))?;
        let index = Self::wrap(Index::create_in_dir(dir, schema().0)?)?;
        // A commit with no watermark: if the rebuild is interrupted, the next start sees it.
        let mut writer = index.writer()?;
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&payload_json(&Payload::at(None)));
        commit.commit()?;
        Ok((index, Opened::Rebuild { reason }))
    }

    /// The state of the index in `dir`, read without changing it (for `colink status`):
    /// `Ok((documents, watermark))` when current, `Err(why it will be rebuilt)` otherwise.
    pub fn describe(dir: &Path) -> Result<(u64, OffsetDateTime), String> {
        if !dir.exists() {
            return Err("there is no index yet".into());
        }
        match Self::open_existing(dir) {
            Ok(Ok((index, watermark))) => Ok((index.reader.searcher().num_docs(), watermark)),
            Ok(Err(reason)) => Err(reason),
            Err(e) => Err(format!("the index could not be opened ({e})")),
        }
    }

    /// True when another process (a running server) writes the index in `dir`.
    pub fn in_use(dir: &Path) -> bool {
        use tantivy::directory::{Directory, INDEX_WRITER_LOCK};
        let Ok(directory) = MmapDirectory::open(dir) else {
            return false;
        };
        directory.acquire_lock(&INDEX_WRITER_LOCK).is_err()
    }

    /// An empty index in memory (for commands that search nothing).
    pub fn in_ram() -> Result<Self, SearchError> {
        Ok(Self::wrap(Index::create_in_ram(schema().0))?)
    }

    /// The index in `dir` and its watermark if it is current, else why it must be rebuilt.
    fn open_existing(dir: &Path) -> tantivy::Result<Result<(Self, OffsetDateTime), String>> {
        let directory = MmapDirectory::open(dir)?;
        if !Index::exists(&directory)? {
            return Ok(Err("there is no index yet".into()));
        }
        let index = Index::open(directory)?;
        let payload: Payload = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        if payload.schema != SCHEMA_VERSION || index.schema() != schema().0 {
            return Ok(Err(format!(
                "the index has schema version {}, this build uses {SCHEMA_VERSION}",
                payload.schema
            )));
        }
        let Some(watermark) = payload.watermark else {
            return Ok(Err("the last rebuild did not finish".into()));
        };
        Ok(Ok((Self::wrap(index)?, watermark)))
    }

    fn wrap(index: Index) -> tantivy::Result<Self> {
        index
            .tokenizers()
            .register(analyzer::NAME, analyzer::analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        // Field ids follow declaration order; an index of another schema was refused above.
        let (_, fields) = schema();
        Ok(Self {
            index,
            reader,
            fields,
        })
    }

    /// The one writer (tantivy locks the directory: a second one fails).
    pub fn writer(&self) -> tantivy::Result<IndexWriter> {
        self.index.writer_with_num_threads(1, WRITER_MEMORY)
    }

    /// Make the last commit visible to searches.
    pub fn reload(&self) -> tantivy::Result<()> {
        self.reader.reload()
    }

    /// Documents in the last reloaded commit.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replace (or add) `doc`; visible after the next commit and reload.
    pub fn upsert(&self, writer: &IndexWriter, doc: &Document) -> tantivy::Result<()> {
        let f = self.fields;
        writer.delete_term(id_term(f.id, doc.id));
        let mut d = TantivyDocument::default();
        d.add_text(f.id, doc.id.simple().to_string());
        d.add_text(f.channel, doc.channel_id.simple().to_string());
        let (hi, lo) = doc.channel_id.as_u64_pair();
        d.add_u64(f.channel_hi, hi);
        d.add_u64(f.channel_lo, lo);
        d.add_text(f.user, doc.user_id.simple().to_string());
        d.add_i64(f.at, micros(doc.created_at));
        d.add_bool(f.has_file, doc.has_file);
        d.add_text(f.text, &doc.text);
        writer.add_document(d)?;
        Ok(())
    }

    pub fn delete(&self, writer: &IndexWriter, id: Uuid) {
        writer.delete_term(id_term(self.fields.id, id));
    }

    /// Run `search` (blocking: call it off the async executor).
    pub fn run(&self, search: &MessageSearch) -> Result<(u64, Vec<Uuid>), SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let query = self.query(search, &searcher)?;
        let now = micros(search.now);
        let ranked = TopDocs::with_limit(search.limit.max(1))
            .and_offset(search.offset)
            .tweak_score(move |segment: &SegmentReader| {
                let at = segment
                    .fast_fields()
                    .i64("at")
                    .ok()
                    .map(|c| c.first_or_default_col(now));
                // Relevance with a recency boost, then the time itself: among equals (and
                // when no words are searched), newest first.
                move |doc, score: Score| {
                    let sent = at.as_ref().map_or(now, |c| c.get_val(doc));
                    let age_days = (now - sent).max(0) as f32 / 86_400_000_000.0;
                    let boosted = score * (1.0 + 1.0 / (1.0 + age_days / RECENCY_HALF_DAYS));
                    (boosted, sent)
                }
            });
        let (total, hits) = searcher.search(&query, &(Count, ranked))?;
        let mut ids = Vec::with_capacity(hits.len());
        for (_, address) in hits {
            ids.push(self.stored_id(&searcher, address, f.id)?);
        }
        Ok((total as u64, ids))
    }

    fn stored_id(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        field: Field,
    ) -> Result<Uuid, SearchError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| SearchError::Corrupt("a document without an id".into()))
    }

    /// Text clauses must all match (scored); filters must match (not scored).
    fn query(
        &self,
        search: &MessageSearch,
        searcher: &tantivy::Searcher,
    ) -> tantivy::Result<BooleanQuery> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for terms in &search.clauses {
            clauses.push((Occur::Must, text_query(f.text, terms)));
        }
        if search.clauses.len() >= 2 {
            // All the words, in the order typed: an exact phrase ranks first.
            let all: Vec<String> = search.clauses.iter().flatten().cloned().collect();
            let phrase = text_query(f.text, &all);
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(phrase, PHRASE_BOOST)),
            ));
        }
        if search.clauses.is_empty() {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(AllQuery), 1.0)),
            ));
        }
        let filter = |q: Box<dyn Query>| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as _);
        let ids = |field, ids: &[Uuid]| -> Box<dyn Query> {
            Box::new(TermSetQuery::new(ids.iter().map(|id| id_term(field, *id))))
        };
        let few = search.channels.len() <= MAX_POSTING_FILTER || {
            let mut docs = 0;
            for c in &search.channels {
                docs += searcher.doc_freq(&id_term(f.channel, *c))?;
            }
            docs * POSTING_FILTER_SHARE <= searcher.num_docs()
        };
        clauses.push(filter(if few {
            ids(f.channel, &search.channels)
        } else {
            in_channels(&search.channels)
        }));
        if !search.users.is_empty() {
            clauses.push(filter(ids(f.user, &search.users)));
        }
        if search.since.is_some() || search.until.is_some() {
            let bound = |t: Option<OffsetDateTime>, inclusive: bool| match t {
                None => Bound::Unbounded,
                Some(t) if inclusive => Bound::Included(Term::from_field_i64(f.at, micros(t))),
                Some(t) => Bound::Excluded(Term::from_field_i64(f.at, micros(t))),
            };
            clauses.push(filter(Box::new(RangeQuery::new(
                bound(search.since, true),
                bound(search.until, false),
            ))));
        }
        if search.has_file {
            clauses.push(filter(Box::new(TermQuery::new(
                Term::from_field_bool(f.has_file, true),
                IndexRecordOption::Basic,
            ))));
        }
        Ok(BooleanQuery::new(clauses))
    }
}

#[async_trait::async_trait]
impl super::SearchIndex for TantivyIndex {
    async fn search(
        self: Arc<Self>,
        search: MessageSearch,
        _limit: Duration,
        slot: OwnedSemaphorePermit,
    ) -> Result<(u64, Vec<Uuid>), SearchError> {
        // Blocking work; the slot travels with it.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            self.run(&search)
        })
        .await
        .map_err(|e| SearchError::Corrupt(format!("search failed: {e}")))?
    }

    fn documents(&self) -> Option<u64> {
        Some(self.len())
    }
}

/// Documents whose channel is one of `channels`, checked per candidate document.
fn in_channels(channels: &[Uuid]) -> Box<dyn Query> {
    let wanted: Arc<HashSet<(u64, u64)>> =
        Arc::new(channels.iter().map(|c| c.as_u64_pair()).collect());
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let fast = segment.fast_fields();
        let hi = fast.u64("channel_hi")?.first_or_default_col(0);
        let lo = fast.u64("channel_lo")?.first_or_default_col(0);
        let wanted = wanted.clone();
        Ok(move |doc: DocId| wanted.contains(&(hi.get_val(doc), lo.get_val(doc))))
    });
    Box::new(DocPredicateQuery::from(predicate))
}

/// One term, or a phrase of several (a phrase query needs at least two).
fn text_query(field: Field, terms: &[String]) -> Box<dyn Query> {
    let terms: Vec<Term> = terms
        .iter()
        .map(|t| Term::from_field_text(field, t))
        .collect();
    match <[Term; 1]>::try_from(terms) {
        Ok([term]) => Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
        Err(terms) => Box::new(PhraseQuery::new(terms)),
    }
}

fn id_term(field: Field, id: Uuid) -> Term {
    Term::from_field_text(field, &id.simple().to_string())
}

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

pub fn payload_json(payload: &Payload) -> String {
    serde_json::to_string(payload).unwrap_or_default()
}
