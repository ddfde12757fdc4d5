use crate::{App, config::Config, telemetry};

pub async fn run(config: Config, warnings: &[String]) -> anyhow::Result<()> {
    let telemetry = telemetry::init(&config.telemetry)?;
    // Installed before the server starts, so a SIGTERM that arrives as soon as it answers
    // (a supervisor's quick restart, a test) is a graceful stop, not the default kill.
    let stop = shutdown_signal()?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let app = App::build(config).await?;
    let result = app.run_until_stopped(stop).await;
    telemetry.shutdown();
    result
}

/// Ctrl-C or SIGTERM; the handlers are registered when this is called.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}
