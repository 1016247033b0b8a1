/**
 * `ssas check [DIR]`: reads every script of every application (secure.asc, the main script and what they
 * load() with literal paths), compiles each with V8 for syntax errors, lists the SSAS APIs it uses and
 * flags what ssas cannot run yet. What is supported is asked of a real sandbox (the same code an instance
 * runs), so the report follows the runtime as features are added.
 *
 * Exit status 1 when something keeps an application from starting: a syntax error, a script or load()
 * target that cannot be read, a compiled/archived script. Unsupported APIs and SpiderMonkey-only calls are
 * reported but only fail the check with --strict.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import chalk from 'chalk';
import { BUNDLED_SCRIPTLIB, findAppScripts, readScriptSource, resolveLoadPath } from '../script/discovery';
import { checkSyntax } from '../script/script-logic';
import { loadAppConfig, loadAppDefaults, type AppDefaults } from '../script/app-config';
import { ScriptRuntime, type RuntimeHost } from '../script/runtime';
import { sandboxSource } from '../script/sandbox-source';
import { ScriptError, isSsasError } from '../errors';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { printLine } from './output';
import { resolveAppsDir, dirListOption } from './paths';
import { judge, scanScript, useSupported, type ApiUse, type Finding, type SandboxApis } from './check-scan';

export const checkSpec: CommandSpec = {
  name: 'check',
  summary: 'Check the scripts of every application: syntax, SSAS APIs used, what ssas cannot run yet.',
  usage: 'ssas check [DIR] [--json] [--strict]',
  options: [
    { name: 'json', type: 'boolean', description: 'Print the report as JSON.' },
    { name: 'strict', type: 'boolean', description: 'Also fail (status 1) on unsupported APIs and SpiderMonkey-only calls.' },
    { name: 'scriptlib', type: 'string', arg: 'DIRS', description: "FMS's scriptlib folder(s), ';'-separated, for the files applications load()." },
  ],
  details: [
    'DIR is an applications folder (each sub-folder an application) or one application folder;',
    'default ./applications, else the bundled samples.',
  ].join('\n'),
};

export interface FileReport {
  /** Relative to the application folder (or absolute for script libraries outside it). */
  file: string;
  uses: { api: string; count: number; supported: boolean }[];
  findings: Finding[];
}

export interface AppReport {
  name: string;
  dir: string;
  files: FileReport[];
  /** Problems not tied to one file line (no script, archives). */
  notes: Finding[];
}

export interface CheckReport {
  dir: string;
  apps: AppReport[];
  errors: number;
  unsupported: number;
  warnings: number;
}

/** Asks a fresh sandbox what it defines: globals, their statics and prototype members. */
export async function probeSandbox(): Promise<SandboxApis> {
  const host: RuntimeHost = {
    processOps() {},
    request() {
      throw new ScriptError('ERR_CHECK_NO_HOST', 'no host in ssas check');
    },
    async requestAsync() {
      throw new ScriptError('ERR_CHECK_NO_HOST', 'no host in ssas check');
    },
    fatal() {},
  };
  const rt = await ScriptRuntime.create({
    name: 'check/_definst_',
    memoryMB: 64,
    timeoutSec: 10,
    boot: { name: 'check/_definst_', server: 'ssas check', hostname: 'localhost', config: {}, allowDebug: false, ncObjectEncoding: 3 },
    host,
  });
  try {
    const r = (await rt.call({ e: 'apis' })) as { globals: Record<string, string>; members: Record<string, string[]> };
    return { globals: r.globals, members: r.members, source: sandboxSource() };
  } finally {
    rt.dispose();
  }
}

function hasOwnScript(dir: string): boolean {
  const name = path.basename(dir);
  for (const base of ['main', name]) {
    for (const ext of ['.asc', '.js', '.far', '.ase']) {
      if (fs.existsSync(path.join(dir, base + ext)) || fs.existsSync(path.join(dir, 'scripts', base + ext))) return true;
    }
  }
  return false;
}

/** The applications under DIR, or DIR itself when it is one application folder. */
function applicationsIn(dir: string): { name: string; dir: string }[] {
  if (hasOwnScript(dir)) return [{ name: path.basename(dir), dir }];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => ({ name: e.name, dir: path.join(dir, e.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function message(err: unknown): string {
  return isSsasError(err) ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
}

async function checkApp(
  app: { name: string; dir: string },
  apis: SandboxApis,
  scriptLibDirs: string[],
  defaults: AppDefaults | Error | undefined,
): Promise<AppReport> {
  const report: AppReport = { name: app.name, dir: app.dir, files: [], notes: [] };
  let scripts;
  try {
    scripts = await findAppScripts(app.dir, app.name);
  } catch (err) {
    report.notes.push({ severity: 'error', line: 0, message: message(err) });
    return report;
  }
  if (!scripts.main && !scripts.secure) {
    report.notes.push({ severity: 'warning', line: 0, message: 'no script: clients are accepted and streams relayed, as FMS does without main.asc' });
    return report;
  }
  let libs: string[] = [...scriptLibDirs, BUNDLED_SCRIPTLIB];
  try {
    if (defaults instanceof Error) throw defaults;
    libs = [...(await loadAppConfig(app.dir, { defaults })).scriptLibPath, ...scriptLibDirs, BUNDLED_SCRIPTLIB];
  } catch (err) {
    report.notes.push({ severity: 'error', line: 0, message: `Application.xml: ${message(err)}` });
  }
  const mainDir = scripts.main ? path.dirname(scripts.main) : app.dir;
  const display = (file: string): string => {
    const rel = path.relative(app.dir, file);
    if (!rel.startsWith('..')) return rel.split(path.sep).join('/');
    // ssas's own scriptlib, named as load() names it.
    const lib = path.relative(BUNDLED_SCRIPTLIB, file);
    if (!lib.startsWith('..') && !path.isAbsolute(lib)) return `(ssas scriptlib) ${lib.split(path.sep).join('/')}`;
    return file;
  };
  const queue = [scripts.secure, scripts.main].filter((f): f is string => f !== null);
  const seen = new Set<string>(queue);
  const scanned: { report: FileReport; uses: ApiUse[] }[] = [];
  const defines = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    const fr: FileReport = { file: display(file), uses: [], findings: [] };
    report.files.push(fr);
    let code: string;
    try {
      code = await readScriptSource(file);
    } catch (err) {
      fr.findings.push({ severity: 'error', line: 0, message: message(err) });
      continue;
    }
    const syntax = checkSyntax(code, fr.file);
    if (syntax) {
      const d = syntax.details as { lineno: number; linebuf: string };
      fr.findings.push({ severity: 'error', line: d.lineno, message: syntax.message.replace(/^.*?:\d+: /, '') + ' — V8 cannot compile this script' });
    }
    const scan = scanScript(code, { xmlClass: apis.globals.XML === 'function' });
    fr.findings.push(...scan.findings);
    for (const l of scan.dynamicLoads) fr.findings.push({ severity: 'warning', line: l, message: 'load() of a computed path: not followed by ssas check' });
    for (const d of scan.defines) defines.add(d);
    for (const l of scan.loads) {
      try {
        const target = await resolveLoadPath(mainDir, l.path, libs, { appDir: app.dir });
        if (!seen.has(target)) {
          seen.add(target);
          queue.push(target);
        }
      } catch (err) {
        // At top level the script stops there; inside a function only that function fails.
        fr.findings.push({ severity: l.topLevel ? 'error' : 'warning', line: l.line, message: message(err) });
      }
    }
    scanned.push({ report: fr, uses: scan.uses });
  }
  for (const { report: fr, uses } of scanned) {
    fr.findings.push(...judge(uses, defines, apis));
    const counts = new Map<string, { count: number; supported: boolean }>();
    for (const u of uses) {
      const c = counts.get(u.api) ?? { count: 0, supported: useSupported(u, defines, apis) };
      c.count++;
      counts.set(u.api, c);
    }
    fr.uses = Array.from(counts, ([api, c]) => ({ api, ...c })).sort((a, b) => a.api.localeCompare(b.api));
    fr.findings.sort((a, b) => a.line - b.line || a.severity.localeCompare(b.severity));
  }
  return report;
}

export async function runCheck(dir: string, scriptLibDirs: string[] = []): Promise<CheckReport> {
  const apis = await probeSandbox();
  const apps: AppReport[] = [];
  // The server-wide Application.xml in the applications folder, as `ssas serve` reads it.
  const defaults = await loadAppDefaults(dir).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  for (const app of applicationsIn(dir)) apps.push(await checkApp(app, apis, scriptLibDirs, defaults));
  const all = apps.flatMap((a) => [...a.notes, ...a.files.flatMap((f) => f.findings)]);
  return {
    dir,
    apps,
    errors: all.filter((f) => f.severity === 'error').length,
    unsupported: all.filter((f) => f.severity === 'unsupported').length,
    warnings: all.filter((f) => f.severity === 'warning').length,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatReport(r: CheckReport): string {
  const lines: string[] = [chalk.bold(`ssas check ${r.dir}`), ''];
  const label = { error: chalk.red('error'), unsupported: chalk.yellow('unsupported'), warning: chalk.yellow('warning') };
  for (const app of r.apps) {
    lines.push(chalk.bold(app.name));
    for (const n of app.notes) lines.push(`  ${label[n.severity]}  ${n.message}`);
    for (const f of app.files) {
      const bad = f.findings.some((x) => x.severity === 'error');
      lines.push(`  ${chalk.cyan(f.file)}${bad ? chalk.red('  cannot run') : ''}`);
      if (f.uses.length > 0) {
        const shown = f.uses.map((u) => (u.supported ? u.api : chalk.yellow(u.api)) + (u.count > 1 ? chalk.gray(`×${u.count}`) : ''));
        lines.push(`    ${chalk.gray('uses')}  ${shown.join(', ')}`);
      }
      for (const x of f.findings) lines.push(`    ${label[x.severity]}  ${f.file}${x.line > 0 ? `:${x.line}` : ''}  ${x.message}`);
    }
    lines.push('');
  }
  const blocked = r.apps.filter((a) => [...a.notes, ...a.files.flatMap((f) => f.findings)].some((x) => x.severity === 'error')).length;
  lines.push(
    `${plural(r.apps.length, 'application')}, ${plural(r.apps.reduce((n, a) => n + a.files.length, 0), 'script')}: ` +
      `${blocked} cannot run, ${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.unsupported} unsupported, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}`,
  );
  return lines.join('\n');
}

export async function checkCommand(argv: string[]): Promise<number> {
  const args = parseArgs(checkSpec, argv);
  if (args.help) {
    printLine(formatHelp(checkSpec));
    return 0;
  }
  const dir = args.positionals[0] ? path.resolve(args.positionals[0]) : resolveAppsDir(undefined).dir;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ScriptError('ERR_APP_DIR_NOT_FOUND', `${dir} is not a folder`);
  const report = await runCheck(dir, dirListOption(args.options.scriptlib));
  printLine(args.options.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.errors > 0) return 1;
  if (args.options.strict && report.unsupported + report.warnings > 0) return 1;
  return 0;
}
