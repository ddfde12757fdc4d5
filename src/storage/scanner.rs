//! Virus scanning through ClamAV's daemon: `zINSTREAM` over TCP or a Unix socket, the file
//! streamed in chunks (never held whole in memory).

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What the scanner said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Malware, with the signature's name.
    Infected(String),
}

/// Chunks sent per INSTREAM frame.
const FRAME: usize = 64 * 1024;

/// Scan `content` with the clamd at `address` (`host:port` or `unix:/path`).
pub async fn clamd<S>(address: &str, content: S, timeout: Duration) -> Result<Verdict, String>
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin,
{
    let run = async { instream(connect(address).await?, content).await };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("clamd did not answer within {} s", timeout.as_secs()))?
}

/// Whether the clamd at `address` answers `PING` with `PONG` (for `colink doctor`).
pub async fn ping(address: &str, timeout: Duration) -> Result<(), String> {
    let run = async {
        let mut conn = connect(address).await?;
        let io = |e: std::io::Error| format!("talking to clamd: {e}");
        conn.write_all(b"zPING\0").await.map_err(io)?;
        conn.flush().await.map_err(io)?;
        let mut reply = Vec::new();
        conn.take(64).read_to_end(&mut reply).await.map_err(io)?;
        match String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']) {
            "PONG" => Ok(()),
            other => Err(format!("clamd answered {other:?} to PING")),
        }
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("clamd did not answer within {} s", timeout.as_secs()))?
}

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// A connection to clamd at `host:port` or `unix:/path`.
async fn connect(address: &str) -> Result<Box<dyn Connection>, String> {
    match address.strip_prefix("unix:") {
        #[cfg(unix)]
        Some(path) => Ok(Box::new(
            tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| format!("connecting to clamd at {path}: {e}"))?,
        )),
        #[cfg(not(unix))]
        Some(_) => Err("Unix sockets are not available here".to_string()),
        None => Ok(Box::new(
            tokio::net::TcpStream::connect(address)
                .await
                .map_err(|e| format!("connecting to clamd at {address}: {e}"))?,
        )),
    }
}

async fn instream<C, S>(mut conn: C, mut content: S) -> Result<Verdict, String>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin,
{
    let io = |e: std::io::Error| format!("talking to clamd: {e}");
    conn.write_all(b"zINSTREAM\0").await.map_err(io)?;
    while let Some(chunk) = content.next().await {
        let chunk = chunk.map_err(|e| format!("reading the file: {e}"))?;
        for frame in chunk.chunks(FRAME) {
            let len = u32::try_from(frame.len()).map_err(|_| "frame too large".to_string())?;
            conn.write_all(&len.to_be_bytes()).await.map_err(io)?;
            conn.write_all(frame).await.map_err(io)?;
        }
    }
    conn.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    conn.flush().await.map_err(io)?;
    let mut reply = Vec::new();
    conn.take(4096).read_to_end(&mut reply).await.map_err(io)?;
    parse_reply(&String::from_utf8_lossy(&reply))
}

/// `stream: OK`, `stream: <signature> FOUND`, or an error (`INSTREAM size limit exceeded. ERROR`).
fn parse_reply(reply: &str) -> Result<Verdict, String> {
    let reply = reply.trim_end_matches(['\0', '\n']).trim();
    let body = reply.strip_prefix("stream:").unwrap_or(reply).trim();
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(signature) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(signature.trim().to_string()))
    } else {
        Err(format!("clamd: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_verdicts() {
        assert_eq!(parse_reply("stream: OK\0"), Ok(Verdict::Clean));
        assert_eq!(
            parse_reply("stream: Colink.Test.EICAR.NDB.UNOFFICIAL FOUND\0"),
            Ok(Verdict::Infected("Colink.Test.EICAR.NDB.UNOFFICIAL".into()))
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(parse_reply("").is_err());
    }
}
