use std::process::ExitCode;

/// mimalloc for every allocation of the process, SQLite's included (`override`): the request
/// path allocates rows on SQLite's worker threads and frees them on the runtime's, which glibc's
/// arenas paid for in locks and consolidation (~20 % of the SQLite thread's time in the `reads`
/// profile); with mimalloc the sidebar and history routes answer 30–45 % more requests per
/// second (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Commit arena memory as it is used: with mimalloc's defaults an idle server held 70 MiB
/// instead of 31 MiB (52 MiB with this; the first arena is committed before `main`).
/// Immediate purging (`purge_delay` 0) was tried too: it cost the `send` benchmark a quarter of
/// its throughput in `madvise` calls and kept RSS where it was.
#[allow(unsafe_code, reason = "mi_option_set at start-up")]
fn tune_allocator() {
    // mimalloc's `mi_option_t` value (mimalloc.h): the `extended` bindings of this version do
    // not name it.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    // SAFETY: mi_option_set only stores an option value; it takes no pointers.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}
