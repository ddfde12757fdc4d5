//! Background work with a lifecycle: every background task is a [`Worker`], listed once in
//! `app.rs`, started by [`Workers::start`], told to stop on shutdown and awaited.

use std::{future::Future, time::Duration};

use async_trait::async_trait;
use tokio::{sync::watch, task::JoinHandle};

/// Receives `true` when the worker should stop.
pub type Shutdown = watch::Receiver<bool>;

/// Where a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the shared runtime, beside the request handlers.
    Shared,
    /// On a thread of its own with a single-threaded runtime, so it never waits in the shared
    /// run queue behind request handlers (for the one task every write goes through).
    Dedicated,
}

/// A background task.
#[async_trait]
pub trait Worker: Send + 'static {
    /// Its name, for logs.
    fn name(&self) -> &'static str;

    fn placement(&self) -> Placement {
        Placement::Shared
    }

    /// Work until `shutdown` turns true, finish what must be finished (e.g. store what is
    /// queued, publish what was committed), then return.
    async fn run(self: Box<Self>, shutdown: Shutdown);
}

/// A worker that runs `tick` every `period` until shutdown.
pub struct Periodic<F> {
    name: &'static str,
    period: Duration,
    tick: F,
}

impl<F, Fut> Periodic<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    pub fn new(name: &'static str, period: Duration, tick: F) -> Self {
        Self { name, period, tick }
    }
}

#[async_trait]
impl<F, Fut> Worker for Periodic<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let mut interval = tokio::time::interval(self.period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => (self.tick)().await,
                _ = shutdown.changed() => break,
            }
        }
    }
}

/// Running workers, stopped one at a time in the order they were started (so a producer, e.g.
/// the message writer, finishes before its consumer, the outbox relay, makes its last pass).
#[derive(Default)]
pub struct Workers {
    running: Vec<(&'static str, watch::Sender<bool>, JoinHandle<()>)>,
}

impl Workers {
    /// Start `workers`, in order.
    pub fn start(workers: Vec<Box<dyn Worker>>) -> Self {
        let running = workers.into_iter().map(spawn).collect();
        Self { running }
    }

    /// Stop the workers in start order, each finishing before the next is told.
    pub async fn shutdown(self) {
        for (name, stop, handle) in self.running {
            let _ = stop.send(true);
            if let Err(e) = handle.await {
                tracing::warn!(worker = name, error = %e, "worker ended abnormally");
            }
        }
    }
}

fn spawn(worker: Box<dyn Worker>) -> (&'static str, watch::Sender<bool>, JoinHandle<()>) {
    let name = worker.name();
    let (stop, stopped) = watch::channel(false);
    let handle = match worker.placement() {
        Placement::Shared => tokio::spawn(worker.run(stopped)),
        Placement::Dedicated => {
            tokio::task::spawn_blocking(move || match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(worker.run(stopped)),
                Err(e) => tracing::error!(worker = name, error = %e, "could not start a runtime"),
            })
        }
    };
    (name, stop, handle)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records when it starts and when it has finished stopping.
    struct Probe {
        name: &'static str,
        placement: Placement,
        log: Arc<Mutex<Vec<String>>>,
    }

    #[async_trait]
    impl Worker for Probe {
        fn name(&self) -> &'static str {
            self.name
        }
        fn placement(&self) -> Placement {
            self.placement
        }
        async fn run(self: Box<Self>, mut shutdown: Shutdown) {
            let _ = shutdown.changed().await;
            // Finishing takes a while: the next worker must not be told before it is done.
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.log
                .lock()
                .unwrap()
                .push(format!("{} stopped", self.name));
        }
    }

    #[tokio::test]
    async fn workers_stop_in_start_order_each_before_the_next_is_told() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let probe = |name, placement| -> Box<dyn Worker> {
            Box::new(Probe {
                name,
                placement,
                log: log.clone(),
            })
        };
        let workers = Workers::start(vec![
            probe("writer", Placement::Dedicated),
            probe("relay", Placement::Shared),
            Box::new(Periodic::new("tick", Duration::from_millis(1), || async {})),
            probe("hub", Placement::Shared),
        ]);
        workers.shutdown().await;
        assert_eq!(
            *log.lock().unwrap(),
            ["writer stopped", "relay stopped", "hub stopped"]
        );
    }
}
