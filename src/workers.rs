//! Background work with a lifecycle: spawned by `app.rs`, told to stop on shutdown, awaited.

use std::{future::Future, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

/// Receives `true` when the worker should stop.
pub type Shutdown = watch::Receiver<bool>;

pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            stop: watch::channel(false).0,
            handles: Vec::new(),
        }
    }
}

impl Workers {
    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(worker(self.stop.subscribe()));
        self.handles.push((name, handle));
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

    /// Signal every worker and wait for each to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.handles {
            if let Err(e) = handle.await {
                tracing::warn!(worker = name, error = %e, "worker ended abnormally");
            }
        }
    }
}
