/** Scratch directories for peers (configs, logs, recordings) under the OS temp dir. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Creates a fresh directory `ssas-<prefix>-XXXXXX` under the OS temp dir. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ssas-${prefix}-`));
}

/** Removes a directory tree; never throws (cleanup must not mask a test failure). */
export function removeDir(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/** Copies a folder tree (fixture applications into a scratch apps folder). */
export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}
