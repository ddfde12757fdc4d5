//! Writing command output to stdout.

use std::io::{ErrorKind, Write};

/// Write `text` to stdout. A reader that went away early (`colink openapi | head`) is not an
/// error: the command stops writing and exits 0, as `cat` does, instead of panicking the way
/// `println!` does on a closed pipe.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}
