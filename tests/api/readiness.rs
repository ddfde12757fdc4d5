//! `/ready` follows the database: 503 while PostgreSQL cannot be reached, 200 again once it can,
//! without a restart. The database is cut off by a TCP proxy between CoLink and PostgreSQL (the
//! shared server cannot be stopped under a parallel suite); on SQLite the database is in-process
//! and cannot go away, so the test runs with `scripts/test.sh --postgres`.

use std::{net::SocketAddr, time::Duration};

use colink::config::Secret;
use reqwest::StatusCode;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::helpers::{fresh_database, spawn_with};

/// Forwards connections to `upstream` while up; when put down, cuts every open connection and
/// refuses new ones, as a stopped server would.
struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, up_rx) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*up_rx.borrow() {
                    continue; // dropped: the connection is refused
                }
                let mut down = up_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        biased;
                        _ = down.wait_for(|up| !*up) => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test]
async fn ready_is_503_while_postgres_is_unreachable_and_200_when_it_returns() {
    let Some(database) = fresh_database().await else {
        return; // SQLite: nothing to stop
    };
    let mut url = url::Url::parse(&database).unwrap();
    let upstream: SocketAddr = tokio::net::lookup_host((
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = spawn_with(|c| c.database.url = Some(Secret::new(url.to_string()))).await;
    let ready = || async {
        let resp = app
            .client
            .get(format!("{}/ready", app.base))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json::<serde_json::Value>().await.unwrap())
    };
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // `degraded` while the search index is still being built: ready for everything else.
    assert!(
        body["status"] == "ready" || body["status"] == "degraded",
        "{body}"
    );
    assert_eq!(body["checks"]["database"]["backend"], "postgres", "{body}");
    assert!(
        body["checks"]["database"]["latency_ms"].is_number(),
        "{body}"
    );

    proxy.set_up(false);
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "error", "{body}");
    assert_eq!(body["checks"]["kv"]["status"], "ok", "{body}");

    proxy.set_up(true);
    // The pool reconnects on its own; readiness follows within a few probes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = ready().await;
        if status == StatusCode::OK {
            assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
