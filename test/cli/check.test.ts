/**
 * `ssas check`: the tokenizer (strings, comments, regexes, templates, E4X skipped correctly), the scanner's
 * findings with file and line, the judgement against what a real sandbox defines (so the expectations
 * follow the runtime as features are added), and the command's report and exit status.
 */
import * as path from 'path';
import { tokenize, scanScript } from '../../src/cli/check-scan';
import { probeSandbox, runCheck, type AppReport, type CheckReport } from '../../src/cli/check';
import type { SandboxApis } from '../../src/cli/check-scan';
import { killAllTracked, runTracked } from '../support';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'scripts', 'ssas.js');
const fixtures = path.join(root, 'test', 'fixtures', 'repl', 'check');

afterAll(async () => {
  await killAllTracked();
});

describe('tokenizer', () => {
  const kinds = (code: string): string[] => tokenize(code).map((t) => `${t.t}:${t.v}`);

  it('tells regular expressions from division', () => {
    expect(kinds('a = b / c / d')).toEqual(['id:a', 'op:=', 'id:b', 'op:/', 'id:c', 'op:/', 'id:d']);
    expect(kinds('x = /a[/]b/gi.test(s)')).toEqual(['id:x', 'op:=', 're:/a[/]b/gi', 'op:.', 'id:test', 'op:(', 'id:s', 'op:)']);
    expect(kinds('return /x/')).toEqual(['id:return', 're:/x/']);
    expect(kinds('f(a) / 2')).toEqual(['id:f', 'op:(', 'id:a', 'op:)', 'op:/', 'num:2']);
  });

  it('skips comments and keeps strings, templates and E4X whole, counting lines', () => {
    const t = tokenize('// load("no")\n/* application.x\n */ "a\\"b" `x ${ {y: `z`}.y } w`\nv = <a b="1"><c>{ 1 + 2 }</c></a>;\nnext');
    expect(t.map((x) => `${x.t}@${x.line}`)).toEqual(['str@3', 'tpl@3', 'op@3', 'id@3', 'op@3', 'tpl@3', 'op@3', 'op@3', 'id@3', 'tpl@3', 'id@4', 'op@4', 'xml@4', 'op@4', 'id@5']);
    expect(t.find((x) => x.t === 'xml')!.v).toBe('<a b="1"><c>{ 1 + 2 }</c></a>');
    expect(kinds('if (a < b) c')).toEqual(['id:if', 'op:(', 'id:a', 'op:<', 'id:b', 'op:)', 'id:c']);
  });

  it('never throws on unterminated input', () => {
    for (const bad of ['"abc', '`abc ${', '/* open', '/re', '<a><b>', "'\\"]) expect(() => tokenize(bad)).not.toThrow();
  });
});

describe('scanner', () => {
  it('finds API uses, load() calls and definitions', () => {
    const r = scanScript(
      [
        'load("lib/a.asc");',
        'application.onConnect = function (c, p) { c.call("x", null); return true; };',
        'application.onPublish = function (client, stream) { stream.record(); };',
        'var nc = new NetConnection();',
        'nc.connect("rtmp://h/app");',
        'Client.prototype.hi = function () {};',
        'function myHelper() {}',
        'load(name);',
      ].join('\n'),
    );
    expect(r.uses.map((u) => `${u.api}@${u.line}`)).toEqual([
      'load@1',
      'application.onConnect@2',
      'client.call@2',
      'application.onPublish@3',
      'stream.record@3',
      'new NetConnection@4',
      'netConnection.connect@5',
      'Client.prototype.*@6',
      'load@8',
    ]);
    expect(r.loads).toEqual([{ path: 'lib/a.asc', line: 1, topLevel: true }]);
    expect(r.dynamicLoads).toEqual([8]);
    expect(r.defines.has('myHelper')).toBe(true);
    expect(r.findings).toEqual([]);
  });
});

describe('ssas check on fixture applications', () => {
  let report: CheckReport;
  let apis: SandboxApis;
  const app = (name: string): AppReport => report.apps.find((a) => a.name === name)!;
  const lines = (name: string, file = 'main.asc'): string[] =>
    app(name)
      .files.find((f) => f.file === file)!
      .findings.map((f) => `${f.severity} ${f.line} ${f.message}`);

  beforeAll(async () => {
    apis = await probeSandbox();
    report = await runCheck(fixtures);
  }, 30_000);

  it('asks a real sandbox what exists', () => {
    expect(apis.globals.trace).toBe('function');
    expect(apis.members.Stream).toEqual(expect.arrayContaining(['get']));
    expect(apis.members.application).toEqual(expect.arrayContaining(['acceptConnection', 'name']));
    expect(apis.members['Client.prototype']).toEqual(expect.arrayContaining(['call', 'ping']));
  });

  it('flags ActionScript 3 syntax with file and line, and the V8 syntax error', () => {
    const l = lines('as3app');
    expect(l[0]).toMatch(/^error 1 SyntaxError: Unexpected identifier 'com' .* V8 cannot compile this script$/);
    expect(l).toEqual(
      expect.arrayContaining([
        'error 1 "package" is ActionScript 3: SSAS scripts are plain scripts',
        'error 2 "import flash..." is ActionScript 3 (or an ES module): use load("file.asc")',
        'error 3 access modifier "public class" is ActionScript 3',
        'error 4 type annotation "var users:Array" is ActionScript 3: remove ":Type"',
        'error 5 parameter type annotation "name:String" is ActionScript 3',
        'error 5 return type annotation "):void" is ActionScript 3',
      ]),
    );
  });

  it('flags E4X, for each, conditional catch, SpiderMonkey-only calls and unsupported classes', () => {
    const l = lines('legacy');
    expect(l).toEqual(
      expect.arrayContaining([
        // The advice names the XML class only when ssas has one (it is reported as unsupported otherwise).
        `error 2 E4X XML literal: V8 has no E4X (build the XML as a string${apis.globals.XML === 'function' ? ', or use the XML class' : ''})`,
        'error 3 "for each (...)" is SpiderMonkey/E4X syntax: use for (... in ...) and read obj[key]',
        'error 4 E4X attribute access ".@"',
        'error 6 conditional catch "catch (e if ...)" is SpiderMonkey-only: test inside one catch block',
        'warning 11 setTimeout() is not an SSAS global (FMS had none) and the script does not define it',
      ]),
    );
    // Regexes, strings and templates that contain "<", "for each" or ".@" are not code.
    expect(l.filter((x) => / (1[8-9]|20) /.test(x))).toEqual([]);
    // Whatever the runtime lacks today is reported; whatever it has is not.
    for (const cls of ['WebService', 'XMLSocket', 'SharedObject']) {
      const flagged = l.some((x) => x.includes(`${cls} is not supported by ssas yet`));
      expect(flagged).toBe(apis.globals[cls] !== 'function');
    }
    expect(l.some((x) => x.includes('toSource'))).toBe(!(apis.members['Object.prototype'] ?? []).includes('toSource'));
    const uses = app('legacy').files[0]!.uses.map((u) => u.api);
    expect(uses).toEqual(expect.arrayContaining(['SharedObject.get', 'sharedObject.setProperty', 'sharedObject.onSync', 'application.onAppStart', 'Stream.get', 'new WebService']));
    expect(uses).not.toContain('application.unknownThing');
  });

  it('follows load() with literal paths; a missing file inside a function is only a warning', () => {
    const good = app('good');
    expect(good.files.map((f) => f.file)).toEqual(['main.asc', 'lib/helpers.asc']);
    expect(lines('good')).toEqual([
      'warning 16 load() of a computed path: not followed by ssas check',
      expect.stringMatching(/^warning 17 load\("optional\/missing\.asc"\): not found; .*\[ERR_SCRIPT_NOT_FOUND\]$/),
    ]);
    // The script brings its own setTimeout: no finding, and it counts as supported.
    expect(good.files[0]!.uses.find((u) => u.api === 'setTimeout')).toEqual({ api: 'setTimeout', count: 1, supported: true });
    expect(good.files[1]!.uses).toEqual([{ api: 'trace', count: 1, supported: true }]);
  });

  it('reports applications without a runnable script', () => {
    expect(app('archived').notes[0]!.message).toMatch(/FAR.*ERR_SCRIPT_FAR_UNSUPPORTED/);
    expect(app('noscript').notes[0]).toEqual(expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/^no script/) }));
    expect(report.errors).toBeGreaterThan(0);
  });
});

describe('ssas check command', () => {
  it('prints the report, exits 1 when something cannot run, 0 for runnable apps, 1 with --strict on warnings', async () => {
    const all = await runTracked(process.execPath, [bin, 'check', fixtures], { timeoutMs: 30_000 });
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/main\.asc:3 {2}"for each \(\.\.\.\)" is SpiderMonkey\/E4X syntax/);
    expect(all.stdout).toMatch(/5 applications, 4 scripts: 3 cannot run/);
    // Counts in the right number: "1 script", not "1 scripts".
    const one = await runTracked(process.execPath, [bin, 'check', path.join(fixtures, 'as3app')], { timeoutMs: 30_000 });
    expect(one.stdout).toMatch(/\n1 application, 1 script: 1 cannot run, /);
    const good = await runTracked(process.execPath, [bin, 'check', path.join(fixtures, 'good'), '--json'], { timeoutMs: 30_000 });
    expect(good.code).toBe(0);
    const json = JSON.parse(good.stdout) as CheckReport;
    expect(json.apps.map((a) => a.name)).toEqual(['good']);
    expect(json.errors).toBe(0);
    const strict = await runTracked(process.execPath, [bin, 'check', path.join(fixtures, 'good'), '--strict'], { timeoutMs: 30_000 });
    expect(strict.code).toBe(1);
  });
});
