//! The server under test: spawn `colink serve` on a fresh data dir (or use `--url`), wait until
//! `/ready`, stop it; and sample a process's RSS and CPU time from `/proc`.

use std::{
    net::TcpListener,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use tokio::process::{Child, Command};

/// How to reach the server under test.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// CoLink binary to spawn as `PATH serve` [default: $CARGO_TARGET_DIR/release/colink,
    /// else target/release/colink].
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    pub server_bin: Option<PathBuf>,

    /// Use an already running server that is not set up yet, instead of spawning one.
    #[arg(long, value_name = "URL", requires = "setup_token")]
    pub url: Option<String>,

    /// Setup token of the `--url` server (its `<data_dir>/setup-token`).
    #[arg(long, value_name = "TOKEN", requires = "url")]
    pub setup_token: Option<String>,

    /// Database of the spawned server (COLINK_DATABASE__URL), e.g. an empty PostgreSQL
    /// database; default: SQLite in the fresh data dir.
    #[arg(long, value_name = "URL", conflicts_with = "url")]
    pub database_url: Option<String>,

    /// With --url: pid of that server on this machine, to report its RSS and CPU.
    #[arg(long, value_name = "PID", requires = "url")]
    pub server_pid: Option<u32>,

    /// Keep the spawned server's temporary data dir (and its log) instead of deleting it.
    #[arg(long)]
    pub keep_data: bool,

    /// Spawn this many nodes of one cluster, sharing --database-url (PostgreSQL) and
    /// --redis-url (kv and bus); clients spread over them. RSS and CPU are the first node's.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8), conflicts_with = "url")]
    pub nodes: u32,

    /// Redis for the spawned nodes' kv and event bus (`kv.backend` and `bus.backend` =
    /// "redis"); needed with --nodes > 1, and usable with one node too.
    #[arg(long, value_name = "URL", conflicts_with = "url")]
    pub redis_url: Option<String>,

    /// Kafka brokers (`host:port,…`) for the spawned nodes' event bus (`bus.backend =
    /// "kafka"`) instead of Redis pub/sub; needs --redis-url (the kv).
    #[arg(long, value_name = "BROKERS", requires = "redis_url")]
    pub kafka_brokers: Option<String>,
}

/// What the nodes of a spawned cluster share besides the database.
struct Shared {
    redis_url: String,
    /// The bus is Kafka on these brokers (else Redis pub/sub).
    kafka_brokers: Option<String>,
    /// Keys and channels of this run only (several runs may share one Redis).
    prefix: String,
    /// Every node signs and accepts the same tokens.
    secret: String,
}

/// The server under test.
pub struct Server {
    /// `http://127.0.0.1:PORT` (the first node's, with several).
    pub base_url: String,
    /// Every node's base URL (one, unless --nodes).
    pub base_urls: Vec<String>,
    pub setup_token: String,
    /// Process id when known (spawned, or `--server-pid`).
    pub pid: Option<u32>,
    /// `sqlite`, `postgres` or `external`.
    pub backend: String,
    /// The binary that was spawned, or the URL used.
    pub describe: String,
    spawned: Option<Spawned>,
    /// The nodes after the first (--nodes).
    more_nodes: Vec<Spawned>,
}

struct Spawned {
    child: Child,
    root: PathBuf,
    /// The server's COLINK_DATA_DIR.
    data: PathBuf,
    log: PathBuf,
    keep: bool,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Normally stopped by `Server::shutdown`; this covers early returns on errors.
        let _ = self.child.start_kill();
        if self.keep {
            eprintln!("kept server data dir {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn default_server_bin() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("release/colink"),
        _ => PathBuf::from("target/release/colink"),
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last `n` lines of the server log, for error messages.
fn log_tail(log: &Path, n: usize) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(n)..].join("\n");
            if tail.trim().is_empty() {
                String::new()
            } else {
                format!("\nserver log, last lines:\n{tail}")
            }
        }
        Err(e) => format!("\n(cannot read server log {}: {e})", log.display()),
    }
}

impl Server {
    pub async fn start(args: &TargetArgs, http: &reqwest::Client) -> Result<Server> {
        if let (Some(url), Some(token)) = (&args.url, &args.setup_token) {
            let base = url.trim_end_matches('/').to_owned();
            wait_ready(http, &base, None, None).await?;
            return Ok(Server {
                describe: base.clone(),
                base_urls: vec![base.clone()],
                more_nodes: Vec::new(),
                base_url: base,
                setup_token: token.trim().to_owned(),
                pid: args.server_pid,
                backend: "external".into(),
                spawned: None,
            });
        }
        Self::spawn(args, http, None).await
    }

    /// Like [`Server::start`], but a spawned server uses the persistent data dir `dir` (created
    /// when missing, never deleted; its log is `<dir>/bench-server.log`). A server whose data
    /// dir was set up before has no setup token: pass `fresh = false` and none is read.
    pub async fn start_in(
        args: &TargetArgs,
        http: &reqwest::Client,
        dir: &Path,
        fresh: bool,
    ) -> Result<Server> {
        if args.url.is_some() {
            bail!("--data-dir applies to a spawned server, not to --url");
        }
        Self::spawn(args, http, Some((dir, fresh))).await
    }

    /// Spawn `BIN serve` on a fresh data dir (or `dir`), wait until it is ready, read its setup
    /// token (unless `dir` says the server is set up already).
    async fn spawn(
        args: &TargetArgs,
        http: &reqwest::Client,
        dir: Option<(&Path, bool)>,
    ) -> Result<Server> {
        let bin = args.server_bin.clone().unwrap_or_else(default_server_bin);
        if !bin.is_file() {
            bail!(
                "server binary {} not found; build it with `cargo build --release -p colink` \
                 or pass --server-bin PATH",
                bin.display()
            );
        }
        let DataDir {
            root,
            data,
            log,
            log_file,
        } = match dir {
            Some((dir, _)) => DataDir::persistent(dir)?,
            None => DataDir::create()?,
        };
        let keep = args.keep_data || dir.is_some();
        let backend = match &args.database_url {
            Some(url) if url.starts_with("postgres") => "postgres",
            Some(_) => "custom",
            None => "sqlite",
        };
        let shared = cluster_of(args, backend)?;
        let node = |data_dir: DataDir| Node {
            bin: &bin,
            dir: data_dir,
            keep,
            database_url: args.database_url.as_deref(),
            shared: shared.as_ref(),
        };
        let (spawned, base_url) = node(DataDir {
            root,
            data: data.clone(),
            log,
            log_file,
        })
        .start(http)
        .await?;
        let setup_token = if dir.is_none_or(|(_, fresh)| fresh) {
            read_setup_token(&data.join("setup-token"))
                .await
                .map_err(|e| anyhow!("{e:#}{}", log_tail(&spawned.log, 20)))?
        } else {
            String::new()
        };
        let mut base_urls = vec![base_url.clone()];
        let mut more_nodes = Vec::new();
        for _ in 1..args.nodes {
            let (more, url) = node(DataDir::create()?).start(http).await?;
            base_urls.push(url);
            more_nodes.push(more);
        }
        let bus = if args.kafka_brokers.is_some() {
            "Redis kv, Kafka bus"
        } else {
            "Redis kv and bus"
        };
        let nodes = if args.nodes > 1 {
            format!(" ×{} nodes, {bus}", args.nodes)
        } else if shared.is_some() {
            format!(" ({bus})")
        } else {
            String::new()
        };
        Ok(Server {
            base_url,
            base_urls,
            setup_token,
            pid: spawned.child.id(),
            backend: backend.into(),
            describe: format!("{}{nodes}", bin.display()),
            spawned: Some(spawned),
            more_nodes,
        })
    }

    /// A spawned server's data dir (its COLINK_DATA_DIR).
    pub fn data_dir(&self) -> Option<&Path> {
        self.spawned.as_ref().map(|s| s.data.as_path())
    }

    /// What a report says of this server.
    pub fn info(&self) -> crate::report::ServerInfo {
        crate::report::ServerInfo {
            target: self.describe.clone(),
            backend: self.backend.clone(),
            pid: self.pid,
        }
    }

    /// Stop the server after a scenario ran and pass on its outcome; a failed scenario's error
    /// ends with the last lines of the server log.
    pub async fn finish<T>(self, outcome: Result<T>) -> Result<T> {
        let hint = self.log_hint();
        let stopped = self.shutdown().await;
        let result = match outcome {
            Ok(r) => r,
            Err(e) if hint.is_empty() => return Err(e),
            Err(e) => return Err(anyhow::anyhow!("{e:#}{hint}")),
        };
        stopped?;
        Ok(result)
    }

    /// Stop a spawned server (every node): SIGTERM, wait up to 15 s, then SIGKILL. No-op
    /// with `--url`.
    pub async fn shutdown(mut self) -> Result<()> {
        for node in std::mem::take(&mut self.more_nodes) {
            stop(node).await?;
        }
        match self.spawned.take() {
            Some(spawned) => stop(spawned).await,
            None => Ok(()),
        }
    }

    /// Where to look when something went wrong on the server side.
    pub fn log_hint(&self) -> String {
        match &self.spawned {
            Some(s) => log_tail(&s.log, 20),
            None => String::new(),
        }
    }
}

/// SIGTERM, wait up to 15 s, then SIGKILL.
async fn stop(mut spawned: Spawned) -> Result<()> {
    if let Some(pid) = spawned.child.id() {
        let pid = libc::pid_t::try_from(pid).context("server pid out of range")?;
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped yet.
        #[allow(unsafe_code, reason = "kill(2): no safe wrapper in std")]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    match tokio::time::timeout(Duration::from_secs(15), spawned.child.wait()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e).context("waiting for the server to exit"),
        Err(_) => {
            eprintln!("server did not exit 15 s after SIGTERM; killing it");
            spawned.child.kill().await.context("killing the server")
        }
    }
}

/// What several spawned nodes share, from the arguments (`None`: one node on its own).
fn cluster_of(args: &TargetArgs, backend: &str) -> Result<Option<Shared>> {
    let Some(redis_url) = &args.redis_url else {
        if args.nodes > 1 {
            bail!("--nodes > 1 needs --redis-url (the nodes' shared kv and bus)");
        }
        return Ok(None);
    };
    if args.nodes > 1 && backend != "postgres" {
        bail!("--nodes > 1 needs a shared PostgreSQL database: --database-url postgres://…");
    }
    let tag = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or_default();
    Ok(Some(Shared {
        redis_url: redis_url.clone(),
        kafka_brokers: args.kafka_brokers.clone(),
        prefix: format!("bench{}-{tag}", std::process::id()),
        secret: format!("bench-cluster-secret-{tag}-0123456789abcdefghij"),
    }))
}

/// One node to spawn.
struct Node<'a> {
    bin: &'a Path,
    dir: DataDir,
    keep: bool,
    database_url: Option<&'a str>,
    shared: Option<&'a Shared>,
}

impl Node<'_> {
    /// Start it on a free port and wait until it is ready; it and its base URL.
    async fn start(self, http: &reqwest::Client) -> Result<(Spawned, String)> {
        let port = free_port()?;
        let DataDir {
            root,
            data,
            log,
            log_file,
        } = self.dir;
        let mut cmd = serve_command(self.bin, &data, log_file, port, self.database_url)?;
        if let Some(shared) = self.shared {
            cmd.env("COLINK_KV__BACKEND", "redis")
                .env("COLINK_KV__URL", &shared.redis_url)
                .env("COLINK_KV__PREFIX", format!("{}:", shared.prefix))
                .env("COLINK_BUS__TOPIC_PREFIX", format!("{}.", shared.prefix))
                .env("COLINK_AUTH__SECRET_KEY", &shared.secret);
            match &shared.kafka_brokers {
                Some(brokers) => cmd
                    .env("COLINK_BUS__BACKEND", "kafka")
                    .env("COLINK_BUS__BROKERS", brokers),
                None => cmd.env("COLINK_BUS__BACKEND", "redis"),
            };
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", self.bin.display()))?;
        let pid = child.id();
        let mut spawned = Spawned {
            child,
            root,
            data,
            log,
            keep: self.keep,
        };
        let base_url = format!("http://127.0.0.1:{port}");
        eprintln!(
            "started {} serve (pid {}) on {base_url}",
            self.bin.display(),
            pid.map_or_else(|| "?".into(), |p| p.to_string())
        );
        wait_ready(
            http,
            &base_url,
            Some(&mut spawned.child),
            Some(&spawned.log),
        )
        .await?;
        Ok((spawned, base_url))
    }
}

/// A fresh temporary directory for a spawned server: its data dir and its log.
struct DataDir {
    root: PathBuf,
    /// `<root>/data`, the server's COLINK_DATA_DIR (mode 0700).
    data: PathBuf,
    /// `<root>/server.log`, the server's stdout and stderr.
    log: PathBuf,
    log_file: std::fs::File,
}

impl DataDir {
    fn create() -> Result<DataDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let root = std::env::temp_dir().join(format!(
            "colink-bench-{}-{}",
            std::process::id(),
            nanos % 1_000_000_000
        ));
        let data = root.join("data");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data)
            .with_context(|| format!("creating data dir {}", data.display()))?;
        let log = root.join("server.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("creating server log {}", log.display()))?;
        Ok(DataDir {
            root,
            data,
            log,
            log_file,
        })
    }
}

impl DataDir {
    /// A data dir that outlives the run: `dir` itself (mode 0700), the log inside it.
    fn persistent(dir: &Path) -> Result<DataDir> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
        let log = dir.join("bench-server.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening server log {}", log.display()))?;
        Ok(DataDir {
            root: dir.to_owned(),
            data: dir.to_owned(),
            log,
            log_file,
        })
    }
}

/// `BIN serve` on the data dir `data`, listening on 127.0.0.1:`port`, stdout and stderr to
/// `log_file`, with the rate limits lifted.
fn serve_command(
    bin: &Path,
    data: &Path,
    log_file: std::fs::File,
    port: u16,
    database_url: Option<&str>,
) -> Result<Command> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .env("COLINK_DATA_DIR", data)
        .env("COLINK_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("COLINK_TELEMETRY__LEVEL", "warn")
        .env("COLINK_LIMITS__LOGIN_PER_IP__MAX", "1000000")
        .env("COLINK_LIMITS__LOGIN_PER_ACCOUNT__MAX", "1000000")
        .env("COLINK_LIMITS__REGISTER_PER_IP__MAX", "1000000")
        // A mix user subscribes to up to 100 channels at once, and several simulated users
        // may share one account.
        .env("COLINK_REALTIME__MAX_FRAMES_PER_SECOND", "10000")
        .env("COLINK_REALTIME__MAX_CONNECTIONS_PER_USER", "1000")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            log_file.try_clone().context("duplicating log handle")?,
        ))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    // The load generator writes far faster than people: lift the per-user write limits.
    for write in [
        "MESSAGES",
        "REPLIES",
        "REACTIONS",
        "CONVERSATIONS",
        "INVITES",
        "WS_TICKETS",
        "UPLOADS",
    ] {
        for field in ["CAPACITY", "PER_MINUTE"] {
            cmd.env(
                format!("COLINK_LIMITS__WRITES__{write}__{field}"),
                "1000000000",
            );
        }
    }
    if let Some(url) = database_url {
        cmd.env("COLINK_DATABASE__URL", url);
    }
    Ok(cmd)
}

/// Poll `GET /ready` every 50 ms until it answers 200 (at most 30 s).
async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    mut child: Option<&mut Child>,
    log: Option<&Path>,
) -> Result<()> {
    let url = format!("{base}/ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    let tail = || log.map(|l| log_tail(l, 20)).unwrap_or_default();
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait().context("checking the server process")?
        {
            bail!("the server exited before it was ready ({status}){}", tail());
        }
        let last = match http.get(&url).timeout(Duration::from_secs(2)).send().await {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                format!("{status}: {}", crate::api::truncate(&body, 300))
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!("{url} not ready after 30 s (last: {last}){}", tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn read_setup_token(file: &Path) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::read_to_string(file) {
            Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_owned()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
        }
        if Instant::now() >= deadline {
            bail!(
                "{} did not appear; is the database empty (not set up before)?",
                file.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
