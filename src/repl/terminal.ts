/**
 * The shell's only contact with the real terminal: the process streams, whether they are a TTY, and the
 * enquirer picker offered when `ssas repl` is started without naming an instance.
 */
import enquirer from 'enquirer';
import type { AppRow } from './session';

export interface TerminalIO {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errorOutput: NodeJS.WritableStream;
  /** A person at a terminal: both stdin and stdout are TTYs. */
  interactive: boolean;
  columns: number | undefined;
}

export function terminalIO(): TerminalIO {
  return {
    input: process.stdin,
    output: process.stdout,
    errorOutput: process.stderr,
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
    columns: process.stdout.columns,
  };
}

/**
 * Asks which application or running instance to open. Running instances come first; typing filters the
 * list. Resolves with "app" or "app/instance", or null when the person cancelled (Ctrl-C, Esc).
 */
export async function pickInstance(apps: AppRow[]): Promise<string | null> {
  const choices: { name: string; message: string; hint?: string }[] = [];
  for (const app of apps) {
    for (const i of app.instances) {
      choices.push({ name: i.name, message: i.name, hint: `running, ${i.clients} client${i.clients === 1 ? '' : 's'}` });
    }
  }
  for (const app of apps) {
    if (app.instances.some((i) => i.name === `${app.name}/_definst_`)) continue;
    choices.push({ name: app.name, message: app.name, hint: 'application (opens _definst_)' });
  }
  if (choices.length === 0) return null;
  try {
    const answer = (await enquirer.prompt({
      type: 'autocomplete',
      name: 'target',
      message: 'Application or instance to open',
      choices,
    })) as { target: string };
    return answer.target;
  } catch {
    return null;
  }
}
