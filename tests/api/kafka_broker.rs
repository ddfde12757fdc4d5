//! The Kafka tests' broker: tansu, started per test on a port of its own, reached through a
//! link the test can cut, over TLS and with SASL/SCRAM when a test asks.

use std::sync::Arc;

use colink::config::{BusBackend, Config};

use crate::backends::{cached_tool, free_port, until_ready};

/// A tansu broker of the test's own. Clients reach it through a [`Link`] the test can cut: tansu
/// keeps its log in memory, so a restarted tansu has lost every topic and producer id (a Kafka
/// broker keeps them), and librdkafka 2.12 crashes on its metadata for the lost topics; cutting
/// the network between the nodes and a broker that keeps its state is the outage a deployment
/// sees.
pub(crate) struct Broker {
    _child: tokio::process::Child,
    link: Link,
    /// The brokers' host name, as clients are told.
    host: &'static str,
    /// With TLS: the directory holding the certificate authority clients trust.
    tls: Option<tempfile::TempDir>,
    /// With authentication: the directory of tansu's SQLite file.
    _storage: Option<tempfile::TempDir>,
}

/// How a tansu process is started.
struct Tansu<'a> {
    bin: &'a str,
    port: u16,
    advertised: String,
    /// Its SQLite file's directory; `None`: in memory.
    storage: Option<&'a std::path::Path>,
}

impl Tansu<'_> {
    /// tansu, listening; `authentication`: clients must authenticate with SASL.
    async fn spawn(&self, authentication: bool) -> tokio::process::Child {
        let port = self.port;
        // Its log, for a failing test's investigation.
        let log = std::fs::File::create(std::env::temp_dir().join(format!("tansu-{port}.log")))
            .expect("tansu's log file");
        let mut command = tokio::process::Command::new(self.bin);
        command
            .arg("broker")
            .args(["--listener-url", &format!("tcp://127.0.0.1:{port}")])
            // Clients are told to connect through the link.
            .args(["--advertised-listener-url", &self.advertised])
            .args(authentication.then_some("--authentication"));
        match self.storage {
            // A relative path, in the directory tansu runs in.
            Some(dir) => command
                .current_dir(dir)
                .args(["--storage-engine", "sqlite://tansu.db"]),
            None => command.args(["--storage-engine", "memory://tansu/"]),
        };
        let mut child = command
            .stdout(log.try_clone().expect("tansu's log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start tansu");
        let up = until_ready(&mut child, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(
            up,
            "tansu did not start on port {port} (its log: tansu-{port}.log in the temp dir; \
             built without libsql? scripts/backends/tansu.sh builds it again)"
        );
        child
    }
}

impl Broker {
    /// A broker on a free port behind a link on another; `None` (the test skips) when tansu is
    /// not built here.
    pub(crate) async fn require() -> Option<Broker> {
        Self::start(None, None).await
    }

    /// A broker reached over TLS: the link terminates TLS with a certificate for localhost
    /// signed by a certificate authority of the test's own ([`Broker::ca_file`]). With `user`,
    /// clients must also authenticate as that user (SASL/SCRAM-SHA-512).
    pub(crate) async fn require_tls(user: Option<(&str, &str)>) -> Option<Broker> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let tls = tls_config(dir.path());
        let mut broker = Self::start(Some(tls), user).await?;
        broker.tls = Some(dir);
        Some(broker)
    }

    /// The certificate authority's PEM file, for a broker reached over TLS.
    pub(crate) fn ca_file(&self) -> Option<std::path::PathBuf> {
        self.tls.as_ref().map(|dir| dir.path().join("ca.pem"))
    }

    /// `user`: the broker requires SASL/SCRAM and knows this user. tansu keeps users only in its
    /// SQL storage (its in-memory storage ignores them), and creating one takes a broker that
    /// does not require authentication yet: a first tansu on a SQLite file creates the user,
    /// then a second on the same file requires authentication.
    async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        user: Option<(&str, &str)>,
    ) -> Option<Broker> {
        let Some(bin) = cached_tool("tansu", "COLINK_REQUIRE_KAFKA") else {
            assert!(
                std::env::var("COLINK_REQUIRE_KAFKA").is_err(),
                "tansu could not be built (scripts/backends/tansu.sh)"
            );
            eprintln!("skipping: tansu is not built here (scripts/backends/tansu.sh builds it)");
            return None;
        };
        let (port, public) = (free_port(), free_port());
        // Over TLS the brokers are named as in their certificate (librdkafka checks DNS names).
        let host = if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let storage = user.map(|_| tempfile::tempdir().expect("a temp dir"));
        let tansu = Tansu {
            bin: &bin,
            port,
            advertised: format!("tcp://{host}:{public}"),
            storage: storage.as_ref().map(tempfile::TempDir::path),
        };
        if let Some((name, password)) = user {
            let mut open = tansu.spawn(false).await;
            let created = tokio::process::Command::new(&bin)
                .args(["user", "create", "--mechanism", "scram512", "--broker"])
                .arg(format!("tcp://127.0.0.1:{port}"))
                .args([name, password])
                .status()
                .await
                .expect("run tansu user create");
            assert!(created.success(), "tansu user create: {created}");
            open.kill().await.expect("stop the first tansu");
        }
        Some(Broker {
            _child: tansu.spawn(user.is_some()).await,
            link: Link::open(public, port, tls).await,
            host,
            tls: None,
            _storage: storage,
        })
    }

    pub(crate) fn brokers(&self) -> String {
        format!("{}:{}", self.host, self.link.port)
    }

    /// The broker becomes unreachable: connections are closed and new ones refused.
    pub(crate) fn cut(&mut self) {
        self.link.cut();
    }

    /// Reachable again, as it was.
    pub(crate) async fn restore(&mut self) {
        self.link.restore().await;
    }

    /// Configure `config` for this broker, under a topic prefix of the test's own.
    pub(crate) fn configure(&self, config: &mut Config, topic_prefix: &str) {
        config.bus.backend = BusBackend::Kafka;
        config.bus.brokers = Some(self.brokers());
        config.bus.topic_prefix = topic_prefix.to_owned();
        config.bus.partitions = 3;
        config.bus.replication_factor = Some(1);
        config.bus.tls = self.tls.is_some();
        config.bus.tls_ca_file = self.ca_file();
    }
}

/// A certificate authority and a certificate for localhost it signed, made with the openssl
/// command in `dir` (`ca.pem`, `broker.pem`, `broker.key`); the server side of TLS with them.
pub(crate) fn tls_config(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=colink test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
        "-out",
        "broker.pem",
    ]);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("broker.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("broker.key")).unwrap();
    colink::install_crypto_provider();
    Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// A TCP proxy to `upstream` on `port`, which can be cut and restored. It runs on a thread of
/// its own: tests that block their runtime (waiting for a server process) must not stall it.
struct Link {
    port: u16,
    upstream: u16,
    /// Terminate TLS from clients (the broker behind speaks plain Kafka).
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Stops the proxy's thread, closing its listener and every forwarded connection.
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
}

impl Link {
    async fn open(port: u16, upstream: u16, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let mut link = Link {
            port,
            upstream,
            tls,
            running: None,
        };
        link.restore().await;
        link
    }

    fn cut(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            thread.join().expect("the link's thread");
        }
    }

    async fn restore(&mut self) {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", self.port)).expect("the link's port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let upstream = self.upstream;
        let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the link's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
                let forward = async {
                    let mut connections = tokio::task::JoinSet::new();
                    while let Ok((mut client, _)) = listener.accept().await {
                        let tls = tls.clone();
                        connections.spawn(async move {
                            let Ok(mut broker) =
                                tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                            else {
                                return;
                            };
                            match tls {
                                Some(tls) => {
                                    if let Ok(mut client) = tls.accept(client).await {
                                        let _ =
                                            tokio::io::copy_bidirectional(&mut client, &mut broker)
                                                .await;
                                    }
                                }
                                None => {
                                    let _ = tokio::io::copy_bidirectional(&mut client, &mut broker)
                                        .await;
                                }
                            }
                        });
                    }
                };
                tokio::select! {
                    () = forward => {}
                    _ = stopped => {}
                }
            });
        });
        self.running = Some((stop, thread));
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cut();
    }
}
