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
    purge_freed_memory_periodically();
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
    let result = runtime.block_on(cli::run(cli));
    // A task still running (a worker past `server.shutdown_timeout`) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Return freed memory to the OS about once a second, idle or not. mimalloc purges the memory
/// freed into its arenas only when some thread allocates after the purge delay: a server that
/// went idle right after a burst (start-up compressing the web app, argon2's 19 MiB per hash)
/// kept ~30 MiB it no longer used until a pooled thread exited 10 s later. A normal (not
/// forced) collection purges only what has waited out the delay, so memory that is reused
/// at once under load is not decommitted.
fn purge_freed_memory_periodically() {
    let spawned = std::thread::Builder::new()
        .name("mem-purge".into())
        .spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                colink::memory::collect_expired();
            }
        });
    if let Err(e) = spawned {
        eprintln!("warning: not purging freed memory periodically: {e}");
    }
}

/// Tune mimalloc for a server that should stay small when idle (SPEC: idle RSS < 60 MiB):
/// - Commit arena memory as it is used: with mimalloc's defaults an idle server held 70 MiB
///   instead of 31 MiB (the first arena is committed before `main`).
/// - No transparent huge pages: mimalloc v3 marks its arenas `MADV_HUGEPAGE`, so every 2 MiB
///   of arena a thread touches at all became resident whole. An idle release server held
///   ~85 MiB of anonymous memory for its first seconds and ~43 MiB after; without THP, 42 and
///   12 MiB. `send` measured −6 % (median of 3 alternated runs, within noise of the target);
///   its peak RSS fell by ~60 MiB (docs/benchmarks.md). The prctl covers the arena mimalloc
///   reserved before `main`, the option what it maps later.
///
/// Immediate purging (`purge_delay` 0) was tried too: it cost the `send` benchmark a quarter of
/// its throughput in `madvise` calls and kept RSS where it was.
#[allow(unsafe_code, reason = "mi_option_set and prctl at start-up")]
fn tune_allocator() {
    // mimalloc's `mi_option_t` values (v3 mimalloc.h): the `extended` bindings of this version
    // do not name them.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;
    // SAFETY: mi_option_set only stores an option value; it takes no pointers.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(ALLOW_THP, 0);
    }
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and affects this process alone.
    // A kernel without it answers EINVAL, which changes nothing: the option above still holds.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}
