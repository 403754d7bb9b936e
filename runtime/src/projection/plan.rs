//! What a start of the engine would do, decided without doing it.
//!
//! [`decide`] compares one projection of the code with its stored
//! generations; [`ProjectionEngine::plan`](super::ProjectionEngine::plan)
//! reports its decisions and [`ProjectionEngine::start`](super::ProjectionEngine::start)
//! carries them out, so the plan is what a start does, by construction.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::fingerprint::short_hex;
use super::store::{Generation, GenerationStatus};

/// What [`ProjectionEngine::start`](super::ProjectionEngine::start) would
/// do, from [`ProjectionEngine::plan`](super::ProjectionEngine::plan).
///
/// `Display` prints a table, one line per projection, and a summary;
/// `Serialize` gives the same as data (for instance JSON for CI).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartPlan {
    /// The event store's head when planned.
    pub head: u64,
    /// The projections of the code in the order they were added, then
    /// those whose views would be dropped.
    pub projections: Vec<ProjectionPlan>,
}

/// What a start would do with one projection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionPlan {
    /// The projection's name.
    pub name: String,
    /// What would happen.
    #[serde(flatten)]
    pub action: PlannedAction,
    /// How many events the start would read for it before it is live.
    pub events: u64,
    /// The rate the engine last measured for it (its last rebuild, or a
    /// large catch-up), in events per second; for a projection never
    /// measured, the lowest rate measured for any projection in the view
    /// store. `None` when there is none.
    pub events_per_second: Option<u64>,
    /// How long reading `events` takes at that rate; `None` when unknown.
    #[serde(serialize_with = "seconds")]
    pub expected: Option<Duration>,
    /// Generations the start would delete first: ones retired by an
    /// earlier swap whose cleanup did not finish, or a build abandoned
    /// because the code changed again.
    pub drops: Vec<u64>,
}

/// The action of a [`ProjectionPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlannedAction {
    /// Same fingerprint, at the head: nothing to read.
    UpToDate {
        /// The live generation.
        generation: u64,
    },
    /// Same fingerprint, behind the head: read the events after `from`.
    CatchUp {
        /// The live generation.
        generation: u64,
        /// Its checkpoint.
        from: u64,
    },
    /// Build a new generation from the first event, beside the live one
    /// (if any), then swap.
    Rebuild {
        /// The generation to build.
        generation: u64,
        /// The live generation it replaces, `None` for a new projection.
        replaces: Option<u64>,
        /// Why.
        reason: RebuildReason,
    },
    /// Continue a rebuild with this code that stopped (a crash, a stop).
    Resume {
        /// The generation being built.
        generation: u64,
        /// Its checkpoint.
        at: u64,
    },
    /// Delete the views of a projection no longer in the code.
    Drop {
        /// Its generations.
        generations: Vec<u64>,
    },
}

/// Why a projection rebuilds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildReason {
    /// The fingerprint of the live generation; `None` for a new
    /// projection.
    pub from: Option<String>,
    /// The fingerprint of the code.
    pub to: String,
    /// The items whose hash differs between the live generation's item
    /// list and the code's, in label order; `None` when the live
    /// generation has no item list (it predates them).
    pub changes: Option<Vec<CodeChange>>,
}

/// One item that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeChange {
    /// Its label: `fn pricing::line_total`, `crate serde 1.0.219`,
    /// `contract shop.OrderPlaced`, `version`.
    pub item: String,
    /// How it differs.
    pub change: Change,
}

/// How an item differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Its tokens changed.
    Changed,
    /// The code reaches it now and did not before.
    Added,
    /// The code reached it before and does not now.
    Removed,
}

fn seconds<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

impl StartPlan {
    /// The projections that would rebuild.
    pub fn rebuilds(&self) -> impl Iterator<Item = &ProjectionPlan> {
        self.projections
            .iter()
            .filter(|p| matches!(p.action, PlannedAction::Rebuild { .. }))
    }

    /// The plan of the projection `name`.
    pub fn projection(&self, name: &str) -> Option<&ProjectionPlan> {
        self.projections.iter().find(|p| p.name == name)
    }

    /// The events all projections would read together.
    pub fn events(&self) -> u64 {
        self.projections.iter().map(|p| p.events).sum()
    }

    /// How long until every projection is live: the longest of them, since
    /// they run side by side (their measured rates were measured that way
    /// too). `None` when a projection that reads events has no rate.
    pub fn expected(&self) -> Option<Duration> {
        self.projections
            .iter()
            .map(|p| p.expected)
            .try_fold(Duration::ZERO, |longest, expected| expected.map(|e| longest.max(e)))
    }
}

impl ProjectionPlan {
    fn action_word(&self) -> &'static str {
        match self.action {
            PlannedAction::UpToDate { .. } => "up to date",
            PlannedAction::CatchUp { .. } => "catch up",
            PlannedAction::Rebuild { replaces: None, .. } => "build",
            PlannedAction::Rebuild { .. } => "rebuild",
            PlannedAction::Resume { .. } => "resume",
            PlannedAction::Drop { .. } => "drop",
        }
    }

    fn detail(&self) -> String {
        let mut detail = match &self.action {
            PlannedAction::UpToDate { generation } => format!("generation {generation}"),
            PlannedAction::CatchUp { generation, from } => {
                format!("generation {generation} from position {from}")
            }
            PlannedAction::Rebuild { generation, reason, .. } => format!("generation {generation}: {reason}"),
            PlannedAction::Resume { generation, at } => {
                format!("generation {generation} from position {at}, same code")
            }
            PlannedAction::Drop { generations } => format!(
                "removed from the code; generation{} {}",
                if generations.len() == 1 { "" } else { "s" },
                join(generations)
            ),
        };
        if !self.drops.is_empty() {
            detail.push_str(&format!("; first drops generation {}", join(&self.drops)));
        }
        detail
    }
}

fn join(numbers: &[u64]) -> String {
    numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(from) = &self.from else {
            return f.write_str("new projection");
        };
        let fingerprints = format!("fingerprint {} -> {}", short_hex(from), short_hex(&self.to));
        match &self.changes {
            None => write!(f, "{fingerprints} (the live generation predates item lists)"),
            Some(changes) if changes.is_empty() => {
                write!(f, "{fingerprints} (no listed item changed: Treaty's own hashing did)")
            }
            Some(changes) => f.write_str(&describe_changes(changes)),
        }
    }
}

/// `changed: fn a, fn b; added: const C; crate serde 1.0.1 -> 1.0.2`.
fn describe_changes(changes: &[CodeChange]) -> String {
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for change in changes {
        match change.change {
            Change::Changed => changed.push(change.item.as_str()),
            Change::Added => added.push(change.item.as_str()),
            Change::Removed => removed.push(change.item.as_str()),
        }
    }
    // A dependency whose version changed shows as one removed and one
    // added `crate NAME VERSION`: pair them.
    let mut upgrades = Vec::new();
    removed.retain(|old| {
        let Some((name, old_version)) = old.strip_prefix("crate ").and_then(|c| c.split_once(' ')) else {
            return true;
        };
        let position = added.iter().position(|new| {
            new.strip_prefix("crate ")
                .and_then(|c| c.split_once(' '))
                .is_some_and(|(n, _)| n == name)
        });
        match position {
            Some(index) => {
                let new = added.remove(index);
                let new_version = new.rsplit_once(' ').map_or("", |(_, v)| v);
                upgrades.push(format!("crate {name} {old_version} -> {new_version}"));
                false
            }
            None => true,
        }
    });
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("changed: {}", list(&changed)));
    }
    if !upgrades.is_empty() {
        let upgrades: Vec<&str> = upgrades.iter().map(String::as_str).collect();
        parts.push(list(&upgrades));
    }
    if !added.is_empty() {
        parts.push(format!("now reaches: {}", list(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("no longer reaches: {}", list(&removed)));
    }
    parts.join("; ")
}

/// At most [`LISTED`] items, then how many more: a line of a log or a
/// table stays readable when a move renames a hundred items (the data,
/// [`RebuildReason::changes`], keeps them all).
fn list(items: &[&str]) -> String {
    if items.len() <= LISTED {
        return items.join(", ");
    }
    format!("{} and {} more", items[..LISTED].join(", "), items.len() - LISTED)
}

/// How many items of each kind a reason's text names.
const LISTED: usize = 5;

impl fmt::Display for StartPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_width = self
            .projections
            .iter()
            .map(|p| p.name.len())
            .chain(["projection".len()])
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:<name_width$}  {:<10}  {:>9}  {:>8}  details",
            "projection", "action", "events", "expected"
        )?;
        for projection in &self.projections {
            let expected = match (&projection.action, projection.expected) {
                (PlannedAction::Drop { .. } | PlannedAction::UpToDate { .. }, _) => "-".to_string(),
                (_, Some(expected)) => format_expected(expected),
                (_, None) => "unknown".to_string(),
            };
            writeln!(
                f,
                "{:<name_width$}  {:<10}  {:>9}  {:>8}  {}",
                projection.name,
                projection.action_word(),
                projection.events,
                expected,
                projection.detail()
            )?;
        }
        let rebuilds = self.rebuilds().count();
        let catch_ups = self
            .projections
            .iter()
            .filter(|p| matches!(p.action, PlannedAction::CatchUp { .. } | PlannedAction::Resume { .. }))
            .count();
        write!(
            f,
            "\nevent store head {}: a start reads {} events ({} rebuild{}, {} catch-up{}), ",
            self.head,
            self.events(),
            rebuilds,
            if rebuilds == 1 { "" } else { "s" },
            catch_ups,
            if catch_ups == 1 { "" } else { "s" },
        )?;
        match self.expected() {
            Some(expected) if expected < Duration::from_secs(1) => {
                f.write_str("all live within a second at the rates last measured")
            }
            Some(expected) => write!(
                f,
                "all live in about {} at the rates last measured",
                format_expected(expected)
            ),
            None => f.write_str("time unknown: no rate measured yet"),
        }
    }
}

/// `<1s`, `42s`, `3m05s`, `2h10m`.
pub(crate) fn format_expected(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        return "<1s".to_string();
    }
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// Where a projection's task starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Continue the live generation from its checkpoint.
    Continue { generation: u64, checkpoint: u64 },
    /// Build (or resume building) a generation, then promote it.
    Build { generation: u64, checkpoint: u64 },
}

/// What a start does with one projection of the code.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    /// Generations to delete first.
    pub drops: Vec<u64>,
    /// A generation to record before the task starts.
    pub begin: Option<u64>,
    /// Where the task starts.
    pub start: Start,
    /// The stored item list of the generation the task writes, to replace
    /// when it differs from the code's.
    pub stored_code: Option<BTreeMap<String, String>>,
    /// The report.
    pub plan: ProjectionPlan,
}

/// Decides how `name` starts, given its stored `generations` (of this
/// projection only), the code's `fingerprint` and item list `code`, the
/// head, and a rate to assume when the projection has none of its own.
pub(crate) fn decide(
    name: &str,
    fingerprint: &str,
    code: &BTreeMap<String, String>,
    generations: &[Generation],
    head: u64,
    fallback_rate: Option<u64>,
) -> Decision {
    let live = generations.iter().find(|g| g.status == GenerationStatus::Live);
    let building = generations.iter().find(|g| g.status == GenerationStatus::Building);
    let mut drops: Vec<u64> = generations
        .iter()
        .filter(|g| g.status == GenerationStatus::Retired)
        .map(|g| g.generation)
        .collect();
    let own_rate = live
        .and_then(|g| g.events_per_second)
        .or_else(|| building.and_then(|g| g.events_per_second))
        .or_else(|| generations.iter().find_map(|g| g.events_per_second));
    let rate = own_rate.or(fallback_rate);
    let (begin, start, stored_code, action) = if let Some(live) = live.filter(|g| g.fingerprint == fingerprint) {
        // A build left over from code that has since been reverted.
        drops.extend(building.map(|g| g.generation));
        let start = Start::Continue {
            generation: live.generation,
            checkpoint: live.checkpoint,
        };
        let action = if live.checkpoint >= head {
            PlannedAction::UpToDate {
                generation: live.generation,
            }
        } else {
            PlannedAction::CatchUp {
                generation: live.generation,
                from: live.checkpoint,
            }
        };
        (None, start, live.code.clone(), action)
    } else if let Some(building) = building.filter(|g| g.fingerprint == fingerprint) {
        let start = Start::Build {
            generation: building.generation,
            checkpoint: building.checkpoint,
        };
        let action = PlannedAction::Resume {
            generation: building.generation,
            at: building.checkpoint,
        };
        (None, start, building.code.clone(), action)
    } else {
        drops.extend(building.map(|g| g.generation));
        let next = generations.iter().map(|g| g.generation).max().unwrap_or(0) + 1;
        let reason = RebuildReason {
            from: live.map(|g| g.fingerprint.clone()),
            to: fingerprint.to_string(),
            changes: live.and_then(|g| g.code.as_ref()).map(|stored| diff(stored, code)),
        };
        let action = PlannedAction::Rebuild {
            generation: next,
            replaces: live.map(|g| g.generation),
            reason,
        };
        let start = Start::Build {
            generation: next,
            checkpoint: 0,
        };
        (Some(next), start, None, action)
    };
    let from = match start {
        Start::Continue { checkpoint, .. } | Start::Build { checkpoint, .. } => checkpoint,
    };
    let events = head.saturating_sub(from);
    let expected = match (events, rate) {
        (0, _) => Some(Duration::ZERO),
        (_, Some(rate)) if rate > 0 => Some(Duration::from_secs_f64(events as f64 / rate as f64)),
        _ => None,
    };
    drops.sort_unstable();
    drops.dedup();
    Decision {
        drops: drops.clone(),
        begin,
        start,
        stored_code,
        plan: ProjectionPlan {
            name: name.to_string(),
            action,
            events,
            events_per_second: rate,
            expected,
            drops,
        },
    }
}

/// The items of `new` that differ from `old`, in label order.
pub(crate) fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<CodeChange> {
    let mut changes = Vec::new();
    for (item, hash) in new {
        match old.get(item) {
            Some(old_hash) if old_hash == hash => {}
            Some(_) => changes.push(CodeChange {
                item: item.clone(),
                change: Change::Changed,
            }),
            None => changes.push(CodeChange {
                item: item.clone(),
                change: Change::Added,
            }),
        }
    }
    for item in old.keys().filter(|item| !new.contains_key(*item)) {
        changes.push(CodeChange {
            item: item.clone(),
            change: Change::Removed,
        });
    }
    changes.sort_by(|a, b| a.item.cmp(&b.item));
    changes
}

/// The plan entry of a projection no longer in the code.
pub(crate) fn dropped(name: &str, generations: &[Generation]) -> ProjectionPlan {
    ProjectionPlan {
        name: name.to_string(),
        action: PlannedAction::Drop {
            generations: generations.iter().map(|g| g.generation).collect(),
        },
        events: 0,
        events_per_second: None,
        expected: Some(Duration::ZERO),
        drops: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Timestamp;

    fn code(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn generation(number: u64, status: GenerationStatus, fingerprint: &str, checkpoint: u64) -> Generation {
        Generation {
            projection: "p".into(),
            generation: number,
            fingerprint: fingerprint.into(),
            checkpoint,
            status,
            updated_at: Timestamp::now(),
            code: Some(code(&[("fn helper", "1"), ("crate serde 1.0.1", "a")])),
            events_per_second: Some(1000),
        }
    }

    #[test]
    fn a_changed_fingerprint_rebuilds_naming_the_changed_items() {
        let stored = [generation(1, GenerationStatus::Live, "aaaa", 40)];
        let new = code(&[("fn helper", "2"), ("crate serde 1.0.2", "b"), ("const RATE", "3")]);
        let decision = decide("p", "bbbb", &new, &stored, 5000, None);
        assert_eq!(decision.begin, Some(2));
        assert_eq!(
            decision.start,
            Start::Build {
                generation: 2,
                checkpoint: 0
            }
        );
        assert_eq!(decision.plan.events, 5000);
        assert_eq!(decision.plan.expected, Some(Duration::from_secs(5)));
        let PlannedAction::Rebuild { reason, replaces, .. } = &decision.plan.action else {
            panic!("{:?}", decision.plan.action)
        };
        assert_eq!(*replaces, Some(1));
        assert_eq!(
            reason.to_string(),
            "changed: fn helper; crate serde 1.0.1 -> 1.0.2; now reaches: const RATE"
        );
    }

    #[test]
    fn long_lists_of_items_are_cut_in_the_text_only() {
        let stored = [generation(1, GenerationStatus::Live, "aaaa", 40)];
        let new: BTreeMap<String, String> = (0..8).map(|i| (format!("fn f{i}"), "x".to_string())).collect();
        let decision = decide("p", "bbbb", &new, &stored, 40, None);
        let PlannedAction::Rebuild { reason, .. } = &decision.plan.action else {
            panic!()
        };
        assert_eq!(reason.changes.as_ref().unwrap().len(), 10);
        assert_eq!(
            reason.to_string(),
            "now reaches: fn f0, fn f1, fn f2, fn f3, fn f4 and 3 more; \
             no longer reaches: crate serde 1.0.1, fn helper"
        );
    }

    #[test]
    fn the_same_fingerprint_continues_and_drops_leftovers() {
        let stored = [
            generation(1, GenerationStatus::Retired, "aaaa", 10),
            generation(2, GenerationStatus::Live, "bbbb", 40),
            generation(3, GenerationStatus::Building, "cccc", 7),
        ];
        let decision = decide("p", "bbbb", &BTreeMap::new(), &stored, 40, None);
        assert_eq!(decision.plan.action, PlannedAction::UpToDate { generation: 2 });
        assert_eq!(decision.drops, [1, 3]);
        let decision = decide("p", "bbbb", &BTreeMap::new(), &stored, 100, None);
        assert_eq!(
            decision.plan.action,
            PlannedAction::CatchUp {
                generation: 2,
                from: 40
            }
        );
        assert_eq!(decision.plan.events, 60);
        let decision = decide("p", "cccc", &BTreeMap::new(), &stored, 100, None);
        assert_eq!(decision.plan.action, PlannedAction::Resume { generation: 3, at: 7 });
        assert_eq!(
            decision.start,
            Start::Build {
                generation: 3,
                checkpoint: 7
            }
        );
        assert_eq!(decision.plan.events, 93);
    }

    #[test]
    fn plans_print_as_a_table() {
        let stored = [generation(1, GenerationStatus::Live, "aaaa", 40)];
        let new = code(&[("fn helper", "2"), ("crate serde 1.0.1", "a")]);
        let plan = StartPlan {
            head: 100,
            projections: vec![
                decide("shop.orders", "bbbb", &new, &stored, 100, None).plan,
                decide("shop.totals", "aaaa", &new, &stored, 100, None).plan,
                decide("shop.new", "cccc", &new, &[], 100, None).plan,
                dropped("shop.old", &stored),
            ],
        };
        assert_eq!(
            plan.to_string(),
            "projection   action         events  expected  details\n\
             shop.orders  rebuild           100       <1s  generation 2: changed: fn helper\n\
             shop.totals  catch up           60       <1s  generation 1 from position 40\n\
             shop.new     build             100   unknown  generation 1: new projection\n\
             shop.old     drop                0         -  removed from the code; generation 1\n\
             \n\
             event store head 100: a start reads 260 events (2 rebuilds, 1 catch-up), time unknown: no rate measured yet"
        );
    }
}
