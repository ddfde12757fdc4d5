//! What a newcomer meets on the command line: a closed pipe, a misspelt variable, where the
//! data lives, and the address the server listens on.

use std::process::{Command, Stdio};

use crate::cli::{colink, text};

/// `colink openapi | head` (and `check-config | head`): the reader goes away before the command
/// writes; the command stops quietly, exit status 0, no panic.
#[test]
fn writing_to_a_closed_pipe_exits_quietly() {
    for args in [&["openapi"][..], &["check-config"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        // Closed before the command starts, so its first write meets a closed pipe.
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_colink"))
            .args(args)
            .env_remove("COLINK_DATABASE__URL")
            .env("COLINK_TELEMETRY__LEVEL", "warn")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn check_config_shows_where_the_data_is_and_warns_about_misspelt_variables() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = colink(
        &["check-config"],
        &[
            ("COLINK_DATA_DIR", data_dir),
            ("COLINK_SERVER__BND", "0.0.0.0:9000"),
            ("COLINK_DATABSE__URL", "postgres://elsewhere"),
            ("COLINK_TEST_SOMETHING", "1"),
        ],
        None,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("# data_dir: {data_dir}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("# database: SQLite file {data_dir}/colink.db\n")),
        "{stdout}"
    );
    assert!(stdout.contains("bind = \"127.0.0.1:8080\""), "{stdout}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: environment variable COLINK_DATABSE__URL is not a CoLink setting and is \
             ignored; did you mean COLINK_DATABASE__URL?",
            "warning: environment variable COLINK_SERVER__BND is not a CoLink setting and is \
             ignored; did you mean COLINK_SERVER__BIND?",
        ],
        "{stderr}"
    );

    let out = colink(
        &["check-config"],
        &[
            ("COLINK_DATA_DIR", data_dir),
            (
                "COLINK_DATABASE__URL",
                "postgres://colink:hunter2@db.internal:5432/colink",
            ),
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "# database: PostgreSQL postgres://colink:[redacted]@db.internal:5432/colink\n"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

/// `serve` logs the address it listens on, and a misspelt variable once, as a warning.
#[test]
fn serve_logs_its_address_and_misspelt_variables() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_colink"))
        .arg("serve")
        .env_remove("COLINK_DATABASE__URL")
        .env("COLINK_DATA_DIR", dir.path())
        .env("COLINK_SERVER__BIND", "127.0.0.1:0")
        .env("COLINK_SERVER__BND", "x")
        .env("COLINK_TELEMETRY__LOG_FORMAT", "json")
        .env("COLINK_TELEMETRY__LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut log = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let entry: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        log.push(entry.clone());
        if entry["message"] == "CoLink listening" {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let listening = log.last().unwrap();
    assert_eq!(listening["message"], "CoLink listening", "{log:?}");
    let port = listening["port"].as_u64().unwrap();
    assert_eq!(
        listening["addr"],
        format!("127.0.0.1:{port}"),
        "{listening}"
    );
    let warnings: Vec<_> = log
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("COLINK_SERVER__BND"))
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{log:?}");
    assert_eq!(warnings[0]["level"], "WARN");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("did you mean COLINK_SERVER__BIND?"),
        "{}",
        warnings[0]
    );
}
