//! TCP_NODELAY for PostgreSQL connections, which sqlx 0.9.0 no longer sets
//! (transact-rs/sqlx#4335; fixed upstream by #4336, not released yet). Without it, Nagle's
//! algorithm meets PostgreSQL's delayed ACKs and statements stall for ~40 ms under load: the
//! `send` benchmark over TCP did 728 messages/s against 8,194 over the Unix socket.
//!
//! sqlx gives no access to its socket, so after each new connection the process's open
//! descriptors are scanned (`/proc/self/fd`) and every TCP socket connected to the database's
//! port gets TCP_NODELAY (idempotent; a new pool connection is rare). Remove this module once
//! sqlx sets the option itself.

#![allow(
    unsafe_code,
    reason = "getsockopt/setsockopt on descriptors this process owns; see the SAFETY notes"
)]

/// Set TCP_NODELAY on every TCP socket of this process whose peer port is `port`; how many were
/// changed. Best effort: descriptors that are not TCP sockets, or close meanwhile, are skipped.
#[cfg(target_os = "linux")]
pub fn set_on_connections_to(port: u16) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::c_int>().ok())
        .filter(|&fd| peer_port(fd) == Some(port) && !nodelay(fd))
        .filter(|&fd| set_nodelay(fd))
        .count()
}

#[cfg(not(target_os = "linux"))]
pub fn set_on_connections_to(_port: u16) -> usize {
    0
}

/// The peer port of a connected IPv4/IPv6 socket.
#[cfg(target_os = "linux")]
fn peer_port(fd: libc::c_int) -> Option<u16> {
    // SAFETY: `addr` is a zeroed sockaddr_storage of the size passed; getpeername writes at most
    // `len` bytes into it and fails harmlessly on descriptors that are not sockets.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getpeername(fd, (&raw mut addr).cast(), &mut len) != 0 {
            return None;
        }
        match libc::c_int::from(addr.ss_family) {
            libc::AF_INET => {
                let v4: &libc::sockaddr_in = &*(&raw const addr).cast();
                Some(u16::from_be(v4.sin_port))
            }
            libc::AF_INET6 => {
                let v6: &libc::sockaddr_in6 = &*(&raw const addr).cast();
                Some(u16::from_be(v6.sin6_port))
            }
            _ => None,
        }
    }
}

#[cfg(target_os = "linux")]
fn nodelay(fd: libc::c_int) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: reads one c_int option into `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    rc == 0 && value != 0
}

#[cfg(target_os = "linux")]
fn set_nodelay(fd: libc::c_int) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: passes one c_int option by pointer and size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sets_nodelay_on_sockets_to_that_port_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let bystander = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!client.nodelay().unwrap() && !bystander.nodelay().unwrap());

        assert!(set_on_connections_to(port) >= 1);
        assert!(client.nodelay().unwrap(), "the connection to the port");
        assert!(
            !bystander.nodelay().unwrap(),
            "a connection elsewhere is left alone"
        );
        assert_eq!(set_on_connections_to(port), 0, "idempotent");
    }
}
