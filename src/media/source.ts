/**
 * Random access to media bytes without loading whole files. Readers (FLV, MP4, MP3) see files only through
 * `RandomAccessSource`; `FileSource` is the one place in src/media that touches the file system for reading.
 */
import { promises as fsp } from 'fs';
import { MediaError } from '../errors';

export interface RandomAccessSource {
  /** Total size in bytes, fixed when the source was opened. */
  readonly size: number;
  /** Up to `length` bytes at `position`; shorter only at the end of the source. */
  read(position: number, length: number): Promise<Buffer>;
}

/** A source over bytes already in memory (tests, small files, network buffers). */
export class BufferSource implements RandomAccessSource {
  readonly size: number;
  constructor(private readonly bytes: Buffer) {
    this.size = bytes.length;
  }
  async read(position: number, length: number): Promise<Buffer> {
    const start = Math.max(0, Math.min(position, this.size));
    return this.bytes.subarray(start, Math.min(this.size, start + Math.max(0, length)));
  }
}

/** A source over an open file. `close()` releases the handle; reads after that fail. */
export class FileSource implements RandomAccessSource {
  private constructor(
    private readonly handle: fsp.FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const handle = await fsp.open(path, 'r');
    try {
      const st = await handle.stat();
      return new FileSource(handle, st.size, path);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    const start = Math.max(0, Math.min(position, this.size));
    const n = Math.max(0, Math.min(length, this.size - start));
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.handle.read(buf, got, n - got, start + got);
      if (bytesRead === 0) break; // the file shrank under us: report what is there
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Small-read cache in front of a source: header-sized reads (tag headers, box headers, MP3 frame headers)
 * are served from one block so that a file-backed source does one syscall per block, not per field.
 * Buffers it returns may alias the block; callers that keep bytes (tag payloads) copy them.
 */
export class SourceReader {
  private block: Buffer = Buffer.alloc(0);
  private blockStart = 0;

  constructor(
    readonly source: RandomAccessSource,
    private readonly blockSize = 64 * 1024,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Up to `length` bytes at `position` (shorter at the end of the source). */
  async read(position: number, length: number): Promise<Buffer> {
    if (position < 0 || !Number.isFinite(position) || length < 0) {
      throw new MediaError('ERR_MEDIA_CORRUPT', `read outside the file at ${position}`, { position, length });
    }
    const end = Math.min(this.source.size, position + length);
    if (end <= position) return Buffer.alloc(0);
    if (position >= this.blockStart && end <= this.blockStart + this.block.length) {
      return this.block.subarray(position - this.blockStart, end - this.blockStart);
    }
    if (length > this.blockSize) return this.source.read(position, end - position);
    this.block = await this.source.read(position, this.blockSize);
    this.blockStart = position;
    return this.block.subarray(0, Math.min(this.block.length, end - position));
  }

  /** Exactly `length` bytes or ERR_MEDIA_TRUNCATED. */
  async readExact(position: number, length: number, what: string): Promise<Buffer> {
    const buf = await this.read(position, length);
    if (buf.length !== length) {
      throw new MediaError('ERR_MEDIA_TRUNCATED', `file ends inside ${what}`, { position, length, size: this.size });
    }
    return buf;
  }

  /** Like readExact but the result is a private copy, safe to keep after later reads. */
  async readCopy(position: number, length: number, what: string): Promise<Buffer> {
    const buf = await this.readExact(position, length, what);
    return buf.buffer === this.block.buffer ? Buffer.from(buf) : buf;
  }
}
