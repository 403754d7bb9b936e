//! `treaty lsp`: a language server over stdio, on rust-analyzer's
//! `lsp-server` scaffold. Full document sync; diagnostics from compiling
//! each changed document with its neighbours (`analysis.rs`), hover, go to
//! definition, completion and formatting (`treaty_dsl::format`).
//!
//! Nothing a client sends stops the server: a request whose parameters do
//! not parse gets an `InvalidParams` error, and a handler that panicked
//! (which would be a bug) an `InternalError`, and the loop goes on.

mod analysis;
mod text;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{Completion, Formatting, GotoDefinition, HoverRequest, Request as _};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse, Diagnostic,
    DiagnosticSeverity, DocumentFormattingParams, GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents,
    HoverParams, HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextEdit, Uri,
};
use serde_json::Value;

use analysis::Analysis;
use treaty_dsl::query::DeclarationKind;

#[derive(clap::Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    stdio: bool,
}

pub fn run(_args: LspArgs) -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string(), ":".to_string()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let initialize = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo { name: "treaty".to_string(), version: Some(env!("CARGO_PKG_VERSION").to_string()) },
    });
    let result = connection
        .initialize_start()
        .and_then(|(id, params)| connection.initialize_finish(id, initialize).map(|()| params));
    let params = match result {
        Ok(params) => params,
        Err(e) => {
            eprintln!("error: the client did not initialize the server: {e}");
            return ExitCode::from(crate::INVALID);
        }
    };
    let mut server = Server {
        connection: &connection,
        open: HashMap::new(),
        published: HashSet::new(),
        roots: workspace_roots(&params),
    };
    let clean = server.serve();
    drop(server);
    drop(connection);
    let _ = io_threads.join();
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::INVALID)
    }
}

struct Server<'c> {
    connection: &'c Connection,
    /// The open documents' texts.
    open: HashMap<PathBuf, String>,
    /// Files whose last published diagnostics were not empty.
    published: HashSet<PathBuf>,
    /// The editor's workspace folders, where namespaces a document imports
    /// from outside its own directory are looked for.
    roots: Vec<PathBuf>,
}

/// The workspace folders of `initialize`'s parameters (`workspaceFolders`,
/// else the older `rootUri`); none when absent or not `file:` URIs.
fn workspace_roots(params: &Value) -> Vec<PathBuf> {
    let folders = params["workspaceFolders"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| &f["uri"]);
    let uris: Vec<&Value> = folders.chain(std::iter::once(&params["rootUri"])).collect();
    let mut roots = Vec::new();
    for uri in uris {
        let Some(path) = uri
            .as_str()
            .and_then(|u| u.parse::<Uri>().ok())
            .and_then(|u| text::uri_to_path(&u))
        else {
            continue;
        };
        if !roots.contains(&path) {
            roots.push(path);
        }
    }
    roots
}

impl Server<'_> {
    /// Handles messages until `exit`; whether a `shutdown` came first.
    fn serve(&mut self) -> bool {
        let mut shut_down = false;
        while let Ok(message) = self.connection.receiver.recv() {
            match message {
                Message::Request(request) => {
                    if request.method == "shutdown" {
                        shut_down = true;
                        self.send(Message::Response(Response::new_ok(request.id, Value::Null)));
                        continue;
                    }
                    if shut_down {
                        self.send(error(request.id, ErrorCode::InvalidRequest, "the server is shut down"));
                        continue;
                    }
                    let id = request.id.clone();
                    let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.request(request)))
                        .unwrap_or_else(|_| {
                            error(id, ErrorCode::InternalError, "the request failed (a bug in treaty lsp)")
                        });
                    self.send(response);
                }
                Message::Notification(notification) => {
                    if notification.method == "exit" {
                        return shut_down;
                    }
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.notification(notification)));
                }
                Message::Response(_) => {}
            }
        }
        false
    }

    fn send(&self, message: Message) {
        let _ = self.connection.sender.send(message);
    }

    fn request(&mut self, request: Request) -> Message {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => params::<HoverParams>(&request).map(|p| to_value(self.hover(p))),
            GotoDefinition::METHOD => params::<GotoDefinitionParams>(&request).map(|p| to_value(self.definition(p))),
            Completion::METHOD => params::<CompletionParams>(&request).map(|p| to_value(self.completion(p))),
            Formatting::METHOD => params::<DocumentFormattingParams>(&request).map(|p| to_value(self.format(p))),
            method => {
                return error(id, ErrorCode::MethodNotFound, &format!("unknown method {method}"));
            }
        };
        match result {
            Ok(value) => Message::Response(Response::new_ok(id, value)),
            Err(message) => error(id, ErrorCode::InvalidParams, &message),
        }
    }

    fn notification(&mut self, notification: Notification) {
        let changed = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => notification
                .extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                .ok()
                .and_then(|p| {
                    let path = text::uri_to_path(&p.text_document.uri)?;
                    self.open.insert(path.clone(), p.text_document.text);
                    Some(path)
                }),
            DidChangeTextDocument::METHOD => notification
                .extract::<lsp_types::DidChangeTextDocumentParams>(DidChangeTextDocument::METHOD)
                .ok()
                .and_then(|p| {
                    let path = text::uri_to_path(&p.text_document.uri)?;
                    // Full sync: the last change holds the whole text.
                    let change = p.content_changes.into_iter().last()?;
                    self.open.insert(path.clone(), change.text);
                    Some(path)
                }),
            DidCloseTextDocument::METHOD => notification
                .extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                .ok()
                .and_then(|p| {
                    let path = text::uri_to_path(&p.text_document.uri)?;
                    self.open.remove(&path);
                    Some(path)
                }),
            DidSaveTextDocument::METHOD => notification
                .extract::<lsp_types::DidSaveTextDocumentParams>(DidSaveTextDocument::METHOD)
                .ok()
                .and_then(|p| text::uri_to_path(&p.text_document.uri)),
            _ => None,
        };
        if let Some(path) = changed {
            self.publish(&path);
        }
    }

    /// Compiles `path` with its neighbours and publishes every file's
    /// diagnostics (an empty list clears earlier ones).
    fn publish(&mut self, path: &std::path::Path) {
        let analysis = Analysis::of(path, &self.open, &self.roots);
        let mut by_file: HashMap<usize, Vec<Diagnostic>> = HashMap::new();
        for d in &analysis.diagnostics {
            let Some(index) = analysis.index_of_span(d.primary.span) else {
                continue;
            };
            let text = analysis.text(index);
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            by_file.entry(index).or_default().push(Diagnostic {
                range: text::range(text, d.primary.span.start, d.primary.span.end),
                severity: Some(match d.severity {
                    treaty_dsl::Severity::Error => DiagnosticSeverity::ERROR,
                    _ => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.as_str().to_string())),
                source: Some("treaty".to_string()),
                message,
                ..Diagnostic::default()
            });
        }
        for (index, file_path) in analysis.paths.iter().enumerate() {
            let diagnostics = by_file.remove(&index).unwrap_or_default();
            if diagnostics.is_empty() && !self.published.contains(file_path) && file_path != path {
                continue;
            }
            if diagnostics.is_empty() {
                self.published.remove(file_path);
            } else {
                self.published.insert(file_path.clone());
            }
            let Some(uri) = text::path_to_uri(file_path) else {
                continue;
            };
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            };
            self.send(Message::Notification(Notification::new(
                PublishDiagnostics::METHOD.to_string(),
                params,
            )));
        }
    }

    /// The analysis of the document behind `uri`, with its index and the
    /// offset of `position` in it.
    fn at(&self, uri: &Uri, position: lsp_types::Position) -> Option<(Analysis, usize, usize)> {
        let path = text::uri_to_path(uri)?;
        let analysis = Analysis::of(&path, &self.open, &self.roots);
        let index = analysis.index(&path)?;
        let offset = text::offset(analysis.text(index), position);
        Some((analysis, index, offset))
    }

    fn hover(&self, p: HoverParams) -> Option<Hover> {
        let doc = p.text_document_position_params;
        let (analysis, index, offset) = self.at(&doc.text_document.uri, doc.position)?;
        let (markdown, span) = analysis.hover(index, offset)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: markdown,
            }),
            range: Some(text::range(analysis.text(index), span.start, span.end)),
        })
    }

    fn definition(&self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let doc = p.text_document_position_params;
        let (analysis, index, offset) = self.at(&doc.text_document.uri, doc.position)?;
        let (target, declaration) = analysis.definition(index, offset)?;
        let uri = text::path_to_uri(&analysis.paths[target])?;
        let range = text::range(analysis.text(target), declaration.span.start, declaration.span.end);
        Some(GotoDefinitionResponse::Scalar(Location::new(uri, range)))
    }

    fn completion(&self, p: CompletionParams) -> Option<CompletionResponse> {
        let doc = p.text_document_position;
        let (analysis, index, _) = self.at(&doc.text_document.uri, doc.position)?;
        let items = analysis
            .completions(index)
            .into_iter()
            .map(|(label, kind, detail)| CompletionItem {
                label,
                kind: Some(match kind {
                    analysis::Completion::Keyword => CompletionItemKind::KEYWORD,
                    analysis::Completion::Builtin => CompletionItemKind::TYPE_PARAMETER,
                    analysis::Completion::Fragment => CompletionItemKind::FIELD,
                    analysis::Completion::Type(DeclarationKind::Enum) => CompletionItemKind::ENUM,
                    analysis::Completion::Type(DeclarationKind::Id) => CompletionItemKind::CLASS,
                    analysis::Completion::Type(_) => CompletionItemKind::STRUCT,
                }),
                detail: (!detail.is_empty()).then_some(detail),
                ..CompletionItem::default()
            })
            .collect();
        Some(CompletionResponse::Array(items))
    }

    /// One edit replacing the whole document with its canonical layout;
    /// none when it is already formatted or does not parse (its errors
    /// are in the diagnostics).
    fn format(&self, p: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let path = text::uri_to_path(&p.text_document.uri)?;
        let current = match self.open.get(&path) {
            Some(text) => text.clone(),
            None => std::fs::read_to_string(&path).ok()?,
        };
        let formatted = treaty_dsl::format_str(&path.display().to_string(), &current).ok()?;
        if formatted == current {
            return Some(Vec::new());
        }
        let end = text::position(&current, current.len());
        Some(vec![TextEdit::new(
            lsp_types::Range::new(lsp_types::Position::new(0, 0), end),
            formatted,
        )])
    }
}

fn params<P: serde::de::DeserializeOwned>(request: &Request) -> Result<P, String> {
    serde_json::from_value(request.params.clone())
        .map_err(|e| format!("invalid parameters for {}: {e}", request.method))
}

fn to_value<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn error(id: RequestId, code: ErrorCode, message: &str) -> Message {
    Message::Response(Response::new_err(id, code as i32, message.to_string()))
}
