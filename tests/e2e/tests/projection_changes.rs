//! Change detection for projections a macro writes: two builds of the same
//! projections, `before` and `after`, where some changed in their body, in
//! a `uses` helper, in a consumed contract, in their view type or in their
//! explicit version, and one only in whitespace and comments. Exactly the
//! changed ones rebuild.
//!
//! Both builds live in this one crate as modules with the same item names,
//! written by the `build!` macro, so their tokens differ exactly where the
//! edit is. The analysis build.rs runs does not see inside a macro: these
//! projections get the package-wide fallback (every source file), the same
//! for both builds, and what tells them apart is what the attribute sees
//! itself, including the `uses` helpers, which stay meaningful here.
//! `projection_rebuilds.rs` covers the analysed case, with plain helpers.

use treaty::projection::{EventContext, Projection, ProjectionEngine, SqliteViewStore, ViewReader};
use treaty::store::{EventStore, ExpectedVersion, MemoryStore, Metadata, StreamName};

/// The ledger contracts before the change: `Noted` at version 1.
mod ledger_before {
    treaty::contract! {
        namespace ledger;
        id LedgerId: String;
        aggregate Ledger(id: LedgerId) {
            Noted!(text: String);
        }
    }
}

/// The ledger contracts after the change: `Noted` gained version 2.
mod ledger_after {
    treaty::contract! {
        namespace ledger;
        id LedgerId: String;
        aggregate Ledger(id: LedgerId) {
            Noted! v2 (text: String, by: String?) was v1 (text: String);
        }
    }
}

/// Contracts no build changes: what every projection but `Contract`
/// consumes.
mod clicks {
    treaty::contract! {
        namespace clicks;
        id ButtonId: String;
        aggregate Button(id: ButtonId) {
            Clicked!();
        }
    }
}

use clicks::clicks::{ButtonEvent, ButtonId, Clicked};

/// A view every projection here uses: how many events it saw.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Count {
    pub events: u64,
}

macro_rules! build {
    ($module:ident, $ledger:ident, { $($changed:tt)* }) => {
        mod $module {
            use super::$ledger::ledger::LedgerEvent;
            use super::*;

            $($changed)*

            pub struct Untouched;
            pub struct Body;
            pub struct Helper;
            pub struct Contract;
            pub struct ViewType;
            pub struct Versioned;

            #[treaty::projection(uses = [weight])]
            impl Projection for Helper {
                const NAME: &'static str = "changes.helper";
                type Event = ButtonEvent;
                type View = Count;
                fn keys(&self, _: &ButtonEvent) -> Vec<String> {
                    vec!["all".into()]
                }
                fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
                    view.get_or_insert_with(Count::default).events += weight();
                }
            }

            #[treaty::projection]
            impl Projection for Contract {
                const NAME: &'static str = "changes.contract";
                type Event = LedgerEvent;
                type View = Count;
                fn keys(&self, _: &LedgerEvent) -> Vec<String> {
                    vec!["all".into()]
                }
                fn apply(&self, view: &mut Option<Count>, _: &LedgerEvent, _: &EventContext<'_>) {
                    view.get_or_insert_with(Count::default).events += 1;
                }
            }

            #[treaty::projection]
            impl Projection for ViewType {
                const NAME: &'static str = "changes.view";
                type Event = ButtonEvent;
                type View = Tally;
                fn keys(&self, _: &ButtonEvent) -> Vec<String> {
                    vec!["all".into()]
                }
                fn apply(&self, view: &mut Option<Tally>, _: &ButtonEvent, _: &EventContext<'_>) {
                    view.get_or_insert_with(Tally::default).events += 1;
                }
            }

            pub fn engine(events: MemoryStore, views: SqliteViewStore) -> ProjectionEngine<MemoryStore, SqliteViewStore> {
                let mut engine = ProjectionEngine::new(events, views);
                engine.add(Untouched).add(Body).add(Helper).add(Contract).add(ViewType).add(Versioned);
                engine
            }
        }
    };
}

build!(before, ledger_before, {
    #[treaty::projection_helper]
    fn weight() -> u64 {
        1
    }

    #[treaty::view]
    #[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
    #[serde(crate = "treaty::serde")]
    pub struct Tally {
        pub events: u64,
    }

    #[treaty::projection]
    impl Projection for Untouched {
        const NAME: &'static str = "changes.untouched";
        type Event = ButtonEvent;
        type View = Count;
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }
        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            view.get_or_insert_with(Count::default).events += 1;
        }
    }

    #[treaty::projection]
    impl Projection for Body {
        const NAME: &'static str = "changes.body";
        type Event = ButtonEvent;
        type View = Count;
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }
        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            view.get_or_insert_with(Count::default).events += 1;
        }
    }

    #[treaty::projection]
    impl Projection for Versioned {
        const NAME: &'static str = "changes.version";
        type Event = ButtonEvent;
        type View = Count;
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }
        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            view.get_or_insert_with(Count::default).events += 1;
        }
    }
});

build!(after, ledger_after, {
    /// The helper now counts every event twice.
    #[treaty::projection_helper]
    fn weight() -> u64 {
        2
    }

    /// The view type gained a field.
    #[treaty::view]
    #[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
    #[serde(crate = "treaty::serde")]
    pub struct Tally {
        pub events: u64,
        #[serde(default)]
        pub note: String,
    }

    /// Only reformatted and commented: it must not rebuild.
    #[treaty::projection]
    impl Projection for Untouched {
        const NAME: &'static str = "changes.untouched";
        type Event = ButtonEvent;
        type View = Count;

        /// Everything goes to one view.
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }

        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            // Count the event.
            view.get_or_insert_with(Count::default).events += 1; /* once */
        }
    }

    /// The body changed: it counts by ten now.
    #[treaty::projection]
    impl Projection for Body {
        const NAME: &'static str = "changes.body";
        type Event = ButtonEvent;
        type View = Count;
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }
        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            view.get_or_insert_with(Count::default).events += 10;
        }
    }

    /// Identical code, forced to rebuild with an explicit version.
    #[treaty::projection(version = 2)]
    impl Projection for Versioned {
        const NAME: &'static str = "changes.version";
        type Event = ButtonEvent;
        type View = Count;
        fn keys(&self, _: &ButtonEvent) -> Vec<String> {
            vec!["all".into()]
        }
        fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
            view.get_or_insert_with(Count::default).events += 1;
        }
    }
});

#[test]
fn projections_written_by_a_macro_use_the_fallback() {
    const { assert!(!before::Helper::CODE.analysed) };
    assert!(before::Helper::CODE
        .items
        .items
        .iter()
        .any(|(label, _)| *label == "file tests/projection_changes.rs"));
    assert_eq!(before::Helper::CODE.items, after::Helper::CODE.items);
}

#[test]
fn fingerprints_change_exactly_where_the_code_did() {
    assert_eq!(before::Untouched::FINGERPRINT, after::Untouched::FINGERPRINT);
    assert_ne!(before::Body::FINGERPRINT, after::Body::FINGERPRINT);
    assert_ne!(before::Helper::FINGERPRINT, after::Helper::FINGERPRINT);
    assert_ne!(before::Contract::FINGERPRINT, after::Contract::FINGERPRINT);
    assert_ne!(before::ViewType::FINGERPRINT, after::ViewType::FINGERPRINT);
    assert_ne!(before::Versioned::FINGERPRINT, after::Versioned::FINGERPRINT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_changed_projections_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = SqliteViewStore::open(dir.path().join("views.db")).unwrap();
    let stream = StreamName::new("ledger-1").unwrap();
    let buttons = StreamName::new("button-1").unwrap();
    for _ in 0..3 {
        let clicked = Clicked {
            id: ButtonId("1".into()),
        };
        let event = treaty::store::NewEvent::from_contract(&clicked, Metadata::now()).unwrap();
        events
            .append(&buttons, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    for text in ["one", "two", "three"] {
        let noted = ledger_before::ledger::Noted {
            id: ledger_before::ledger::LedgerId("1".into()),
            text: text.into(),
        };
        let event = treaty::store::NewEvent::from_contract(&noted, Metadata::now()).unwrap();
        events.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap();
    }

    let running = before::engine(events.clone(), views.clone()).start().await.unwrap();
    running.wait_live().await.unwrap();
    running.shutdown().await;

    let running = after::engine(events.clone(), views.clone()).start().await.unwrap();
    let mut rebuilt = running.startup().rebuilt.clone();
    rebuilt.sort();
    assert_eq!(
        rebuilt,
        [
            "changes.body",
            "changes.contract",
            "changes.helper",
            "changes.version",
            "changes.view"
        ]
    );
    assert_eq!(running.startup().up_to_date, ["changes.untouched"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;

    // The rebuilt views follow the new code; the untouched one kept its
    // generation.
    let reader = ViewReader::new(views.clone());
    let count = |events| Some(Count { events });
    assert_eq!(reader.get::<after::Body>("all").await.unwrap(), count(30));
    assert_eq!(reader.get::<after::Helper>("all").await.unwrap(), count(6));
    assert_eq!(reader.get::<after::Untouched>("all").await.unwrap(), count(3));
    use treaty::projection::ViewStore;
    for generation in views.generations().await.unwrap() {
        let expected = if generation.projection == "changes.untouched" {
            1
        } else {
            2
        };
        assert_eq!(generation.generation, expected, "{generation:?}");
    }
    assert_eq!(reader.get::<after::Contract>("all").await.unwrap(), count(3));
    assert_eq!(events.head().await.unwrap(), 6);
}
