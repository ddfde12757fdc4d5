//! The kv port's contract, checked on both backends: the embedded store and a real Redis
//! server (`COLINK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; `scripts/test.sh` starts
//! one). Each Redis test uses its own key prefix, so tests run in parallel on one server.

use std::{sync::Arc, time::Duration};

use super::{Bucket, Kv, RedbKv, RedisKv};

fn redis_url() -> String {
    std::env::var("COLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two handles on one Redis keyspace, as two nodes of a cluster would have.
async fn redis_nodes() -> (RedisKv, RedisKv) {
    let prefix = format!("colink-test-{}:", uuid::Uuid::now_v7().simple());
    let open = || async {
        RedisKv::open(&redis_url(), &prefix)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no Redis at {} ({e}): run scripts/backends/redis.sh",
                    redis_url()
                )
            })
    };
    (open().await, open().await)
}

async fn both(check: impl AsyncFn(&dyn Kv, &dyn Kv)) {
    let embedded = RedbKv::in_memory().unwrap();
    check(&embedded, &embedded).await;
    let (a, b) = redis_nodes().await;
    check(&a, &b).await;
}

#[tokio::test]
async fn values_are_read_taken_once_and_expire() {
    both(async |a, b| {
        a.set("k", b"1", None).await.unwrap();
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(b.take("k").await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(a.take("k").await.unwrap(), None, "take is single-use");
        a.set("gone", b"x", Some(Duration::ZERO)).await.unwrap();
        assert_eq!(
            b.get("gone").await.unwrap(),
            None,
            "a zero TTL expires at once"
        );
        a.set("kept", &[0, 255, 7], Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(b.get("kept").await.unwrap(), Some(vec![0, 255, 7]));
        b.delete("kept").await.unwrap();
        assert_eq!(a.get("kept").await.unwrap(), None);
        assert_eq!(a.get("never").await.unwrap(), None);
        a.ping().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn counters_count_in_a_window_and_peek_does_not_count() {
    both(async |a, b| {
        let window = Duration::from_secs(60);
        for expected in 1..=3 {
            let node: &dyn Kv = if expected % 2 == 0 { a } else { b };
            let c = node.incr("login:1.2.3.4", window).await.unwrap();
            assert_eq!(c.count, expected);
            assert!(c.resets_in <= window && c.resets_in > Duration::from_secs(50));
        }
        assert_eq!(a.peek("login:1.2.3.4").await.unwrap().unwrap().count, 3);
        assert_eq!(b.peek("login:1.2.3.4").await.unwrap().unwrap().count, 3);
        assert_eq!(a.peek("never").await.unwrap(), None);
        assert_eq!(a.incr("brief", Duration::ZERO).await.unwrap().count, 1);
        assert_eq!(b.peek("brief").await.unwrap(), None, "window over");
        assert_eq!(
            b.incr("brief", window).await.unwrap().count,
            1,
            "an expired window restarts"
        );
    })
    .await;
}

#[tokio::test]
async fn a_bucket_grants_its_capacity_then_says_when_a_token_is_back() {
    both(async |a, b| {
        let bucket = Bucket {
            capacity: 3,
            per_minute: 60,
        };
        for node in [a, b, a] {
            assert_eq!(node.take_token("u", bucket).await.unwrap(), None);
        }
        let wait = b.take_token("u", bucket).await.unwrap().expect("refused");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(a.take_token("v", bucket).await.unwrap(), None, "per key");
    })
    .await;
}

/// Concurrent takes from two nodes: exactly the capacity is granted, and a value taken by
/// many at once goes to exactly one.
#[tokio::test]
async fn shared_redis_state_is_atomic_across_nodes() {
    let (a, b) = redis_nodes().await;
    let (a, b): (Arc<dyn Kv>, Arc<dyn Kv>) = (Arc::new(a), Arc::new(b));
    let bucket = Bucket {
        capacity: 10,
        per_minute: 1,
    };
    let takes = (0..40).map(|i| {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { node.take_token("burst", bucket).await.unwrap() })
    });
    let mut granted = 0;
    for take in takes {
        if take.await.unwrap().is_none() {
            granted += 1;
        }
    }
    assert_eq!(granted, 10);

    a.set("ticket", b"t", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let takes = (0..20).map(|i| {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { node.take("ticket").await.unwrap() })
    });
    let mut winners = 0;
    for take in takes {
        winners += usize::from(take.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_hang() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let refused = RedisKv::open("redis://127.0.0.1:1", "x:").await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_lease_has_one_holder_until_released_or_expired() {
    both(async |a, b| {
        let ttl = Duration::from_secs(60);
        assert!(a.hold_lease("relay", "node-a", ttl).await.unwrap());
        assert!(!b.hold_lease("relay", "node-b", ttl).await.unwrap());
        assert!(
            a.hold_lease("relay", "node-a", ttl).await.unwrap(),
            "renewed"
        );
        b.release_lease("relay", "node-b").await.unwrap();
        assert!(
            !b.hold_lease("relay", "node-b", ttl).await.unwrap(),
            "not b's to release"
        );
        a.release_lease("relay", "node-a").await.unwrap();
        assert!(
            b.hold_lease("relay", "node-b", ttl).await.unwrap(),
            "free after release"
        );
        // An expired lease is free: node-b's lapses at once.
        assert!(
            b.hold_lease("gc", "node-b", Duration::from_millis(1))
                .await
                .unwrap()
        );
        let mut taken = false;
        for _ in 0..200 {
            if a.hold_lease("gc", "node-a", ttl).await.unwrap() {
                taken = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(taken, "an expired lease is taken over");
    })
    .await;
}
