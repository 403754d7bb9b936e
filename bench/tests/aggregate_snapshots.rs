//! A repository loading from snapshots still sees every event another
//! process appends between its commands: `treaty-bench aggregate-check`
//! runs `aggregate_command_long_stream` on a short stream, with another
//! `treaty-bench` process appending every 100 commands, and fails when
//! the counter misses one of them.

use std::process::Command;

#[test]
fn appends_from_another_process_between_commands_are_seen() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_treaty-bench"))
        .args(["aggregate-check", "--data"])
        .arg(data.path())
        .output()
        .expect("run treaty-bench aggregate-check");
    assert!(
        output.status.success(),
        "aggregate-check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
