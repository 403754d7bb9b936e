// Tokenizes `.treaty` files with the TextMate grammar in
// editors/vscode/syntaxes/, through VS Code's own engine (vscode-textmate
// on the Oniguruma regular expressions of vscode-oniguruma), and checks the
// scopes it gives. Run by dsl/tests/highlighting.rs with the paths of the
// repository's `.treaty` files that parse:
//
//     node editors/test/tokenize.mjs FILE...
//
// Exits 1 listing every problem: a character only the catch-all `invalid`
// rule matched or no rule matched at all, and keywords, builtin types,
// messages, `?`/`!`, strings, comments and docs without their scope. Then
// checks a sample token by token, and that each kind of scope was seen in
// the files, so that a grammar that matched nothing cannot pass.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const here = path.dirname(fileURLToPath(import.meta.url));
const grammarPath = path.join(here, '..', 'vscode', 'syntaxes', 'treaty.tmLanguage.json');

const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));

const registry = new textmate.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (s) => new oniguruma.OnigString(s),
  }),
  loadGrammar: async (scopeName) => {
    if (scopeName !== 'source.treaty') return null;
    return textmate.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
  },
});
const grammar = await registry.loadGrammar('source.treaty');
if (!grammar) {
  console.error('the grammar did not load');
  process.exit(1);
}

/** Every token of `text`: its line, text and scopes. */
function tokenize(text) {
  const tokens = [];
  let state = textmate.INITIAL;
  text.split('\n').forEach((line, lineIndex) => {
    const result = grammar.tokenizeLine(line, state);
    for (const t of result.tokens) {
      tokens.push({ line: lineIndex + 1, column: t.startIndex + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    state = result.ruleStack;
  });
  return tokens;
}

const has = (token, prefix) => token.scopes.some((s) => s.startsWith(prefix));
const BUILTINS = new Set(['bool', 'i32', 'i64', 'u32', 'u64', 'f64', 'String', 'Bytes', 'Uuid', 'Timestamp', 'Date', 'Decimal']);
const DECLARATIONS = new Set(['namespace', 'use', 'const', 'id', 'record', 'enum', 'aggregate']);

const problems = [];
const seen = new Map();
const see = (what) => seen.set(what, (seen.get(what) ?? 0) + 1);

function check(file, text) {
  const tokens = tokenize(text);
  tokens.forEach((t, i) => {
    const where = `${file}:${t.line}:${t.column}`;
    const trimmed = t.text.trim();
    if (trimmed === '') return;
    const inComment = has(t, 'comment.');
    const inString = has(t, 'string.');
    if (has(t, 'invalid')) problems.push(`${where}: \`${t.text}\` is invalid.illegal`);
    if (t.scopes.length === 1) problems.push(`${where}: \`${t.text}\` has no scope but source.treaty`);
    if (inComment) {
      if (trimmed.startsWith('//!')) see('inner doc');
      else if (trimmed.startsWith('///')) see('doc');
      else see('comment');
      const kind = trimmed.startsWith('//!') ? 'comment.line.documentation.inner' : trimmed.startsWith('///') ? 'comment.line.documentation' : 'comment.line.double-slash';
      if (!has(t, kind)) problems.push(`${where}: \`${t.text}\` is not ${kind}`);
      return;
    }
    if (inString) {
      see('string');
      return;
    }
    if (BUILTINS.has(trimmed)) {
      see('builtin');
      if (!has(t, 'support.type.builtin')) problems.push(`${where}: builtin \`${trimmed}\` is ${t.scopes.join(' ')}`);
    }
    const next = tokens.slice(i + 1).find((n) => n.line === t.line && n.text.trim() !== '');
    if (DECLARATIONS.has(trimmed) && t.column === 1 + text.split('\n')[t.line - 1].search(/\S/) && next && /^[A-Za-z_]/.test(next.text.trim())) {
      see('declaration keyword');
      if (!has(t, 'keyword.other') && !has(t, 'storage.type')) problems.push(`${where}: keyword \`${trimmed}\` is ${t.scopes.join(' ')}`);
      if (!has(next, 'entity.name')) problems.push(`${where}: the name after \`${trimmed}\` is ${next.scopes.join(' ')}`);
    }
    if ((trimmed === '!' || trimmed === '?') && next && (next.text.trim() === '(' || /^v[0-9]+$/.test(next.text.trim()))) {
      see(trimmed === '!' ? 'event' : 'command');
      const scope = trimmed === '!' ? 'keyword.operator.event' : 'keyword.operator.command';
      if (!has(t, scope)) problems.push(`${where}: \`${trimmed}\` is ${t.scopes.join(' ')}`);
      // A name on the same line (the grammar reads a line at a time).
      const name = tokens.slice(0, i).reverse().find((n) => n.text.trim() !== '');
      if (name && name.line === t.line && !has(name, 'entity.name.type.message')) problems.push(`${where}: the message name before \`${trimmed}\` is not entity.name.type.message`);
    }
    if (trimmed === '?' && next && /^[,)=\]}]$/.test(next.text.trim())) {
      see('optional');
      if (!has(t, 'keyword.operator.optional')) problems.push(`${where}: optional \`?\` is ${t.scopes.join(' ')}`);
    }
    if (trimmed === 'was' || trimmed === 'display' || trimmed === 'wire') {
      if (next && (next.text.trim().startsWith('"') || /^v[0-9]+$/.test(next.text.trim()))) {
        see(trimmed);
        if (!has(t, `keyword.other.${trimmed}`)) problems.push(`${where}: \`${trimmed}\` is ${t.scopes.join(' ')}`);
      }
    }
  });
}

const files = process.argv.slice(2);
for (const file of files) check(file, fs.readFileSync(file, 'utf8'));

// A sample, token by token.
const sample = [
  '//! Docs of the namespace.',
  'namespace shop.orders; // a comment',
  'use shared.Money;',
  '/// An order.',
  'Placed! v2 (total: Money, note: String? = "a \\"b\\" {total}", count: u32 = -3, audit)',
  '    was v1 (total: Money);',
  'Ping?();',
  'enum Color { Red, Green }',
  'const audit = by: String;',
  'record Line(sku: String, tags: [String] = [], extra: {String: u64} = {}, ok: bool = true);',
  'bad /* block */',
].join('\n');
const expected = [
  ['//! Docs of the namespace.', 'comment.line.documentation.inner.treaty'],
  ['namespace', 'keyword.other.namespace.treaty'],
  ['shop.orders', 'entity.name.namespace.treaty'],
  ['// a comment', 'comment.line.double-slash.treaty'],
  ['use', 'keyword.other.use.treaty'],
  ['/// An order.', 'comment.line.documentation.treaty'],
  ['Placed', 'entity.name.type.message.event.treaty'],
  ['!', 'keyword.operator.event.treaty'],
  ['v2', 'constant.numeric.version.treaty'],
  ['total', 'variable.other.field.treaty'],
  ['Money', 'entity.name.type.treaty'],
  ['String', 'support.type.builtin.treaty'],
  ['?', 'keyword.operator.optional.treaty'],
  ['=', 'keyword.operator.assignment.treaty'],
  ['\\"', 'constant.character.escape.treaty'],
  ['{total}', 'variable.other.placeholder.treaty'],
  ['-3', 'constant.numeric.treaty'],
  ['audit', 'variable.other.treaty'],
  ['was', 'keyword.other.was.treaty'],
  ['v1', 'constant.numeric.version.treaty'],
  ['Ping', 'entity.name.type.message.command.treaty'],
  ['?', 'keyword.operator.command.treaty'],
  ['enum', 'storage.type.enum.treaty'],
  ['Color', 'entity.name.type.enum.treaty'],
  ['const', 'storage.type.const.treaty'],
  ['audit', 'entity.name.type.fragment.treaty'],
  ['record', 'storage.type.record.treaty'],
  ['Line', 'entity.name.type.record.treaty'],
  ['true', 'constant.language.treaty'],
  ['/', 'invalid.illegal.treaty'],
];
const sampleTokens = tokenize(sample);
let from = 0;
for (const [text, scope] of expected) {
  const at = sampleTokens.findIndex((t, i) => i >= from && t.text === text && t.scopes.includes(scope));
  if (at < 0) {
    const found = sampleTokens.slice(from).find((t) => t.text === text);
    problems.push(`sample: \`${text}\` should be ${scope}, is ${found ? found.scopes.join(' ') : 'not a token'}`);
  } else {
    from = at + 1;
  }
}

if (files.length > 0) {
  for (const kind of ['comment', 'doc', 'inner doc', 'string', 'builtin', 'declaration keyword', 'event', 'command', 'optional', 'was', 'display']) {
    if (!seen.has(kind)) problems.push(`no ${kind} was seen in ${files.length} files`);
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`${problems.length} problems`);
  process.exit(1);
}
console.log(`tokenized ${files.length} files: ${[...seen].map(([k, n]) => `${n} ${k}`).join(', ')}`);
