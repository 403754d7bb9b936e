//! Specifications of process managers: given events, when an event (or a
//! due timeout), then these commands, timeouts and completion.
//!
//! ```text
//! ProcessSpec::new("A produced car is shipped", Shipping)
//!     .given([ordered.into()])
//!     .when(produced.into())
//!     .sends(&ship)
//!     .schedules("delivery-overdue", Duration::from_secs(86_400))
//!     .verify();
//! ```
//!
//! A spec runs synchronously: each given event goes to the instance
//! [`ProcessManager::correlate`] names, starting from the state's
//! `Default`, and the effects of the `when` are compared with those
//! expected. Passing specs render as Markdown like aggregate specs
//! ([`ProcessSpec::to_markdown`], [`SpecSuite::add_process`](crate::spec::SpecSuite::add_process)).

use std::collections::{HashMap, HashSet};
use std::fmt::{Debug, Display};
use std::time::Duration;

use super::{Effects, OutgoingCommand, ProcessManager};
use crate::aggregate::EventSet as _;
use crate::contract::Command;
use crate::spec::{escape_markdown, SpecFailure, UseCase, UseCaseMessage, UseCaseOutcome};

/// What the spec is about.
enum When<E> {
    Event(E),
    Timeout { key: String, name: String },
}

/// A process manager's specification. Built with [`ProcessSpec::new`],
/// then `given`, `when` (or `when_timeout`) and the expected effects.
pub struct ProcessSpec<P: ProcessManager> {
    name: String,
    manager: P,
    describe: fn(&P::Event) -> String,
    given: Vec<P::Event>,
    when: Option<When<P::Event>>,
    expected: Effects,
    sentences: Vec<String>,
    /// The expected commands' sentences, in order.
    command_texts: Vec<String>,
    /// The other effects' sentences, in order.
    effect_texts: Vec<String>,
}

fn display<T: Display>(value: &T) -> String {
    value.to_string()
}

fn debug<T: Debug>(value: &T) -> String {
    format!("{value:?}")
}

impl<P: ProcessManager> ProcessSpec<P> {
    /// A spec called `name` of `manager`, whose events are shown through
    /// their `Display` impls (the generated `display` templates).
    pub fn new(name: impl Into<String>, manager: P) -> Self
    where
        P::Event: Display,
    {
        ProcessSpec::described_by(name, manager, display::<P::Event>)
    }

    /// A spec whose events are shown through `Debug`.
    pub fn debug(name: impl Into<String>, manager: P) -> Self
    where
        P::Event: Debug,
    {
        ProcessSpec::described_by(name, manager, debug::<P::Event>)
    }

    /// A spec whose events are turned into sentences by `describe`.
    pub fn described_by(name: impl Into<String>, manager: P, describe: fn(&P::Event) -> String) -> Self {
        ProcessSpec {
            name: name.into(),
            manager,
            describe,
            given: Vec::new(),
            when: None,
            expected: Effects::new(),
            sentences: Vec::new(),
            command_texts: Vec::new(),
            effect_texts: Vec::new(),
        }
    }

    /// The spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Events that happened before, oldest first.
    pub fn given<I>(mut self, events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<P::Event>,
    {
        self.given.extend(events.into_iter().map(Into::into));
        self
    }

    /// The event the spec is about.
    pub fn when(mut self, event: impl Into<P::Event>) -> Self {
        self.when = Some(When::Event(event.into()));
        self
    }

    /// The spec is about the timeout `name` of instance `key` coming due.
    pub fn when_timeout(mut self, key: impl Into<String>, name: impl Into<String>) -> Self {
        self.when = Some(When::Timeout {
            key: key.into(),
            name: name.into(),
        });
        self
    }

    /// Expects `command` to be sent (commands are expected in the order
    /// given), compared by contract and JSON and shown through `Display`.
    pub fn sends<C: Command + Display>(mut self, command: &C) -> Self {
        self.expected.send(command);
        self.sentences.push(format!("sends: {command}"));
        self.command_texts.push(command.to_string());
        self
    }

    /// Expects the timeout `name` to be scheduled `after` from now.
    pub fn schedules(mut self, name: impl Into<String>, after: Duration) -> Self {
        let name = name.into();
        self.effect(format!("schedules the timeout {name} in {}", humanize(after)));
        self.expected.scheduled.push((name, after));
        self
    }

    /// Expects the timeout `name` to be cancelled.
    pub fn cancels(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.effect(format!("cancels the timeout {name}"));
        self.expected.cancelled.push(name);
        self
    }

    /// Expects the instance to complete.
    pub fn completes(mut self) -> Self {
        self.effect("completes".to_string());
        self.expected.completed = true;
        self
    }

    /// Notes an expected effect other than a command.
    fn effect(&mut self, sentence: String) {
        self.sentences.push(sentence.clone());
        self.effect_texts.push(sentence);
    }

    /// Runs the spec.
    ///
    /// # Errors
    ///
    /// A [`SpecFailure`] reporting the given events, the `when`, and the
    /// expected and actual effects.
    pub fn check(&self) -> Result<(), SpecFailure> {
        let (when, actual) = self.run()?;
        if actual == self.expected {
            return Ok(());
        }
        let mut report = format!("spec failed: {}\ngiven:\n", self.name);
        if self.given.is_empty() {
            report.push_str("  (no events)\n");
        }
        for event in &self.given {
            report.push_str(&format!("  - {}\n", (self.describe)(event)));
        }
        report.push_str(&format!("when:\n  - {when}\nexpected:\n"));
        report.push_str(&effects_text(&self.expected));
        report.push_str("actual:\n");
        report.push_str(&effects_text(&actual));
        Err(SpecFailure::new(&self.name, report))
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

    /// Runs the spec and, when it passes, renders it as a Markdown section
    /// like an aggregate spec's: the given events, the `when` and the
    /// effects as lists of sentences.
    ///
    /// # Errors
    ///
    /// The spec's failure: only passing specs document behaviour.
    pub fn to_markdown(&self) -> Result<String, SpecFailure> {
        self.check()?;
        let (when, _) = self.run()?;
        let mut out = format!("## {}\n\n", escape_markdown(&self.name));
        if self.given.is_empty() {
            out.push_str("**Given** no events.\n");
        } else {
            out.push_str("**Given**\n\n");
            for event in &self.given {
                out.push_str(&format!("- {}\n", escape_markdown(&(self.describe)(event))));
            }
        }
        out.push_str(&format!("\n**When**\n\n- {}\n\n", escape_markdown(&when)));
        if self.sentences.is_empty() {
            out.push_str("**Then** nothing happens.\n");
        } else {
            out.push_str("**Then** the process\n\n");
            for sentence in &self.sentences {
                out.push_str(&format!("- {}\n", escape_markdown(sentence)));
            }
        }
        Ok(out)
    }

    /// Runs the spec and, when it passes, returns it as data in the shape
    /// of an aggregate's use case
    /// ([`Spec::use_case`](crate::spec::Spec::use_case)), which `treaty
    /// docs --specs` renders from a JSON list beside them: the given
    /// events, the `when` (the event, or for a timeout a message with an
    /// empty contract and a text naming it) and the outcome
    /// [`UseCaseOutcome::Reacted`]: the commands sent and the other
    /// effects as sentences.
    ///
    /// # Errors
    ///
    /// The spec's failure: only passing specs document behaviour.
    pub fn use_case(&self) -> Result<UseCase, SpecFailure> {
        self.check()?;
        let (when_text, _) = self.run()?;
        let fail = |reason: String| {
            SpecFailure::new(
                &self.name,
                format!("spec {} cannot be written as a use case: {reason}\n", self.name),
            )
        };
        let event = |event: &P::Event| -> Result<UseCaseMessage, SpecFailure> {
            let payload = event.encode().map_err(|e| fail(e.to_string()))?;
            Ok(UseCaseMessage {
                contract: event.contract_name().to_string(),
                contract_version: event.contract_version(),
                payload: serde_json::from_slice(&payload).map_err(|e| fail(e.to_string()))?,
                text: (self.describe)(event),
            })
        };
        let when = match &self.when {
            Some(When::Event(when)) => event(when)?,
            _ => UseCaseMessage {
                contract: String::new(),
                contract_version: 0,
                payload: serde_json::Value::Null,
                text: when_text,
            },
        };
        let commands = self
            .expected
            .commands()
            .iter()
            .zip(&self.command_texts)
            .map(|(command, text)| UseCaseMessage {
                contract: command.contract.to_string(),
                contract_version: command.contract_version,
                payload: command.payload.clone(),
                text: text.clone(),
            })
            .collect();
        Ok(UseCase {
            name: self.name.clone(),
            given: self.given.iter().map(event).collect::<Result<_, _>>()?,
            when,
            then: UseCaseOutcome::Reacted {
                commands,
                effects: self.effect_texts.clone(),
            },
        })
    }

    /// Runs the given events and the `when`; returns the `when` as a
    /// sentence and its effects.
    fn run(&self) -> Result<(String, Effects), SpecFailure> {
        let fail = |reason: &str| SpecFailure::new(&self.name, format!("spec failed: {}\nwhy: {reason}\n", self.name));
        if let Some(failure) = self.expected.failure() {
            return Err(fail(&format!("an expected command cannot be encoded: {failure}")));
        }
        let mut states: HashMap<String, P::State> = HashMap::new();
        let mut completed: HashSet<String> = HashSet::new();
        for event in &self.given {
            self.step(&mut states, &mut completed, event);
        }
        match &self.when {
            None => Err(fail("the spec has no `when`: call `when` or `when_timeout`")),
            Some(When::Event(event)) => {
                let effects = self.step(&mut states, &mut completed, event);
                Ok(((self.describe)(event), effects))
            }
            Some(When::Timeout { key, name }) => {
                let mut effects = Effects::new();
                if !completed.contains(key) {
                    let state = states.entry(key.clone()).or_default();
                    self.manager.timeout(state, name, &mut effects);
                }
                Ok((format!("the timeout {name} of {key} is due"), effects))
            }
        }
    }

    /// One event through the manager, as the runner does it.
    fn step(
        &self,
        states: &mut HashMap<String, P::State>,
        completed: &mut HashSet<String>,
        event: &P::Event,
    ) -> Effects {
        let mut effects = Effects::new();
        let Some(key) = self.manager.correlate(event) else {
            return effects;
        };
        if completed.contains(&key) {
            return effects;
        }
        let state = states.entry(key.clone()).or_default();
        self.manager.handle(state, event, &mut effects);
        if effects.is_complete() {
            states.remove(&key);
            completed.insert(key);
        }
        effects
    }
}

fn command_text(command: &OutgoingCommand) -> String {
    format!("{} v{} {}", command.contract, command.contract_version, command.payload)
}

fn effects_text(effects: &Effects) -> String {
    let mut lines: Vec<String> = effects
        .commands()
        .iter()
        .map(|c| format!("sends {}", command_text(c)))
        .collect();
    lines.extend(
        effects
            .scheduled()
            .iter()
            .map(|(name, after)| format!("schedules {name} in {}", humanize(*after))),
    );
    lines.extend(effects.cancelled().iter().map(|name| format!("cancels {name}")));
    if effects.is_complete() {
        lines.push("completes".into());
    }
    if let Some(failure) = effects.failure() {
        lines.push(format!("fails to encode a command: {failure}"));
    }
    if lines.is_empty() {
        return "  (nothing)\n".into();
    }
    lines.iter().map(|line| format!("  - {line}\n")).collect()
}

/// A delay as people write it: `90s` as `1m 30s`.
fn humanize(after: Duration) -> String {
    let mut seconds = after.as_secs();
    let millis = after.subsec_millis();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size {
            parts.push(format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    if seconds > 0 || (parts.is_empty() && millis == 0) {
        parts.push(format!("{seconds}s"));
    }
    if millis > 0 {
        parts.push(format!("{millis}ms"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::humanize;
    use std::time::Duration;

    #[test]
    fn delays_read_as_people_write_them() {
        assert_eq!(humanize(Duration::from_secs(90)), "1m 30s");
        assert_eq!(humanize(Duration::from_secs(86_400 + 3_600)), "1d 1h");
        assert_eq!(humanize(Duration::ZERO), "0s");
        assert_eq!(humanize(Duration::from_millis(1_500)), "1s 500ms");
    }
}
