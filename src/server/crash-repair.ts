/**
 * MP4/F4V recordings a crash interrupted (kill -9, power loss) are completed when the server starts, as
 * `ssas repair` would: while recording, ssas appends an index of every sample to `<file>.idx` and writes the
 * moov box only when the recording stops, so a recording that never stopped has media, an index and no
 * moov. At start, every `.idx` next to its media file in the stream folders (each application's `streams`
 * folder and the Vhost.xml virtual directories) is used to rebuild the file and then removed. An index
 * written to in the last few seconds is left alone: another process may be recording there.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isSsasError } from '../errors';
import { getLogger } from '../logger';
import { repairMp4File } from '../media/file-writer';

const log = getLogger('recordings');

const MEDIA = /\.(mp4|f4v|m4v|mov|m4a|3gp)\.idx$/i;
/** How deep and how many entries the walk looks at per folder: stream folders, not whole disks. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 100_000;

export interface RepairOutcome {
  repaired: Array<{ file: string; samples: number; dropped: number }>;
  failed: Array<{ file: string; error: string }>;
}

export async function repairInterruptedRecordings(roots: string[], opts: { quietMs?: number } = {}): Promise<RepairOutcome> {
  const quietMs = opts.quietMs ?? 5000;
  const out: RepairOutcome = { repaired: [], failed: [] };
  const seen = new Set<string>();
  for (const root of roots) {
    const indexes: string[] = [];
    await walk(path.resolve(root), 0, indexes, { left: MAX_ENTRIES });
    for (const idx of indexes) {
      const file = idx.slice(0, -'.idx'.length);
      if (seen.has(file)) continue;
      seen.add(file);
      try {
        const [st] = await Promise.all([fsp.stat(idx), fsp.stat(file)]);
        if (Date.now() - st.mtimeMs < quietMs) continue;
        const r = await repairMp4File(file, idx);
        out.repaired.push({ file, samples: r.samples, dropped: r.droppedSamples });
        log.info(`completed ${file}, a recording interrupted by a crash: ${r.samples} samples kept${r.droppedSamples ? `, ${r.droppedSamples} incomplete dropped` : ''}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // the index without its media file: nothing to complete
        const why = isSsasError(err) ? `${err.message} [${err.code}]` : (err as Error).message;
        out.failed.push({ file, error: why });
        log.warn(`${file}: a recording interrupted by a crash could not be completed: ${why} (ssas repair ${file} tries again)`);
      }
    }
  }
  return out;
}

async function walk(dir: string, depth: number, found: string[], budget: { left: number }): Promise<void> {
  if (depth > MAX_DEPTH || budget.left <= 0) return;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (--budget.left <= 0) return;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, depth + 1, found, budget);
    else if (e.isFile() && MEDIA.test(e.name)) found.push(p);
  }
}
