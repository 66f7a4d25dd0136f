//! Checks for external dependencies: fail under CI, skip with a notice otherwise.

use std::io::Write;
use std::path::PathBuf;

use crate::mysql::MySql;
use crate::postgres::Postgres;

/// Whether the `CI` environment variable is set (to anything non-empty).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|value| !value.is_empty())
}

/// Looks a program up on `PATH`; returns its path if an executable file of that name exists.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;

    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Returns the path of `name` when it is on `PATH`.
///
/// When it is missing: under CI (env var `CI` set) this panics, so the test fails; otherwise it
/// prints a notice and returns `None`, telling the caller to skip.
///
/// ```no_run
/// let Some(_notary) = signet_e2e::require_tool("notary") else { return };
/// ```
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_tool(name) {
        Some(path) => Some(path),
        None => missing(&format!("program `{name}` is not on PATH")),
    }
}

/// Returns a handle on the local Postgres cluster (127.0.0.1:5432, user `postgres`, trust auth)
/// when `psql` is installed and the cluster answers.
///
/// When it is not available: under CI this panics, so the test fails; otherwise it prints a
/// notice and returns `None`, telling the caller to skip.
pub fn require_postgres() -> Option<Postgres> {
    let Some(psql) = find_tool("psql") else {
        return missing("program `psql` is not on PATH (needed to manage test databases)");
    };
    let postgres = Postgres::local(psql);
    match postgres.ping() {
        Ok(()) => Some(postgres),
        Err(error) => missing(&format!(
            "Postgres at {}:{} (user {}) is not reachable: {error}",
            postgres.host(),
            postgres.port(),
            postgres.user()
        )),
    }
}

/// Returns a handle on the MySQL/MariaDB server of `SIGNET_TEST_MYSQL_URL` (default
/// `mysql://signet:signet@127.0.0.1:3306`) when the `mysql` client is installed and the server
/// answers.
///
/// When it is not available: under CI this panics, so the test fails; otherwise it prints a
/// notice and returns `None`, telling the caller to skip.
pub fn require_mysql() -> Option<MySql> {
    let Some(client) = find_tool("mysql") else {
        return missing("program `mysql` is not on PATH (needed to manage test databases)");
    };
    let mysql = match MySql::from_env(client) {
        Ok(mysql) => mysql,
        Err(error) => return missing(&error.to_string()),
    };
    match mysql.ping() {
        Ok(()) => Some(mysql),
        Err(error) => missing(&format!(
            "MySQL/MariaDB at {} (user {}, SIGNET_TEST_MYSQL_URL) is not reachable: {error}",
            mysql.address(),
            mysql.user()
        )),
    }
}

/// Directories searched for `libfaketime.so.1` (Debian's multiarch folders first).
const LIBFAKETIME_DIRS: [&str; 5] = [
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
    "/usr/lib/faketime",
    "/usr/local/lib/faketime",
    "/usr/lib64/faketime",
];

/// Returns the path of `libfaketime.so.1` (Debian package `libfaketime`, pulled in by
/// `faketime`), to preload into a server whose clock a test moves with `FAKETIME`.
///
/// The library is preloaded directly rather than through the `faketime` program, which forks
/// and would leave the server behind when the harness kills it.
///
/// When it is missing: under CI this panics, so the test fails; otherwise it prints a notice and
/// returns `None`, telling the caller to skip.
pub fn require_libfaketime() -> Option<PathBuf> {
    let found = LIBFAKETIME_DIRS
        .iter()
        .map(|dir| std::path::Path::new(dir).join("libfaketime.so.1"))
        .find(|path| path.is_file());
    match found {
        Some(path) => Some(path),
        None => missing(&format!(
            "libfaketime.so.1 (Debian package `faketime`) is not in any of {LIBFAKETIME_DIRS:?}"
        )),
    }
}

/// Panics under CI; otherwise prints a skip notice past the test output capture.
fn missing<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("{what}; CI is set, so this test fails instead of skipping");
    }
    // Written to the stderr handle directly: libtest captures only the print macros, and a skip
    // should be visible in a passing run.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} (set CI=1 to make this a failure)"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_is_always_present() {
        let sh = find_tool("sh").unwrap();
        assert!(sh.is_absolute());
        assert!(sh.ends_with("sh"));
    }

    #[test]
    fn does_not_find_a_program_that_does_not_exist() {
        assert_eq!(find_tool("signet-e2e-no-such-program"), None);
    }
}
