//! The documentation page: the contract catalog (namespaces, aggregates,
//! commands and events with their sentences, fields and version history,
//! records, enums, ids), the HTTP routes, and the use cases, rendered on
//! the server as one self-contained HTML document: inline CSS, no script,
//! nothing fetched. Every text from the contracts or the specs is escaped.

use std::fmt::Write as _;

use crate::openapi::{problem_type, PROBLEMS};
use crate::routes::{self, Surface};
use crate::{Aggregate, Catalog, Field, Kind, Message, Namespace, UseCase, UseCaseMessage, UseCaseOutcome};

/// What the page says besides the catalog.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// The title.
    pub title: &'a str,
    /// The routes to list; `None` lists none (a catalog without a server).
    pub surface: Option<&'a Surface>,
    /// Where the OpenAPI document is, relative to the page.
    pub openapi_href: Option<&'a str>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An `id` attribute for a name: letters, digits, `.`, `-` and `_` kept,
/// anything else as `-`.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

const STYLE: &str = "
:root { --ink: #1d2330; --muted: #5b6475; --line: #d8dde6; --accent: #2457c5; --command: #0b6e4f; --event: #8a4b08; --bg: #fbfcfe; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); background: var(--bg); }
header { padding: 1.5rem 2rem 1rem; border-bottom: 1px solid var(--line); background: #fff; }
header h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
header p { margin: 0; color: var(--muted); }
.layout { display: grid; grid-template-columns: 16rem 1fr; gap: 2rem; padding: 1.5rem 2rem; max-width: 80rem; }
nav { position: sticky; top: 1rem; align-self: start; font-size: .9rem; }
nav ul { list-style: none; padding-left: .8rem; margin: .2rem 0; }
nav > ul { padding-left: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h2 { border-bottom: 2px solid var(--line); padding-bottom: .3rem; margin-top: 2.2rem; }
h3 { margin-top: 1.8rem; }
.docs { color: var(--muted); white-space: pre-line; }
article { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1.1rem; margin: .9rem 0; }
article h4 { margin: 0 0 .3rem; font-size: 1.05rem; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; border-radius: 999px; padding: .05rem .55rem; margin-left: .4rem; vertical-align: middle; color: #fff; }
.command .badge.kind { background: var(--command); }
.event .badge.kind { background: var(--event); }
.badge.version { background: #6b7280; }
code, pre { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: #f3f5f9; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; overflow-x: auto; }
.sentence { font-style: italic; }
.route { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; background: #eef3ff; border-radius: 4px; padding: .1rem .4rem; display: inline-block; margin: .1rem 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
details { margin: .4rem 0; }
summary { cursor: pointer; color: var(--muted); }
.use-case ul { margin: .2rem 0 .6rem; }
.use-case .label { font-weight: 600; }
.refused { color: #a1261a; }
";

/// The page of `catalog` with `use_cases`.
pub fn page(catalog: &Catalog, use_cases: &[UseCase], options: &Page<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = escape(options.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n<p>"
    );
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let _ = write!(
        out,
        "{}, {}, {}, {}",
        count(catalog.namespaces.len(), "namespace"),
        count(catalog.aggregates().count(), "aggregate"),
        count(catalog.messages().count(), "message"),
        count(use_cases.len(), "use case")
    );
    if let Some(href) = options.openapi_href {
        let _ = write!(out, " · <a href=\"{}\">OpenAPI 3.1 document</a>", escape(href));
    }
    out.push_str("</p>\n</header>\n<div class=\"layout\">\n");
    navigation(&mut out, catalog, use_cases, options);
    out.push_str("<main>\n");
    for namespace in &catalog.namespaces {
        namespace_section(&mut out, catalog, namespace, options.surface);
    }
    if !use_cases.is_empty() {
        use_case_section(&mut out, catalog, use_cases);
    }
    if options.surface.is_some() {
        problems_section(&mut out);
    }
    out.push_str("</main>\n</div>\n</body>\n</html>\n");
    out
}

fn navigation(out: &mut String, catalog: &Catalog, use_cases: &[UseCase], options: &Page<'_>) {
    out.push_str("<nav>\n<ul>\n");
    for namespace in &catalog.namespaces {
        let _ = write!(
            out,
            "<li><a href=\"#ns-{}\">{}</a>\n<ul>\n",
            anchor(&namespace.name),
            escape(&namespace.name)
        );
        for aggregate in &namespace.aggregates {
            let _ = writeln!(
                out,
                "<li><a href=\"#{}\">{}</a></li>",
                anchor(&aggregate.name),
                escape(short(&aggregate.name))
            );
        }
        out.push_str("</ul>\n</li>\n");
    }
    if !use_cases.is_empty() {
        out.push_str("<li><a href=\"#use-cases\">Use cases</a></li>\n");
    }
    if options.surface.is_some() {
        out.push_str("<li><a href=\"#problems\">Problem types</a></li>\n");
    }
    out.push_str("</ul>\n</nav>\n");
}

fn short(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, short)| short)
}

fn namespace_section(out: &mut String, catalog: &Catalog, namespace: &Namespace, surface: Option<&Surface>) {
    let _ = write!(
        out,
        "<section id=\"ns-{}\">\n<h2>Namespace <code>{}</code></h2>\n",
        anchor(&namespace.name),
        escape(&namespace.name)
    );
    docs(out, &namespace.docs);
    for aggregate in &namespace.aggregates {
        let routed = surface.is_some_and(|s| s.aggregates.contains(&aggregate.name));
        aggregate_section(out, catalog, aggregate, routed);
    }
    let loose: Vec<&Message> = namespace.messages.iter().filter(|m| m.aggregate.is_none()).collect();
    if !loose.is_empty() {
        out.push_str("<h3>Messages outside aggregates</h3>\n");
        for message in loose {
            message_article(out, message, None, false);
        }
    }
    if !namespace.records.is_empty() {
        out.push_str("<h3>Records</h3>\n");
        for record in &namespace.records {
            let _ = write!(
                out,
                "<article class=\"record\" id=\"{}\">\n<h4>{}</h4>\n",
                anchor(&record.name),
                escape(&record.name)
            );
            docs(out, &record.docs);
            if let Some(template) = &record.display {
                let _ = writeln!(out, "<p>Shown as <code>{}</code></p>", escape(&template.source()));
            }
            fields_table(out, &record.fields);
            out.push_str("</article>\n");
        }
    }
    if !namespace.enums.is_empty() {
        out.push_str("<h3>Enums</h3>\n");
        for enumeration in &namespace.enums {
            let _ = write!(
                out,
                "<article class=\"enum\" id=\"{}\">\n<h4>{}</h4>\n",
                anchor(&enumeration.name),
                escape(&enumeration.name)
            );
            docs(out, &enumeration.docs);
            out.push_str("<table><tr><th>variant (on the wire)</th><th>description</th></tr>\n");
            for variant in &enumeration.variants {
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    escape(&variant.name),
                    escape(&variant.docs)
                );
            }
            out.push_str("</table>\n</article>\n");
        }
    }
    if !namespace.ids.is_empty() {
        out.push_str("<h3>Ids</h3>\n<table><tr><th>id</th><th>wraps</th><th>description</th></tr>\n");
        for id in &namespace.ids {
            let _ = writeln!(
                out,
                "<tr id=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                anchor(&id.name),
                escape(&id.name),
                id.inner.name(),
                escape(&id.docs)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

fn aggregate_section(out: &mut String, catalog: &Catalog, aggregate: &Aggregate, routed: bool) {
    let _ = writeln!(
        out,
        "<h3 id=\"{}\">Aggregate <code>{}</code></h3>",
        anchor(&aggregate.name),
        escape(&aggregate.name)
    );
    docs(out, &aggregate.docs);
    let _ = writeln!(
        out,
        "<p>Identity: <code>{}: {}</code>, first in every message.{}</p>",
        escape(&aggregate.identity.name),
        escape(&aggregate.identity.ty.to_string()),
        if routed {
            format!(
                " Stream version: <span class=\"route\">GET {}</span>",
                escape(&routes::stream_path(aggregate, "{id}"))
            )
        } else {
            String::new()
        }
    );
    for name in aggregate.commands.iter().chain(&aggregate.events) {
        if let Some(message) = catalog.message(name) {
            message_article(out, message, Some(aggregate), routed);
        }
    }
}

fn message_article(out: &mut String, message: &Message, aggregate: Option<&Aggregate>, routed: bool) {
    let kind = match message.kind {
        Kind::Command => "command",
        Kind::Event => "event",
    };
    let _ = write!(
        out,
        "<article class=\"message {kind}\" id=\"{}\">\n<h4>{}<span class=\"badge kind\">{kind}</span>\
         <span class=\"badge version\">v{}</span></h4>\n",
        anchor(&message.name),
        escape(&message.name),
        message.version
    );
    docs(out, &message.docs);
    if let Some(template) = &message.display {
        let _ = writeln!(
            out,
            "<p>Shown as <code class=\"sentence\">{}</code></p>",
            escape(&template.source())
        );
    }
    if let (Kind::Command, Some(aggregate), true) = (message.kind, aggregate, routed) {
        let _ = writeln!(
            out,
            "<p><span class=\"route\">POST {}</span> with the JSON without <code>{}</code><br>\
             <span class=\"route\">POST {}</span> with the whole JSON</p>",
            escape(&routes::command_path(aggregate, message, "{id}")),
            escape(&aggregate.identity.name),
            escape(&routes::contract_path(message))
        );
    }
    fields_table(out, &message.fields);
    let _ = writeln!(
        out,
        "<details><summary>Version history: {}</summary>",
        if message.history.is_empty() {
            format!("v{} only", message.version)
        } else {
            let versions: Vec<String> = std::iter::once(message.version)
                .chain(message.history.iter().map(|v| v.version))
                .map(|v| format!("v{v}"))
                .collect();
            versions.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "<p>v{} (current), fingerprint <code>{}</code></p>",
        message.version,
        escape(&message.fingerprint)
    );
    for version in &message.history {
        let _ = writeln!(
            out,
            "<p>v{}, fingerprint <code>{}</code>, read as v{} through upcasts:</p>",
            version.version,
            escape(&version.fingerprint),
            message.version
        );
        fields_table(out, &version.fields);
    }
    out.push_str("</details>\n</article>\n");
}

fn fields_table(out: &mut String, fields: &[Field]) {
    if fields.is_empty() {
        out.push_str("<p>No fields.</p>\n");
        return;
    }
    out.push_str("<table><tr><th>field</th><th>type</th><th>default</th><th>description</th></tr>\n");
    for field in fields {
        let default = match &field.default {
            Some(value) => format!("<code>{}</code>", escape(&value.to_string())),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{default}</td><td>{}</td></tr>",
            escape(&field.name),
            escape(&field.ty.to_string()),
            escape(&field.docs)
        );
    }
    out.push_str("</table>\n");
}

fn docs(out: &mut String, docs: &str) {
    if !docs.is_empty() {
        let _ = writeln!(out, "<p class=\"docs\">{}</p>", escape(docs));
    }
}

fn use_case_section(out: &mut String, catalog: &Catalog, use_cases: &[UseCase]) {
    out.push_str("<section id=\"use-cases\">\n<h2>Use cases</h2>\n\
                  <p class=\"docs\">Specifications that passed when this was built: given these events, when this command arrives (or, for a process manager, this event or timeout), then this happens.</p>\n");
    for use_case in use_cases {
        let _ = write!(
            out,
            "<article class=\"use-case\" id=\"use-case-{}\">\n<h4>{}</h4>\n",
            anchor(&use_case.name),
            escape(&use_case.name)
        );
        if use_case.given.is_empty() {
            out.push_str("<p><span class=\"label\">Given</span> no events.</p>\n");
        } else {
            out.push_str("<p class=\"label\">Given</p>\n");
            sentences(out, &use_case.given);
        }
        out.push_str("<p class=\"label\">When</p>\n");
        sentences(out, std::slice::from_ref(&use_case.when));
        match &use_case.then {
            UseCaseOutcome::Accepted { events } if events.is_empty() => {
                out.push_str("<p><span class=\"label\">Then</span> nothing happens.</p>\n");
            }
            UseCaseOutcome::Accepted { events } => {
                out.push_str("<p class=\"label\">Then</p>\n");
                sentences(out, events);
            }
            UseCaseOutcome::Refused { error } => {
                let _ = writeln!(
                    out,
                    "<p><span class=\"label\">Then</span> the command is refused:</p>\n<ul><li class=\"refused\">{}</li></ul>",
                    escape(error)
                );
            }
            UseCaseOutcome::Reacted { commands, effects } if commands.is_empty() && effects.is_empty() => {
                out.push_str("<p><span class=\"label\">Then</span> the process does nothing.</p>\n");
            }
            UseCaseOutcome::Reacted { commands, effects } => {
                out.push_str("<p class=\"label\">Then the process</p>\n<ul>\n");
                for command in commands {
                    let _ = writeln!(
                        out,
                        "<li>sends: <span class=\"sentence\">{}</span> <small>(<a href=\"#{}\">{}</a>)</small></li>",
                        escape(&command.text),
                        anchor(&command.contract),
                        escape(short(&command.contract))
                    );
                }
                for effect in effects {
                    let _ = writeln!(out, "<li>{}</li>", escape(effect));
                }
                out.push_str("</ul>\n");
            }
        }
        let command = !matches!(use_case.then, UseCaseOutcome::Reacted { .. });
        if let Some(message) = catalog.message(&use_case.when.contract).filter(|_| command) {
            let request = serde_json::to_string_pretty(&use_case.when.payload).unwrap_or_default();
            let _ = writeln!(
                out,
                "<details><summary>The command as JSON ({})</summary><pre>{}</pre></details>",
                escape(&message.name),
                escape(&request)
            );
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn sentences(out: &mut String, messages: &[UseCaseMessage]) {
    out.push_str("<ul>\n");
    for message in messages {
        if message.is_timeout() {
            let _ = writeln!(
                out,
                "<li><span class=\"sentence\">{}</span></li>",
                escape(&message.text)
            );
            continue;
        }
        let _ = writeln!(
            out,
            "<li><span class=\"sentence\">{}</span> <small>(<a href=\"#{}\">{}</a>)</small></li>",
            escape(&message.text),
            anchor(&message.contract),
            escape(short(&message.contract))
        );
    }
    out.push_str("</ul>\n");
}

fn problems_section(out: &mut String) {
    out.push_str(
        "<section id=\"problems\">\n<h2>Problem types</h2>\n<p class=\"docs\">Errors are RFC 9457 problem details \
         (<code>application/problem+json</code>).</p>\n<table><tr><th>type</th><th>status</th><th>title</th></tr>\n",
    );
    for (name, status, title) in PROBLEMS {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{status}</td><td>{}</td></tr>",
            escape(&problem_type(name)),
            escape(title)
        );
    }
    out.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tests::shop;

    #[test]
    fn the_page_holds_the_catalog_and_use_cases_escaped() {
        let catalog = shop();
        let use_cases = vec![UseCase {
            name: "Ordering <script>".into(),
            given: Vec::new(),
            when: UseCaseMessage {
                contract: "shop.PlaceOrder".into(),
                contract_version: 1,
                payload: json!({"id": "x", "quantity": 2}),
                text: "place 2 & more".into(),
            },
            then: UseCaseOutcome::Refused {
                error: "no \"stock\"".into(),
            },
        }];
        let surface = Surface::every_aggregate(&catalog);
        let html = page(
            &catalog,
            &use_cases,
            &Page {
                title: "Shop",
                surface: Some(&surface),
                openapi_href: Some("openapi.json"),
            },
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<h1>Shop</h1>"));
        assert!(html.contains("1 namespace, 1 aggregate, 2 messages, 1 use case"));
        assert!(html.contains("POST /shop/order/{id}/place-order"));
        assert!(html.contains("An order &lt;b&gt;"));
        assert!(html.contains("Ordering &lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("place 2 &amp; more"));
        assert!(html.contains("no &quot;stock&quot;"));
        assert!(html.contains("place {{{quantity}}} for {price}"));
        assert!(html.contains("v2, v1"));
        assert!(html.contains("urn:treaty:problem:refused"));
        assert!(html.contains("href=\"openapi.json\""));
        // Without a server, no routes and no problem types.
        let html = page(
            &catalog,
            &[],
            &Page {
                title: "Shop",
                surface: None,
                openapi_href: None,
            },
        );
        assert!(!html.contains("POST /shop"));
        assert!(!html.contains("id=\"problems\""));
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(anchor("shop.Place Order/1"), "shop.Place-Order-1");
    }
}
