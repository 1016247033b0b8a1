/** Terminal output for the CLI: the log sink that prints records with colour, and small print helpers. */
import chalk from 'chalk';
import { addLogSink, type LogRecord } from '../logger';

const levelColour: Record<LogRecord['level'], (s: string) => string> = {
  debug: chalk.gray,
  trace: chalk.cyan,
  info: chalk.green,
  warn: chalk.yellow,
  error: chalk.red,
};

/** An access line ("connect 200 live/_definst_ ..."): the event and its status coloured by the status class. */
function accessMessage(message: string): string {
  const m = /^(\S+) (\d{3})( .*)?$/.exec(message);
  if (!m) return message;
  const status = Number(m[2]);
  const paint = status >= 400 ? chalk.red : status >= 300 || status < 200 ? chalk.yellow : chalk.green;
  return `${paint(`${m[1]} ${m[2]}`)}${m[3] ?? ''}`;
}

export function formatRecord(r: LogRecord): string {
  const t = r.time.toISOString().slice(11, 23);
  const message = r.namespace === 'access' ? accessMessage(r.message) : r.message;
  return `${chalk.dim(t)} ${levelColour[r.level](r.level.padEnd(5))} ${chalk.dim(r.namespace)} ${message}`;
}

/** Sends log records to a stream (stderr by default). Returns the remover. */
export function logToStream(stream: NodeJS.WritableStream = process.stderr): () => void {
  return addLogSink((r) => {
    stream.write(formatRecord(r) + '\n');
  });
}

export function printLine(s: string): void {
  process.stdout.write(s + '\n');
}

export function printError(s: string): void {
  process.stderr.write(chalk.red('error: ') + s + '\n');
}

/**
 * True when this process was started for someone who will not outlive it: `npm start`, `npm run`, `npx` (npm
 * sets npm_lifecycle_event) or the `ssas` wrapper that re-runs node with --no-node-snapshot. npm runs scripts
 * through `sh -c`, and a stop signal to npm reaches that shell, which dies without passing it on: the server
 * would be left listening with nobody to stop it.
 */
export function startedByLauncher(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.npm_lifecycle_event ?? '') !== '' || env.SSAS_STOP_WITH_PARENT === '1';
}

/**
 * Calls `gone` once when the parent process has exited (this process was handed to another parent), checked
 * every `everyMs`. Returns the function that stops watching.
 */
export function onParentExit(gone: () => void, everyMs = 200): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, everyMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * Resolves with the exit status once Ctrl-C or SIGTERM arrived (or, when started by npm or npx, the process
 * that started us is gone) and `shutdown` finished (0, or 1 when it failed). A second signal while shutting
 * down is ignored: the shutdown itself is bounded.
 */
export function untilSignal(shutdown: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let unwatch = (): void => {};
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      unwatch();
      printLine(chalk.dim(`${why}: shutting down`));
      shutdown().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGHUP', () => stop('SIGHUP'));
    if (startedByLauncher()) unwatch = onParentExit(() => stop('the process that started ssas (npm, npx) has exited'));
  });
}
