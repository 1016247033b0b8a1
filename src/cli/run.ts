/**
 * `ssas run DIR[/main.asc]`: serves one application folder (wherever it is) and loads its default instance
 * at once, so script errors show at start. `--inspect` opens the instances' isolates to Chrome DevTools.
 *
 * The server sees a private apps folder holding one link to the application folder: only that application
 * exists for clients, and files it writes (recordings, shared objects) land in the real folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import chalk from 'chalk';
import { createServer } from '../server/create';
import type { Server } from '../server/server';
import type { AppInstance } from '../server/app-instance';
import { ScriptLogic } from '../script/script-logic';
import { findAppScripts } from '../script/discovery';
import { InspectorServer, targetId, type InspectorTarget } from '../script/inspector';
import { ConfigError } from '../errors';
import { setLogLevel, type LogLevel } from '../logger';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { rtmfpPortOption, serveSpec } from './serve';
import { logToStream, printLine, untilSignal } from './output';
import { logsOption, dirListOption } from './paths';

export const runSpec: CommandSpec = {
  name: 'run',
  summary: 'Run one application folder as a server (its default instance loaded at start).',
  usage: 'ssas run DIR[/main.asc] [--host H] [--port N] [--inspect[=[HOST:]PORT]]',
  options: [
    ...serveSpec.options.filter((o) => ['host', 'port', 'rtmfp-port'].includes(o.name)),
    {
      name: 'inspect',
      type: 'string',
      arg: '[HOST:]PORT',
      optionalValue: true,
      description: 'Open the script isolates to Chrome DevTools (default 127.0.0.1:9229; port 0 picks one).',
    },
    ...serveSpec.options.filter((o) => ['idle-timeout', 'log-level', 'logs', 'scriptlib'].includes(o.name)),
  ],
  details: [
    chalk.bold('Examples:'),
    '  ssas run ./myapp/main.asc --port 1935',
    '  ssas run ./myapp --inspect          then open chrome://inspect (or the devtools:// URL printed)',
    '',
    'A script paused at a breakpoint uses no CPU time, so its MaxTimeOut does not stop it while you look around.',
  ].join('\n'),
};

/** The application folder named by DIR or DIR/<script>. */
export function appFolder(arg: string): string {
  const p = path.resolve(arg);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new ConfigError('ERR_APP_DIR_NOT_FOUND', `${arg} does not exist`);
  }
  return st.isDirectory() ? p : path.dirname(p);
}

/** --inspect value: true (default address), "PORT", or "HOST:PORT". Loopback only. */
export function inspectAddress(v: string | number | boolean | undefined): { host: string; port: number } | null {
  if (v === undefined || v === false) return null;
  if (v === true) return { host: '127.0.0.1', port: 9229 };
  const m = /^(?:(.+):)?(\d+)$/.exec(String(v));
  if (!m) throw new ConfigError('ERR_CLI_BAD_VALUE', `--inspect expects [HOST:]PORT, got "${v}"`);
  const host = m[1] ?? '127.0.0.1';
  if (!/^(127\.\d+\.\d+\.\d+|localhost)$/.test(host)) throw new ConfigError('ERR_CLI_BAD_VALUE', `--inspect listens on loopback addresses only, not ${host}`);
  return { host, port: Number(m[2]) };
}

function realPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The debuggable isolates of a server's instances. */
export function inspectorTargets(server: Server): InspectorTarget[] {
  const out: InspectorTarget[] = [];
  for (const inst of server.instances.values()) {
    const logic = inst.logic;
    if (!(logic instanceof ScriptLogic)) continue;
    const rt = logic.runtime;
    if (!rt || rt.dead || rt.isolate.isDisposed) continue;
    const main = logic.files.main ?? logic.files.secure;
    out.push({ id: targetId(inst.name), title: `ssas ${inst.name}`, url: main ? `file://${realPath(main)}` : `ssas://${inst.name}`, isolate: rt.isolate });
  }
  return out;
}

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(runSpec, argv);
  if (args.help) {
    printLine(formatHelp(runSpec));
    return 0;
  }
  if (args.positionals.length !== 1) throw new ConfigError('ERR_CLI_USAGE', `usage: ${runSpec.usage}`);
  const inspect = inspectAddress(args.options.inspect);
  setLogLevel(String(args.options['log-level']) as LogLevel);
  logToStream();
  const dir = appFolder(args.positionals[0]!);
  const name = path.basename(dir);
  const scripts = await findAppScripts(dir, name);
  if (!scripts.main && !scripts.secure) throw new ConfigError('ERR_APP_NO_SCRIPT', `${dir} has no main.asc (nor ${name}.asc, main.js...)`);

  const appsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssas-run-'));
  fs.symlinkSync(dir, path.join(appsDir, name), 'dir');
  const server = createServer({
    appsDir,
    host: String(args.options.host),
    port: Number(args.options.port),
    rtmfpPort: rtmfpPortOption(args.options['rtmfp-port']),
    defaultIdleTimeoutSec: Number(args.options['idle-timeout']),
    inspector: inspect !== null,
    scriptLibDirs: dirListOption(args.options.scriptlib),
  });
  const appLogs = logsOption(args.options.logs, server);
  let inspector: InspectorServer | null = null;
  let release: (() => void) | null = null;
  const cleanup = async (): Promise<void> => {
    release?.();
    await inspector?.close();
    await server.close();
    await appLogs?.close();
    fs.rmSync(appsDir, { recursive: true, force: true });
  };
  try {
    const { url } = await server.listen();
    printLine(`ssas running ${name} (${dir}) on ${url}/${name}`);
    const app = (await server.findApplication(name))!;
    const instance: AppInstance = await server.getInstance(app, '_definst_');
    // While a debugger may be attached the default instance stays loaded, idle or not.
    if (inspect) release = instance.hold();
    await instance.load();
    printLine(chalk.dim(`${instance.name} loaded`));
    if (inspect) {
      inspector = new InspectorServer({ host: inspect.host, port: inspect.port, targets: () => inspectorTargets(server) });
      const a = await inspector.listen();
      printLine(`Debugger listening on ws://${a.host}:${a.port}/${targetId(instance.name)}`);
      printLine(`Open ${chalk.cyan('chrome://inspect')} (Configure: ${a.host}:${a.port}) or ${inspector.devtoolsUrl(targetId(instance.name))}`);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return untilSignal(() => cleanup());
}
