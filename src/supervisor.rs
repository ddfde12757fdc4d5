//! Telling a service manager how the server is doing: systemd's notification protocol
//! (`sd_notify`), used by `systemd/colink.service` (`Type=notify`).
//!
//! When the manager sets `NOTIFY_SOCKET`, the server sends `READY=1` once it takes connections
//! (migrations applied, listener bound, workers started), so `systemctl start` returns only
//! then and units ordered after CoLink start against a server that answers; it sends
//! `STOPPING=1` when a graceful stop begins. Without `NOTIFY_SOCKET` (a terminal, a container,
//! Kubernetes) nothing is sent.
//!
//! The protocol is one datagram per state on a Unix socket named by the variable: a path, or
//! `@name` for an abstract socket. A send that fails is logged and otherwise ignored: the
//! manager's own timeout is the authority on a server that never said it was ready.

/// The server takes connections.
pub fn ready(addr: std::net::SocketAddr) {
    notify(&format!("READY=1\nSTATUS=Listening on {addr}"));
}

/// A graceful stop has begun.
pub fn stopping() {
    notify("STOPPING=1\nSTATUS=Draining connections");
}

fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        tracing::warn!(error = %e, "could not notify the service manager (NOTIFY_SOCKET)");
    }
}

#[cfg(target_os = "linux")]
fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::{
        linux::net::SocketAddrExt,
        unix::{
            ffi::OsStrExt,
            net::{SocketAddr, UnixDatagram},
        },
    };
    let name = socket.as_bytes();
    let address = match name.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(socket))?,
    };
    let sent = UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &address)?;
    if sent != state.len() {
        return Err(std::io::Error::other("the notification was cut short"));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send(_socket: &std::ffi::OsStr, _state: &str) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "service manager notifications are supported on Linux only",
    ))
}
