//! Specifications of the bank account: passing specs, the readable report
//! of failing ones, and their rendering as Markdown documentation.

mod bank;

use bank::*;
use treaty::spec::{Spec, SpecSuite};

fn withdrawing_within_the_balance() -> Spec<Account> {
    Spec::new("Withdrawing within the balance")
        .given([opened("acc-1", "Ann"), deposited("acc-1", 100)])
        .when(withdraw("acc-1", 30))
        .then([withdrew("acc-1", 30)])
}

fn withdrawing_more_than_the_balance() -> Spec<Account> {
    Spec::new("Withdrawing more than the balance is refused")
        .given([opened("acc-1", "Ann"), deposited("acc-1", 100)])
        .when(withdraw("acc-1", 150))
        .then_error(|e| matches!(e, AccountError::InsufficientFunds { .. }))
}

#[test]
fn passing_specs_pass() {
    Spec::<Account>::new("Opening an account")
        .when(open("acc-1", "Ann"))
        .then([opened("acc-1", "Ann")])
        .verify();
    withdrawing_within_the_balance().verify();
    withdrawing_more_than_the_balance().verify();
    Spec::<Account>::new("Opening an account twice is refused")
        .given([opened("acc-1", "Ann")])
        .when(open("acc-1", "Bob"))
        .then_error_text("the account is already open")
        .verify();
    Spec::<Account>::new("Depositing nothing records nothing")
        .given([opened("acc-1", "Ann")])
        .when(deposit("acc-1", 0))
        .then_nothing()
        .verify();
    // Events may be given as members of the set, converted by `Into`.
    Spec::<Account>::new("Depositing into an open account")
        .given([AccountOpened {
            id: id("acc-1"),
            owner: "Ann".into(),
        }])
        .when(Deposit {
            id: id("acc-1"),
            amount: 5,
        })
        .then([deposited("acc-1", 5)])
        .verify();
}

#[test]
fn a_spec_expecting_other_events_reports_them_as_sentences() {
    let failure = Spec::<Account>::new("Withdrawing within the balance")
        .given([opened("acc-1", "Ann"), deposited("acc-1", 100)])
        .when(withdraw("acc-1", 30))
        .then([withdrew("acc-1", 20)])
        .check()
        .unwrap_err();
    assert_eq!(failure.name(), "Withdrawing within the balance");
    assert_eq!(
        failure.to_string(),
        "\
spec failed: Withdrawing within the balance
given:
  - account acc-1 opened for Ann
  - 100 deposited to account acc-1
when:
  - withdraw 30 from account acc-1
expected:
  - 20 withdrawn from account acc-1
actual:
  - 30 withdrawn from account acc-1
why: event 1 differs
"
    );
}

#[test]
fn a_spec_expecting_a_refusal_reports_the_accepted_events() {
    let failure = Spec::<Account>::new("Overdrawing")
        .given([opened("acc-1", "Ann"), deposited("acc-1", 100)])
        .when(withdraw("acc-1", 100))
        .then_error_text("insufficient funds: balance 100, requested 100")
        .check()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "\
spec failed: Overdrawing
given:
  - account acc-1 opened for Ann
  - 100 deposited to account acc-1
when:
  - withdraw 100 from account acc-1
expected:
  - refused: insufficient funds: balance 100, requested 100
actual:
  - 100 withdrawn from account acc-1
why: the command was accepted, but the spec expects it to be refused
"
    );
}

#[test]
fn a_spec_expecting_events_reports_the_refusal() {
    let failure = Spec::<Account>::new("Depositing into a closed account")
        .when(deposit("acc-1", 5))
        .then([deposited("acc-1", 5)])
        .check()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "\
spec failed: Depositing into a closed account
given:
  (no events)
when:
  - deposit 5 to account acc-1
expected:
  - 5 deposited to account acc-1
actual:
  - refused: the account is not open
why: the command was refused, but the spec expects it to be accepted
"
    );
}

#[test]
fn errors_are_checked_by_text_or_predicate() {
    let by_text = Spec::<Account>::new("Overdrawing")
        .given([opened("acc-1", "Ann")])
        .when(withdraw("acc-1", 1))
        .then_error_text("insufficient funds")
        .check()
        .unwrap_err();
    assert!(
        by_text.to_string().ends_with(
            "\
expected:
  - refused: insufficient funds
actual:
  - refused: insufficient funds: balance 0, requested 1
why: the command was refused with another error
"
        ),
        "{by_text}"
    );
    let by_predicate = Spec::<Account>::new("Overdrawing")
        .given([opened("acc-1", "Ann")])
        .when(withdraw("acc-1", 1))
        .then_error(|e| *e == AccountError::NotOpen)
        .check()
        .unwrap_err();
    assert!(
        by_predicate.to_string().ends_with(
            "\
expected:
  - refused with an error the spec's predicate accepts
actual:
  - refused: insufficient funds: balance 0, requested 1
why: the command was refused with an error the spec does not accept
"
        ),
        "{by_predicate}"
    );
}

#[test]
fn a_difference_the_sentences_hide_is_shown_in_full() {
    // The template of `Deposited` does not show the memo.
    let with_memo: AccountEvent = Deposited {
        id: id("acc-1"),
        amount: 5,
        memo: "salary".into(),
    }
    .into();
    let failure = Spec::<Account>::new("Depositing")
        .given([opened("acc-1", "Ann")])
        .when(deposit("acc-1", 5))
        .then([with_memo])
        .check()
        .unwrap_err();
    assert!(
        failure.to_string().ends_with(
            r#"
expected:
  - 5 deposited to account acc-1
actual:
  - 5 deposited to account acc-1
why: event 1 differs in what its sentence does not show:
  expected: Deposited(Deposited { id: AccountId("acc-1"), amount: 5, memo: "salary" })
  actual:   Deposited(Deposited { id: AccountId("acc-1"), amount: 5, memo: "" })
"#
        ),
        "{failure}"
    );
}

#[test]
fn a_different_number_of_events_is_named() {
    let failure = Spec::<Account>::new("Depositing")
        .given([opened("acc-1", "Ann")])
        .when(deposit("acc-1", 5))
        .then([deposited("acc-1", 5), deposited("acc-1", 5)])
        .check()
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .ends_with("why: the spec expects 2 events, but the command produced 1 event\n"),
        "{failure}"
    );
}

#[test]
fn verify_panics_with_the_report() {
    let spec = Spec::<Account>::new("Opening")
        .when(open("acc-1", "Ann"))
        .then([opened("acc-1", "Bob")]);
    let report = spec.check().unwrap_err().to_string();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spec.verify())).unwrap_err();
    assert_eq!(panic.downcast_ref::<String>(), Some(&report));
}

#[test]
fn debug_specs_show_messages_through_debug() {
    let failure = Spec::<Account>::debug("Depositing")
        .when(deposit("acc-1", 5))
        .then_nothing()
        .check()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        r#"spec failed: Depositing
given:
  (no events)
when:
  - Deposit(Deposit { id: AccountId("acc-1"), amount: 5 })
expected:
  (no events)
actual:
  - refused: the account is not open
why: the command was refused, but the spec expects it to be accepted
"#
    );
}

#[test]
fn a_passing_spec_renders_as_markdown() {
    let markdown = withdrawing_within_the_balance().to_markdown().unwrap();
    assert_eq!(
        markdown,
        "\
## Withdrawing within the balance

**Given**

- account acc-1 opened for Ann
- 100 deposited to account acc-1

**When**

- withdraw 30 from account acc-1

**Then**

- 30 withdrawn from account acc-1
"
    );
}

#[test]
fn a_failing_spec_renders_no_markdown() {
    let spec = Spec::<Account>::new("Opening")
        .when(open("acc-1", "Ann"))
        .then_nothing();
    assert_eq!(spec.to_markdown().unwrap_err(), spec.check().unwrap_err());
}

#[test]
fn sentences_are_escaped_in_markdown() {
    let markdown = Spec::<Account>::new("Owners with *marks*")
        .when(open("acc_1", "<Ann> [the #1]"))
        .then([opened("acc_1", "<Ann> [the #1]")])
        .to_markdown()
        .unwrap();
    assert_eq!(
        markdown,
        "\
## Owners with \\*marks\\*

**Given** no events.

**When**

- open account acc\\_1 for \\<Ann\\> \\[the \\#1\\]

**Then**

- account acc\\_1 opened for \\<Ann\\> \\[the \\#1\\]
"
    );
}

#[test]
fn a_suite_renders_every_spec_as_one_document() {
    let mut suite = SpecSuite::new("Bank accounts");
    suite
        .add(
            Spec::<Account>::new("Opening an account")
                .when(open("acc-1", "Ann"))
                .then([opened("acc-1", "Ann")]),
        )
        .add(withdrawing_within_the_balance())
        .add(withdrawing_more_than_the_balance())
        .add(
            Spec::<Account>::new("Depositing nothing records nothing")
                .given([opened("acc-1", "Ann")])
                .when(deposit("acc-1", 0))
                .then_nothing(),
        );
    suite.verify();
    assert_eq!(suite.len(), 4);
    assert_eq!(
        suite.to_markdown().unwrap(),
        "\
# Bank accounts

## Opening an account

**Given** no events.

**When**

- open account acc-1 for Ann

**Then**

- account acc-1 opened for Ann

## Withdrawing within the balance

**Given**

- account acc-1 opened for Ann
- 100 deposited to account acc-1

**When**

- withdraw 30 from account acc-1

**Then**

- 30 withdrawn from account acc-1

## Withdrawing more than the balance is refused

**Given**

- account acc-1 opened for Ann
- 100 deposited to account acc-1

**When**

- withdraw 150 from account acc-1

**Then** the command is refused:

- insufficient funds: balance 100, requested 150

## Depositing nothing records nothing

**Given**

- account acc-1 opened for Ann

**When**

- deposit 0 to account acc-1

**Then** nothing happens.
"
    );
}

#[test]
fn a_suite_with_failures_reports_each_and_renders_nothing() {
    let mut suite = SpecSuite::new("Bank accounts");
    suite
        .add(withdrawing_within_the_balance())
        .add(
            Spec::<Account>::new("Opening twice")
                .given([opened("acc-1", "Ann")])
                .when(open("acc-1", "Ann"))
                .then([opened("acc-1", "Ann")]),
        )
        .add(
            Spec::<Account>::new("Overdrawing")
                .given([opened("acc-1", "Ann")])
                .when(withdraw("acc-1", 1))
                .then_nothing(),
        );
    let failure = suite.to_markdown().unwrap_err();
    let names: Vec<&str> = failure.failures().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["Opening twice", "Overdrawing"]);
    assert_eq!(
        failure.to_string(),
        "\
2 of 3 specs failed

spec failed: Opening twice
given:
  - account acc-1 opened for Ann
when:
  - open account acc-1 for Ann
expected:
  - account acc-1 opened for Ann
actual:
  - refused: the account is already open
why: the command was refused, but the spec expects it to be accepted

spec failed: Overdrawing
given:
  - account acc-1 opened for Ann
when:
  - withdraw 1 from account acc-1
expected:
  (no events)
actual:
  - refused: insufficient funds: balance 0, requested 1
why: the command was refused, but the spec expects it to be accepted
"
    );
}
