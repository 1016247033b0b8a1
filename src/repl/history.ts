/**
 * The shell's history file: one entry per line, oldest first (readable and appendable like a shell's),
 * kept to a bounded number of entries. readline holds history newest first; these functions convert.
 * A history file that cannot be read or written never stops the shell.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_HISTORY_SIZE = 1000;

/** The history file: $SSAS_REPL_HISTORY (empty = none), else ~/.ssas_repl_history. */
export function defaultHistoryFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env.SSAS_REPL_HISTORY;
  if (v !== undefined) return v.trim() === '' ? null : path.resolve(v);
  return path.join(os.homedir(), '.ssas_repl_history');
}

/** Entries newest first, as readline wants them. */
export function loadHistory(file: string | null, size = DEFAULT_HISTORY_SIZE): string[] {
  if (!file) return [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-size)
    .reverse();
}

/** Writes readline's history (newest first) to the file, oldest first. Returns false when it could not. */
export function saveHistory(file: string | null, newestFirst: readonly string[], size = DEFAULT_HISTORY_SIZE): boolean {
  if (!file) return false;
  const lines = newestFirst
    .slice(0, size)
    .filter((l) => l.trim() !== '' && !l.includes('\n'))
    .reverse();
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, lines.join('\n') + (lines.length > 0 ? '\n' : ''), { mode: 0o600 });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}
