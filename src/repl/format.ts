/**
 * Printing values the way a JavaScript REPL does: the sandbox describes a value as a plain-data tree
 * (sandbox/inspect.js), this file turns the tree into text, with colour when a chalk instance with colour is
 * given. Values that live on the host (results of the test client's calls: AMF values) are described into
 * the same tree first, so both print alike.
 */
import type { Chalk } from 'chalk';
import { getClassName, type AmfValue } from '../amf';

export type ValueNode =
  | { t: 'undefined' }
  | { t: 'null' }
  | { t: 'hole' }
  | { t: 'boolean'; v: boolean }
  | { t: 'number' | 'bigint' | 'symbol'; v: string }
  | { t: 'string'; v: string; cut?: number }
  | { t: 'function'; name: string; cls: 'Function' | 'class'; entries?: Entry[]; more?: number; ref?: number }
  | ObjectNode
  | { t: 'circular'; ref: number }
  | { t: 'elided'; cls: string; kind: ObjectKind }
  | { t: 'accessor'; get: boolean; set: boolean };

export type ObjectKind = 'object' | 'array' | 'map' | 'set' | 'date' | 'regexp' | 'error' | 'boxed' | 'typed' | 'host';
export type Entry = [string, ValueNode];

export interface ObjectNode {
  t: 'object';
  cls: string;
  kind: ObjectKind;
  ref?: number;
  len?: number;
  items?: ValueNode[];
  entries?: Entry[];
  pairs?: [ValueNode, ValueNode][];
  more?: number;
  text?: string;
  where?: string;
  /** Host objects: the Client's id or the Stream's name. */
  id?: string;
  name?: string;
}

/** The sandbox's answer to an `eval` event. */
export type EvalOutcome =
  | { ok: true; value: ValueNode }
  | { ok: false; error: ScriptErrorInfo; thrown?: ValueNode };

/** S.errorInfo(err) of sandbox/core.js: the Application.Script.Error info object. */
export interface ScriptErrorInfo {
  description: string;
  filename?: string;
  lineno?: number;
  linebuf?: string;
}

export interface FormatOptions {
  /** Chalk instance deciding colour (level 0 = plain text). */
  chalk: Chalk;
  /** Print a top-level string without quotes (piped mode). */
  rawStrings?: boolean;
  /** Columns a single-line rendering may use before it breaks into one entry per line. */
  breakLength?: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

export function quoteString(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

export function formatValue(node: ValueNode, opts: FormatOptions): string {
  if (node.t === 'string' && opts.rawStrings) return node.v + (node.cut ? `... ${node.cut} more characters` : '');
  return new Formatter(opts).format(node, 0);
}

class Formatter {
  readonly c: Chalk;
  readonly breakLength: number;

  constructor(opts: FormatOptions) {
    this.c = opts.chalk;
    this.breakLength = opts.breakLength ?? 80;
  }

  format(n: ValueNode, indent: number): string {
    const c = this.c;
    switch (n.t) {
      case 'undefined':
        return c.gray('undefined');
      case 'null':
        return c.bold('null');
      case 'hole':
        return c.gray('<1 empty item>');
      case 'boolean':
        return c.yellow(String(n.v));
      case 'number':
      case 'bigint':
        return c.yellow(n.v);
      case 'symbol':
        return c.green(n.v);
      case 'string':
        return c.green(quoteString(n.v)) + (n.cut ? c.gray(`... ${n.cut} more characters`) : '');
      case 'circular':
        return c.cyan(`[Circular *${n.ref}]`);
      case 'elided':
        return c.cyan(n.kind === 'array' ? '[Array]' : `[${n.cls}]`);
      case 'accessor':
        return c.cyan(n.get && n.set ? '[Getter/Setter]' : n.get ? '[Getter]' : '[Setter]');
      case 'function': {
        const head = this.refMark(n.ref) + c.cyan(n.cls === 'class' ? `[class ${n.name || '(anonymous)'}]` : n.name ? `[Function: ${n.name}]` : '[Function (anonymous)]');
        if (!n.entries || n.entries.length === 0) return head;
        return this.braces(head + ' ', '{', '}', this.entryParts(n.entries, n.more, indent), indent);
      }
      case 'object':
        return this.object(n, indent);
    }
  }

  refMark(ref: number | undefined): string {
    return ref === undefined ? '' : this.c.cyan(`<ref *${ref}>`) + ' ';
  }

  key(k: string): string {
    return IDENT.test(k) ? k : this.c.green(quoteString(k));
  }

  entryParts(entries: Entry[], more: number | undefined, indent: number): string[] {
    const parts = entries.map(([k, v]) => `${this.key(k)}: ${this.format(v, indent + 2)}`);
    if (more) parts.push(this.c.gray(`... ${more} more ${more === 1 ? 'property' : 'properties'}`));
    return parts;
  }

  itemParts(items: ValueNode[], indent: number): string[] {
    const parts: string[] = [];
    let holes = 0;
    const flush = (): void => {
      if (holes > 0) parts.push(this.c.gray(`<${holes} empty item${holes === 1 ? '' : 's'}>`));
      holes = 0;
    };
    for (const it of items) {
      if (it.t === 'hole') {
        holes++;
        continue;
      }
      flush();
      parts.push(this.format(it, indent + 2));
    }
    flush();
    return parts;
  }

  object(n: ObjectNode, indent: number): string {
    const c = this.c;
    const ref = this.refMark(n.ref);
    const more = (count: number | undefined, what: string): string[] => (count ? [c.gray(`... ${count} more ${what}${count === 1 ? '' : 's'}`)] : []);
    switch (n.kind) {
      case 'array': {
        const prefix = n.cls === 'Array' ? '' : `${n.cls}(${n.len ?? 0}) `;
        const parts = [...this.itemParts(n.items ?? [], indent), ...more(n.more, 'item'), ...this.entryParts(n.entries ?? [], undefined, indent)];
        return this.braces(ref + prefix, '[', ']', parts, indent);
      }
      case 'typed': {
        const parts = [...this.itemParts(n.items ?? [], indent), ...more(n.more, 'item')];
        return this.braces(`${ref}${n.cls}(${n.len ?? 0}) `, '[', ']', parts, indent);
      }
      case 'map': {
        const parts = (n.pairs ?? []).map(([k, v]) => `${this.format(k, indent + 2)} => ${this.format(v, indent + 2)}`);
        return this.braces(`${ref}${n.cls}(${n.len ?? 0}) `, '{', '}', [...parts, ...more(n.more, 'item')], indent);
      }
      case 'set': {
        const parts = this.itemParts(n.items ?? [], indent);
        return this.braces(`${ref}${n.cls}(${n.len ?? 0}) `, '{', '}', [...parts, ...more(n.more, 'item')], indent);
      }
      case 'date':
      case 'regexp':
      case 'boxed':
      case 'error': {
        let head: string;
        if (n.kind === 'date') head = c.magenta(n.text ?? '');
        else if (n.kind === 'regexp') head = c.red(n.text ?? '');
        else if (n.kind === 'boxed') head = c.cyan(`[${n.cls}: ${n.text ?? ''}]`);
        else head = (n.text ?? n.cls) + (n.where ? c.gray(` (${n.where})`) : '');
        const parts = this.entryParts(n.entries ?? [], n.more, indent);
        if (parts.length === 0) return ref + head;
        return this.braces(`${ref}${head} `, '{', '}', parts, indent);
      }
      default: {
        const prefix = n.cls === 'Object' ? '' : `${n.cls} `;
        return this.braces(ref + prefix, '{', '}', this.entryParts(n.entries ?? [], n.more, indent), indent);
      }
    }
  }

  /** `prefix{ a, b }` on one line when it fits, else one part per line. */
  braces(prefix: string, open: string, close: string, parts: string[], indent: number): string {
    if (parts.length === 0) return `${prefix}${open}${close}`;
    const oneLine = `${prefix}${open} ${parts.join(', ')} ${close}`;
    if (!oneLine.includes('\n') && visibleLength(oneLine) + indent <= this.breakLength) return oneLine;
    const pad = ' '.repeat(indent + 2);
    return `${prefix}${open}\n${parts.map((p) => pad + p).join(',\n')}\n${' '.repeat(indent)}${close}`;
  }
}

/** The REPL's line for an error the statement threw: `Uncaught Error: boom` and where it was thrown. */
export function formatThrown(outcome: { error: ScriptErrorInfo; thrown?: ValueNode }, opts: FormatOptions): string {
  const c = opts.chalk;
  const e = outcome.error;
  const t = outcome.thrown;
  const what = t && !(t.t === 'object' && t.kind === 'error') ? new Formatter(opts).format(t, 0) : e.description;
  let out = c.red(`Uncaught ${what}`);
  if (e.filename) {
    out += '\n' + c.gray(`    at ${e.filename}:${e.lineno ?? 0}`);
    if (e.linebuf !== undefined && e.linebuf.trim() !== '') out += c.gray(`  ${e.linebuf.trim()}`);
  }
  return out;
}

/** Describes a host-side value (an AMF value from the test client) as a tree formatValue prints. */
export function describeHostValue(value: AmfValue | unknown): ValueNode {
  const ancestors: unknown[] = [];
  const nodes: ObjectNode[] = [];
  let nextRef = 1;
  const conv = (v: unknown, depth: number): ValueNode => {
    if (v === null) return { t: 'null' };
    if (v === undefined) return { t: 'undefined' };
    if (typeof v === 'boolean') return { t: 'boolean', v };
    if (typeof v === 'number') return { t: 'number', v: Object.is(v, -0) ? '-0' : String(v) };
    if (typeof v === 'bigint') return { t: 'bigint', v: `${v}n` };
    if (typeof v === 'string') return { t: 'string', v };
    if (typeof v === 'function') return { t: 'function', name: v.name, cls: 'Function' };
    if (typeof v !== 'object') return { t: 'string', v: String(v) };
    const at = ancestors.indexOf(v);
    if (at >= 0) {
      const target = nodes[at]!;
      target.ref ??= nextRef++;
      return { t: 'circular', ref: target.ref };
    }
    if (v instanceof Date) return { t: 'object', cls: 'Date', kind: 'date', text: isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString() };
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      const u = v as Uint8Array;
      const items = Array.from(u.subarray(0, 100), (b): ValueNode => ({ t: 'number', v: String(b) }));
      return { t: 'object', cls: 'ByteArray', kind: 'typed', len: u.length, items, ...(u.length > 100 ? { more: u.length - 100 } : {}) };
    }
    const isArr = Array.isArray(v);
    const cls = isArr ? 'Array' : (getClassName(v as object) ?? 'Object');
    if (depth > 4) return { t: 'elided', cls, kind: isArr ? 'array' : 'object' };
    const n: ObjectNode = { t: 'object', cls, kind: isArr ? 'array' : 'object' };
    ancestors.push(v);
    nodes.push(n);
    if (isArr) {
      const a = v as unknown[];
      n.len = a.length;
      n.items = a.slice(0, 100).map((x) => conv(x, depth + 1));
      if (a.length > 100) n.more = a.length - 100;
      const named = Object.keys(a).filter((k) => String(Number(k) >>> 0) !== k);
      if (named.length > 0) n.entries = named.map((k) => [k, conv((a as unknown as Record<string, unknown>)[k], depth + 1)]);
    } else {
      n.entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, conv(x, depth + 1)] as Entry);
    }
    ancestors.pop();
    nodes.pop();
    return n;
  };
  return conv(value, 0);
}
