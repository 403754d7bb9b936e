//! What the crate analysis found for a projection, item by item.
//!
//! build.rs runs the analysis (`treaty_codegen::analyze_projections()`),
//! which writes, for every `#[treaty::projection]` impl, the items of the
//! crate its code reaches with the hash of each; the attribute includes
//! that file into [`Projection::CODE`](super::Projection::CODE). The
//! fingerprint folds in the hashes, and the engine stores the items with
//! each generation, so that [`ProjectionEngine::plan`](super::ProjectionEngine::plan)
//! can name what changed.

use std::collections::BTreeMap;

use super::fingerprint::Fingerprint;
use crate::contract::ContractInfo;

/// The items one projection impl reaches, as the analysis found them in
/// one module. Generated code builds these; they are public for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleCode {
    /// The module of the impl, as `module_path!()` writes it; empty for
    /// the package-wide fallback.
    pub module: &'static str,
    /// The hash of all items.
    pub hash: u128,
    /// Each item's label (`fn pricing::line_total`, `crate serde
    /// 1.0.219`) and the hash of its tokens.
    pub items: &'static [(&'static str, u128)],
}

/// The hand-written upcasts (`impl From<FooV1> for ...`) of one contract
/// and what they reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upcast {
    /// The crate (target) whose projections it serves, as `module_path!()`
    /// starts.
    pub krate: &'static str,
    /// The contract's Rust name, `Foo`.
    pub contract: &'static str,
    /// The hash of all items.
    pub hash: u128,
    /// Each item's label and hash.
    pub items: &'static [(&'static str, u128)],
}

/// What a projection's fingerprint covers beyond its impl, item by item:
/// what the crate analysis found, the upcasts of every contract of the
/// crate (the fingerprint takes those of the consumed contracts), and the
/// attribute's `version` and `uses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The module of the impl (`module_path!()`).
    pub module: &'static str,
    /// Whether the analysis found the impl; when it did not (a macro wrote
    /// it), `items` is the package-wide fallback: every source file.
    pub analysed: bool,
    /// What the impl reaches.
    pub items: ModuleCode,
    /// Every contract's upcasts.
    pub upcasts: &'static [Upcast],
    /// `version = N`.
    pub version: Option<u32>,
    /// The helpers named in `uses = [...]`, with their fingerprints.
    pub uses: &'static [(&'static str, Fingerprint)],
}

impl Code {
    /// Nothing known: for impls written without `#[treaty::projection]`.
    pub const NONE: Code = Code {
        module: "",
        analysed: false,
        items: ModuleCode {
            module: "",
            hash: 0,
            items: &[],
        },
        upcasts: &[],
        version: None,
        uses: &[],
    };

    /// The entry of `entries` for `module`, or `fallback` when there is
    /// none. Called by the code `#[treaty::projection]` writes.
    #[doc(hidden)]
    pub const fn find(
        entries: &'static [ModuleCode],
        fallback: ModuleCode,
        upcasts: &'static [Upcast],
        module: &'static str,
    ) -> Code {
        let mut i = 0;
        while i < entries.len() {
            if str_eq(entries[i].module, module) {
                return Code {
                    module,
                    analysed: true,
                    items: entries[i],
                    upcasts,
                    version: None,
                    uses: &[],
                };
            }
            i += 1;
        }
        Code {
            module,
            analysed: false,
            items: fallback,
            upcasts,
            version: None,
            uses: &[],
        }
    }

    /// Records `version = N`.
    #[doc(hidden)]
    pub const fn with_version(mut self, version: u32) -> Code {
        self.version = Some(version);
        self
    }

    /// Records the `uses` helpers.
    #[doc(hidden)]
    pub const fn with_uses(mut self, uses: &'static [(&'static str, Fingerprint)]) -> Code {
        self.uses = uses;
        self
    }

    /// Whether `upcast` is one of the consumed contracts', in this
    /// projection's crate.
    pub(crate) const fn consumes(&self, upcast: &Upcast, contracts: &[ContractInfo]) -> bool {
        if !in_crate(self.module, upcast.krate) {
            return false;
        }
        let mut i = 0;
        while i < contracts.len() {
            if names_contract(contracts[i].name, upcast.contract) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Every item the fingerprint covers, by label, with its hash in hex:
    /// the analysis' items, the upcasts of `contracts`, each contract's
    /// versions, the view type's fingerprint, `version` and `uses`. The
    /// engine stores this with each generation to name what changed.
    pub fn items(&self, contracts: &[ContractInfo], view: Fingerprint) -> BTreeMap<String, String> {
        let mut items = BTreeMap::new();
        for (label, hash) in self.items.items {
            items.insert((*label).to_string(), format!("{hash:032x}"));
        }
        for upcast in self.upcasts {
            if self.consumes(upcast, contracts) {
                for (label, hash) in upcast.items {
                    items.insert(
                        format!("upcast of {}: {label}", upcast.contract),
                        format!("{hash:032x}"),
                    );
                }
            }
        }
        for contract in contracts {
            let fingerprint = Fingerprint::from_tokens(0).with_contracts(std::slice::from_ref(contract));
            items.insert(format!("contract {}", contract.name), fingerprint.to_hex());
        }
        items.insert("view type".to_string(), view.to_hex());
        if let Some(version) = self.version {
            items.insert("version".to_string(), version.to_string());
        }
        for (name, fingerprint) in self.uses {
            items.insert(format!("uses {name}"), fingerprint.to_hex());
        }
        items
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `module` (`shop::orders`) is in the crate `krate` (`shop`).
const fn in_crate(module: &str, krate: &str) -> bool {
    let (module, krate) = (module.as_bytes(), krate.as_bytes());
    if module.len() < krate.len() {
        return false;
    }
    let mut i = 0;
    while i < krate.len() {
        if module[i] != krate[i] {
            return false;
        }
        i += 1;
    }
    module.len() == krate.len() || (module.len() > krate.len() + 1 && module[krate.len()] == b':')
}

/// Whether the contract `name` (`billing.InvoiceIssued`) is the one whose
/// Rust type is `rust` (`InvoiceIssued`): its last segment.
const fn names_contract(name: &str, rust: &str) -> bool {
    let (name, rust) = (name.as_bytes(), rust.as_bytes());
    if name.len() < rust.len() {
        return false;
    }
    let start = name.len() - rust.len();
    if start > 0 && name[start - 1] != b'.' {
        return false;
    }
    let mut i = 0;
    while i < rust.len() {
        if name[start + i] != rust[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_in_their_crate() {
        assert!(in_crate("shop::orders", "shop"));
        assert!(in_crate("shop", "shop"));
        assert!(!in_crate("shops::orders", "shop"));
        assert!(!in_crate("sho", "shop"));
    }

    #[test]
    fn contracts_are_named_by_their_last_segment() {
        assert!(names_contract("billing.InvoiceIssued", "InvoiceIssued"));
        assert!(names_contract("InvoiceIssued", "InvoiceIssued"));
        assert!(!names_contract("billing.OldInvoiceIssued", "InvoiceIssued"));
        assert!(!names_contract("billing.Invoice", "InvoiceIssued"));
    }

    const ENTRIES: &[ModuleCode] = &[
        ModuleCode {
            module: "shop::a",
            hash: 1,
            items: &[("fn f", 1)],
        },
        ModuleCode {
            module: "shop::b",
            hash: 2,
            items: &[],
        },
    ];
    const FALLBACK: ModuleCode = ModuleCode {
        module: "",
        hash: 9,
        items: &[],
    };

    #[test]
    fn entries_are_found_by_module() {
        let b = Code::find(ENTRIES, FALLBACK, &[], "shop::b");
        assert_eq!((b.analysed, b.items.hash), (true, 2));
        let c = Code::find(ENTRIES, FALLBACK, &[], "shop::c");
        assert_eq!((c.analysed, c.items.hash), (false, 9));
    }
}
