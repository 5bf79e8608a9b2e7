//! One typed configuration, read from the environment (and a few flags).

use std::net::IpAddr;

/// Cost of argon2id password hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl PasswordCost {
    /// What production uses: OWASP's argon2id minimum, m=19 MiB, t=2, p=1.
    pub const PRODUCTION: PasswordCost = PasswordCost {
        m_kib: 19456,
        t: 2,
        p: 1,
    };
    /// Only for the test suite, which logs in hundreds of times; never read
    /// from the environment.
    pub const TESTING: PasswordCost = PasswordCost {
        m_kib: 256,
        t: 1,
        p: 1,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: String,
    pub pool_size: u32,
    /// Cookies get `Secure` and the `__Host-` prefix (serve over TLS).
    pub secure_cookies: bool,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// The scheme's time zone: what dates are shown in and months cut by.
    pub time_zone: chrono_tz::Tz,
    /// Password of the first admin account, instead of a generated one.
    pub admin_password: Option<String>,
    /// The key for people's data, as 64 hex characters; else read from (or
    /// created in) `data_key_file`.
    pub data_key: Option<String>,
    pub data_key_file: std::path::PathBuf,
    pub password_cost: PasswordCost,
    pub log_format: LogFormat,
    /// Where the nightly backup goes (none: no nightly backup), and how many to keep.
    pub backup_dir: Option<std::path::PathBuf>,
    pub backup_keep: usize,
    /// Failed logins allowed per account, and per client address, in the window.
    pub login_max_failures_account: i64,
    pub login_max_failures_ip: i64,
    pub login_window_minutes: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Queries taking at least this long are logged with their SQL.
    pub slow_query_ms: u64,
    /// SQLite: the write-ahead log size (MB) above which the server's
    /// keeper restarts it (`db::wal`; `AIXIN_WAL_RESTART_MB`, 0 = no
    /// keeper, default 32).
    pub wal_restart_mb: u64,
    /// SQLite: how much of the database file (MB) each connection reads
    /// through memory mapping (`PRAGMA mmap_size`; `AIXIN_SQLITE_MMAP_MB`,
    /// 0 = none, the default, at most 65,536).
    pub sqlite_mmap_mb: u64,
    /// The address households reach the app at (`https://jifen.example.cn`,
    /// no trailing slash): a card's QR code opens `{public_url}/h/{card}`.
    /// None: the QR code holds the card number alone.
    pub public_url: Option<String>,
    /// Requests one client address may make to the public pages (notice,
    /// honour roll, price lists, rulebook) per minute, counted in the
    /// database across app servers (`AIXIN_PUBLIC_PER_MINUTE`).
    pub public_per_minute: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/aixin.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let bind = var("AIXIN_BIND").unwrap_or_else(|| DEFAULT_BIND.into());
        let pool_size = match var("AIXIN_POOL_SIZE") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| ConfigError {
                    name: "AIXIN_POOL_SIZE",
                    message: format!("must be a number from 1 to 256, not \"{v}\""),
                })?,
            None => 8,
        };
        let secure_cookies = match var("AIXIN_SECURE_COOKIES") {
            Some(v) => parse_bool(&v).ok_or_else(|| ConfigError {
                name: "AIXIN_SECURE_COOKIES",
                message: format!("must be true or false, not \"{v}\""),
            })?,
            None => false,
        };
        let mut trusted_proxies = Vec::new();
        if let Some(v) = var("AIXIN_TRUSTED_PROXIES") {
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                trusted_proxies.push(part.parse::<IpAddr>().map_err(|_| ConfigError {
                    name: "AIXIN_TRUSTED_PROXIES",
                    message: format!("\"{part}\" is not an IP address"),
                })?);
            }
        }
        let time_zone = match var("AIXIN_TIME_ZONE") {
            Some(v) => v.parse::<chrono_tz::Tz>().map_err(|_| ConfigError {
                name: "AIXIN_TIME_ZONE",
                message: format!("\"{v}\" is not a time zone name such as Asia/Shanghai"),
            })?,
            None => chrono_tz::Asia::Shanghai,
        };
        let log_format = match var("AIXIN_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "AIXIN_LOG_FORMAT",
                    message: format!("must be text or json, not \"{other}\""),
                });
            }
        };
        let slow_query_ms = match var("AIXIN_SLOW_QUERY_MS") {
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ConfigError {
                    name: "AIXIN_SLOW_QUERY_MS",
                    message: format!("must be a number of milliseconds from 1, not \"{v}\""),
                })?,
            None => 200,
        };
        let sqlite_mmap_mb = match var("AIXIN_SQLITE_MMAP_MB") {
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 65_536)
                .ok_or_else(|| ConfigError {
                    name: "AIXIN_SQLITE_MMAP_MB",
                    message: format!("must be a number of MB from 0 to 65536, not \"{v}\""),
                })?,
            None => 0,
        };
        let wal_restart_mb = match var("AIXIN_WAL_RESTART_MB") {
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 1024)
                .ok_or_else(|| ConfigError {
                    name: "AIXIN_WAL_RESTART_MB",
                    message: format!("must be a number of MB from 0 (off) to 1024, not \"{v}\""),
                })?,
            None => 32,
        };
        let public_url = match var("AIXIN_PUBLIC_URL") {
            Some(v) => {
                let v = v.trim().trim_end_matches('/').to_string();
                let ok = (v.starts_with("https://") || v.starts_with("http://"))
                    && v.len() > "https://".len()
                    && !v.chars().any(|c| c.is_whitespace() || c.is_control());
                if !ok {
                    return Err(ConfigError {
                        name: "AIXIN_PUBLIC_URL",
                        message: format!(
                            "must be an address such as https://jifen.example.cn, not \"{v}\""
                        ),
                    });
                }
                Some(v)
            }
            None => None,
        };
        let public_per_minute = match var("AIXIN_PUBLIC_PER_MINUTE") {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| ConfigError {
                    name: "AIXIN_PUBLIC_PER_MINUTE",
                    message: format!("must be a number from 1 to 100000, not \"{v}\""),
                })?,
            None => 120,
        };
        Ok(Config {
            public_url,
            public_per_minute,
            slow_query_ms,
            wal_restart_mb,
            sqlite_mmap_mb,
            database_url,
            bind,
            pool_size,
            secure_cookies,
            trusted_proxies,
            time_zone,
            admin_password: get("AIXIN_ADMIN_PASSWORD").filter(|p| !p.is_empty()),
            data_key: var("AIXIN_DATA_KEY"),
            data_key_file: var("AIXIN_DATA_KEY_FILE")
                .unwrap_or_else(|| "data/aixin.key".into())
                .into(),
            password_cost: PasswordCost::PRODUCTION,
            log_format,
            backup_dir: var("AIXIN_BACKUP_DIR").map(Into::into),
            backup_keep: match var("AIXIN_BACKUP_KEEP") {
                Some(v) => {
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| ConfigError {
                            name: "AIXIN_BACKUP_KEEP",
                            message: format!("must be a whole number of at least 1, not \"{v}\""),
                        })?
                }
                None => 7,
            },
            login_max_failures_account: 5,
            login_max_failures_ip: 20,
            login_window_minutes: 15,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_production() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.bind, DEFAULT_BIND);
        assert_eq!(c.password_cost, PasswordCost::PRODUCTION);
        assert!(c.password_cost.m_kib >= 19456 && c.password_cost.t >= 2);
        assert_eq!(c.time_zone, chrono_tz::Asia::Shanghai);
        assert!(!c.secure_cookies);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = Config::from_lookup(|k| (k == "AIXIN_TIME_ZONE").then(|| "Mars/Base".into()))
            .unwrap_err();
        assert_eq!(e.name, "AIXIN_TIME_ZONE");
        let e = Config::from_lookup(|k| {
            (k == "AIXIN_TRUSTED_PROXIES").then(|| "10.0.0.1, nope".into())
        })
        .unwrap_err();
        assert_eq!(e.name, "AIXIN_TRUSTED_PROXIES");
        let e = Config::from_lookup(|k| (k == "AIXIN_SLOW_QUERY_MS").then(|| "0.5".into()))
            .unwrap_err();
        assert_eq!(e.name, "AIXIN_SLOW_QUERY_MS");
        let c = Config::from_lookup(|k| (k == "AIXIN_SLOW_QUERY_MS").then(|| "20".into())).unwrap();
        assert_eq!(c.slow_query_ms, 20);
        let c =
            Config::from_lookup(|k| (k == "AIXIN_SQLITE_MMAP_MB").then(|| "8192".into())).unwrap();
        assert_eq!(c.sqlite_mmap_mb, 8192);
        let e = Config::from_lookup(|k| (k == "AIXIN_SQLITE_MMAP_MB").then(|| "1e9".into()))
            .unwrap_err();
        assert_eq!(e.name, "AIXIN_SQLITE_MMAP_MB");
    }
}
