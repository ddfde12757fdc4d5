//! Leader-only work: the one node of a cluster that does what must be done once (the outbox
//! relay on a shared bus), chosen by a lease in the shared kv store.
//!
//! A [`LeaseKeeper`] worker takes and renews a named lease (`Kv::hold_lease`) every third of
//! `cluster.lease_ttl` and tells the node's workers through a [`Leadership`] handle whether it
//! holds it. Safety: a node that cannot renew gives leadership up at most two thirds of a TTL
//! after its last successful renewal (an attempt times out after a third), while the lease
//! itself lasts a whole TTL from that renewal, so two nodes never both lead (as long as their
//! clocks run at about the same rate). Liveness: when the leader dies, its
//! lease expires and another node takes it within a TTL and a third; a node shutting down
//! releases it at once. A single node with an in-process bus needs none of this:
//! [`Leadership::sole`] always leads.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, time::Instant};

use crate::{
    kv::Kv,
    workers::{Shutdown, Worker},
};

/// Whether this node leads; cheap to clone.
#[derive(Clone)]
pub struct Leadership(Option<watch::Receiver<bool>>);

impl Leadership {
    /// The only node: always the leader.
    pub fn sole() -> Self {
        Self(None)
    }

    pub fn is_leader(&self) -> bool {
        self.0.as_ref().is_none_or(|held| *held.borrow())
    }

    /// Wait until leadership may have changed (never, for the sole node).
    pub async fn changed(&mut self) {
        let changed = match &mut self.0 {
            Some(held) => held.changed().await.is_ok(),
            None => false,
        };
        if !changed {
            std::future::pending::<()>().await;
        }
    }
}

/// Holds the lease `key` for this node while it runs (a worker).
pub struct LeaseKeeper {
    kv: Arc<dyn Kv>,
    key: &'static str,
    node: String,
    ttl: Duration,
    held: watch::Sender<bool>,
}

/// A keeper of the lease `key` for `node`, and the handle its followers watch.
pub fn lease(
    kv: Arc<dyn Kv>,
    key: &'static str,
    node: String,
    ttl: Duration,
) -> (LeaseKeeper, Leadership) {
    let (held, watched) = watch::channel(false);
    (
        LeaseKeeper {
            kv,
            key,
            node,
            ttl,
            held,
        },
        Leadership(Some(watched)),
    )
}

impl LeaseKeeper {
    fn set(&self, leading: bool) {
        self.held.send_if_modified(|held| {
            if *held == leading {
                return false;
            }
            *held = leading;
            true
        });
    }

    /// One attempt to take or renew the lease; `last_held` is when it last succeeded.
    async fn renew(&self, last_held: &mut Option<Instant>) {
        let attempt = tokio::time::timeout(
            self.ttl / 3,
            self.kv.hold_lease(self.key, &self.node, self.ttl),
        )
        .await;
        match attempt {
            Ok(Ok(true)) => {
                if !*self.held.borrow() {
                    tracing::info!(lease = self.key, node = %self.node, "this node leads");
                }
                *last_held = Some(Instant::now());
                self.set(true);
            }
            Ok(Ok(false)) => {
                *last_held = None;
                self.set(false);
            }
            Ok(Err(e)) => tracing::warn!(lease = self.key, error = %e, "renewing the lease failed"),
            Err(_) => tracing::warn!(lease = self.key, "renewing the lease got no answer"),
        }
        if last_held.is_some_and(|at| at.elapsed() >= self.ttl / 2) {
            tracing::warn!(lease = self.key, node = %self.node, "lease not renewed; stepping down");
            *last_held = None;
            self.set(false);
        }
    }
}

#[async_trait::async_trait]
impl Worker for LeaseKeeper {
    fn name(&self) -> &'static str {
        "lease-keeper"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let mut last_held = None;
        loop {
            self.renew(&mut last_held).await;
            tokio::select! {
                () = tokio::time::sleep(self.ttl / 3) => {}
                _ = shutdown.changed() => break,
            }
        }
        self.set(false);
        if last_held.is_some()
            && let Err(e) = self.kv.release_lease(self.key, &self.node).await
        {
            tracing::warn!(lease = self.key, error = %e, "releasing the lease failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::RedbKv;

    async fn until(leadership: &mut Leadership, leading: bool) {
        while leadership.is_leader() != leading {
            leadership.changed().await;
        }
    }

    #[tokio::test]
    async fn one_node_leads_and_the_other_takes_over_when_it_stops() {
        let kv: Arc<dyn Kv> = Arc::new(RedbKv::in_memory().unwrap());
        let ttl = Duration::from_secs(3);
        let (a, mut a_leads) = lease(kv.clone(), "relay", "a".into(), ttl);
        let (b, mut b_leads) = lease(kv.clone(), "relay", "b".into(), ttl);
        let (stop_a, a_shutdown) = watch::channel(false);
        let (stop_b, b_shutdown) = watch::channel(false);
        let a = tokio::spawn(Box::new(a).run(a_shutdown));
        until(&mut a_leads, true).await;
        let b = tokio::spawn(Box::new(b).run(b_shutdown));
        // b tries, finds a's lease and does not lead.
        tokio::task::yield_now().await;
        assert!(!b_leads.is_leader());
        stop_a.send(true).unwrap();
        a.await.unwrap();
        assert!(!a_leads.is_leader(), "a stepped down when it stopped");
        // a released the lease: b takes it at its next attempt (a third of the TTL).
        until(&mut b_leads, true).await;
        stop_b.send(true).unwrap();
        b.await.unwrap();
        assert!(Leadership::sole().is_leader());
    }
}
