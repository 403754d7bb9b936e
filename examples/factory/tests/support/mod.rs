//! What the factory's HTTP tests share: a `factory serve` process on a
//! free port, and the external programs some tests drive (Chromium,
//! Schemathesis, Prometheus), which they skip with a printed reason when
//! missing, except under CI, where they fail (`.ci/http.sh` installs the
//! first two, `.ci/prometheus.sh` the third).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `factory serve` process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `factory serve` on a free port with the SQLite file `db`
    /// and the extra options `args`; returns once it listens.
    pub fn start(db: &Path, args: &[&str]) -> Server {
        Server::start_with_env(db, args, &[])
    }

    /// [`Server::start`] with the environment variables `env` set.
    pub fn start_with_env(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_factory"))
            .arg("serve")
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("factory serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        let lines = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(base) = line.strip_prefix("listening on ") {
                    let _ = sender.send(base.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("factory serve did not listen: {:?}", output.lock().unwrap()));
        Server { child, base, output }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for the process to end; returns its status
    /// and everything it printed.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return (status, self.output.lock().unwrap().clone());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not stop within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An external program a test needs: its path, or `None` with a printed
/// reason (a panic under CI).
pub fn program(name: &str, candidates: &[&str], install: &str) -> Option<PathBuf> {
    let found = candidates.iter().map(PathBuf::from).find(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI is set but {name} is not installed: .ci/run must install it ({install})")
        }
        None => {
            eprintln!("skipped: {name} is not installed ({install})");
            None
        }
    }
}

/// Headless Chromium, Debian's package.
pub fn chromium() -> Option<PathBuf> {
    program(
        "chromium",
        &["/usr/bin/chromium"],
        "apt-get install chromium, as .ci/http.sh does",
    )
}

/// The DOM of `url` after Chromium rendered it.
pub fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The path of a file under the package.
pub fn package_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}
