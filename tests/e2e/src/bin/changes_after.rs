//! The projections of `changes/after`, for `tests/projection_rebuilds.rs`:
//! see `changes/runner.rs` for the commands.

// Some items are there only to be edited without effect.
#[allow(dead_code)]
#[path = "../../changes/after/mod.rs"]
mod app;
#[path = "../../changes/runner.rs"]
mod runner;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    runner::main().await
}
