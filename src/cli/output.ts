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

export function formatRecord(r: LogRecord): string {
  const t = r.time.toISOString().slice(11, 23);
  return `${chalk.dim(t)} ${levelColour[r.level](r.level.padEnd(5))} ${chalk.dim(r.namespace)} ${r.message}`;
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
 * Resolves with the exit status once Ctrl-C or SIGTERM arrived and `shutdown` finished (0, or 1 when it
 * failed). A second signal while shutting down is ignored: the shutdown itself is bounded.
 */
export function untilSignal(shutdown: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      printLine(chalk.dim(`${sig}: shutting down`));
      shutdown().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
