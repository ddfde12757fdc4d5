//! `colink status`, `doctor` and `healthcheck`, run beside a running server, and the man page.

use std::process::Output;

use crate::{
    cli::{colink, text},
    helpers::spawn_app,
};

/// `colink status` and `colink doctor` beside a running server: what it is, how it is, and a
/// failing check named with what to do (exit 1).
#[tokio::test]
async fn status_and_doctor_describe_the_installation_beside_a_running_server() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let channel = app.channel(&owner, "status", false).await;
    app.send(&owner, &channel, "counted").await;
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let bind = app.base.trim_start_matches("http://").to_string();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
        ("COLINK_SERVER__BIND", bind.as_str()),
    ];

    let out = beside(&["status"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = text(&out.stdout);
    let migrations = <migration::Migrator as migration::MigratorTrait>::migrations().len();
    assert!(
        status.contains(&format!("{migrations} migrations applied"))
            && status.contains("0 pending"),
        "{status}"
    );
    assert!(
        status.contains(&format!("running at http://{bind}: ready")),
        "{status}"
    );
    assert!(status.contains("outbox"), "{status}");

    // A test's temporary dir may be open to others (see below): owner-only, as `serve` makes one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&app.config.data_dir, std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }
    let out = beside(&["doctor"], &env).await;
    let doctor = text(&out.stdout);
    assert!(out.status.success(), "{doctor}{}", text(&out.stderr));
    for check in [
        "ok    data dir",
        "ok    key",
        "ok    disk",
        "ok    database",
        "ok    schema",
        "ok    storage",
    ] {
        assert!(doctor.contains(check), "{check} missing:\n{doctor}");
    }

    // A scanner that does not answer fails the run, and says so.
    let mut failing = env.to_vec();
    failing.push(("COLINK_STORAGE__SCANNER", "clamd"));
    failing.push(("COLINK_STORAGE__CLAMD_ADDRESS", "127.0.0.1:1"));
    let out = beside(&["doctor"], &failing).await;
    assert!(!out.status.success());
    let doctor = text(&out.stdout);
    assert!(doctor.contains("fail  clamd"), "{doctor}");
    assert!(doctor.contains("1 failed"), "{doctor}");

    // A data dir other users can read is worth a warning (the key lives there).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&app.config.data_dir, std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let doctor = text(&beside(&["doctor"], &env).await.stdout);
        assert!(doctor.contains("warn  data dir"), "{doctor}");
        assert!(doctor.contains("chmod 700"), "{doctor}");
    }
}

/// `colink healthcheck` (the container's HEALTHCHECK): exit 0 while the server at
/// `server.bind` answers `/health`, 1 with the address when nothing does. An unspecified
/// bind address (`0.0.0.0`, as in the container) is asked on the loopback interface.
#[tokio::test]
async fn healthcheck_exits_0_only_while_the_server_answers() {
    let app = spawn_app().await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let unspecified = format!("0.0.0.0:{port}");
    let out = beside(
        &["healthcheck"],
        &[
            ("COLINK_DATA_DIR", &dir),
            ("COLINK_SERVER__BIND", &unspecified),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("http://127.0.0.1:{port}/health: OK")),
        "{}",
        text(&out.stdout)
    );

    // Nothing listens on a port just released.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = beside(
        &["healthcheck"],
        &[("COLINK_DATA_DIR", &dir), ("COLINK_SERVER__BIND", &free)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("no answer from http://{free}/health")),
        "{said}"
    );
}

/// `colink manpage`: a man page of the command line, every subcommand in it, written without
/// a configuration (packagers run it at build time).
#[test]
fn manpage_is_roff_naming_every_subcommand() {
    let out = colink(
        &["manpage"],
        &[("COLINK_CONFIG", "/nonexistent/config.toml")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH colink 1"), "{page}");
    for subcommand in [
        "serve",
        "migrate",
        "backup",
        "restore",
        "doctor",
        "healthcheck",
    ] {
        assert!(page.contains(subcommand), "{subcommand} missing:\n{page}");
    }
}

/// [`colink`] off the test's runtime thread, so the in-process server keeps answering.
async fn beside(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        colink(&args, &env, None)
    })
    .await
    .unwrap()
}
