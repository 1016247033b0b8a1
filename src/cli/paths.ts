/** Where the bundled parts live, relative to the installed package (works from src/ under ts-jest and from dist/). */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { ApplicationLogWriter } from '../server/app-log';
import { AccessLogWriter } from '../server/access-log';
import type { Server } from '../server/server';
import { ConfigError } from '../errors';

export const packageRoot = path.resolve(__dirname, '..', '..');
/** Sample applications served when no --apps folder exists. */
export const bundledAppsDir = path.join(packageRoot, 'sandbox', 'applications');

/**
 * `--logs DIR`: the logs FMS kept, the per-instance application logs (trace output) and the server's access
 * log (DIR/access.00.log), or null when not asked for. `close()` writes what is waiting.
 */
export function logsOption(value: unknown, server: Server): { close(): Promise<void> } | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const software = `Flash Media Server ${server.config.fmsVersion} (ssas)`;
  const apps = new ApplicationLogWriter({ dir: path.resolve(value), software });
  apps.attach();
  const access = new AccessLogWriter({ dir: path.resolve(value), software });
  access.attach(server.accessEvents);
  return {
    async close() {
      await Promise.all([apps.close(), access.close()]);
    },
  };
}

/** A ';'-separated folder list (`--scriptlib a;b`, `--virtual-path-roots a;b`), resolved; none -> []. */
export function dirListOption(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => path.resolve(s));
}

/** The apps folder `serve` uses: the given one, else ./applications, else the bundled samples. */
export function resolveAppsDir(given: string | undefined): { dir: string; bundled: boolean } {
  if (given !== undefined) {
    const dir = path.resolve(given);
    let isDir = false;
    try {
      isDir = fs.statSync(dir).isDirectory();
    } catch {
      // missing: said below
    }
    if (!isDir) {
      throw new ConfigError('ERR_APPS_DIR_NOT_FOUND', `--apps ${given}: ${fs.existsSync(dir) ? 'is not a folder' : 'no such folder'} (it should hold one sub-folder per application)`, { dir });
    }
    return { dir, bundled: false };
  }
  const local = path.resolve('applications');
  if (fs.existsSync(local) && fs.statSync(local).isDirectory()) return { dir: local, bundled: false };
  return { dir: bundledAppsDir, bundled: true };
}
