//! Starting the real servers some tests need (clamd, s3s-fs): a free port, and waiting until
//! the process answers.

use std::{future::Future, net::TcpListener, time::Duration};

/// A tool the tests build once into `~/.cache/colink/tools/bin` (s3s-fs, tansu): with
/// `require_var` set (CI), built now by `scripts/backends/<name>.sh` when missing; without it,
/// only one already built (no minutes-long build in a casual test run). Its path.
pub fn cached_tool(name: &str, require_var: &str) -> Option<String> {
    if std::env::var(require_var).is_ok() {
        let script = format!("{}/scripts/backends/{name}.sh", env!("CARGO_MANIFEST_DIR"));
        return std::process::Command::new(script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned());
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .ok()?;
    let bin = cache.join("colink/tools/bin").join(name);
    bin.exists().then(|| bin.display().to_string())
}

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
