//! Specifications of aggregate behaviour, in the style of Lokad's specs:
//! given past events, when a command arrives, then these events (or this
//! domain error).
//!
//! ```text
//! Spec::<Account>::new("Withdrawing within the balance")
//!     .given([opened.into(), deposited.into()])
//!     .when(withdraw)
//!     .then([withdrew.into()])
//!     .verify();
//! ```
//!
//! A spec runs synchronously against the aggregate's `Default` state,
//! applying the given events and deciding the command; no store is
//! involved. Messages are shown as sentences through their `Display`
//! impls, which the code generator writes from `display` templates, so a
//! failing spec reads like the domain and a passing one can be rendered as
//! documentation with [`Spec::to_markdown`] or, for many, [`SpecSuite`].
//! `tests/e2e/tests/specs.rs` has complete examples, and
//! `docs/aggregates.md` a guide.

use std::fmt::{self, Debug, Display};

use crate::aggregate::{Aggregate, EventSet};
use crate::bus::CommandSet;

/// A specification: given events, when a command, then events or an
/// error. Built with [`Spec::new`], [`Given::when`] and one of the
/// `then` methods of [`When`].
pub struct Spec<A: Aggregate> {
    name: String,
    describe: Describe<A>,
    given: Vec<A::Event>,
    when: A::Command,
    then: Then<A>,
}

/// How a spec turns messages into sentences.
struct Describe<A: Aggregate> {
    command: fn(&A::Command) -> String,
    event: fn(&A::Event) -> String,
}

// Written out because deriving would demand `A: Clone`.
impl<A: Aggregate> Clone for Describe<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: Aggregate> Copy for Describe<A> {}

/// What a spec expects of the command.
enum Then<A: Aggregate> {
    /// Exactly these events, in this order.
    Events(Vec<A::Event>),
    /// A domain error whose `Display` is this text.
    ErrorText(String),
    /// A domain error the predicate accepts.
    Error(Predicate<A::Error>),
}

/// What `then_error` keeps: whether an error is the expected one.
type Predicate<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;

/// A spec being written, before its command: the events that happened.
pub struct Given<A: Aggregate> {
    name: String,
    describe: Describe<A>,
    given: Vec<A::Event>,
}

/// A spec being written, after its command: what is expected remains.
pub struct When<A: Aggregate> {
    name: String,
    describe: Describe<A>,
    given: Vec<A::Event>,
    when: A::Command,
}

fn display<T: Display>(value: &T) -> String {
    value.to_string()
}

fn debug<T: Debug>(value: &T) -> String {
    format!("{value:?}")
}

impl<A: Aggregate> Spec<A> {
    /// Starts a spec called `name` whose messages are shown through their
    /// `Display` impls. The generator writes `Display` for a `FooCommand`
    /// or `FooEvent` enum when every member has a `display` template; use
    /// [`Spec::debug`] or [`Spec::described_by`] when they do not.
    // It returns the builder's first stage, not a `Spec`, so that a spec
    // without a command or an expectation does not compile.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: impl Into<String>) -> Given<A>
    where
        A::Command: Display,
        A::Event: Display,
    {
        Spec::described_by(name, display::<A::Command>, display::<A::Event>)
    }

    /// Starts a spec whose messages are shown through `Debug`, for
    /// aggregates whose messages lack `display` templates.
    pub fn debug(name: impl Into<String>) -> Given<A>
    where
        A::Command: Debug,
        A::Event: Debug,
    {
        Spec::described_by(name, debug::<A::Command>, debug::<A::Event>)
    }

    /// Starts a spec whose commands and events are turned into sentences
    /// by the given functions, for example `Display` for commands and
    /// `Debug` for events.
    pub fn described_by(
        name: impl Into<String>,
        command: fn(&A::Command) -> String,
        event: fn(&A::Event) -> String,
    ) -> Given<A> {
        Given {
            name: name.into(),
            describe: Describe { command, event },
            given: Vec::new(),
        }
    }

    /// The spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<A: Aggregate> Given<A> {
    /// Adds events that happened before the command, oldest first. May be
    /// called more than once; without it the aggregate is new.
    pub fn given<I>(mut self, events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<A::Event>,
    {
        self.given.extend(events.into_iter().map(Into::into));
        self
    }

    /// The command the spec is about.
    pub fn when(self, command: impl Into<A::Command>) -> When<A> {
        When {
            name: self.name,
            describe: self.describe,
            given: self.given,
            when: command.into(),
        }
    }
}

impl<A: Aggregate> When<A> {
    /// Expects exactly these events, in this order.
    pub fn then<I>(self, events: I) -> Spec<A>
    where
        I: IntoIterator,
        I::Item: Into<A::Event>,
    {
        self.finish(Then::Events(events.into_iter().map(Into::into).collect()))
    }

    /// Expects the command to be accepted without producing any event.
    pub fn then_nothing(self) -> Spec<A> {
        self.finish(Then::Events(Vec::new()))
    }

    /// Expects a domain error that `accept` returns `true` for, such as
    /// `|e| matches!(e, AccountError::InsufficientFunds { .. })`.
    pub fn then_error(self, accept: impl Fn(&A::Error) -> bool + Send + Sync + 'static) -> Spec<A> {
        self.finish(Then::Error(Box::new(accept)))
    }

    /// Expects a domain error whose `Display` is exactly `text`.
    pub fn then_error_text(self, text: impl Into<String>) -> Spec<A> {
        self.finish(Then::ErrorText(text.into()))
    }

    fn finish(self, then: Then<A>) -> Spec<A> {
        Spec {
            name: self.name,
            describe: self.describe,
            given: self.given,
            when: self.when,
            then,
        }
    }
}

/// What a spec run found, as sentences.
struct Run {
    given: Vec<String>,
    when: String,
    expected: Expected,
    actual: Outcome,
    /// Why the spec failed; `None` when it passed.
    failure: Option<String>,
}

enum Expected {
    Events(Vec<String>),
    ErrorText(String),
    ErrorAccepted,
}

enum Outcome {
    Events(Vec<String>),
    Refused(String),
}

impl<A: Aggregate> Spec<A>
where
    A::Event: PartialEq + Debug,
{
    /// Runs the spec.
    ///
    /// # Errors
    ///
    /// A [`SpecFailure`] whose `Display` is a report of the given events,
    /// the command, and the expected and actual outcomes.
    pub fn check(&self) -> Result<(), SpecFailure> {
        self.run().into_result(&self.name).map(|_| ())
    }

    /// Runs the spec and panics with its report when it fails; for tests.
    ///
    /// # Panics
    ///
    /// When the spec fails.
    pub fn verify(&self) {
        if let Err(failure) = self.check() {
            panic!("{failure}");
        }
    }

    /// Runs the spec and, when it passes, renders it as a Markdown
    /// section: a `##` heading with the name, then the given events, the
    /// command and the outcome as lists of sentences.
    ///
    /// # Errors
    ///
    /// The spec's failure: only passing specs document behaviour.
    pub fn to_markdown(&self) -> Result<String, SpecFailure> {
        self.run().into_result(&self.name).map(|run| run.markdown(&self.name))
    }

    fn run(&self) -> Run {
        let describe_event = self.describe.event;
        let mut state = A::default();
        for event in &self.given {
            state.apply(event);
        }
        let result = state.decide(&self.when);
        if let Ok(events) = &result {
            // Not compared, but it runs `apply` on every event the spec
            // produces, so one that `apply` cannot handle shows up here.
            for event in events {
                state.apply(event);
            }
        }
        let failure = match (&self.then, &result) {
            (Then::Events(expected), Ok(actual)) => event_difference(expected, actual, describe_event),
            (Then::Events(_), Err(_)) => Some("the command was refused, but the spec expects it to be accepted".into()),
            (Then::ErrorText(_) | Then::Error(_), Ok(_)) => {
                Some("the command was accepted, but the spec expects it to be refused".into())
            }
            (Then::ErrorText(text), Err(error)) => {
                (error.to_string() != *text).then(|| "the command was refused with another error".into())
            }
            (Then::Error(accept), Err(error)) => {
                (!accept(error)).then(|| "the command was refused with an error the spec does not accept".into())
            }
        };
        Run {
            given: self.given.iter().map(describe_event).collect(),
            when: (self.describe.command)(&self.when),
            expected: match &self.then {
                Then::Events(events) => Expected::Events(events.iter().map(describe_event).collect()),
                Then::ErrorText(text) => Expected::ErrorText(text.clone()),
                Then::Error(_) => Expected::ErrorAccepted,
            },
            actual: match &result {
                Ok(events) => Outcome::Events(events.iter().map(describe_event).collect()),
                Err(error) => Outcome::Refused(error.to_string()),
            },
            failure,
        }
    }
}

impl<A: Aggregate> Spec<A>
where
    A::Event: PartialEq + Debug,
    A::Command: CommandSet,
{
    /// Runs the spec and, when it passes, returns it as data: the given
    /// events, the command and the outcome, each message with its
    /// contract, JSON and sentence. `treaty-http` serves use cases as
    /// examples in its OpenAPI document and as the use-case section of
    /// its documentation page; as JSON (a list of them), `treaty docs
    /// --specs` reads them.
    ///
    /// # Errors
    ///
    /// The spec's failure: only passing specs document behaviour.
    pub fn use_case(&self) -> Result<UseCase, SpecFailure> {
        self.check()?;
        let fail = |reason: String| SpecFailure {
            name: self.name.clone(),
            report: format!("spec {} cannot be written as a use case: {reason}\n", self.name),
        };
        let event = |event: &A::Event| -> Result<UseCaseMessage, SpecFailure> {
            let payload = event.encode().map_err(|e| fail(e.to_string()))?;
            Ok(UseCaseMessage {
                contract: event.contract_name().to_string(),
                contract_version: event.contract_version(),
                payload: serde_json::from_slice(&payload).map_err(|e| fail(e.to_string()))?,
                text: (self.describe.event)(event),
            })
        };
        let mut state = A::default();
        for given in &self.given {
            state.apply(given);
        }
        let command = self.when.encode().map_err(|e| fail(e.to_string()))?;
        let then = match state.decide(&self.when) {
            Ok(events) => UseCaseOutcome::Accepted {
                events: events.iter().map(event).collect::<Result<_, _>>()?,
            },
            Err(error) => UseCaseOutcome::Refused {
                error: error.to_string(),
            },
        };
        Ok(UseCase {
            name: self.name.clone(),
            given: self.given.iter().map(event).collect::<Result<_, _>>()?,
            when: UseCaseMessage {
                contract: self.when.contract_name().to_string(),
                contract_version: self.when.contract_version(),
                payload: serde_json::from_slice(&command).map_err(|e| fail(e.to_string()))?,
                text: (self.describe.command)(&self.when),
            },
            then,
        })
    }
}

/// A passing spec as data ([`Spec::use_case`]): what documentation and
/// API examples are made of. The types are `treaty-catalog`'s, which
/// renders them (`treaty docs --specs` reads their JSON), so the runtime
/// and the documentation share one format.
pub use treaty_catalog::{UseCase, UseCaseMessage, UseCaseOutcome};

/// Why `actual` is not `expected`, or `None` when it is.
fn event_difference<E: PartialEq + Debug>(expected: &[E], actual: &[E], describe: fn(&E) -> String) -> Option<String> {
    if expected == actual {
        return None;
    }
    let Some(index) = expected.iter().zip(actual).position(|(e, a)| e != a) else {
        return Some(format!(
            "the spec expects {}, but the command produced {}",
            count(expected.len()),
            count(actual.len())
        ));
    };
    let (e, a) = (&expected[index], &actual[index]);
    let number = index + 1;
    if describe(e) == describe(a) {
        // The sentences hide the difference (a template need not show
        // every field), so show the values in full.
        Some(format!(
            "event {number} differs in what its sentence does not show:\n  expected: {e:?}\n  actual:   {a:?}"
        ))
    } else {
        Some(format!("event {number} differs"))
    }
}

fn count(events: usize) -> String {
    match events {
        1 => "1 event".to_string(),
        n => format!("{n} events"),
    }
}

impl Run {
    fn into_result(self, name: &str) -> Result<Run, SpecFailure> {
        match &self.failure {
            None => Ok(self),
            Some(reason) => Err(SpecFailure {
                name: name.to_string(),
                report: self.report(name, reason),
            }),
        }
    }

    fn report(&self, name: &str, reason: &str) -> String {
        let mut out = format!("spec failed: {name}\n");
        let list = |out: &mut String, label: &str, items: &[String], empty: &str| {
            out.push_str(label);
            out.push_str(":\n");
            if items.is_empty() {
                out.push_str(&format!("  ({empty})\n"));
            }
            for item in items {
                out.push_str(&format!("  - {item}\n"));
            }
        };
        list(&mut out, "given", &self.given, "no events");
        list(&mut out, "when", std::slice::from_ref(&self.when), "");
        match &self.expected {
            Expected::Events(events) => list(&mut out, "expected", events, "no events"),
            Expected::ErrorText(text) => list(&mut out, "expected", &[format!("refused: {text}")], ""),
            Expected::ErrorAccepted => list(
                &mut out,
                "expected",
                &["refused with an error the spec's predicate accepts".to_string()],
                "",
            ),
        }
        match &self.actual {
            Outcome::Events(events) => list(&mut out, "actual", events, "no events"),
            Outcome::Refused(error) => list(&mut out, "actual", &[format!("refused: {error}")], ""),
        }
        out.push_str(&format!("why: {reason}\n"));
        out
    }

    fn markdown(&self, name: &str) -> String {
        let mut out = format!("## {}\n\n", escape_markdown(name));
        let list = |out: &mut String, label: &str, items: &[String]| {
            out.push_str(&format!("**{label}**\n\n"));
            for item in items {
                out.push_str(&format!("- {}\n", escape_markdown(item)));
            }
        };
        if self.given.is_empty() {
            out.push_str("**Given** no events.\n");
        } else {
            list(&mut out, "Given", &self.given);
        }
        out.push('\n');
        list(&mut out, "When", std::slice::from_ref(&self.when));
        out.push('\n');
        // A passing spec's actual outcome is the expected one, with the
        // error's own text where the spec only gave a predicate.
        match &self.actual {
            Outcome::Events(events) if events.is_empty() => out.push_str("**Then** nothing happens.\n"),
            Outcome::Events(events) => list(&mut out, "Then", events),
            Outcome::Refused(error) => {
                out.push_str("**Then** the command is refused:\n\n");
                out.push_str(&format!("- {}\n", escape_markdown(error)));
            }
        }
        out
    }
}

/// Escapes the characters that would turn a sentence into Markdown markup
/// (emphasis, code, links, HTML, headings), and joins lines so a sentence
/// stays one list item.
pub(crate) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A failed spec. Its `Display` is the readable report: the given events,
/// the command, what was expected, what happened, and why they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecFailure {
    name: String,
    report: String,
}

impl SpecFailure {
    /// A failure of spec `name` with its report.
    pub(crate) fn new(name: &str, report: String) -> Self {
        SpecFailure {
            name: name.to_string(),
            report,
        }
    }

    /// The failed spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Display for SpecFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl std::error::Error for SpecFailure {}

/// Many specs, of any aggregates, run as they are added and rendered
/// together as one Markdown document: living documentation of what the
/// aggregates do.
#[derive(Debug, Clone)]
pub struct SpecSuite {
    title: String,
    /// Each spec's Markdown section, or its failure, in the order added.
    results: Vec<Result<String, SpecFailure>>,
}

impl SpecSuite {
    /// An empty suite whose document is titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        SpecSuite {
            title: title.into(),
            results: Vec::new(),
        }
    }

    /// Runs `spec` and keeps its outcome.
    pub fn add<A: Aggregate>(&mut self, spec: Spec<A>) -> &mut Self
    where
        A::Event: PartialEq + Debug,
    {
        self.results.push(spec.to_markdown());
        self
    }

    /// Runs a process manager's `spec` and keeps its outcome, rendered
    /// like an aggregate's.
    pub fn add_process<P: crate::process::ProcessManager>(
        &mut self,
        spec: crate::process::spec::ProcessSpec<P>,
    ) -> &mut Self {
        self.results.push(spec.to_markdown());
        self
    }

    /// How many specs were added.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether no spec was added.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Whether every spec passed.
    ///
    /// # Errors
    ///
    /// Every failed spec's report.
    pub fn check(&self) -> Result<(), SuiteFailure> {
        let failures: Vec<SpecFailure> = self.results.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(SuiteFailure {
                total: self.results.len(),
                failures,
            })
        }
    }

    /// Panics with every failed spec's report when any failed; for tests.
    ///
    /// # Panics
    ///
    /// When a spec failed.
    pub fn verify(&self) {
        if let Err(failure) = self.check() {
            panic!("{failure}");
        }
    }

    /// The document: a `#` heading with the title, then each spec's
    /// section in the order added.
    ///
    /// # Errors
    ///
    /// When any spec failed: a document must not describe behaviour the
    /// code does not have.
    pub fn to_markdown(&self) -> Result<String, SuiteFailure> {
        self.check()?;
        let mut out = format!("# {}\n", escape_markdown(&self.title));
        for section in self.results.iter().flatten() {
            out.push('\n');
            out.push_str(section);
        }
        Ok(out)
    }
}

/// The failed specs of a [`SpecSuite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteFailure {
    total: usize,
    failures: Vec<SpecFailure>,
}

impl SuiteFailure {
    /// The failed specs, in the order they were added.
    pub fn failures(&self) -> &[SpecFailure] {
        &self.failures
    }
}

impl Display for SuiteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each report ends with a newline, so one more separates them.
        writeln!(f, "{} of {} specs failed", self.failures.len(), self.total)?;
        for failure in &self.failures {
            write!(f, "\n{failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteFailure {}
