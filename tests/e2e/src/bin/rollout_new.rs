//! The tally service built with `rollout/new.rs`'s contracts, for
//! `tests/rollout_processes.rs`: see `rollout/service.rs`.

#[path = "../../rollout/service.rs"]
mod service;
#[path = "../../rollout/new.rs"]
mod tally;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    service::main("rollout_new").await
}
