use std::process::ExitCode;

use clap::Parser;
use colink::cli::{self, Cli};

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    colink::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Keep large allocations (argon2's 19 MiB working memory per password hash) out of glibc's
/// arenas: with its default *dynamic* mmap threshold, the first freed block raises the
/// threshold and later blocks come from arenas that are never returned to the OS, so a burst of
/// logins left the process at 0.5–0.9 GiB. A fixed threshold maps them and unmaps them on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code, reason = "mallopt, before any other thread exists")]
fn tune_allocator() {
    // SAFETY: mallopt only adjusts allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
