//! Data-driven tests of every diagnostic the contract compiler reports.
//!
//! Each test compiles a few small files and compares the rendered output
//! (or `ok`) with a snapshot. The snapshots are the user interface: they
//! show the message, the span under the caret and the hint exactly as a
//! person would see them. After a deliberate change, re-bless them with
//! `UPDATE_EXPECT=1 cargo test -p treaty-dsl` and review the diff.

use expect_test::{expect, Expect};
use treaty_dsl::{compile, Config, Sources};

/// Compiles `files` (name, text) together and compares the rendered
/// diagnostics, or `ok` when the contracts are valid, with `expect`.
fn check(files: &[(&str, &str)], expect: Expect) {
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(*name, *text);
    }
    check_sources(&sources, expect);
}

/// Like [`check`], for sources that cannot be written as `&str`.
fn check_sources(sources: &Sources, expect: Expect) {
    let actual = match compile(sources, &Config::default()) {
        Ok(_) => "ok".to_string(),
        Err(diagnostics) => diagnostics.render(),
    };
    expect.assert_eq(&actual);
}

// The sketch's complete file is the language's reference example; it
// must compile exactly as written, given the `shared.Money` it imports.
const SKETCH: &str = r#"//! Contracts of the factory bounded context.
namespace factory;

use shared.Money;

/// Reusable field fragment: `employee` expands to `employee_name: String`.
const employee = employee_name: String;

/// Identifies a factory.
id FactoryId: Uuid;

/// A part used to build a car.
record CarPart(name: String, quantity: u32);

/// Colour of a produced car.
enum Color { Red, Green, Blue }

/// A car factory. Every message inside carries `id: FactoryId` first.
aggregate Factory(id: FactoryId) {
    /// Open the factory for work.
    OpenFactory?();

    /// The factory was opened.
    FactoryOpened!() display "Opened factory {id}";

    /// Ask the factory to produce a car.
    ProduceCar?(employee, car_model: String, price: Money?)
        display "Employee '{employee_name}' produces a {car_model}";

    /// A car was produced.
    CarProduced! v2 (employee, car_model: String, parts: [CarPart], color: Color = Red)
        was v1 (employee, car_model: String, parts: [CarPart]);
}

/// A message outside any aggregate.
PingRequested?(note: String = "");
"#;

const SHARED: &str = "namespace shared;\nrecord Money(cents: i64, currency: String);\n";

#[test]
fn sketch_complete_file_is_valid() {
    check(
        &[("factory.treaty", SKETCH), ("shared.treaty", SHARED)],
        expect![[r#"ok"#]],
    );
}

#[test]
fn example_contracts_are_valid() {
    // The example project builds from these files, so they must stay valid.
    let mut sources = Sources::new();
    sources
        .load(&[concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/factory/contracts")])
        .expect("the example contracts are readable");
    check_sources(&sources, expect![[r#"ok"#]]);
}

#[test]
fn invalid_utf8() {
    let mut sources = Sources::new();
    sources.add(
        "latin1.treaty",
        b"namespace shop;\nrecord Caf\xe9(name: String);\n".to_vec(),
    );
    check_sources(
        &sources,
        expect![[r#"
        error[invalid-utf8]: the file is not valid UTF-8
          ┌─ latin1.treaty:2:11
          │
        2 │ record Caf�(name: String);
          │           ^ this byte is not UTF-8
          │
          = help: save the file as UTF-8 text

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn too_deep() {
    let deep = format!(
        "namespace shop;\nrecord A(a: {}u32{});\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    check(
        &[("deep.treaty", &deep)],
        expect![[r#"
        error[too-deep]: brackets are nested more than 32 levels deep
          ┌─ deep.treaty:2:44
          │
        2 │ record A(a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[u32]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]);
          │                                            ^ too deep here
          │
          = help: contracts never need this much nesting; check for a missing closing bracket

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn syntax_missing_type() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(name: );\n")],
        expect![[r#"
        error[syntax]: expected a type, found `)`
          ┌─ shop.treaty:2:16
          │
        2 │ record A(name: );
          │                ^ unexpected here
          │
          = help: write a type: a built-in such as `String` or `u32`, a declared type, `[T]`, `{K: V}` or `T?`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn syntax_missing_semicolon() {
    check(
        &[("shop.treaty", "namespace shop;\nOrderPlaced!(total: u64)\n")],
        expect![[r#"
        error[syntax]: expected `;`, `display` or `was`, found end of file
          ┌─ shop.treaty:3:1
          │
        3 │ 
          │ ^ unexpected here
          │
          = help: end every declaration with `;`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn syntax_double_comma() {
    check(
        &[("shop.treaty", "namespace shop;\nPlaceOrder?(a: u32,, b: u32);\n")],
        expect![[r#"
        error[syntax]: expected `)` or a field, found `,`
          ┌─ shop.treaty:2:20
          │
        2 │ PlaceOrder?(a: u32,, b: u32);
          │                    ^ unexpected here
          │
          = help: see docs/language.md for the syntax of each declaration

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn syntax_lokad_field_order() {
    // People migrating from Lokad's `.ddd` files write the type first.
    check(
        &[("shop.treaty", "namespace shop;\nPlaceOrder?(String name);\n")],
        expect![[r#"
            error[syntax]: fields are written `name: Type`, not `Type name`: found `String name`
              ┌─ shop.treaty:2:20
              │
            2 │ PlaceOrder?(String name);
              │                    ^ the field's name comes first
              │
              = help: write `name: String`; to read what Lokad stored, keep its C# property name on the wire: `name: String wire "Name"`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn syntax_message_without_kind() {
    check(
        &[("shop.treaty", "namespace shop;\nPlaceOrder(name: String);\n")],
        expect![[r#"
            error[syntax]: expected `?` (command) or `!` (event), found `(`; `PlaceOrder(...)` is a plain Lokad contract
              ┌─ shop.treaty:2:11
              │
            2 │ PlaceOrder(name: String);
              │           ^ needs `?`, `!` or `record`
              │
              = help: write `PlaceOrder?(...)` for a command, `PlaceOrder!(...)` for an event, or `record PlaceOrder(...);`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn syntax_errors_are_all_reported() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n\
             record A(name: );\n\
             PlaceOrder?(String name);\n\
             enum Color { Red Green }\n\
             OrderPlaced!(total: u64) displya \"{total}\";\n\
             OrderShipped!(at: Timestamp);\n\
             id OrderId Uuid;\n",
        )],
        expect![[r#"
            error[syntax]: expected a type, found `)`
              ┌─ shop.treaty:2:16
              │
            2 │ record A(name: );
              │                ^ unexpected here
              │
              = help: write a type: a built-in such as `String` or `u32`, a declared type, `[T]`, `{K: V}` or `T?`

            error[syntax]: fields are written `name: Type`, not `Type name`: found `String name`
              ┌─ shop.treaty:3:20
              │
            3 │ PlaceOrder?(String name);
              │                    ^ the field's name comes first
              │
              = help: write `name: String`; to read what Lokad stored, keep its C# property name on the wire: `name: String wire "Name"`

            error[syntax]: expected `,` or `}`, found `Green`
              ┌─ shop.treaty:4:18
              │
            4 │ enum Color { Red Green }
              │                  ^ unexpected here
              │
              = help: see docs/language.md for the syntax of each declaration

            error[syntax]: expected `;`, `display` or `was`, found `displya`
              ┌─ shop.treaty:5:26
              │
            5 │ OrderPlaced!(total: u64) displya "{total}";
              │                          ^ unexpected here
              │
              = help: end every declaration with `;`

            error[syntax]: expected `:`, found `Uuid`
              ┌─ shop.treaty:7:12
              │
            7 │ id OrderId Uuid;
              │            ^ unexpected here
              │
              = help: see docs/language.md for the syntax of each declaration

            error: contracts have 5 errors
        "#]],
    );
}

#[test]
fn syntax_error_does_not_hide_validation_errors() {
    // The declaration after the broken one is still parsed and checked.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(name: );\nrecord B(name: Strin);\n",
        )],
        expect![[r#"
            error[syntax]: expected a type, found `)`
              ┌─ shop.treaty:2:16
              │
            2 │ record A(name: );
              │                ^ unexpected here
              │
              = help: write a type: a built-in such as `String` or `u32`, a declared type, `[T]`, `{K: V}` or `T?`

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:3:16
              │
            3 │ record B(name: Strin);
              │                ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn syntax_unclosed_parenthesis() {
    // A missing `)` must not swallow the rest of the file: the error in
    // the last line is reported too.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nPlaceOrder?(a: u32;\nOrderPlaced!(total: u64);\nOrderShipped!(at: Strin);\n",
        )],
        expect![[r#"
            error[syntax]: expected `)`, `,`, `=` or `?`, found `;`
              ┌─ shop.treaty:2:19
              │
            2 │ PlaceOrder?(a: u32;
              │                   ^ unexpected here
              │
              = help: see docs/language.md for the syntax of each declaration

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:4:19
              │
            4 │ OrderShipped!(at: Strin);
              │                   ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn errors_in_several_files_are_reported_together() {
    check(
        &[
            ("a.treaty", "namespace shop;\nrecord A(name: Strin);\n"),
            (
                "b.treaty",
                "namespace billing;\nInvoiceSent!(total: u32 = -1);\nrecord B(;\n",
            ),
            ("c.treaty", "record C();\n"),
        ],
        expect![[r#"
            error[unknown-type]: unknown type `Strin`
              ┌─ a.treaty:2:16
              │
            2 │ record A(name: Strin);
              │                ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error[bad-default]: -1 is out of range for `u32` (0 to 4294967295)
              ┌─ b.treaty:2:27
              │
            2 │ InvoiceSent!(total: u32 = -1);
              │                           ^^ does not fit `u32`
              │
              = help: write a whole number, such as `0`

            error[syntax]: expected `)` or a field, found `;`
              ┌─ b.treaty:3:10
              │
            3 │ record B(;
              │          ^ unexpected here
              │
              = help: see docs/language.md for the syntax of each declaration

            error[missing-namespace]: the file has no namespace
              ┌─ c.treaty:1:1
              │
            1 │ record C();
              │ ^ expected `namespace name;` here
              │
              = help: start the file with a namespace, such as `namespace shop.orders;`

            error: contracts have 4 errors
        "#]],
    );
}

#[test]
fn missing_namespace() {
    check(
        &[("shop.treaty", "record A(name: String);\n")],
        expect![[r#"
        error[missing-namespace]: the file has no namespace
          ┌─ shop.treaty:1:1
          │
        1 │ record A(name: String);
          │ ^ expected `namespace name;` here
          │
          = help: start the file with a namespace, such as `namespace shop.orders;`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn missing_namespace_in_empty_file() {
    check(
        &[("empty.treaty", "")],
        expect![[r#"
        error[missing-namespace]: the file has no namespace
          ┌─ empty.treaty:1:1
          │
        1 │ 
          │ ^ expected `namespace name;` here
          │
          = help: start the file with a namespace, such as `namespace shop.orders;`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn namespace_not_first() {
    check(
        &[("shop.treaty", "record A(name: String);\nnamespace shop;\n")],
        expect![[r#"
        error[missing-namespace]: the namespace must come first
          ┌─ shop.treaty:2:1
          │
        2 │ namespace shop;
          │ ^^^^^^^^^^^^^^^ declared after other items
          │
          = help: move this line to the top of the file

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn namespace_declared_twice() {
    check(
        &[("shop.treaty", "namespace shop;\nnamespace billing;\n")],
        expect![[r#"
        error[bad-namespace]: a file has one namespace
          ┌─ shop.treaty:2:11
          │
        2 │ namespace billing;
          │           ^^^^^^^ second namespace
          │
          = help: split the file in two, one per namespace

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn namespace_not_snake_case() {
    check(
        &[("shop.treaty", "namespace Shop.orderLines;\nrecord A();\n")],
        expect![[r#"
        error[bad-namespace]: namespace segment `Shop` is not lower snake case
          ┌─ shop.treaty:1:11
          │
        1 │ namespace Shop.orderLines;
          │           ^^^^ becomes a Rust module name
          │
          = help: write `shop`

        error[bad-namespace]: namespace segment `orderLines` is not lower snake case
          ┌─ shop.treaty:1:16
          │
        1 │ namespace Shop.orderLines;
          │                ^^^^^^^^^^ becomes a Rust module name
          │
          = help: write `order_lines`

        error: contracts have 2 errors
    "#]],
    );
}

#[test]
fn namespace_with_syntax_error() {
    check(
        &[("shop.treaty", "namespace shop\nrecord A(name: String);\n")],
        expect![[r#"
            error[syntax]: expected `;`, found `record`
              ┌─ shop.treaty:2:1
              │
            2 │ record A(name: String);
              │ ^ unexpected here
              │
              = help: end the declaration before this one with `;`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_type() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(name: Strin);\n")],
        expect![[r#"
            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:2:16
              │
            2 │ record A(name: Strin);
              │                ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_type_with_wrong_case_of_builtin() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(name: string, at: timestamp);\n",
        )],
        expect![[r#"
        error[unknown-type]: unknown type `string`
          ┌─ shop.treaty:2:16
          │
        2 │ record A(name: string, at: timestamp);
          │                ^^^^^^ not declared or imported
          │
          = help: the built-in type is spelled `String`

        error[unknown-type]: unknown type `timestamp`
          ┌─ shop.treaty:2:28
          │
        2 │ record A(name: string, at: timestamp);
          │                            ^^^^^^^^^ not declared or imported
          │
          = help: the built-in type is spelled `Timestamp`

        error: contracts have 2 errors
    "#]],
    );
}

#[test]
fn unknown_type_declared_in_another_namespace() {
    check(
        &[
            ("shop.treaty", "namespace shop;\nOrderPlaced!(total: Money);\n"),
            ("shared.treaty", SHARED),
        ],
        expect![[r#"
            error[unknown-type]: unknown type `Money`
              ┌─ shop.treaty:2:21
              │
            2 │ OrderPlaced!(total: Money);
              │                     ^^^^^ not declared or imported
              │
              = help: import it with `use shared.Money;`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_type_by_full_name() {
    check(
        &[
            ("shop.treaty", "namespace shop;\nOrderPlaced!(total: shared.Mony);\n"),
            ("shared.treaty", SHARED),
        ],
        expect![[r#"
            error[unknown-type]: unknown type `shared.Mony`
              ┌─ shop.treaty:2:21
              │
            2 │ OrderPlaced!(total: shared.Mony);
              │                     ^^^^^^^^^^^ not declared or imported
              │
              = help: did you mean `shared.Money`?

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn type_by_full_name_needs_no_import() {
    check(
        &[
            ("shop.treaty", "namespace shop;\nOrderPlaced!(total: shared.Money);\n"),
            ("shared.treaty", SHARED),
        ],
        expect!["ok"],
    );
}

#[test]
fn unknown_type_in_display_template_field() {
    // The field whose type is unknown still exists: the template that
    // shows it must not be reported as naming an unknown field.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: Mony) display \"Total {total}\";\n",
        )],
        expect![[r#"
            error[unknown-type]: unknown type `Mony`
              ┌─ shop.treaty:2:21
              │
            2 │ OrderPlaced!(total: Mony) display "Total {total}";
              │                     ^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_import() {
    check(
        &[("shop.treaty", "namespace shop;\nuse shared.Money;\n")],
        expect![[r#"
        error[unknown-import]: `shared.Money` is not declared in any contract file
          ┌─ shop.treaty:2:5
          │
        2 │ use shared.Money;
          │     ^^^^^^^^^^^^ unknown import
          │
          = help: declare `Money` in namespace `shared`, or configure it as an extern type

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn unknown_import_from_wrong_namespace() {
    check(
        &[
            ("shop.treaty", "namespace shop;\nuse common.Money;\n"),
            ("shared.treaty", SHARED),
        ],
        expect![[r#"
            error[unknown-import]: `common.Money` is not declared in any contract file
              ┌─ shop.treaty:2:5
              │
            2 │ use common.Money;
              │     ^^^^^^^^^^^^ unknown import
              │
              = help: did you mean `use shared.Money;`?

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_import_without_namespace() {
    check(
        &[("shop.treaty", "namespace shop;\nuse Money;\n")],
        expect![[r#"
            error[unknown-import]: `use` needs the namespace of the type it imports
              ┌─ shop.treaty:2:5
              │
            2 │ use Money;
              │     ^^^^^ no namespace here
              │
              = help: write `use namespace.Money;`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn extern_type_can_be_imported() {
    let mut sources = Sources::new();
    sources.add(
        "shop.treaty",
        "namespace shop;\nuse shared.Money;\nOrderPlaced!(total: Money);\n",
    );
    let config = Config {
        extern_types: ["shared.Money".to_string()].into(),
    };
    let schema = compile(&sources, &config)
        .map_err(|d| d.render())
        .expect("extern types resolve");
    let message = schema.messages().next().expect("one message");
    expect!["shared.Money"].assert_eq(&message.current.fields[0].ty.to_string());
}

#[test]
fn unknown_fragment() {
    check(
        &[("shop.treaty", "namespace shop;\nPlaceOrder?(employee, total: u64);\n")],
        expect![[r#"
        error[unknown-fragment]: `employee` is not a declared field fragment
          ┌─ shop.treaty:2:13
          │
        2 │ PlaceOrder?(employee, total: u64);
          │             ^^^^^^^^ unknown fragment
          │
          = help: write a field as `employee: Type`, or declare `const employee = field: Type;`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn fragment_imported_from_another_namespace() {
    check(
        &[
            (
                "shop.treaty",
                "namespace shop;\nuse staff.employee;\nPlaceOrder?(employee);\n",
            ),
            (
                "staff.treaty",
                "namespace staff;\nconst employee = employee_name: String, employee_id: u64;\n",
            ),
        ],
        expect!["ok"],
    );
}

#[test]
fn duplicate_type() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord Money(cents: i64);\nenum Money { Euro }\n",
        )],
        expect![[r#"
            error[duplicate-type]: type `shop.Money` is declared twice
              ┌─ shop.treaty:3:6
              │
            2 │ record Money(cents: i64);
              │        ----- first declared here
            3 │ enum Money { Euro }
              │      ^^^^^ declared again here
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_message() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\nOrderPlaced!();\naggregate Order(id: OrderId) {\n    OrderPlaced!();\n}\n",
        )],
        expect![[r#"
            error[duplicate-type]: type `shop.OrderPlaced` is declared twice
              ┌─ shop.treaty:5:5
              │
            3 │ OrderPlaced!();
              │ ----------- first declared here
            4 │ aggregate Order(id: OrderId) {
            5 │     OrderPlaced!();
              │     ^^^^^^^^^^^ declared again here
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_type_across_files_of_one_namespace() {
    check(
        &[
            ("a.treaty", "namespace shop;\nrecord Money(cents: i64);\n"),
            ("b.treaty", "namespace shop;\nrecord Money(cents: i64);\n"),
        ],
        expect![[r#"
            error[duplicate-type]: type `shop.Money` is declared twice
              ┌─ b.treaty:2:8
              │
            2 │ record Money(cents: i64);
              │        ^^^^^ declared again here
              │
              ┌─ a.treaty:2:8
              │
            2 │ record Money(cents: i64);
              │        ----- first declared here
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn same_name_in_two_namespaces_is_fine() {
    check(
        &[
            ("a.treaty", "namespace shop;\nrecord Money(cents: i64);\n"),
            ("b.treaty", "namespace billing;\nrecord Money(cents: i64);\n"),
        ],
        expect!["ok"],
    );
}

#[test]
fn duplicate_type_with_generated_version_name() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord OrderPlacedV1(total: u64);\nOrderPlaced! v2 (total: u64) was v1 (total: u32);\n",
        )],
        expect![[r#"
            error[duplicate-type]: `shop.OrderPlacedV1` collides with a name generated for version 1 of `OrderPlaced`
              ┌─ shop.treaty:2:8
              │
            2 │ record OrderPlacedV1(total: u64);
              │        ^^^^^^^^^^^^^ declared here
            3 │ OrderPlaced! v2 (total: u64) was v1 (total: u32);
              │ ----------- generates the same name
              │
              = help: rename the declared type

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_type_with_generated_aggregate_enum() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\nenum OrderCommand { Place }\naggregate Order(id: OrderId) {\n    PlaceOrder?();\n}\n",
        )],
        expect![[r#"
            error[duplicate-type]: `shop.OrderCommand` collides with a name generated for aggregate `Order`
              ┌─ shop.treaty:3:6
              │
            3 │ enum OrderCommand { Place }
              │      ^^^^^^^^^^^^ declared here
            4 │ aggregate Order(id: OrderId) {
              │           ----- generates the same name
              │
              = help: rename the declared type

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_aggregate() {
    // Two aggregates of one name would generate two `OrderCommand` enums.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\naggregate Order(id: OrderId) {\n    PlaceOrder?();\n}\naggregate Order(id: OrderId) {\n    CancelOrder?();\n}\n",
        )],
        expect![[r#"
            error[duplicate-type]: aggregate `shop.Order` is declared twice
              ┌─ shop.treaty:6:11
              │
            3 │ aggregate Order(id: OrderId) {
              │           ----- first declared here
              ·
            6 │ aggregate Order(id: OrderId) {
              │           ^^^^^ declared again here
              │
              = help: put all of its messages in one `aggregate` block, or rename one

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_type_shadowing_builtin() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord Timestamp(seconds: i64);\n")],
        expect![[r#"
        error[duplicate-type]: `Timestamp` is a built-in type
          ┌─ shop.treaty:2:8
          │
        2 │ record Timestamp(seconds: i64);
          │        ^^^^^^^^^ shadows the built-in
          │
          = help: choose another name

        error: contracts have 1 error
    "#]],
    );
}

/// Generated namespace modules hold a `SCHEMAS` constant.
#[test]
fn a_type_named_like_a_generated_constant() {
    check(
        &[("shop.treaty", "namespace shop;\nSCHEMAS!(id: u64);\n")],
        expect![[r#"
            error[duplicate-type]: `SCHEMAS` is a name that generated code uses
              ┌─ shop.treaty:2:1
              │
            2 │ SCHEMAS!(id: u64);
              │ ^^^^^^^ would clash in the generated module
              │
              = help: choose another name

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_type_imported_and_declared() {
    check(
        &[
            (
                "shop.treaty",
                "namespace shop;\nuse shared.Money;\nrecord Money(cents: u64);\n",
            ),
            ("shared.treaty", SHARED),
        ],
        expect![[r#"
            error[duplicate-type]: `Money` is imported and also declared in `shop`
              ┌─ shop.treaty:2:5
              │
            2 │ use shared.Money;
              │     ^^^^^^^^^^^^ imported here
            3 │ record Money(cents: u64);
              │        ----- declared here
              │
              = help: refer to one of them by its full name (`namespace.Name`) instead of importing it

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_field() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(name: String, name: String);\n",
        )],
        expect![[r#"
        error[duplicate-field]: field `name` appears twice
          ┌─ shop.treaty:2:24
          │
        2 │ record A(name: String, name: String);
          │          ------------  ^^^^^^^^^^^^ declared again here
          │          │              
          │          first declared here (or brought in by a fragment or the aggregate id)
          │
          = help: rename or remove one of them

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn duplicate_field_from_fragment() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nconst employee = employee_name: String;\nPlaceOrder?(employee, employee_name: String);\n",
        )],
        expect![[r#"
            error[duplicate-field]: field `employee_name` appears twice
              ┌─ shop.treaty:3:23
              │
            3 │ PlaceOrder?(employee, employee_name: String);
              │             --------  ^^^^^^^^^^^^^^^^^^^^^ declared again here
              │             │          
              │             first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_field_in_rust() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nPlaceOrder?(carModel: String, car_model: String);\n",
        )],
        expect![[r#"
            error[duplicate-field]: fields `carModel` and `car_model` become the same Rust field `car_model`
              ┌─ shop.treaty:2:31
              │
            2 │ PlaceOrder?(carModel: String, car_model: String);
              │             ----------------  ^^^^^^^^^^^^^^^^^ declared again here
              │             │                  
              │             first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_field_with_aggregate_identity() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\naggregate Order(id: OrderId) {\n    PlaceOrder?(id: u64);\n}\n",
        )],
        expect![[r#"
            error[duplicate-field]: field `id` appears twice
              ┌─ shop.treaty:4:17
              │
            3 │ aggregate Order(id: OrderId) {
              │                 ----------- first declared here (or brought in by a fragment or the aggregate id)
            4 │     PlaceOrder?(id: u64);
              │                 ^^^^^^^ declared again here
              │
              = help: rename or remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn duplicate_variant() {
    check(
        &[("shop.treaty", "namespace shop;\nenum Color { Red, Green, Red }\n")],
        expect![[r#"
        error[duplicate-variant]: variant `Red` is declared twice in `Color`
          ┌─ shop.treaty:2:26
          │
        2 │ enum Color { Red, Green, Red }
          │              ---         ^^^ declared again here
          │              │            
          │              first declared here
          │
          = help: remove one of them (variants that differ only in case or underscores collide in Rust)

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn duplicate_variant_in_rust() {
    check(
        &[("shop.treaty", "namespace shop;\nenum Color { dark_red, DarkRed }\n")],
        expect![[r#"
        error[duplicate-variant]: variant `DarkRed` is declared twice in `Color`
          ┌─ shop.treaty:2:24
          │
        2 │ enum Color { dark_red, DarkRed }
          │              --------  ^^^^^^^ declared again here
          │              │          
          │              first declared here
          │
          = help: remove one of them (variants that differ only in case or underscores collide in Rust)

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_default_type_mismatch() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(count: u32 = \"none\", flag: bool = 1, names: [String] = {});\n",
        )],
        expect![[r#"
            error[bad-default]: the string "none" is not a value of `u32`
              ┌─ shop.treaty:2:23
              │
            2 │ record A(count: u32 = "none", flag: bool = 1, names: [String] = {});
              │                       ^^^^^^ does not fit `u32`
              │
              = help: write a whole number, such as `0`

            error[bad-default]: the number 1 is not a value of `bool`
              ┌─ shop.treaty:2:44
              │
            2 │ record A(count: u32 = "none", flag: bool = 1, names: [String] = {});
              │                                            ^ does not fit `bool`
              │
              = help: write `true` or `false`

            error[bad-default]: `{}` is not a value of `[String]`
              ┌─ shop.treaty:2:65
              │
            2 │ record A(count: u32 = "none", flag: bool = 1, names: [String] = {});
              │                                                                 ^^ does not fit `[String]`
              │
              = help: lists default to `[]`

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn bad_default_unknown_variant() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nenum Color { Red, Green }\nrecord Car(color: Color = Blue);\n",
        )],
        expect![[r#"
            error[bad-default]: `Blue` is not a variant of `shop.Color`
              ┌─ shop.treaty:3:27
              │
            3 │ record Car(color: Color = Blue);
              │                           ^^^^ unknown variant
              │
              = help: use one of: Red, Green

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_default_none_on_non_optional() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(note: String = none);\n")],
        expect![[r#"
        error[bad-default]: only optional fields can default to `none`
          ┌─ shop.treaty:2:25
          │
        2 │ record A(note: String = none);
          │                         ^^^^ does not fit `String`
          │
          = help: make the field optional: `String?`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_default_out_of_range() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(a: u32 = -1, b: i32 = 2147483648, c: u64 = 99999999999999999999999999999999999999999);\n",
        )],
        expect![[r#"
            error[bad-default]: -1 is out of range for `u32` (0 to 4294967295)
              ┌─ shop.treaty:2:19
              │
            2 │ record A(a: u32 = -1, b: i32 = 2147483648, c: u64 = 99999999999999999999999999999999999999999);
              │                   ^^ does not fit `u32`
              │
              = help: write a whole number, such as `0`

            error[bad-default]: 2147483648 is out of range for `i32` (-2147483648 to 2147483647)
              ┌─ shop.treaty:2:32
              │
            2 │ record A(a: u32 = -1, b: i32 = 2147483648, c: u64 = 99999999999999999999999999999999999999999);
              │                                ^^^^^^^^^^ does not fit `i32`
              │
              = help: write a whole number, such as `0`

            error[bad-default]: 99999999999999999999999999999999999999999 is out of range for `u64` (0 to 18446744073709551615)
              ┌─ shop.treaty:2:53
              │
            2 │ record A(a: u32 = -1, b: i32 = 2147483648, c: u64 = 99999999999999999999999999999999999999999);
              │                                                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ does not fit `u64`
              │
              = help: write a whole number, such as `0`

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn bad_default_fraction_for_integer() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(a: u32 = 1.5);\n")],
        expect![[r#"
        error[bad-default]: `u32` holds whole numbers, not 1.5
          ┌─ shop.treaty:2:19
          │
        2 │ record A(a: u32 = 1.5);
          │                   ^^^ does not fit `u32`
          │
          = help: write a whole number, such as `0`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_default_infinite_float() {
    // `1e999` parses as an infinite f64, which JSON cannot carry.
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(ratio: f64 = 1e999);\n")],
        expect![[r#"
        error[bad-default]: 1e999 is out of range for `f64`
          ┌─ shop.treaty:2:23
          │
        2 │ record A(ratio: f64 = 1e999);
          │                       ^^^^^ does not fit `f64`
          │
          = help: write a number, such as `0` or `1.5`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_default_on_timestamp() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(at: Timestamp = \"2024-05-01T10:00:00Z\");\n",
        )],
        expect![[r#"
            error[bad-default]: fields of type `Timestamp` cannot have a default
              ┌─ shop.treaty:2:26
              │
            2 │ record A(at: Timestamp = "2024-05-01T10:00:00Z");
              │                          ^^^^^^^^^^^^^^^^^^^^^^ does not fit `Timestamp`
              │
              = help: make the field optional with `Timestamp? = none`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn defaults_that_fit() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nenum Color { Red, Green }\nrecord A(\n    a: u32 = 4294967295,\n    b: i64 = -9223372036854775808,\n    c: f64 = -1.5e3,\n    d: Decimal = 10.50,\n    e: bool = true,\n    f: String = \"say \\\"hi\\\"\",\n    g: [u32] = [],\n    h: {String: u32} = {},\n    i: Color = Green,\n    j: Timestamp? = none,\n    k: u32? = 3,\n);\n",
        )],
        expect!["ok"],
    );
}

#[test]
fn invalid_map_key() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord Money(cents: i64);\nrecord A(a: {f64: u32}, b: {Money: u32}, c: {String?: u32});\n",
        )],
        expect![[r#"
            error[invalid-map-key]: `f64` cannot be a map key
              ┌─ shop.treaty:3:14
              │
            3 │ record A(a: {f64: u32}, b: {Money: u32}, c: {String?: u32});
              │              ^^^ invalid key type
              │
              = help: map keys are `String`, an integer type or an id type

            error[invalid-map-key]: `shop.Money` cannot be a map key
              ┌─ shop.treaty:3:29
              │
            3 │ record A(a: {f64: u32}, b: {Money: u32}, c: {String?: u32});
              │                             ^^^^^ invalid key type
              │
              = help: map keys are `String`, an integer type or an id type

            error[invalid-map-key]: `String?` cannot be a map key
              ┌─ shop.treaty:3:46
              │
            3 │ record A(a: {f64: u32}, b: {Money: u32}, c: {String?: u32});
              │                                              ^^^^^^^ invalid key type
              │
              = help: map keys are `String`, an integer type or an id type

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn bad_display_template_unknown_field() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) display \"Order of {totl}\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: display template names unknown field `totl`
              ┌─ shop.treaty:2:44
              │
            2 │ OrderPlaced!(total: u64) display "Order of {totl}";
              │                                            ^^^^^^ no such field
              │
              = help: the fields are: total

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_display_template_unclosed() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) display \"Order of {total\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: `{` opens a placeholder that is never closed
              ┌─ shop.treaty:2:44
              │
            2 │ OrderPlaced!(total: u64) display "Order of {total";
              │                                            ^ unclosed
              │
              = help: close it with `}`, or write `{{` for a literal brace

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_display_template_unmatched_close() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) display \"Order of total}\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: `}` without a matching `{`
              ┌─ shop.treaty:2:49
              │
            2 │ OrderPlaced!(total: u64) display "Order of total}";
              │                                                 ^ unmatched
              │
              = help: write `}}` for a literal brace

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_display_template_list_field() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(lines: [String]) display \"Lines {lines}\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: field `lines` of type `[String]` cannot be shown in a sentence
              ┌─ shop.treaty:2:46
              │
            2 │ OrderPlaced!(lines: [String]) display "Lines {lines}";
              │                                              ^^^^^^^ not displayable
              │
              = help: templates show scalars (not Bytes), ids, enums and records that have a display template

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_display_template_record_without_display() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord Money(cents: i64);\nOrderPlaced!(total: Money) display \"Total {total}\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: field `total` of type `shop.Money` cannot be shown in a sentence
              ┌─ shop.treaty:3:43
              │
            3 │ OrderPlaced!(total: Money) display "Total {total}";
              │                                           ^^^^^^^ not displayable
              │
              = help: templates show scalars (not Bytes), ids, enums and records that have a display template

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_display_template_twice() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced! v2 (total: u64) display \"a {total}\" was v1 () display \"b\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: a message has one display template
              ┌─ shop.treaty:2:68
              │
            2 │ OrderPlaced! v2 (total: u64) display "a {total}" was v1 () display "b";
              │                                      -----------                   ^^^ second template
              │                                      │                              
              │                                      first template
              │
              = help: remove one of them

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn display_template_position_after_multibyte_text() {
    // Offsets inside the template are bytes; the caret must still land
    // on the placeholder after non-ASCII text.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) display \"Commande reçue → {totl}\";\n",
        )],
        expect![[r#"
            error[bad-display-template]: display template names unknown field `totl`
              ┌─ shop.treaty:2:52
              │
            2 │ OrderPlaced!(total: u64) display "Commande reçue → {totl}";
              │                                                    ^^^^^^ no such field
              │
              = help: the fields are: total

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn display_template_escapes() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) display \"{{literal}} \\\"{total}\\\"\";\n",
        )],
        expect!["ok"],
    );
}

#[test]
fn bad_version_history_not_older() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced! v2 (total: u64) was v2 (total: u32);\n",
        )],
        expect![[r#"
            error[bad-version-history]: `was v2` is not older than v2
              ┌─ shop.treaty:2:34
              │
            2 │ OrderPlaced! v2 (total: u64) was v2 (total: u32);
              │              --                  ^^ must be older
              │              │                    
              │              the newer version
              │
              = help: list earlier versions newest first, each older than the one before

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_version_history_not_newest_first() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced! v3 (total: u64) was v1 (total: u32) was v2 (total: u32, note: String);\n",
        )],
        expect![[r#"
            error[bad-version-history]: `was v2` is not older than v1
              ┌─ shop.treaty:2:54
              │
            2 │ OrderPlaced! v3 (total: u64) was v1 (total: u32) was v2 (total: u32, note: String);
              │                                  --                  ^^ must be older
              │                                  │                    
              │                                  the newer version
              │
              = help: list earlier versions newest first, each older than the one before

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_version_history_implicit_v1() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) was v1 (total: u32);\n",
        )],
        expect![[r#"
            error[bad-version-history]: `was v1` is not older than v1
              ┌─ shop.treaty:2:30
              │
            2 │ OrderPlaced!(total: u64) was v1 (total: u32);
              │ -----------                  ^^ must be older
              │ │                             
              │ the newer version
              │
              = help: declare the current version after the name, such as `OrderPlaced! v2 (...)`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_version_zero() {
    check(
        &[("shop.treaty", "namespace shop;\nOrderPlaced! v0 (total: u64);\n")],
        expect![[r#"
        error[bad-version-history]: versions count from v1
          ┌─ shop.treaty:2:14
          │
        2 │ OrderPlaced! v0 (total: u64);
          │              ^^ not a valid version
          │
          = help: use a version between v1 and v4294967295

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_version_too_large() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced! v99999999999 (total: u64);\n",
        )],
        expect![[r#"
        error[bad-version-history]: the version number is too large
          ┌─ shop.treaty:2:14
          │
        2 │ OrderPlaced! v99999999999 (total: u64);
          │              ^^^^^^^^^^^^ not a valid version
          │
          = help: use a version between v1 and v4294967295

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn bad_version_too_large_in_history() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced! v2 (total: u64) was v99999999999 (total: u32);\n",
        )],
        expect![[r#"
            error[bad-version-history]: the version number is too large
              ┌─ shop.treaty:2:34
              │
            2 │ OrderPlaced! v2 (total: u64) was v99999999999 (total: u32);
              │                                  ^^^^^^^^^^^^ not a valid version
              │
              = help: use a version between v1 and v4294967295

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_version_history_at_the_largest_version() {
    // The hint suggests the version after the one in history; there is
    // none after the largest, and computing it must not overflow.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64) was v4294967295 (total: u32);\n",
        )],
        expect![[r#"
            error[bad-version-history]: `was v4294967295` is not older than v1
              ┌─ shop.treaty:2:30
              │
            2 │ OrderPlaced!(total: u64) was v4294967295 (total: u32);
              │ -----------                  ^^^^^^^^^^^ must be older
              │ │                             
              │ the newer version
              │
              = help: declare the current version after the name, such as `OrderPlaced! v4294967295 (...)`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_name_type() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord car_part(name: String);\norderPlaced!();\n",
        )],
        expect![[r#"
            error[bad-name]: type name `car_part` is not upper camel case
              ┌─ shop.treaty:2:8
              │
            2 │ record car_part(name: String);
              │        ^^^^^^^^ becomes a Rust type name
              │
              = help: write `CarPart`

            error[bad-name]: type name `orderPlaced` is not upper camel case
              ┌─ shop.treaty:3:1
              │
            3 │ orderPlaced!();
              │ ^^^^^^^^^^^ becomes a Rust type name
              │
              = help: write `OrderPlaced`

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn bad_name_aggregate() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\naggregate order(id: OrderId) {}\n",
        )],
        expect![[r#"
            error[bad-name]: aggregate name `order` is not upper camel case
              ┌─ shop.treaty:3:11
              │
            3 │ aggregate order(id: OrderId) {}
              │           ^^^^^ names the generated command and event enums
              │
              = help: write `Order`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn bad_name_field_and_variant() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(_: String, __: u32);\nenum E { _, Ok }\n",
        )],
        expect![[r#"
            error[bad-name]: field `_` has no letters for a Rust name
              ┌─ shop.treaty:2:10
              │
            2 │ record A(_: String, __: u32);
              │          ^^^^^^^^^
              │
              = help: give the field a name with letters

            error[bad-name]: field `__` has no letters for a Rust name
              ┌─ shop.treaty:2:21
              │
            2 │ record A(_: String, __: u32);
              │                     ^^^^^^^
              │
              = help: give the field a name with letters

            error[bad-name]: variant `_` has no letters for a Rust name
              ┌─ shop.treaty:3:10
              │
            3 │ enum E { _, Ok }
              │          ^
              │
              = help: give the variant a name with letters

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn bad_name_starting_with_digit() {
    // `_1` is a name in the grammar, but snake and camel case turn it
    // into `1`, which Rust cannot use as a field or variant.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(_1: String, _2b: u32);\nenum E { _1, Ok }\n",
        )],
        expect![[r#"
            error[bad-name]: field `_1` has no letters for a Rust name
              ┌─ shop.treaty:2:10
              │
            2 │ record A(_1: String, _2b: u32);
              │          ^^^^^^^^^^
              │
              = help: give the field a name with letters

            error[bad-name]: field `_2b` would start with a digit in Rust
              ┌─ shop.treaty:2:22
              │
            2 │ record A(_1: String, _2b: u32);
              │                      ^^^^^^^^
              │
              = help: start the field name with a letter

            error[bad-name]: variant `_1` has no letters for a Rust name
              ┌─ shop.treaty:3:10
              │
            3 │ enum E { _1, Ok }
              │          ^^
              │
              = help: give the variant a name with letters

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn keywords_are_valid_names() {
    // Rust keywords become raw identifiers or get an underscore; the
    // contract keeps the names people would naturally write.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(type: String, self: u32, match: bool);\nenum E { Self, Type }\n",
        )],
        expect!["ok"],
    );
}

#[test]
fn wrong_kind_of_type_message_as_field() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nOrderPlaced!(total: u64);\nrecord Log(events: [OrderPlaced]);\n",
        )],
        expect![[r#"
            error[wrong-kind-of-type]: `OrderPlaced` is an event, not a type a field can hold
              ┌─ shop.treaty:3:21
              │
            2 │ OrderPlaced!(total: u64);
              │ ----------- declared here
            3 │ record Log(events: [OrderPlaced]);
              │                     ^^^^^^^^^^^ not a value type
              │
              = help: fields hold built-in types, records, enums and ids

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn wrong_kind_of_type_fragment_as_field() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nconst employee = employee_name: String;\nrecord A(who: employee);\n",
        )],
        expect![[r#"
            error[wrong-kind-of-type]: `employee` is a field fragment, not a type a field can hold
              ┌─ shop.treaty:3:15
              │
            2 │ const employee = employee_name: String;
              │       -------- declared here
            3 │ record A(who: employee);
              │               ^^^^^^^^ not a value type
              │
              = help: fields hold built-in types, records, enums and ids

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn wrong_kind_of_type_id_wrapping_float() {
    check(
        &[("shop.treaty", "namespace shop;\nid Ratio: f64;\n")],
        expect![[r#"
        error[wrong-kind-of-type]: an id cannot wrap `f64`
          ┌─ shop.treaty:2:11
          │
        2 │ id Ratio: f64;
          │           ^^^ not an id representation
          │
          = help: ids wrap `Uuid`, `String`, `u64` or `i64`

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn wrong_kind_of_type_aggregate_identity() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\naggregate Order(id: Uuid) {\n    PlaceOrder?();\n}\n",
        )],
        expect![[r#"
            error[wrong-kind-of-type]: an aggregate is identified by an id type, not `Uuid`
              ┌─ shop.treaty:2:21
              │
            2 │ aggregate Order(id: Uuid) {
              │                     ^^^^ not an id type
              │
              = help: declare one, such as `id FactoryId: Uuid;`, and use it here

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn recursive_type() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord Node(name: String, next: Node?);\n",
        )],
        expect![[r#"
        error[recursive-type]: record `shop.Node` contains itself (shop.Node -> shop.Node)
          ┌─ shop.treaty:2:27
          │
        2 │ record Node(name: String, next: Node?);
          │                           ^^^^^^^^^^^ holds the record directly
          │
          = help: hold it in a list (`[T]`) or a map instead, so the value can end

        error: contracts have 1 error
    "#]],
    );
}

#[test]
fn recursive_type_through_another_record() {
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(b: B);\nrecord B(a: A?);\n")],
        expect![[r#"
            error[recursive-type]: record `shop.A` contains itself (shop.A -> shop.B -> shop.A)
              ┌─ shop.treaty:2:10
              │
            2 │ record A(b: B);
              │          ^^^^ holds the record directly
              │
              = help: hold it in a list (`[T]`) or a map instead, so the value can end

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn recursion_through_a_list_is_fine() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord Node(name: String, children: [Node], index: {String: Node});\n",
        )],
        expect!["ok"],
    );
}

#[test]
fn bidi_control() {
    // The override makes the line display as `/// user: admin` while
    // holding other text; the rendering shows it as `�`.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n/// role: \u{202e}nimda\u{202c} user\nrecord A(note: String = \"a\u{2067}b\");\n",
        )],
        expect![[r#"
            error[bidi-control]: bidirectional control character U+202E (RIGHT-TO-LEFT OVERRIDE)
              ┌─ shop.treaty:2:11
              │
            2 │ /// role: �nimda� user
              │           ^ invisible character here
              │
              = help: remove it: it makes text display in another order than it is read, so the contract would not say what it seems to

            error[bidi-control]: bidirectional control character U+202C (POP DIRECTIONAL FORMATTING)
              ┌─ shop.treaty:2:17
              │
            2 │ /// role: �nimda� user
              │                 ^ invisible character here
              │
              = help: remove it: it makes text display in another order than it is read, so the contract would not say what it seems to

            error[bidi-control]: bidirectional control character U+2067 (RIGHT-TO-LEFT ISOLATE)
              ┌─ shop.treaty:3:27
              │
            3 │ record A(note: String = "a�b");
              │                           ^ invisible character here
              │
              = help: remove it: it makes text display in another order than it is read, so the contract would not say what it seems to

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn bidi_control_outside_strings_and_comments() {
    // Reported once, as what it is, not also as a syntax error.
    check(
        &[("shop.treaty", "namespace shop;\nrecord A(\u{2066}a: u32);\n")],
        expect![[r#"
            error[bidi-control]: bidirectional control character U+2066 (LEFT-TO-RIGHT ISOLATE)
              ┌─ shop.treaty:2:10
              │
            2 │ record A(�a: u32);
              │          ^ invisible character here
              │
              = help: remove it: it makes text display in another order than it is read, so the contract would not say what it seems to

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn control_character_in_docs() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n/// one\u{7} two\nrecord A(\n    /// bare\rreturn\n    a: u32,\n);\n/// tab\tand windows line end\r\nrecord B();\n",
        )],
        expect![[r#"
            error[control-character]: control character U+0007 in a doc comment
              ┌─ shop.treaty:2:8
              │
            2 │ /// one� two
              │        ^ invisible character here
              │
              = help: remove it: documentation is plain text (a tab or spaces may indent it)

            error[control-character]: control character U+000D in a doc comment
              ┌─ shop.treaty:4:13
              │
            4 │     /// bare�return
              │             ^ invisible character here
              │
              = help: remove it: documentation is plain text (a tab or spaces may indent it)

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn long_lines_are_shown_around_the_error() {
    // 90 fields on one line: the heading gives the real column, and the
    // line is cut around each label, with `…` where text was left out.
    let fields: Vec<String> = (0..90).map(|i| format!("f{i}: u32")).collect();
    let text = format!("namespace shop;\nrecord A({}, f3: u32, g: Nope);\n", fields.join(", "));
    check(
        &[("shop.treaty", &text)],
        expect![[r#"
            error[duplicate-field]: field `f3` appears twice
              ┌─ shop.treaty:2:900
              │
            2 │ record A(f0: u32, f1: u32, f2: u32, f3: u32, f4: u32, f5: u32, f6: u32, f7: u32, f8…f86: u32, f87: u32, f88: u32, f89: u32, f3: u32, g: Nope);
              │                                     -------                                                                                 ^^^^^^^ declared again here
              │                                     │                                                                                        
              │                                     first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: rename or remove one of them

            error[unknown-type]: unknown type `Nope`
              ┌─ shop.treaty:2:912
              │
            2 │ …7: u32, f88: u32, f89: u32, f3: u32, g: Nope);
              │                                          ^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn long_labels_are_shown_by_their_start() {
    let text = format!("namespace shop;\nrecord A(a: {});\n", "Missing".repeat(100));
    check(
        &[("shop.treaty", &text)],
        expect![[r#"
            error[unknown-type]: unknown type `MissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMis…
              ┌─ shop.treaty:2:13
              │
            2 │ record A(a: MissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingMissingM…
              │             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn diagnostics_beyond_the_cap_are_counted() {
    // 103 declarations of one type: 102 errors, 100 shown.
    let text = format!("namespace shop;\n{}", "id X: u64;\n".repeat(103));
    let mut sources = Sources::new();
    sources.add("shop.treaty", text);
    let rendered = compile(&sources, &Config::default()).unwrap_err().render();
    let tail: String = rendered
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    expect![[r#"
            ┌─ shop.treaty:102:4
            │
          2 │ id X: u64;
            │    - first declared here
            ·
        102 │ id X: u64;
            │    ^ declared again here
            │
            = help: rename or remove one of them

        … and 2 more errors not shown
        error: contracts have 102 errors"#]]
    .assert_eq(&tail);
}

// People coming from Lokad's Code DSL (`.ddd` files): each of its
// constructs is named, with what Treaty writes instead.

#[test]
fn lokad_extern_namespace() {
    check(
        &[("shop.treaty", "namespace shop;\nextern \"Lokad.SaaS\";\nA!(a: u32);\n")],
        expect![[r#"
            error[syntax]: `extern "..."` is Lokad's Code DSL, not Treaty
              ┌─ shop.treaty:2:1
              │
            2 │ extern "Lokad.SaaS";
              │ ^^^^^^ Lokad's contract namespace
              │
              = help: delete it: `namespace name;` at the top of the file names the contracts

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn lokad_let_fragment() {
    check(
        &[("shop.treaty", "namespace shop;\nlet name = string name;\nA!(name);\n")],
        expect![[r#"
            error[syntax]: Lokad's `let` is `const` in Treaty
              ┌─ shop.treaty:2:1
              │
            2 │ let name = string name;
              │ ^^^ Lokad's field fragment
              │
              = help: write `const name = name: String;`: each field is `name: Type`

            error[unknown-fragment]: `name` is not a declared field fragment
              ┌─ shop.treaty:3:4
              │
            3 │ A!(name);
              │    ^^^^ unknown fragment
              │
              = help: write a field as `name: Type`, or declare `const name = field: Type;`

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn lokad_using() {
    check(
        &[("shop.treaty", "namespace shop;\nusing Lokad.Cqrs;\nA!(a: u32);\n")],
        expect![[r#"
            error[syntax]: `using` is C#; Treaty imports one type at a time
              ┌─ shop.treaty:2:1
              │
            2 │ using Lokad.Cqrs;
              │ ^^^^^ C# import
              │
              = help: write `use namespace.Name;` for each type used from another namespace, or delete it

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn lokad_interface_markers() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nif ? = IFuncCommand;\nif ! = IFuncEvent;\nA!(a: u32);\n",
        )],
        expect![[r#"
            error[syntax]: Lokad's `if ? = I...;` has no counterpart in Treaty
              ┌─ shop.treaty:2:1
              │
            2 │ if ? = IFuncCommand;
              │ ^^ sets the interface of Lokad's commands
              │
              = help: delete it: `?` marks each command and `!` each event, and the messages of an `aggregate` carry its identity

            error[syntax]: Lokad's `if ! = I...;` has no counterpart in Treaty
              ┌─ shop.treaty:3:1
              │
            3 │ if ! = IFuncEvent;
              │ ^^ sets the interface of Lokad's events
              │
              = help: delete it: `?` marks each command and `!` each event, and the messages of an `aggregate` carry its identity

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn lokad_interface_reports_what_is_inside() {
    // The header is reported once; the messages inside are read, so
    // their own errors are reported too, and the closing `}` is not an
    // error of its own.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n\
             interface Security(SecurityId Id)\n\
             {\n\
             \x20   if ? = ISecurityCommand;\n\
             \x20   CreateSecurity?(string displayName)\n\
             \x20   SecurityCreated!(name: Strin);\n\
             }\n\
             After!(a: Nope);\n",
        )],
        expect![[r#"
            error[syntax]: Lokad's `interface` is an `aggregate` in Treaty
              ┌─ shop.treaty:2:1
              │
            2 │ interface Security(SecurityId Id)
              │ ^^^^^^^^^ Lokad's aggregate
              │
              = help: write `aggregate Security(id: SecurityId) { ... }`: the identity is a field `name: Type`, declared with `id SecurityId: Uuid;` if it is an id

            error[syntax]: Lokad's `if ? = I...;` has no counterpart in Treaty
              ┌─ shop.treaty:4:5
              │
            4 │     if ? = ISecurityCommand;
              │     ^^ sets the interface of Lokad's commands
              │
              = help: delete it: `?` marks each command and `!` each event, and the messages of an `aggregate` carry its identity

            error[syntax]: fields are written `name: Type`, not `Type name`: found `string displayName`
              ┌─ shop.treaty:5:28
              │
            5 │     CreateSecurity?(string displayName)
              │                            ^ the field's name comes first
              │
              = help: write `display_name: String`; to read what Lokad stored, keep its C# property name on the wire: `display_name: String wire "DisplayName"`

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:6:28
              │
            6 │     SecurityCreated!(name: Strin);
              │                            ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error[unknown-type]: unknown type `Nope`
              ┌─ shop.treaty:8:11
              │
            8 │ After!(a: Nope);
              │           ^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 5 errors
        "#]],
    );
}

#[test]
fn lokad_interface_without_identity() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\ninterface Registry\n{\n    Opened!();\n}\n",
        )],
        expect![[r#"
            error[syntax]: Lokad's `interface` is an `aggregate` in Treaty
              ┌─ shop.treaty:2:1
              │
            2 │ interface Registry
              │ ^^^^^^^^^ Lokad's aggregate
              │
              = help: write `aggregate Registry(id: RegistryId) { ... }`: the identity is a field `name: Type`, declared with `id RegistryId: Uuid;` if it is an id

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn lokad_explicit_template() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nA!(login: String)\n    explicit \"Logged in {login}\"\nB!(a: Strin);\n",
        )],
        expect![[r#"
            error[syntax]: Lokad's `explicit "..."` is `display "..."` in Treaty
              ┌─ shop.treaty:3:5
              │
            3 │     explicit "Logged in {login}"
              │     ^ Lokad's text template
              │
              = help: write `display "..."` and end the declaration with `;`; its placeholders name fields as declared, `{field}`

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:4:7
              │
            4 │ B!(a: Strin);
              │       ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn lokad_field_order_in_a_fragment_and_with_csharp_types() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nconst name = string name;\nA!(Guid? userId);\nB!(a: u32, string[] tags);\nC!(DateTime at);\n",
        )],
        expect![[r#"
            error[syntax]: fields are written `name: Type`, not `Type name`: found `string name`
              ┌─ shop.treaty:2:21
              │
            2 │ const name = string name;
              │                     ^ the field's name comes first
              │
              = help: write `name: String`; to read what Lokad stored, keep its C# property name on the wire: `name: String wire "Name"`

            error[syntax]: fields are written `name: Type`, not `Type name`: found `Guid? userId`
              ┌─ shop.treaty:3:8
              │
            3 │ A!(Guid? userId);
              │        ^ the field's name comes first
              │
              = help: write `user_id: Uuid?`; to read what Lokad stored, keep its C# property name on the wire: `user_id: Uuid? wire "UserId"`

            error[syntax]: fields are written `name: Type`, not `Type name`: found `string[] tags`
              ┌─ shop.treaty:4:18
              │
            4 │ B!(a: u32, string[] tags);
              │                  ^ the field's name comes first
              │
              = help: write `tags: [String]`; to read what Lokad stored, keep its C# property name on the wire: `tags: [String] wire "Tags"`

            error[syntax]: fields are written `name: Type`, not `Type name`: found `DateTime at`
              ┌─ shop.treaty:5:13
              │
            5 │ C!(DateTime at);
              │             ^ the field's name comes first
              │
              = help: write `at: Timestamp`; to read what Lokad stored, keep its C# property name on the wire: `at: Timestamp wire "At"`

            error: contracts have 4 errors
        "#]],
    );
}

#[test]
fn lokad_block_comment() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n/* Lokad wrote\n   block comments; like this */\nA!(a: Strin);\n",
        )],
        expect![[r#"
            error[syntax]: Treaty has no block comments
              ┌─ shop.treaty:2:1
              │
            2 │ /* Lokad wrote
              │ ^^ a block comment starts here
              │
              = help: start each line of the comment with `//` (or `///` to document the declaration below)

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:4:7
              │
            4 │ A!(a: Strin);
              │       ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn const_missing_semicolon_is_kept() {
    // The fragment is still declared, so its uses are not reported as
    // unknown, and the declaration after it is read.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nconst login = login: String\nconst token = token: String;\nA!(login, token);\n",
        )],
        expect![[r#"
            error[syntax]: expected `,`, `;`, `=` or `?`, found `const`
              ┌─ shop.treaty:3:1
              │
            3 │ const token = token: String;
              │ ^ unexpected here
              │
              = help: end the declaration before this one with `;`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn recovery_at_the_next_declaration() {
    // A missing `)` without a `;` after it: the next line starts a
    // declaration, which is read.
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(a: u32\nrecord B(b: Strin);\nC!(c: Nope)\n/// Docs.\nD!(d: Nix);\n",
        )],
        expect![[r#"
            error[syntax]: expected `)`, `,`, `=` or `?`, found `record`
              ┌─ shop.treaty:3:1
              │
            3 │ record B(b: Strin);
              │ ^ unexpected here
              │
              = help: close the declaration before this one with `)` and end it with `;`

            error[unknown-type]: unknown type `Strin`
              ┌─ shop.treaty:3:13
              │
            3 │ record B(b: Strin);
              │             ^^^^^ not declared or imported
              │
              = help: did you mean `String`?

            error[unknown-type]: unknown type `Nope`
              ┌─ shop.treaty:4:7
              │
            4 │ C!(c: Nope)
              │       ^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error[syntax]: expected `;`, `display` or `was`, found a doc comment `///`
              ┌─ shop.treaty:5:1
              │
            5 │ /// Docs.
              │ ^ unexpected here
              │
              = help: end the declaration before this one with `;`

            error[unknown-type]: unknown type `Nix`
              ┌─ shop.treaty:6:7
              │
            6 │ D!(d: Nix);
              │       ^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 5 errors
        "#]],
    );
}

#[test]
fn found_text_is_quoted_as_written() {
    check(
        &[("shop.treaty", "namespace shop;\nA!(a: \"x\");\nB!(b: u32) ¤;\n")],
        expect![[r#"
            error[syntax]: expected a type, found `"`
              ┌─ shop.treaty:2:7
              │
            2 │ A!(a: "x");
              │       ^ unexpected here
              │
              = help: write a type: a built-in such as `String` or `u32`, a declared type, `[T]`, `{K: V}` or `T?`

            error[syntax]: expected `;`, `display` or `was`, found `¤`
              ┌─ shop.treaty:3:12
              │
            3 │ B!(b: u32) ¤;
              │            ^ unexpected here
              │
              = help: end every declaration with `;`

            error: contracts have 2 errors
        "#]],
    );
}

#[test]
fn invisible_found_text_is_escaped() {
    // The rendered source line shows the character itself, so only the
    // message is compared.
    let mut sources = Sources::new();
    sources.add("shop.treaty", "namespace shop;\nA!(a: u32)\u{200b};\n");
    let rendered = compile(&sources, &Config::default()).map(|_| ()).unwrap_err().render();
    assert_eq!(
        rendered.lines().next(),
        Some("error[syntax]: expected `;`, `display` or `was`, found `\\u{200b}`")
    );
}

#[test]
fn byte_order_mark_is_accepted() {
    check(
        &[("shop.treaty", "\u{feff}namespace shop;\nA!(a: u32);\n")],
        expect![[r#"ok"#]],
    );
    // Columns count from the text after it.
    check(
        &[("shop.treaty", "\u{feff}namespace shop; A!(a: Nope);\n")],
        expect![[r#"
            error[unknown-type]: unknown type `Nope`
              ┌─ shop.treaty:1:23
              │
            1 │ namespace shop; A!(a: Nope);
              │                       ^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_type_named_as_in_other_languages() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\n\
             A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);\n\
             B!(a: number, b: boolean, c: Integer, d: BigDecimal);\n\
             C!(a: int32, b: uint64, c: google.protobuf.Timestamp, d: i16);\n",
        )],
        expect![[r#"
            error[unknown-type]: unknown type `int`
              ┌─ shop.treaty:2:7
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │       ^^^ not declared or imported
              │
              = help: `int` is the C# and Java name; Treaty's is `i32`

            error[unknown-type]: unknown type `long`
              ┌─ shop.treaty:2:15
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │               ^^^^ not declared or imported
              │
              = help: `long` is the C# and Java name; Treaty's is `i64`

            error[unknown-type]: unknown type `Guid`
              ┌─ shop.treaty:2:24
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │                        ^^^^ not declared or imported
              │
              = help: `Guid` is the C# name; Treaty's is `Uuid`

            error[unknown-type]: unknown type `DateTime`
              ┌─ shop.treaty:2:33
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │                                 ^^^^^^^^ not declared or imported
              │
              = help: `DateTime` is the C# name; Treaty's is `Timestamp`

            error[unknown-type]: unknown type `TimeSpan`
              ┌─ shop.treaty:2:46
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │                                              ^^^^^^^^ not declared or imported
              │
              = help: `TimeSpan` is a C# type; Treaty has no duration type: use an integer such as `i64` and name the unit (`timeout_ms: i64`)

            error[unknown-type]: unknown type `double`
              ┌─ shop.treaty:2:59
              │
            2 │ A!(a: int, b: long, c: Guid, d: DateTime, e: TimeSpan, f: double);
              │                                                           ^^^^^^ not declared or imported
              │
              = help: `double` is the C#, Java and Protocol Buffers name; Treaty's is `f64`

            error[unknown-type]: unknown type `number`
              ┌─ shop.treaty:3:7
              │
            3 │ B!(a: number, b: boolean, c: Integer, d: BigDecimal);
              │       ^^^^^^ not declared or imported
              │
              = help: `number` is a TypeScript type; Treaty has `f64`, or an integer type such as `i64` when it only holds whole numbers

            error[unknown-type]: unknown type `boolean`
              ┌─ shop.treaty:3:18
              │
            3 │ B!(a: number, b: boolean, c: Integer, d: BigDecimal);
              │                  ^^^^^^^ not declared or imported
              │
              = help: `boolean` is the Java and TypeScript name; Treaty's is `bool`

            error[unknown-type]: unknown type `Integer`
              ┌─ shop.treaty:3:30
              │
            3 │ B!(a: number, b: boolean, c: Integer, d: BigDecimal);
              │                              ^^^^^^^ not declared or imported
              │
              = help: `Integer` is the Java name; Treaty's is `i32`

            error[unknown-type]: unknown type `BigDecimal`
              ┌─ shop.treaty:3:42
              │
            3 │ B!(a: number, b: boolean, c: Integer, d: BigDecimal);
              │                                          ^^^^^^^^^^ not declared or imported
              │
              = help: `BigDecimal` is the Java name; Treaty's is `Decimal`

            error[unknown-type]: unknown type `int32`
              ┌─ shop.treaty:4:7
              │
            4 │ C!(a: int32, b: uint64, c: google.protobuf.Timestamp, d: i16);
              │       ^^^^^ not declared or imported
              │
              = help: `int32` is the Protocol Buffers name; Treaty's is `i32`

            error[unknown-type]: unknown type `uint64`
              ┌─ shop.treaty:4:17
              │
            4 │ C!(a: int32, b: uint64, c: google.protobuf.Timestamp, d: i16);
              │                 ^^^^^^ not declared or imported
              │
              = help: `uint64` is the Protocol Buffers name; Treaty's is `u64`

            error[unknown-type]: unknown type `google.protobuf.Timestamp`
              ┌─ shop.treaty:4:28
              │
            4 │ C!(a: int32, b: uint64, c: google.protobuf.Timestamp, d: i16);
              │                            ^^^^^^^^^^^^^^^^^^^^^^^^^ not declared or imported
              │
              = help: `google.protobuf.Timestamp` is the Protocol Buffers name; Treaty's is `Timestamp`

            error[unknown-type]: unknown type `i16`
              ┌─ shop.treaty:4:58
              │
            4 │ C!(a: int32, b: uint64, c: google.protobuf.Timestamp, d: i16);
              │                                                          ^^^ not declared or imported
              │
              = help: `i16` is the Rust name; Treaty's is `i32`

            error: contracts have 14 errors
        "#]],
    );
}

#[test]
fn unknown_type_near_a_declared_name() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\nrecord Customer(name: String);\nA!(a: OrderID, b: Costumer, c: Invoice);\n",
        )],
        expect![[r#"
            error[unknown-type]: unknown type `OrderID`
              ┌─ shop.treaty:4:7
              │
            4 │ A!(a: OrderID, b: Costumer, c: Invoice);
              │       ^^^^^^^ not declared or imported
              │
              = help: did you mean `OrderId`?

            error[unknown-type]: unknown type `Costumer`
              ┌─ shop.treaty:4:19
              │
            4 │ A!(a: OrderID, b: Costumer, c: Invoice);
              │                   ^^^^^^^^ not declared or imported
              │
              = help: did you mean `Customer`?

            error[unknown-type]: unknown type `Invoice`
              ┌─ shop.treaty:4:32
              │
            4 │ A!(a: OrderID, b: Costumer, c: Invoice);
              │                                ^^^^^^^ not declared or imported
              │
              = help: declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or `extern_type` in build.rs)

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn unknown_type_near_a_name_in_another_namespace() {
    check(
        &[
            ("shop.treaty", "namespace shop;\nA!(a: Adress);\n"),
            ("shared.treaty", "namespace shared;\nrecord Address(street: String);\n"),
        ],
        expect![[r#"
            error[unknown-type]: unknown type `Adress`
              ┌─ shop.treaty:2:7
              │
            2 │ A!(a: Adress);
              │       ^^^^^^ not declared or imported
              │
              = help: did you mean `Address`? import it with `use shared.Address;`

            error: contracts have 1 error
        "#]],
    );
}

#[test]
fn unknown_type_that_is_an_extern_type() {
    let mut sources = Sources::new();
    sources.add("shop.treaty", "namespace shop;\nA!(a: Money, b: Mony);\n");
    let config = Config {
        extern_types: ["shared.Money".to_string()].into(),
    };
    let actual = match compile(&sources, &config) {
        Ok(_) => "ok".to_string(),
        Err(diagnostics) => diagnostics.render(),
    };
    expect![[r#"
        error[unknown-type]: unknown type `Money`
          ┌─ shop.treaty:2:7
          │
        2 │ A!(a: Money, b: Mony);
          │       ^^^^^ not declared or imported
          │
          = help: import it with `use shared.Money;` (an extern type)

        error[unknown-type]: unknown type `Mony`
          ┌─ shop.treaty:2:17
          │
        2 │ A!(a: Money, b: Mony);
          │                 ^^^^ not declared or imported
          │
          = help: did you mean `Money`? import it with `use shared.Money;`

        error: contracts have 2 errors
    "#]]
    .assert_eq(&actual);
}

#[test]
fn wire_names_are_valid() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nid OrderId: Uuid;\nconst who = login: String wire \"Login\";\n\
             record Money(cents: i64 wire \"Cents\") display \"{cents}\";\n\
             aggregate Order(id: OrderId wire \"Id\") {\n\
             OrderPlaced! v2 wire \"Lokad.Shop.OrderPlaced\" (who, total: Money wire \"Total\") \
             display \"{login}\" was v1 (who, count: u32 = 0 wire \"Count\");\n}\n",
        )],
        expect![["ok"]],
    );
}

#[test]
fn duplicate_wire_names_are_all_reported() {
    check(
        &[
            (
                "shop.treaty",
                "namespace shop;\n\
                 record A(name: String wire \"Name\", title: String wire \"Name\");\n\
                 record B(name: String wire \"title\", title: String);\n\
                 record C(first: String, second: String wire \"first\");\n\
                 record D(first: String wire \"second\", second: String wire \"Second\");\n\
                 OrderPlaced! wire \"Lokad.OrderPlaced\" ();\n\
                 OrderShipped! wire \"Lokad.OrderPlaced\" ();\n\
                 OrderPaid! wire \"shop.OrderPlaced\" ();\n\
                 enum Status { Open }\n\
                 OrderOpened! wire \"shop.Status\" ();\n",
            ),
            (
                "billing.treaty",
                "namespace billing;\nInvoiced! wire \"Lokad.OrderPlaced\" ();\n",
            ),
        ],
        expect![[r#"
            error[duplicate-field]: fields `name` and `title` have the same name on the wire, `Name`
              ┌─ shop.treaty:2:36
              │
            2 │ record A(name: String wire "Name", title: String wire "Name");
              │          ------------------------  ^^^^^^^^^^^^^^^^^^^^^^^^^ declared again here
              │          │                          
              │          first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: give one of them another `wire "..."` name, or remove one of them

            error[duplicate-field]: fields `name` and `title` have the same name on the wire, `title`
              ┌─ shop.treaty:3:37
              │
            3 │ record B(name: String wire "title", title: String);
              │          -------------------------  ^^^^^^^^^^^^^ declared again here
              │          │                           
              │          first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: give one of them another `wire "..."` name, or remove one of them

            error[duplicate-field]: fields `first` and `second` have the same name on the wire, `first`
              ┌─ shop.treaty:4:25
              │
            4 │ record C(first: String, second: String wire "first");
              │          -------------  ^^^^^^^^^^^^^^^^^^^^^^^^^^^ declared again here
              │          │               
              │          first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: give one of them another `wire "..."` name, or remove one of them

            error[duplicate-field]: field `second` has the name of the wire name of field `first`
              ┌─ shop.treaty:5:39
              │
            5 │ record D(first: String wire "second", second: String wire "Second");
              │          ---------------------------  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^ declared again here
              │          │                             
              │          first declared here (or brought in by a fragment or the aggregate id)
              │
              = help: a wire name may not be another field's name: rename `second`, or give `first` another wire name

            error[duplicate-type]: `shop.OrderPlaced` and `billing.Invoiced` have the same contract name on the wire, `Lokad.OrderPlaced`
              ┌─ shop.treaty:6:19
              │
            6 │ OrderPlaced! wire "Lokad.OrderPlaced" ();
              │                   ^^^^^^^^^^^^^^^^^^^ same wire name
              │
              ┌─ billing.treaty:2:16
              │
            2 │ Invoiced! wire "Lokad.OrderPlaced" ();
              │                ------------------- first used here
              │
              = help: give one of them another `wire "..."` name: readers tell contracts apart by this name

            error[duplicate-type]: `shop.OrderShipped` and `billing.Invoiced` have the same contract name on the wire, `Lokad.OrderPlaced`
              ┌─ shop.treaty:7:20
              │
            7 │ OrderShipped! wire "Lokad.OrderPlaced" ();
              │                    ^^^^^^^^^^^^^^^^^^^ same wire name
              │
              ┌─ billing.treaty:2:16
              │
            2 │ Invoiced! wire "Lokad.OrderPlaced" ();
              │                ------------------- first used here
              │
              = help: give one of them another `wire "..."` name: readers tell contracts apart by this name

            error[duplicate-type]: the contract name on the wire of `shop.OrderPaid` is the name of another message, `shop.OrderPlaced`
              ┌─ shop.treaty:8:17
              │
            6 │ OrderPlaced! wire "Lokad.OrderPlaced" ();
              │                   ------------------- that message
            7 │ OrderShipped! wire "Lokad.OrderPlaced" ();
            8 │ OrderPaid! wire "shop.OrderPlaced" ();
              │                 ^^^^^^^^^^^^^^^^^^ another message's name
              │
              = help: choose a wire name that is no other message's name, or rename that message

            error[duplicate-type]: the contract name on the wire of `shop.OrderOpened` is the name of the type `shop.Status`
               ┌─ shop.treaty:10:19
               │
             9 │ enum Status { Open }
               │      ------ that type
            10 │ OrderOpened! wire "shop.Status" ();
               │                   ^^^^^^^^^^^^^ a type's name
               │
               = help: choose a wire name that is no type's name

            error: contracts have 8 errors
        "#]],
    );
}

#[test]
fn bad_wire_names() {
    check(
        &[(
            "shop.treaty",
            "namespace shop;\nrecord A(name: String wire \"\", title: String wire \"the title\");\n\
             OrderPlaced! wire \"Order\\tPlaced\" ();\n",
        )],
        expect![[r#"
            error[bad-name]: bad wire name for field `name`: a wire name cannot be empty
              ┌─ shop.treaty:2:28
              │
            2 │ record A(name: String wire "", title: String wire "the title");
              │                            ^^ not a usable wire name
              │
              = help: write the name exactly as stored, such as `wire "OrderId"`, or remove `wire "..."`

            error[bad-name]: bad wire name for field `title`: a wire name cannot hold ' ' (U+0020): whitespace, control and invisible characters are not allowed
              ┌─ shop.treaty:2:51
              │
            2 │ record A(name: String wire "", title: String wire "the title");
              │                                                   ^^^^^^^^^^^ not a usable wire name
              │
              = help: write the name exactly as stored, such as `wire "OrderId"`, or remove `wire "..."`

            error[bad-name]: bad wire name for `OrderPlaced`: a wire name cannot hold '\t' (U+0009): whitespace, control and invisible characters are not allowed
              ┌─ shop.treaty:3:19
              │
            3 │ OrderPlaced! wire "Order\tPlaced" ();
              │                   ^^^^^^^^^^^^^^^ not a usable wire name
              │
              = help: write the name exactly as stored, such as `wire "OrderId"`, or remove `wire "..."`

            error: contracts have 3 errors
        "#]],
    );
}

#[test]
fn wire_name_without_quotes() {
    check(
        &[("shop.treaty", "namespace shop;\nF!(a: u32 wire A);\n")],
        expect![[r#"
            error[syntax]: expected a string, found `A`
              ┌─ shop.treaty:2:16
              │
            2 │ F!(a: u32 wire A);
              │                ^ unexpected here
              │
              = help: write the name on the wire in quotes, such as `wire "OrderId"`

            error: contracts have 1 error
        "#]],
    );
}
