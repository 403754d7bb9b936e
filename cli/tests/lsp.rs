//! `treaty lsp`, driven as an editor drives it: a process speaking
//! Content-Length framed JSON-RPC on its stdin and stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_treaty"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = channel();
        std::thread::spawn(move || loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            if stdout.read_exact(&mut body).is_err() {
                return;
            }
            if sender
                .send(serde_json::from_slice(&body).expect("a JSON body"))
                .is_err()
            {
                return;
            }
        });
        Client {
            child,
            stdin,
            messages,
            next_id: 0,
        }
    }

    fn write_raw(&mut self, body: &str) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.write_raw(&json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string());
    }

    /// Sends a request and returns its response, setting aside nothing:
    /// notifications that arrive first are dropped.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.write_raw(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string());
        self.until(|m| m["id"] == json!(id))
    }

    /// The next message `wanted` accepts, skipping the others.
    fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self
                .messages
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("the server answers");
            if wanted(&message) {
                return message;
            }
        }
    }

    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        let message = self.until(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri);
        message["params"]["diagnostics"].as_array().unwrap().clone()
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

const SHARED: &str = "namespace shared;\n\n/// An amount of money.\nrecord Money(cents: i64, currency: String);\n\nconst audit = by: String;\n";

#[test]
fn an_editor_session() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    std::fs::write(dir.join("shared.treaty"), SHARED).unwrap();
    let shop = dir.join("shop.treaty");
    let shop_uri = uri(&shop);
    let valid = "namespace shop;\nuse shared.Money;\nuse shared.audit;\n\n/// An order was placed.\nPlaced! v2 (total: Money, audit) was v1 (total: Money);\n";
    std::fs::write(&shop, valid).unwrap();

    let mut client = Client::start();
    let init = client.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&dir), "capabilities": {}}),
    );
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["hoverProvider"], json!(true), "{init}");
    assert_eq!(caps["definitionProvider"], json!(true));
    assert_eq!(caps["documentFormattingProvider"], json!(true));
    client.notify("initialized", json!({}));

    // An error as typed: the diagnostic points at the unknown type.
    let broken = "namespace shop;\nuse shared.Money;\n\nPlaced!(total: Mony);\n";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": shop_uri, "languageId": "treaty", "version": 1, "text": broken}}),
    );
    let diagnostics = client.diagnostics_for(&shop_uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "unknown-type");
    assert_eq!(
        diagnostics[0]["range"],
        json!({"start": {"line": 3, "character": 15}, "end": {"line": 3, "character": 19}})
    );
    assert_eq!(diagnostics[0]["severity"], 1);

    // Fixed: the diagnostics are cleared.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 2}, "contentChanges": [{"text": valid}]}),
    );
    assert_eq!(client.diagnostics_for(&shop_uri), Vec::<Value>::new());

    // Hover on the message: docs, expanded fields (the fragment's too),
    // versions and fingerprints.
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": shop_uri}, "position": {"line": 5, "character": 2}}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("event shop.Placed"), "{hover}");
    assert!(text.contains("An order was placed."), "{text}");
    assert!(text.contains("- `total: shared.Money`"), "{text}");
    assert!(text.contains("- `by: String`"), "{text}");
    assert!(text.contains("**v2** (current, fingerprint `"), "{text}");
    assert!(text.contains("**v1**, fingerprint `"), "{text}");

    // Go to definition across files and namespaces, from a type and from
    // a `use` path.
    for (line, character) in [(5, 20), (1, 14)] {
        let definition = client.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": shop_uri}, "position": {"line": line, "character": character}}),
        );
        assert_eq!(
            definition["result"]["uri"],
            json!(uri(&dir.join("shared.treaty"))),
            "{definition}"
        );
        assert_eq!(
            definition["result"]["range"],
            json!({"start": {"line": 3, "character": 7}, "end": {"line": 3, "character": 12}})
        );
    }

    // And from a fragment's name to its `const`.
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": shop_uri}, "position": {"line": 5, "character": 28}}),
    );
    assert_eq!(
        definition["result"]["uri"],
        json!(uri(&dir.join("shared.treaty"))),
        "{definition}"
    );
    assert_eq!(
        definition["result"]["range"],
        json!({"start": {"line": 5, "character": 6}, "end": {"line": 5, "character": 11}})
    );

    // Hover on a fragment: the fields it expands to.
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": shop_uri}, "position": {"line": 5, "character": 28}}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("const shared.audit"), "{hover}");
    assert!(text.contains("- `by: String`"), "{text}");

    // Completion: keywords, built-in types, imported types and fragments.
    let completion = client.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": shop_uri}, "position": {"line": 5, "character": 19}}),
    );
    let labels: Vec<&str> = completion["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    for wanted in ["record", "was", "u32", "Timestamp", "Money", "audit"] {
        assert!(labels.contains(&wanted), "{wanted} missing from {labels:?}");
    }

    // Formatting: one edit with the canonical layout.
    let messy =
        "namespace shop ;use shared.Money;\nuse shared.audit;\nPlaced ! v2( total:Money,audit )was v1(total : Money) ;";
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 3}, "contentChanges": [{"text": messy}]}),
    );
    let formatting = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": shop_uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        formatting["result"],
        json!([{
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 55}},
            "newText": "namespace shop;\nuse shared.Money;\nuse shared.audit;\nPlaced! v2 (total: Money, audit)\n    was v1 (total: Money);\n",
        }])
    );

    // Garbage and malformed requests: errors, and the server lives on.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 4}, "contentChanges": [{"text": "((((\u{0}\"é}}}; namespace"}]}),
    );
    assert!(!client.diagnostics_for(&shop_uri).is_empty());
    let bad = client.request("textDocument/hover", json!({"textDocument": 7}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let unknown = client.request("treaty/nothing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": shop_uri}, "position": {"line": 99, "character": 99}}),
    );
    assert_eq!(hover["result"], Value::Null, "{hover}");

    let shutdown = client.request("shutdown", Value::Null);
    assert_eq!(shutdown["result"], Value::Null, "{shutdown}");
    client.notify("exit", Value::Null);
    let status = client.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn hover_shows_wire_names() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let shop = dir.join("shop.treaty");
    let text = "namespace shop;\n\n/// An order was placed.\nPlaced! wire \"Lokad.Shop/OrderPlaced\" (total: u64 wire \"Total\", note: String);\n";
    std::fs::write(&shop, text).unwrap();
    let mut client = Client::start();
    client.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&dir), "capabilities": {}}),
    );
    client.notify("initialized", json!({}));
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&shop), "languageId": "treaty", "version": 1, "text": text}}),
    );
    assert_eq!(client.diagnostics_for(&uri(&shop)), Vec::<Value>::new());
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&shop)}, "position": {"line": 3, "character": 2}}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("On the wire: `Lokad.Shop/OrderPlaced`"), "{hover}");
    assert!(text.contains("- `total: u64 wire \"Total\"`"), "{text}");
    assert!(text.contains("- `note: String`"), "{text}");
    // Fingerprints are found under the contract name on the wire.
    assert!(text.contains("**v1** (current, fingerprint `"), "{text}");
}

/// Opens `document` in a server whose workspace is `root` (none when
/// `None`) and returns its diagnostics and the definition of the type at
/// `position`.
fn open_in_workspace(root: Option<&Path>, document: &Path, position: Value) -> (Vec<Value>, Value) {
    let mut client = Client::start();
    let params = match root {
        Some(root) => json!({"processId": null, "rootUri": uri(root), "capabilities": {},
            "workspaceFolders": [{"uri": uri(root), "name": "contracts"}]}),
        None => json!({"processId": null, "rootUri": null, "capabilities": {}}),
    };
    client.request("initialize", params);
    client.notify("initialized", json!({}));
    let text = std::fs::read_to_string(document).unwrap();
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(document), "languageId": "treaty", "version": 1, "text": text}}),
    );
    let diagnostics = client.diagnostics_for(&uri(document));
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri(document)}, "position": position}),
    );
    (diagnostics, definition)
}

#[test]
fn imports_from_other_directories_of_the_workspace_resolve_to_the_nearest_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    };
    let shop = write(
        "contracts/shop/orders.treaty",
        "namespace shop;\nuse shared.Money;\n\nPlaced!(total: Money);\n",
    );
    // `shared` imports `units`, from a third directory.
    let money = write(
        "contracts/shared/money.treaty",
        "namespace shared;\nuse units.Cents;\n\nrecord Money(amount: Cents);\n",
    );
    write("contracts/units/cents.treaty", "namespace units;\n\nid Cents: i64;\n");
    // Another contract set declaring `shared` too, further from the
    // document: compiled together with the nearer one they would clash.
    write(
        "tests/lint/before/shared.treaty",
        "namespace shared;\n\nrecord Money(cents: i64);\n",
    );

    let (diagnostics, definition) = open_in_workspace(Some(&root), &shop, json!({"line": 3, "character": 16}));
    assert_eq!(diagnostics, Vec::<Value>::new());
    assert_eq!(definition["result"]["uri"], json!(uri(&money)), "{definition}");
    assert_eq!(
        definition["result"]["range"]["start"],
        json!({"line": 3, "character": 7})
    );

    // Without a workspace the document's directory is all there is.
    let (diagnostics, _) = open_in_workspace(None, &shop, json!({"line": 3, "character": 16}));
    assert!(
        diagnostics.iter().any(|d| d["code"] == "unknown-import"),
        "{diagnostics:?}"
    );
}
