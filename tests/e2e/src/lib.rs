//! Contracts compiled by this crate's build.rs, in a crate whose only
//! dependency is `treaty`. `deny(warnings)` makes any warning in the
//! generated code fail the build; CI also runs clippy over it.
#![deny(warnings)]

treaty::include_contracts!();

// Contracts written inline with `contract!`, next to `include_contracts!()`
// on purpose: generated code reaches other namespaces by relative paths, so
// `use shared.Money;` below becomes `super::shared::Money`, which resolves
// only from the module that holds the build.rs contracts.
treaty::contract! {
    //! Invoices, written inline rather than in a `.treaty` file.
    namespace billing;

    use shared.Money;

    /// Identifies an invoice.
    id InvoiceId: Uuid;

    aggregate Invoice(id: InvoiceId) {
        /// An invoice was issued. Version 1 held the amount in two loose
        /// fields; version 2 made it a `Money` (a hand-written upcast);
        /// version 3 widened the line count and added two fields (derived).
        InvoiceIssued! v3 (
            total: Money,
            due_days: i32 = -1,
            lines: u64,
            reference: String?,
            terms: String = "net \"30\" caf\u{e9}",
        )
            display "invoice {id} for {total}, {{{lines} lines}}"
            was v2 (total: Money, due_days: i32 = -1, lines: u32)
            was v1 (amount_cents: i64, currency: String, lines: u32);
    }
}

/// Version 2 of `InvoiceIssued` gathered the loose amount of version 1 into
/// a `Money`, a change no rule derives, so the generated decoder demands
/// this impl. Invoices of version 1 were all due in 14 days.
impl From<billing::InvoiceIssuedV1> for billing::InvoiceIssuedV2 {
    fn from(old: billing::InvoiceIssuedV1) -> Self {
        billing::InvoiceIssuedV2 {
            id: old.id,
            total: shared::Money {
                cents: old.amount_cents,
                currency: old.currency,
            },
            due_days: 14,
            lines: old.lines,
        }
    }
}

/// `codegen/tests/characters/contract.rs`: every kind of character that
/// contracts accept in docs and strings.
pub mod characters {
    treaty::include_contracts!("characters.rs");
}

/// `cli/tests/ddd/security.ddd` as `treaty import-ddd` imports it, with
/// Lokad's contract names and field names on the wire.
pub mod lokad {
    treaty::include_contracts!("lokad.rs");
}

/// `contracts_inplace/`, written by the generator in `tests/inplace.rs`:
/// the same events, all v1, before and after changes made in place.
pub mod inplace {
    /// The contracts before the changes.
    pub mod before {
        treaty::include_contracts!("inplace_before.rs");
    }
    /// The contracts after them.
    pub mod after {
        treaty::include_contracts!("inplace_after.rs");
    }
}

/// Cases of the lint corpus (`tests/lint/`), the contracts before and
/// after each change, for `tests/compatibility.rs`.
pub mod lint_cases {
    /// `tests/lint/ok-default-added`.
    pub mod ok_default_added {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_ok_default_added_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_ok_default_added_after.rs");
        }
    }
    /// `tests/lint/mode-backward-allows-optional`.
    pub mod mode_backward_allows_optional {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_mode_backward_allows_optional_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_mode_backward_allows_optional_after.rs");
        }
    }
    /// `tests/lint/integer-widened`.
    pub mod integer_widened {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_integer_widened_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_integer_widened_after.rs");
        }
    }
    /// `tests/lint/ok-defaulted-field-removed`.
    pub mod ok_defaulted_field_removed {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_ok_defaulted_field_removed_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_ok_defaulted_field_removed_after.rs");
        }
    }
    /// `tests/lint/mode-backward-allows-field-removal`.
    pub mod mode_backward_allows_field_removal {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_mode_backward_allows_field_removal_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_mode_backward_allows_field_removal_after.rs");
        }
    }
    /// `tests/lint/field-added-required`.
    pub mod field_added_required {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_field_added_required_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_field_added_required_after.rs");
        }
    }
    /// `tests/lint/field-type-changed`.
    pub mod field_type_changed {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_field_type_changed_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_field_type_changed_after.rs");
        }
    }
    /// `tests/lint/integer-narrowed`.
    pub mod integer_narrowed {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_integer_narrowed_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_integer_narrowed_after.rs");
        }
    }
    /// `tests/lint/enum-variant-removed`.
    pub mod enum_variant_removed {
        /// The contracts before the change.
        pub mod before {
            treaty::include_contracts!("lint_enum_variant_removed_before.rs");
        }
        /// The contracts after it.
        pub mod after {
            treaty::include_contracts!("lint_enum_variant_removed_after.rs");
        }
    }
}

/// The code generator's golden fixtures, compiled under `deny(warnings)`.
pub mod golden {
    /// `codegen/tests/golden/defaults`.
    pub mod defaults {
        treaty::include_contracts!("golden_defaults.rs");
    }
    /// `codegen/tests/golden/factory`.
    pub mod factory {
        treaty::include_contracts!("golden_factory.rs");
    }
    /// `codegen/tests/golden/names`.
    pub mod names {
        treaty::include_contracts!("golden_names.rs");
    }
    /// `codegen/tests/golden/wire`.
    pub mod wire {
        treaty::include_contracts!("golden_wire.rs");
    }
    /// `codegen/tests/golden/versions`.
    pub mod versions {
        treaty::include_contracts!("golden_versions.rs");

        /// The fixture's `Renamed` changed a field's type, which needs a
        /// hand-written upcast.
        impl From<ledger::RenamedV1> for ledger::Renamed {
            fn from(old: ledger::RenamedV1) -> Self {
                ledger::Renamed {
                    account: old.account,
                    name: old.name.len() as u64,
                }
            }
        }
    }
}

/// The Rust type that `geo.Point` is mapped to in build.rs, to test
/// extern types.
pub mod geo {
    /// A point on the map.
    #[derive(Debug, Clone, PartialEq, treaty::serde::Serialize, treaty::serde::Deserialize)]
    #[serde(crate = "treaty::serde")]
    pub struct Point {
        /// Latitude.
        pub lat: f64,
        /// Longitude.
        pub lon: f64,
    }
}

/// Version 2 of `OrderPlaced` added the `audit` fragment, whose
/// `changed_by` field has no default, so the upcast cannot be derived and
/// the generated decoder demands this impl.
impl From<shop::OrderPlacedV1> for shop::OrderPlacedV2 {
    fn from(old: shop::OrderPlacedV1) -> Self {
        shop::OrderPlacedV2 {
            number: old.number,
            customer: old.customer,
            lines: old.lines,
            total: old.total,
            note: None,
            priority: old.priority,
            changed_by: "migration".to_string(),
            reason: if old.legacy_flag {
                "imported from the legacy system".to_string()
            } else {
                String::new()
            },
        }
    }
}

/// A small deterministic generator for the tests that kill processes at
/// random, so a failing run can be repeated from the seed it prints.
pub struct Random(pub u64);

impl Random {
    /// A generator seeded from `TREATY_TEST_SEED` when set (to repeat a
    /// run), else from the clock; prints `{label}: seed {seed}`.
    pub fn seeded(label: &str) -> Random {
        let seed = std::env::var("TREATY_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_nanos() as u64)
            });
        println!("{label}: seed {seed}");
        Random(seed)
    }

    /// The next number below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// What the crash-test workers (`src/bin/bus_worker.rs`,
/// `src/bin/process_worker.rs`) share: their `main`, and the event store
/// and SQLite queue they open in one file.
pub mod worker {
    use std::future::Future;
    use std::io::Write as _;
    use std::process::ExitCode;
    use std::time::Duration;

    use treaty::bus::{SqliteQueue, SqliteQueueConfig};
    use treaty::store::{Durability, SqliteConfig, SqliteStore};

    /// What a worker's `run` returns.
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A worker's `main`: takes the one argument `EVENTS_DB`, runs `run`
    /// with it, and reports a failure as `{name}: {error}`.
    pub async fn main<F, R>(name: &str, run: F) -> ExitCode
    where
        F: FnOnce(String) -> R,
        R: Future<Output = Result>,
    {
        main_with_args(name, "EVENTS_DB", |mut args| match args.len() {
            1 => Some(run(args.remove(0))),
            _ => None,
        })
        .await
    }

    /// A worker's `main` taking other arguments: `run` gets them all and
    /// returns `None` when they do not match `usage` (the worker then
    /// exits with `usage: {name} {usage}`); a failure is reported as
    /// `{name}: {error}`.
    pub async fn main_with_args<F, R>(name: &str, usage: &str, run: F) -> ExitCode
    where
        F: FnOnce(Vec<String>) -> Option<R>,
        R: Future<Output = Result>,
    {
        let Some(running) = run(std::env::args().skip(1).collect()) else {
            eprintln!("usage: {name} {usage}");
            return ExitCode::from(2);
        };
        match running.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{name}: {error}");
                ExitCode::FAILURE
            }
        }
    }

    /// The event store and the SQLite queue in the file `events`. A crash
    /// of the process, not of the machine, is what is tested, so commits
    /// need only reach the operating system; messages a killed worker
    /// held come back after a short visibility timeout.
    pub fn open(events: &str) -> std::result::Result<(SqliteStore, SqliteQueue), Box<dyn std::error::Error>> {
        let store = SqliteStore::open_with(
            events,
            SqliteConfig {
                durability: Durability::Normal,
                ..SqliteConfig::default()
            },
        )?;
        Ok((store, queue(events)?))
    }

    /// The SQLite queue alone in the file `file`, as [`open`] opens it:
    /// for a worker whose event store is elsewhere (PostgreSQL).
    pub fn queue(file: &str) -> std::result::Result<SqliteQueue, Box<dyn std::error::Error>> {
        let queue = SqliteQueue::open_with(
            file,
            SqliteQueueConfig {
                durability: Durability::Normal,
                visibility_timeout: Duration::from_millis(300),
                poll_interval: Duration::from_millis(10),
                ..SqliteQueueConfig::default()
            },
        )?;
        Ok(queue)
    }

    /// Starts the worker `binary` on the file `events`, waits for its
    /// `running` line, lets it work a random while (up to `10 + 5 *
    /// attempt` ms, so that later attempts get further however slow the
    /// machine is) and kills it: one round of a crash test.
    pub fn run_and_kill(binary: &str, events: &std::path::Path, random: &mut crate::Random, attempt: u64) {
        run_and_kill_with(binary, &[events.as_os_str()], random, attempt);
    }

    /// [`run_and_kill`] for a worker taking the arguments `args`.
    pub fn run_and_kill_with<A: AsRef<std::ffi::OsStr>>(
        binary: &str,
        args: &[A],
        random: &mut crate::Random,
        attempt: u64,
    ) {
        use std::io::{BufRead as _, BufReader};
        use std::process::{Command, Stdio};

        let mut child = Command::new(binary)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the worker starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output is piped"))
            .read_line(&mut line)
            .expect("its output is readable");
        assert_eq!(line.trim(), "running", "the worker did not start");
        std::thread::sleep(Duration::from_millis(random.below(10 + 5 * attempt)));
        child.kill().expect("the worker can be killed");
        child.wait().expect("the worker is reaped");
    }

    /// Says the worker is ready (the tests wait for the line) and waits
    /// to be killed.
    pub async fn running() -> Result {
        println!("running");
        std::io::stdout().flush()?;
        std::future::pending::<()>().await;
        Ok(())
    }
}
