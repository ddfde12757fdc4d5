//! The relay's tests (`relay.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use sea_orm::{ConnectOptions, Database};
use tokio::sync::watch;

use super::*;
use crate::bus::{MemoryBus, Subscription};
use crate::domain::events::EventData;

/// An in-memory bus whose first `failures` publishes fail, like a broker that is down.
struct FlakyBus {
    inner: MemoryBus,
    failures: AtomicUsize,
}

#[async_trait]
impl EventBus for FlakyBus {
    async fn publish(&self, event: Arc<Event>) -> Result<(), BusError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(BusError::Unavailable("broker down".into()));
        }
        self.inner.publish(event).await
    }
    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe().await
    }
}

async fn database() -> DatabaseConnection {
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    crate::db::migrate_up(&db).await.unwrap();
    db
}

/// Store `n` events in the outbox; their positions and events, in order.
async fn store_events(db: &DatabaseConnection, n: usize) -> Committed {
    let channel = uuid::Uuid::now_v7();
    let mut out = Vec::new();
    for seq in 1..=n as i64 {
        let event = Event::new(
            uuid::Uuid::now_v7(),
            Some(channel),
            None,
            EventData::sample(seq),
        )
        .with_seq(seq);
        crate::service::events::emit(db, &event).await.unwrap();
        let row = outbox::Entity::find()
            .filter(outbox::Column::EventId.eq(event.id))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        out.push((row.position, Arc::new(event)));
    }
    out
}

async fn receive(sub: &mut Box<dyn Subscription>, n: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    for _ in 0..n {
        let event = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .expect("an event within 10 s")
            .unwrap();
        seqs.push(event.seq.unwrap());
    }
    seqs
}

async fn start(
    db: &DatabaseConnection,
    bus: Arc<dyn EventBus>,
) -> (OutboxFeed, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (feed, receiver) = feed();
    let relay = Relay {
        leadership: crate::cluster::Leadership::sole(),
        db: db.clone(),
        bus,
        feed: receiver,
        gate: crate::db::WriteGate::for_connection(db),
        metrics: Arc::new(crate::telemetry::Metrics::new().unwrap()),
    };
    let (stop, stopped) = watch::channel(false);
    (feed, stop, tokio::spawn(relay.work(stopped)))
}

async fn unpublished(db: &DatabaseConnection) -> u64 {
    use sea_orm::PaginatorTrait;
    outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(db)
        .await
        .unwrap()
}

#[test]
fn runs_split_at_gaps_and_at_the_size_limit() {
    let set: BTreeSet<i64> = [1, 2, 3, 5, 6, 7, 8, 9, 12].into_iter().collect();
    assert_eq!(runs(&set, 3), vec![(1, 3), (5, 7), (8, 9), (12, 12)]);
    assert_eq!(runs(&BTreeSet::new(), 3), vec![]);
}

#[test]
fn a_run_of_hand_overs_stops_at_the_first_gap() {
    let event = || {
        Arc::new(Event::new(
            uuid::Uuid::now_v7(),
            None,
            None,
            EventData::sample(1),
        ))
    };
    let mut handed: BTreeMap<i64, Arc<Event>> =
        [4, 5, 6, 8].into_iter().map(|p| (p, event())).collect();
    let run: Vec<i64> = take_run(&mut handed, 4)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(run, vec![4, 5, 6]);
    assert_eq!(handed.keys().copied().collect::<Vec<_>>(), vec![8]);
    assert!(take_run(&mut handed, 7).is_empty(), "nothing continues 6");
}

#[tokio::test]
async fn hand_overs_and_table_rows_go_out_once_in_position_order() {
    let db = database().await;
    let bus = Arc::new(MemoryBus::new(64));
    let mut sub = bus.subscribe().await.unwrap();
    let (feed, stop, relay) = start(&db, bus).await;
    let mut events = store_events(&db, 9).await;
    // Rows 7..9 are handed over first; 1..6 only wake the relay (other committers), except
    // that 4..6 are handed over late, after the relay read them from the table.
    let late = events.split_off(3);
    let (late, last) = (late[..3].to_vec(), late[3..].to_vec());
    feed.hand_over(last);
    feed.committed();
    assert_eq!(receive(&mut sub, 9).await, (1..=9).collect::<Vec<_>>());
    // The late hand-over is processed by the final pass at shutdown: it must not publish again.
    feed.hand_over(late);
    let _ = stop.send(true);
    relay.await.unwrap();
    let further = tokio::time::timeout(Duration::ZERO, sub.recv()).await;
    assert!(
        !matches!(further, Ok(Ok(_))),
        "no event published twice: {further:?}"
    );
    assert_eq!(unpublished(&db).await, 0, "every row recorded as published");
}

#[tokio::test]
async fn a_failing_bus_delays_events_but_never_drops_or_reorders_them() {
    let db = database().await;
    let bus = Arc::new(FlakyBus {
        inner: MemoryBus::new(64),
        failures: AtomicUsize::new(3),
    });
    let mut sub = bus.subscribe().await.unwrap();
    let (feed, stop, relay) = start(&db, bus.clone()).await;
    let events = store_events(&db, 6).await;
    feed.hand_over(events[3..].to_vec());
    feed.committed();
    assert_eq!(receive(&mut sub, 6).await, (1..=6).collect::<Vec<_>>());
    assert_eq!(
        bus.failures.load(Ordering::SeqCst),
        0,
        "the failures happened"
    );
    let _ = stop.send(true);
    relay.await.unwrap();
    assert_eq!(unpublished(&db).await, 0);
}
