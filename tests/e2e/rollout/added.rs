// What the rollout tests read back from the store, for both of them.

/// An `Added` event as (tally, amount, the build that handled the
/// command), from its JSON, which every build writes alike.
pub fn added(event: &treaty::store::RecordedEvent) -> (String, u64, String) {
    let added: serde_json::Value = serde_json::from_slice(&event.payload).expect("an event's payload is JSON");
    (
        added["id"].as_str().expect("an id").to_string(),
        added["amount"].as_u64().expect("an amount"),
        added["build"].as_str().expect("a build").to_string(),
    )
}
