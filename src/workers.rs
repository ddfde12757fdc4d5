//! Background work with a lifecycle: spawned by `app.rs`, told to stop on shutdown, awaited.

use std::{future::Future, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

/// Receives `true` when the worker should stop.
pub type Shutdown = watch::Receiver<bool>;

/// Running workers, stopped one at a time in the order they were started (so a producer, e.g.
/// the message writer, finishes before its consumer, the outbox relay, makes its last pass).
#[derive(Default)]
pub struct Workers {
    running: Vec<(&'static str, watch::Sender<bool>, JoinHandle<()>)>,
}

impl Workers {
    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(worker(stopped));
        self.running.push((name, stop, handle));
    }

    /// Like [`spawn`](Self::spawn), but on a thread of its own with a single-threaded runtime, so
    /// the worker never waits in the shared run queue behind request handlers (for the one task
    /// every write goes through).
    pub fn spawn_dedicated<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        let handle =
            tokio::task::spawn_blocking(
                move || match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(worker(stopped)),
                    Err(e) => {
                        tracing::error!(worker = name, error = %e, "could not start a runtime")
                    }
                },
            );
        self.running.push((name, stop, handle));
    }

    /// Run `tick` every `period` until shutdown.
    pub fn spawn_periodic<F, Fut>(&mut self, name: &'static str, period: Duration, tick: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, move |mut shutdown| async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => tick().await,
                    _ = shutdown.changed() => break,
                }
            }
        });
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
