/**
 * The file edge of the pure media writers: applies their output (truncate, append, patch, sidecar) to files.
 * This and FileSource are the only file-system code in src/media.
 */
import { promises as fsp } from 'fs';
import type { MediaWriter, WriterOutput } from './media-types';
import { repairMp4, type Mp4RepairResult } from './mp4-writer';
import type { MediaTag } from './tag-info';

/** Default sidecar index path for an MP4 recording. */
export function sidecarPath(file: string): string {
  return `${file}.idx`;
}

async function apply(file: fsp.FileHandle, sidecar: fsp.FileHandle | undefined, out: WriterOutput, at: { pos: number; side: number }): Promise<void> {
  if (out.truncateTo !== undefined) {
    await file.truncate(out.truncateTo);
    at.pos = out.truncateTo;
  }
  for (const d of out.data) {
    await file.write(d, 0, d.length, at.pos);
    at.pos += d.length;
  }
  for (const p of out.patches) await file.write(p.bytes, 0, p.bytes.length, p.position);
  if (sidecar) {
    for (const s of out.sidecar) {
      await sidecar.write(s, 0, s.length, at.side);
      at.side += s.length;
    }
  }
}

/**
 * A recording in progress. Writes are queued in call order, so callers may fire and forget; `close()` waits.
 * With `sidecar`, the writer's index records go to that file, which is deleted after a clean close.
 */
export class MediaFileWriter {
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private readonly at = { pos: 0, side: 0 };

  private constructor(
    readonly path: string,
    private readonly writer: MediaWriter,
    private readonly file: fsp.FileHandle,
    private readonly sidecar: fsp.FileHandle | undefined,
    private readonly sidecarFile: string | undefined,
  ) {}

  /** `mode` 'create' truncates an existing file; 'append' keeps it (the writer says where to continue). */
  static async open(path: string, writer: MediaWriter, opts: { mode?: 'create' | 'append'; sidecar?: string } = {}): Promise<MediaFileWriter> {
    const file = await fsp.open(path, opts.mode === 'append' ? 'r+' : 'w');
    let side: fsp.FileHandle | undefined;
    try {
      if (opts.sidecar) side = await fsp.open(opts.sidecar, 'w');
      const w = new MediaFileWriter(path, writer, file, side, opts.sidecar);
      await apply(file, side, writer.start(), w.at);
      return w;
    } catch (err) {
      await file.close();
      await side?.close();
      throw err;
    }
  }

  write(tag: MediaTag): Promise<void> {
    let out: WriterOutput;
    try {
      out = this.writer.write(tag);
    } catch (err) {
      return Promise.reject(err);
    }
    this.queue = this.queue.then(() => (this.failure ? undefined : apply(this.file, this.sidecar, out, this.at))).catch((err) => {
      this.failure ??= err;
    });
    return this.queue.then(() => (this.failure ? Promise.reject(this.failure) : undefined));
  }

  /** Finishes the file (moov / metadata patches), closes it and removes the sidecar. */
  async close(): Promise<void> {
    await this.queue;
    try {
      if (!this.failure) await apply(this.file, this.sidecar, this.writer.end(), this.at);
    } finally {
      await this.file.close();
      await this.sidecar?.close();
    }
    if (this.failure) throw this.failure;
    if (this.sidecarFile) await fsp.rm(this.sidecarFile, { force: true });
  }

  /** Closes the handles without finishing the file (what a crash leaves behind; used by tests). */
  async abandon(): Promise<void> {
    await this.queue;
    await this.file.close();
    await this.sidecar?.close();
  }
}

/** Repairs an interrupted MP4 recording in place from its sidecar index, then deletes the index. */
export async function repairMp4File(path: string, index = sidecarPath(path)): Promise<Mp4RepairResult> {
  const side = await fsp.readFile(index);
  const file = await fsp.open(path, 'r+');
  try {
    const { size } = await file.stat();
    const plan = repairMp4(size, side);
    await apply(file, undefined, plan, { pos: size, side: 0 });
    await fsp.rm(index, { force: true });
    return plan;
  } finally {
    await file.close();
  }
}
