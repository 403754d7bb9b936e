//! Billing's copy of the factory's `CarProduced` means on the wire what
//! the factory's own does: the same name and the same fingerprint for
//! every version, which is what billing's inbox checks on each event.

use treaty::Contract;

#[test]
fn billing_reads_car_produced_as_the_factory_publishes_it() {
    type Billing = billing::factory::CarProduced;
    type Factory = factory_contracts::factory::CarProduced;
    assert_eq!(Billing::NAME, Factory::NAME);
    assert_eq!(Billing::HISTORY, Factory::HISTORY);
}
