/**
 * The shell's pure parts: value printing, statement completeness (V8 decides), completion targets, the
 * JSON-ish argument parser and the history file.
 */
import * as fs from 'fs';
import * as path from 'path';
import chalk from 'chalk';
import { describeHostValue, formatThrown, formatValue, quoteString, type ValueNode } from '../../src/repl/format';
import { prepareInput, scriptSyntaxError } from '../../src/repl/recoverable';
import { completionTarget } from '../../src/repl/complete';
import { parseValues, splitWord } from '../../src/repl/values';
import { defaultHistoryFile, loadHistory, saveHistory } from '../../src/repl/history';
import { typedObject } from '../../src/amf';
import { makeTempDir, removeDir } from '../support';

const plain = { chalk: new chalk.Instance({ level: 0 }) };
const coloured = { chalk: new chalk.Instance({ level: 1 }) };
const fmt = (n: ValueNode, o: object = {}): string => formatValue(n, { ...plain, ...o });
const num = (v: number): ValueNode => ({ t: 'number', v: String(v) });
const str = (v: string): ValueNode => ({ t: 'string', v });

describe('formatValue', () => {
  it('prints primitives like a JS REPL', () => {
    expect(fmt({ t: 'undefined' })).toBe('undefined');
    expect(fmt({ t: 'null' })).toBe('null');
    expect(fmt(num(42))).toBe('42');
    expect(fmt({ t: 'number', v: '-0' })).toBe('-0');
    expect(fmt({ t: 'boolean', v: true })).toBe('true');
    expect(fmt(str("it's"))).toBe(`"it's"`);
    expect(fmt(str('a\nb'))).toBe("'a\\nb'");
    expect(fmt({ t: 'string', v: 'abc', cut: 5 })).toBe("'abc'... 5 more characters");
  });

  it('prints a top-level string raw in piped mode, nested strings quoted', () => {
    expect(fmt(str('chat/_definst_'), { rawStrings: true })).toBe('chat/_definst_');
    expect(fmt({ t: 'object', cls: 'Array', kind: 'array', len: 1, items: [str('x')] }, { rawStrings: true })).toBe("[ 'x' ]");
  });

  it('prints objects, arrays, classes, functions, holes, accessors and cycles', () => {
    const obj: ValueNode = {
      t: 'object',
      cls: 'Object',
      kind: 'object',
      ref: 1,
      entries: [
        ['a', num(1)],
        ['needs-quote', str('x')],
        ['self', { t: 'circular', ref: 1 }],
        ['g', { t: 'accessor', get: true, set: false }],
      ],
    };
    expect(fmt(obj)).toBe("<ref *1> { a: 1, 'needs-quote': 'x', self: [Circular *1], g: [Getter] }");
    expect(fmt({ t: 'object', cls: 'Array', kind: 'array', len: 4, items: [num(1), { t: 'hole' }, { t: 'hole' }, num(4)] })).toBe('[ 1, <2 empty items>, 4 ]');
    expect(fmt({ t: 'object', cls: 'Array', kind: 'array', len: 0, items: [] })).toBe('[]');
    expect(fmt({ t: 'object', cls: 'Object', kind: 'object', entries: [] })).toBe('{}');
    expect(fmt({ t: 'function', name: 'double', cls: 'Function' })).toBe('[Function: double]');
    expect(fmt({ t: 'function', name: '', cls: 'Function' })).toBe('[Function (anonymous)]');
    expect(fmt({ t: 'function', name: 'Stream', cls: 'Function', entries: [['get', { t: 'function', name: 'get', cls: 'Function' }]] })).toBe(
      '[Function: Stream] { get: [Function: get] }',
    );
    expect(fmt({ t: 'elided', cls: 'Client', kind: 'host' })).toBe('[Client]');
    expect(fmt({ t: 'object', cls: 'Map', kind: 'map', len: 1, pairs: [[str('k'), num(1)]] })).toBe("Map(1) { 'k' => 1 }");
    expect(fmt({ t: 'object', cls: 'Date', kind: 'date', text: '2020-01-01T00:00:00.000Z' })).toBe('2020-01-01T00:00:00.000Z');
    expect(fmt({ t: 'object', cls: 'Error', kind: 'error', text: 'Error: x', where: 'main.asc:3' })).toBe('Error: x (main.asc:3)');
  });

  it('breaks long values over lines with indentation', () => {
    const long: ValueNode = {
      t: 'object',
      cls: 'Client',
      kind: 'host',
      entries: [
        ['id', str('0000ABCDEF')],
        ['ip', str('127.0.0.1')],
        ['agent', str('WIN 10,0,32,18 and some more text to be long')],
      ],
    };
    expect(fmt(long)).toBe(["Client {", "  id: '0000ABCDEF',", "  ip: '127.0.0.1',", "  agent: 'WIN 10,0,32,18 and some more text to be long'", '}'].join('\n'));
  });

  it('colours with chalk when asked', () => {
    expect(formatValue(num(1), coloured)).toBe('\u001b[33m1\u001b[39m');
    expect(formatValue(str('x'), coloured)).toContain('\u001b[32m');
  });

  it('prints thrown errors with file and line', () => {
    expect(formatThrown({ error: { description: 'Error: boom', filename: 'main.asc', lineno: 10, linebuf: '  throw new Error("boom");' } }, plain)).toBe(
      'Uncaught Error: boom\n    at main.asc:10  throw new Error("boom");',
    );
    expect(formatThrown({ error: { description: '42' }, thrown: num(42) }, plain)).toBe('Uncaught 42');
  });

  it('describes host values (AMF) like sandbox values', () => {
    const v = describeHostValue({ a: [1, 'x', null], d: new Date(0), t: typedObject('Point', { x: 1 }), b: Buffer.from([1, 2]) });
    expect(fmt(v)).toBe("{\n  a: [ 1, 'x', null ],\n  d: 1970-01-01T00:00:00.000Z,\n  t: Point { x: 1 },\n  b: ByteArray(2) [ 1, 2 ]\n}");
    const cyc: Record<string, unknown> = {};
    cyc.me = cyc;
    expect(fmt(describeHostValue(cyc))).toBe('<ref *1> { me: [Circular *1] }');
    expect(quoteString('\u0001')).toBe("'\\x01'");
  });
});

describe('prepareInput (V8 decides whether a statement is finished)', () => {
  it.each(['foo(1,', 'function f() {', 'var a = [1,', '`abc', '/* comment', "'abc\\", 'if (x)', 'a +', 'x = {', 'foo(1', 'a\n.b(', '`x${'])('%j continues', (code) => {
    expect(prepareInput(code, 'REPL1').kind).toBe('incomplete');
  });

  it.each(['1 +* 2', 'foo(1 2)', 'var 1x', ')'])('%j is a syntax error at once', (code) => {
    const r = prepareInput(code, 'REPL1');
    expect(r.kind).toBe('syntax');
  });

  it('reports the line of a syntax error', () => {
    expect(prepareInput('a\n+* b', 'REPL4')).toEqual({
      kind: 'syntax',
      error: { description: "SyntaxError: Unexpected token '*'", filename: 'REPL4', lineno: 2, linebuf: '+* b' },
    });
    expect(scriptSyntaxError('ok();\nfunction (', 'x.asc')?.lineno).toBe(2);
    expect(scriptSyntaxError('ok();', 'x.asc')).toBeNull();
  });

  it('evaluates an object literal as an expression, and a leading let/const as var', () => {
    expect(prepareInput('{a: 1}', 'R')).toEqual({ kind: 'complete', code: '({a: 1}\n)' });
    expect(prepareInput('{a: 1};', 'R')).toEqual({ kind: 'complete', code: '{a: 1};' });
    expect(prepareInput('let x = 1', 'R')).toEqual({ kind: 'complete', code: 'var x = 1' });
    expect(prepareInput('const y = 2', 'R')).toEqual({ kind: 'complete', code: 'var   y = 2' });
  });
});

describe('completionTarget', () => {
  it('finds global names and property chains', () => {
    expect(completionTarget('appl')).toEqual({ path: [], prefix: 'appl' });
    expect(completionTarget('x = appl')).toEqual({ path: [], prefix: 'appl' });
    expect(completionTarget('application.')).toEqual({ path: ['application'], prefix: '' });
    expect(completionTarget('application.cli')).toEqual({ path: ['application'], prefix: 'cli' });
    expect(completionTarget('trace(application.clients[0].ag')).toEqual({ path: ['application', 'clients', '0'], prefix: 'ag' });
    expect(completionTarget('o["a b"].x')).toEqual({ path: ['o', 'a b'], prefix: 'x' });
    expect(completionTarget('')).toEqual({ path: [], prefix: '' });
  });

  it('offers nothing inside strings, comments or after calls', () => {
    expect(completionTarget('"application.cl')).toBeNull();
    expect(completionTarget('x // application.')).toBeNull();
    expect(completionTarget('foo().bar')).toBeNull();
  });
});

describe('parseValues', () => {
  it('reads JSON-ish values separated by spaces or commas', () => {
    expect(parseValues(`"hi there" 42 -1.5e2 true null undefined alice {to: 'bob', n: [1, 2]} [3,4]`)).toEqual([
      'hi there',
      42,
      -150,
      true,
      null,
      undefined,
      'alice',
      { to: 'bob', n: [1, 2] },
      [3, 4],
    ]);
    expect(parseValues('')).toEqual([]);
    expect(parseValues("'a\\'b' \"\\u0041\\n\"")).toEqual(["a'b", 'A\n']);
    expect(splitWord('  .call  hello world ')).toEqual(['.call', 'hello world']);
  });

  it('fails with a coded error on malformed input', () => {
    for (const bad of ['{a: 1', '[1, 2', '"open', '{a 1}', '{a: @}']) {
      expect(() => parseValues(bad)).toThrow(expect.objectContaining({ code: 'ERR_REPL_BAD_ARGUMENT' }));
    }
  });
});

describe('history file', () => {
  let dir: string;
  beforeAll(() => (dir = makeTempDir('repl-history')));
  afterAll(() => removeDir(dir));

  it('is written oldest first and read back newest first, bounded', () => {
    const file = path.join(dir, 'h');
    expect(loadHistory(file)).toEqual([]);
    expect(saveHistory(file, ['c', 'b', 'a'])).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe('a\nb\nc\n');
    expect(loadHistory(file)).toEqual(['c', 'b', 'a']);
    expect(loadHistory(file, 2)).toEqual(['c', 'b']);
    expect(saveHistory(path.join(dir, 'missing', 'h'), ['x'])).toBe(false);
    expect(saveHistory(null, ['x'])).toBe(false);
  });

  it('lives in $SSAS_REPL_HISTORY, or the home folder; empty disables it', () => {
    expect(defaultHistoryFile({ SSAS_REPL_HISTORY: '/tmp/x' })).toBe('/tmp/x');
    expect(defaultHistoryFile({ SSAS_REPL_HISTORY: '' })).toBeNull();
    expect(defaultHistoryFile({})).toMatch(/\.ssas_repl_history$/);
  });
});
