//! How the `colink` binary presents itself: `--help` everywhere, and serving by default.

use std::collections::VecDeque;

use crate::cli::{colink, spawn_server, text};

/// Entries of the `Arguments:`, `Options:` and `Commands:` sections of a help text, each as
/// (the entry as printed, its description).
fn entries(help: &str) -> Vec<(String, String)> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in help.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            in_section = matches!(line, "Arguments:" | "Options:" | "Commands:");
            continue;
        }
        if in_section {
            let entry = line.trim();
            // clap separates an entry from its description by at least two spaces.
            let (name, description) = entry.split_once("  ").unwrap_or((entry, ""));
            out.push((name.trim().to_string(), description.trim().to_string()));
        }
    }
    out
}

fn subcommands(help: &str) -> Vec<String> {
    let commands = help
        .split("Commands:")
        .nth(1)
        .map(|rest| rest.split("\n\n").next().unwrap_or(""))
        .unwrap_or("");
    commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// `--help` of the binary and of every (nested) subcommand exits 0, names its usage, and gives
/// every argument, option and subcommand a description.
#[test]
fn every_command_help_exits_0_and_describes_every_option() {
    let mut queue: VecDeque<Vec<String>> = VecDeque::from([Vec::new()]);
    let mut seen = Vec::new();
    while let Some(path) = queue.pop_front() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = colink(&args, &[], None);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let usage = ["colink"]
            .into_iter()
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help.contains(&format!("Usage: {usage}")),
            "{args:?}:\n{help}"
        );
        assert!(
            !help.lines().next().unwrap_or("").trim().is_empty(),
            "{args:?} has no summary:\n{help}"
        );
        let undescribed: Vec<_> = entries(&help)
            .into_iter()
            .filter(|(_, description)| description.is_empty())
            .map(|(name, _)| name)
            .collect();
        assert!(
            undescribed.is_empty(),
            "`{usage} --help` leaves {undescribed:?} undescribed:\n{help}"
        );
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            queue.push_back(next);
        }
        seen.push((path, help));
    }

    let help_of = |path: &[&str]| {
        seen.iter()
            .find(|(p, _)| p.iter().map(String::as_str).eq(path.iter().copied()))
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| panic!("no help for {path:?}"))
    };
    for command in ["serve", "migrate", "admin", "openapi", "check-config"] {
        help_of(&[command]);
    }
    for command in ["up", "down", "status"] {
        help_of(&["migrate", command]);
    }
    let with_user: [&[&str]; 7] = [
        &["admin", "reset-password"],
        &["admin", "users", "set-role"],
        &["admin", "users", "suspend"],
        &["admin", "users", "unsuspend"],
        &["admin", "users", "deactivate"],
        &["admin", "users", "reactivate"],
        &["admin", "users", "reset-2fa"],
    ];
    for command in with_user {
        let help = help_of(command);
        let user = entries(&help)
            .into_iter()
            .find(|(name, _)| name == "<USER>")
            .unwrap_or_else(|| panic!("{command:?} takes no USER:\n{help}"));
        assert!(
            user.1.to_lowercase().contains("username or email"),
            "{command:?}: {user:?}"
        );
    }
    let reset = help_of(&["admin", "reset-password"]);
    assert!(
        entries(&reset)
            .iter()
            .any(|(name, d)| name == "--password-stdin" && d.contains("standard input")),
        "{reset}"
    );
    let create = help_of(&["admin", "create-user"]);
    for option in ["--username", "--email", "--role", "--password-stdin"] {
        assert!(
            entries(&create)
                .iter()
                .any(|(name, _)| name.contains(option)),
            "{option}:\n{create}"
        );
    }
}

/// `colink` with no subcommand and no configuration serves, like `colink serve`, with its data
/// under `./colink-data/`.
#[tokio::test]
async fn bare_colink_serves_with_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = spawn_server(&[], &[], Some(dir.path()));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let status: serde_json::Value = http
        .get(format!("{base}/api/v1/setup/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["needs_setup"], true);
    let data = dir.path().join("colink-data");
    assert!(
        data.join("setup-token").is_file(),
        "setup token in ./colink-data"
    );
    assert!(
        data.join("colink.db").is_file(),
        "SQLite database in ./colink-data"
    );

    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful stop: {exit}");
}
