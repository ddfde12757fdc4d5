//! `Type=notify` supervision (`systemd/colink.service`): with `NOTIFY_SOCKET` set, the server
//! says `READY=1` once it answers and `STOPPING=1` when SIGTERM begins a graceful stop, on a
//! socket path or an abstract socket (`@name`), as systemd hands either.

use std::{os::unix::net::UnixDatagram, process::Command, time::Duration};

use crate::cli::serve;

/// The next notification the server sends; the timeout bounds a server that never sends.
fn next_state(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the socket's timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn ready_then_stopping(socket: UnixDatagram, notify_socket: &str) {
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve(&[
        ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
        ("NOTIFY_SOCKET", notify_socket),
    ]);

    let ready = next_state(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready.contains(&format!("STATUS=Listening on 127.0.0.1:{port}")),
        "{ready:?}"
    );
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "ready means it answers");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = next_state(&socket);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert!(child.wait().unwrap().success(), "a graceful stop exits 0");
}

#[tokio::test]
async fn notifies_a_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    ready_then_stopping(socket, path.to_str().unwrap()).await;
}

#[tokio::test]
async fn notifies_an_abstract_socket() {
    use std::os::{linux::net::SocketAddrExt, unix::net::SocketAddr};
    let name = format!("colink-test-{}", uuid::Uuid::new_v4());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&address).unwrap();
    ready_then_stopping(socket, &format!("@{name}")).await;
}
