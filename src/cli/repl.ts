/**
 * `ssas repl`: the server of `ssas serve` plus a shell evaluating inside one application instance. At a
 * terminal it is interactive; with piped input it runs the statements and exits (status 1 when one threw).
 */
import chalk from 'chalk';
import { createServer, startApplications } from '../server/create';
import type { Server } from '../server/server';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { rtmfpPortOption, serveSpec } from './serve';
import { resolveAppsDir, dirListOption } from './paths';
import { setLogLevel, type LogLevel } from '../logger';
import { ConfigError, isSsasError } from '../errors';
import { BUNDLED_READ_ONLY } from './init';
import { DEFAULT_STATEMENT_TIMEOUT_SEC, ShellSession, describeError } from '../repl/session';
import { Shell } from '../repl/shell';
import { defaultHistoryFile } from '../repl/history';
import { pickInstance, terminalIO, type TerminalIO } from '../repl/terminal';
import { onParentExit, startedByLauncher } from './output';

export const replSpec: CommandSpec = {
  name: 'repl',
  summary: 'Run the server and an interactive shell inside one application instance.',
  usage: 'ssas repl [--apps DIR] [--host H] [--port N] [APP[/INSTANCE]]',
  // The server options are serve's own.
  options: [
    ...serveSpec.options.filter((o) => ['apps', 'host', 'port', 'rtmfp-port', 'idle-timeout', 'log-level', 'scriptlib'].includes(o.name)),
    {
      name: 'statement-timeout',
      type: 'number',
      arg: 'SEC',
      default: DEFAULT_STATEMENT_TIMEOUT_SEC,
      description: 'Seconds a statement typed in the shell may run before it is stopped (0 = no limit); Ctrl-C stops it sooner. The instance and its clients stay.',
    },
  ],
  details: [
    chalk.bold('Examples:'),
    '  ssas repl chat                        open chat/_definst_ (loaded if not running)',
    "  echo 'application.name' | ssas repl chat",
    '  ssas repl --apps ./applications       choose an application or running instance',
    '',
    'A busy default port (1935) is replaced by a free one; the URL is printed.',
    'Type .help in the shell for its commands. History: ~/.ssas_repl_history ($SSAS_REPL_HISTORY overrides; empty disables).',
  ].join('\n'),
};

/** Listens on the configured port; a busy default port (not one the person chose) falls back to a free one. */
async function listen(make: (port: number) => Server, port: number, chosen: boolean): Promise<{ server: Server; url: string; fellBack: boolean }> {
  const server = make(port);
  try {
    return { server, url: (await server.listen()).url, fellBack: false };
  } catch (err) {
    if (chosen || !isSsasError(err) || err.code !== 'ERR_NET_ADDRESS_IN_USE') throw err;
    const other = make(0);
    return { server: other, url: (await other.listen()).url, fellBack: true };
  }
}

export async function replCommand(argv: string[], io: TerminalIO = terminalIO(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseArgs(replSpec, argv);
  const say = (s: string): void => void io.output.write(s + '\n');
  const warn = (s: string): void => void io.errorOutput.write(s + '\n');
  if (args.help) {
    say(formatHelp(replSpec));
    return 0;
  }
  if (args.positionals.length > 1) {
    warn(`ssas repl takes one APP[/INSTANCE], got: ${args.positionals.join(' ')}`);
    return 2;
  }
  const statementTimeoutSec = Number(args.options['statement-timeout']);
  if (!(statementTimeoutSec >= 0)) throw new ConfigError('ERR_CLI_BAD_VALUE', `--statement-timeout expects seconds (0 or more), got ${args.options['statement-timeout']}`);
  setLogLevel(String(args.options['log-level']) as LogLevel);
  const apps = resolveAppsDir(args.options.apps as string | undefined);
  const { server, url, fellBack } = await listen(
    (port) =>
      createServer({
        appsDir: apps.dir,
        host: String(args.options.host),
        port,
        rtmfpPort: rtmfpPortOption(args.options['rtmfp-port']),
        defaultIdleTimeoutSec: Number(args.options['idle-timeout']),
        scriptLibDirs: dirListOption(args.options.scriptlib),
        // Ctrl-C stops a statement typed in the shell, and only it.
        interruptibleStatements: true,
        appsReadOnly: apps.bundled ? BUNDLED_READ_ONLY : undefined,
      }),
    Number(args.options.port),
    argv.some((a) => a === '--port' || a.startsWith('--port=')),
  );
  const session = new ShellSession(server, { statementTimeoutSec });
  // Piped mode prints no colour; its notices go to stderr so stdout holds only results.
  const paint = (f: (s: string) => string, s: string): string => (io.interactive ? f(s) : s);
  try {
    const notice = io.interactive ? say : warn;
    notice(paint(chalk.gray, `ssas listening on ${url}${fellBack ? ` (port ${args.options.port} is busy)` : ''}`));
    for (const p of await startApplications(server)) notice(paint(chalk.red, `application ${p.app} cannot start: ${p.error}`));
    let target: string | null = args.positionals[0] ?? null;
    if (!target) {
      if (!io.interactive) {
        warn('name the application to open: ssas repl APP[/INSTANCE] (the list needs a terminal)');
        return 2;
      }
      target = await pickInstance(await session.listApps());
      if (!target) return 1;
    }
    try {
      await session.attach(target);
    } catch (err) {
      warn(paint(chalk.red, `cannot open ${target}: ${describeError(err)}`));
      return 1;
    }
    const shell = new Shell({
      input: io.input,
      output: io.output,
      errorOutput: io.errorOutput,
      interactive: io.interactive,
      colors: io.interactive,
      session,
      serverUrl: url,
      historyFile: defaultHistoryFile(env),
      cwd: process.cwd(),
      columns: io.columns,
    });
    if (io.interactive) say(chalk.gray(`${session.name}: type SSAS to evaluate it in the instance, .help for commands, Ctrl+C stops a statement, Ctrl+D leaves`));
    // Killed or hung up: leave like Ctrl-D, so the server shuts down cleanly (shared objects saved, clients told).
    // At a terminal Ctrl-C is a key the shell handles; in piped mode it is this signal.
    const signals: NodeJS.Signals[] = io.interactive ? ['SIGTERM', 'SIGHUP'] : ['SIGTERM', 'SIGHUP', 'SIGINT'];
    const leave = (): void => shell.finish();
    for (const sig of signals) process.on(sig, leave);
    const unwatch = startedByLauncher(env) ? onParentExit(leave) : () => {};
    try {
      return await shell.run();
    } finally {
      unwatch();
      for (const sig of signals) process.off(sig, leave);
    }
  } finally {
    session.dispose();
    await server.close();
  }
}
