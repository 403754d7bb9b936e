//! What the CLI's test files share: running the binary and reading its
//! output.

// Each test file uses a different part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `treaty args…` in `dir`.
pub fn treaty(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_treaty"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A runtime for setting up stores before running the binary.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`;
/// under `CI` a missing server fails the test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    treaty_testing::server_url("TREATY_TEST_POSTGRES")
}

/// `url` with connections whose transactions are read-only: any write or
/// DDL (even `CREATE … IF NOT EXISTS`) fails, as it does for a monitoring
/// role allowed only `SELECT`.
pub fn read_only(url: &str) -> String {
    format!(
        "{url}{}options=-c%20default_transaction_read_only%3Don",
        if url.contains('?') { '&' } else { '?' }
    )
}

/// Runs SQL on a connection of its own.
pub async fn postgres_execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = driver.await;
}
