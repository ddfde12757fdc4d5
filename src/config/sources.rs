//! Where configuration comes from, and how its mistakes are told: error messages that name the
//! key as the user wrote it (`server.bind` in a file, `COLINK_SERVER__BIND` in the environment),
//! and warnings for `COLINK_*` variables that are no setting at all.

use std::path::{Path, PathBuf};

use figment::{Figment, Metadata, error::Kind, value::Uncased};

use super::Config;

/// Keys without a default (absent from `Config::default()` when serialised).
pub(super) const OPTIONAL_KEYS: &[&str] = &[
    "server.public_url",
    "database.url",
    "kv.path",
    "kv.url",
    "bus.url",
    "bus.brokers",
    "bus.replication_factor",
    "bus.tls_ca_file",
    "bus.sasl_mechanism",
    "bus.sasl_username",
    "bus.sasl_password",
    "cluster.node_id",
    "search.path",
    "auth.secret_key",
    "email.smtp_url",
    "storage.root",
    "storage.s3.endpoint",
    "storage.s3.public_endpoint",
    "storage.s3.access_key_id",
    "storage.s3.secret_access_key",
    "telemetry.metrics_bind",
    "telemetry.otlp_endpoint",
];

/// `COLINK_*` variables that are read by the `colink` command line or the scripts, not settings.
const TOOL_VARIABLES: &[&str] = &[
    "CONFIG",
    "REQUIRE_SMTP",
    "REQUIRE_CLAMD",
    "REQUIRE_S3",
    "PG_DIR",
];
/// Prefixes of the test suite's variables (`COLINK_TEST_DATABASE_URL`).
const TOOL_PREFIXES: &[&str] = &["TEST_"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that could not be read (wrong type, unknown key or value, bad TOML).
    #[error("invalid configuration: {0}")]
    Load(String),
    #[error("configuration file {} does not exist", .0.display())]
    MissingFile(PathBuf),
    #[error("invalid configuration: `{key}`{}: {problem}", origin.as_deref().unwrap_or(""))]
    Invalid {
        key: &'static str,
        problem: String,
        /// Where the value came from, as ` (environment variable …)` or ` (in FILE)`.
        origin: Option<String>,
    },
}

impl ConfigError {
    pub(super) fn invalid(key: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            problem: problem.into(),
            origin: None,
        }
    }

    /// Say where an invalid value was set.
    pub(super) fn located(self, figment: &Figment) -> Self {
        match self {
            Self::Invalid {
                key,
                problem,
                origin: None,
            } => {
                let origin = figment
                    .find_metadata(key)
                    .and_then(|md| origin(md, &key.split('.').collect::<Vec<_>>()))
                    .map(|o| format!(" ({o})"));
                Self::Invalid {
                    key,
                    problem,
                    origin,
                }
            }
            other => other,
        }
    }
}

/// `COLINK_SERVER__BIND` for `["server", "bind"]`.
fn env_name(path: &[&str]) -> String {
    format!("COLINK_{}", path.join("__").to_uppercase())
}

/// `environment variable COLINK_X` or `in /abs/config.toml`; nothing for built-in defaults.
fn origin(md: &Metadata, path: &[&str]) -> Option<String> {
    if let Some(file) = md.source.as_ref().and_then(|s| s.file_path()) {
        return Some(format!("in {}", absolute(file).display()));
    }
    md.name
        .contains("environment")
        .then(|| format!("environment variable {}", env_name(path)))
}

pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// One line per figment error, naming the key without figment's profile prefix.
pub(super) fn describe(error: figment::Error) -> ConfigError {
    let lines: Vec<String> = error.into_iter().map(|e| describe_one(&e)).collect();
    ConfigError::Load(lines.join("; "))
}

fn describe_one(e: &figment::Error) -> String {
    let mut path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    // figment prefixes keys with the profile (`default.server.bind`): not a key anyone wrote.
    if let Some(profile) = &e.profile
        && path.len() > 1
        && path
            .first()
            .is_some_and(|p| profile.as_str().as_str().eq_ignore_ascii_case(p))
    {
        path.remove(0);
    }
    let problem = match &e.kind {
        Kind::UnknownField(found, expected) => {
            if path.last() != Some(&found.as_str()) {
                path.push(found);
            }
            format!("unknown key{}", suggestion(found, expected))
        }
        Kind::UnknownVariant(found, expected) => {
            format!("unknown value \"{found}\", expected {}", quoted(expected))
        }
        Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected) => {
            format!("expected {expected}, found {found}")
        }
        Kind::Message(message) => one_line(message),
        other => one_line(&other.to_string()),
    };
    let origin = e.metadata.as_ref().and_then(|md| origin(md, &path));
    let key = path.join(".");
    match (key.is_empty(), origin) {
        (true, Some(origin)) => format!("{origin}: {problem}"),
        (true, None) => problem,
        (false, Some(origin)) => format!("`{key}` ({origin}): {problem}"),
        (false, None) => format!("`{key}`: {problem}"),
    }
}

fn quoted(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => "nothing".into(),
    }
}

fn suggestion(found: &str, expected: &[&str]) -> String {
    match closest(found, expected.iter().copied()) {
        Some(best) => format!(" (did you mean `{best}`?)"),
        None => String::new(),
    }
}

/// A TOML syntax error spans several lines (with a source excerpt): keep its words on one line.
fn one_line(message: &str) -> String {
    // Excerpt lines look like `  |`, `1 | [server` and `  |        ^`.
    let excerpt = |l: &str| {
        l.starts_with('|')
            || l.split_once(" |")
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
    };
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !excerpt(l))
        .collect::<Vec<_>>()
        .join(": ")
}

/// The candidate nearest to `word` by edit distance.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates.min_by_key(|c| strsim::levenshtein(word, c))
}

/// Every key a `COLINK_*` variable may set, dotted and lowercase (`server.bind`,
/// `limits.login_per_ip`, `limits.login_per_ip.max`).
pub(super) fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = OPTIONAL_KEYS.iter().map(|k| k.to_string()).collect();
    if let Ok(defaults) = toml::Value::try_from(Config::default()) {
        collect_keys(&defaults, "", &mut keys);
    }
    keys
}

fn collect_keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            collect_keys(v, &key, out);
            out.push(key);
        }
    }
}

/// The dotted key a `COLINK_*` variable names (`COLINK_SERVER__BIND` → `server.bind`).
fn env_key(rest: &str) -> String {
    rest.to_lowercase().replace("__", ".")
}

/// Whether the environment provider should take this (prefix-stripped, `__`→`.`) key.
pub(super) fn is_known(known: &[String], key: &Uncased<'_>) -> bool {
    known.iter().any(|k| key.as_str().eq_ignore_ascii_case(k))
}

/// Warnings for `COLINK_*` variables that set nothing (a misspelt key is ignored, not fatal),
/// each naming the closest real setting.
pub fn env_warnings(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let known = known_keys();
    let mut warnings = Vec::new();
    for (name, _) in vars {
        let Some(rest) = name.strip_prefix("COLINK_") else {
            continue;
        };
        if TOOL_VARIABLES.contains(&rest) || TOOL_PREFIXES.iter().any(|p| rest.starts_with(p)) {
            continue;
        }
        let key = env_key(rest);
        if known.contains(&key) {
            continue;
        }
        let Some(best) = closest(&key, known.iter().map(String::as_str)) else {
            continue;
        };
        let best_path: Vec<&str> = best.split('.').collect();
        warnings.push(format!(
            "environment variable {name} is not a CoLink setting and is ignored; did you mean {}?",
            env_name(&best_path)
        ));
    }
    warnings.sort();
    warnings
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    fn load_error(file: Option<&str>) -> String {
        match Config::load(file.map(Path::new)) {
            Ok(_) => panic!("the configuration loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_key_as_written_on_one_line() {
        figment::Jail::expect_with(|jail| {
            let dir = std::env::current_dir().map_err(|e| e.to_string())?;
            jail.set_env("COLINK_SERVER__BIND", "nope");
            assert_eq!(
                load_error(None),
                "invalid configuration: `server.bind` (environment variable COLINK_SERVER__BIND): \
                 invalid socket address syntax"
            );
            jail.clear_env();
            jail.create_file("bad.toml", "[auth]\nregistration = \"sometimes\"\n")?;
            assert_eq!(
                load_error(Some("bad.toml")),
                format!(
                    "invalid configuration: `auth.registration` (in {}): unknown value \
                     \"sometimes\", expected \"open\", \"invite\" or \"closed\"",
                    dir.join("bad.toml").display()
                )
            );
            jail.create_file("typo.toml", "[server]\nbnid = \"x\"\n")?;
            let err = load_error(Some("typo.toml"));
            assert!(
                err.contains("`server.bnid` (in /")
                    && err.ends_with("unknown key (did you mean `bind`?)"),
                "{err}"
            );
            jail.create_file("short.toml", "[auth]\nsecret_key = \"short\"\n")?;
            let err = load_error(Some("short.toml"));
            assert!(err.contains("`auth.secret_key` (in /"), "{err}");
            jail.create_file("broken.toml", "[server\n")?;
            let err = load_error(Some("broken.toml"));
            assert!(err.contains("line 1, column 8"), "{err}");
            assert_eq!(
                load_error(Some("missing.toml")),
                format!(
                    "configuration file {} does not exist",
                    dir.join("missing.toml").display()
                )
            );
            for err in [
                load_error(Some("bad.toml")),
                load_error(Some("broken.toml")),
                load_error(Some("missing.toml")),
            ] {
                assert!(!err.contains('\n') && !err.contains("default."), "{err}");
                assert!(!err.contains("``") && !err.contains("`one of"), "{err}");
            }
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_variable_does_not_stop_start_up() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COLINK_SERVER__BND", "0.0.0.0:1");
            jail.set_env("COLINK_DATABSE__URL", "postgres://x");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
            assert!(config.database.url.is_none());
            Ok(())
        });
    }

    fn warn(name: &str) -> Vec<String> {
        env_warnings([(name.to_string(), "x".to_string())])
    }

    #[test]
    fn misspelt_variables_name_the_closest_setting() {
        assert_eq!(
            warn("COLINK_SERVER__BND"),
            [
                "environment variable COLINK_SERVER__BND is not a CoLink setting and is ignored; \
              did you mean COLINK_SERVER__BIND?"
            ]
        );
        assert!(warn("COLINK_DATABSE__URL")[0].ends_with("did you mean COLINK_DATABASE__URL?"));
        assert!(warn("COLINK_DATA_DIRR")[0].ends_with("did you mean COLINK_DATA_DIR?"));
    }

    #[test]
    fn real_settings_and_tool_variables_do_not_warn() {
        for name in [
            "COLINK_SERVER__BIND",
            "COLINK_DATA_DIR",
            "COLINK_DATABASE__URL",
            "COLINK_LIMITS__LOGIN_PER_IP__MAX",
            "COLINK_REALTIME__TICKET_TTL",
            "COLINK_CONFIG",
            "COLINK_TEST_DATABASE_URL",
            "COLINK_TEST_ANYTHING",
            "COLINK_REQUIRE_SMTP",
            "PATH",
        ] {
            assert!(warn(name).is_empty(), "{name}: {:?}", warn(name));
        }
    }

    #[test]
    fn toml_errors_fold_onto_one_line() {
        let message = "TOML parse error at line 1, column 8\n  |\n1 | [server\n  |        ^\n\
                       invalid table header\nexpected `.`, `]`\n";
        assert_eq!(
            one_line(message),
            "TOML parse error at line 1, column 8: invalid table header: expected `.`, `]`"
        );
    }
}
