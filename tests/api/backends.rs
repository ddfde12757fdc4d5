//! Starting the real servers some tests need (clamd, s3s-fs): a free port, and waiting until
//! the process answers.

use std::{future::Future, net::TcpListener, time::Duration};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Poll `ready` until it holds (true) or `child` exits or 30 s pass (false). A server that is
/// starting offers nothing to await but its port, so this polls every 20 ms.
pub async fn until_ready<F, Fut>(child: &mut tokio::process::Child, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1500 {
        if ready().await {
            return true;
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
