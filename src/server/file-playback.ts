/**
 * Plays one recorded file at real-time pace: tags go out `leadMs` ahead of the wall clock (the player's
 * buffer), never faster than the target drains (a slow player pauses the reader instead of growing a
 * queue), and the file is read as it is played, never loaded whole.
 */
import { FileSource, Mp4Reader, openMediaReader, type MediaFormat, type MediaInfo, type MediaReader } from '../media';
import { promises as fsp } from 'node:fs';
import type { MediaTag } from '../media/tag-info';
import { decodeAmf0All } from '../amf';

export interface PlaybackTarget {
  /** Delivers a tag (timestamps are the file's own; the caller rebases them if it needs to). */
  tag(tag: MediaTag): void;
  /** Bytes waiting to be sent to the player (backpressure), 0 for server-side targets. */
  backlog(): number;
}

export interface PlaybackOptions {
  /** Start position in ms (seek to the key frame at or before it). */
  startMs: number;
  /** Milliseconds to play; -1 = to the end; 0 = only the first video frame. */
  lenMs: number;
  /** How far ahead of real time tags are sent. */
  leadMs: number;
  /** Pause sending while the target holds more than this many bytes. */
  highWaterBytes: number;
  /** Deliver every data message at once instead of at its timestamp (Stream.play reset 2/3). */
  dataAtOnce?: boolean;
}

/**
 * Parsed MP4 files (moov and sample tables) shared by their players, keyed by path, size and modification
 * time, the least recently used dropped first. Parsing a long file's moov costs milliseconds and megabytes;
 * a hundred players of one file should pay it once.
 */
const mp4Parsed = new Map<string, Mp4Reader>();
const MP4_CACHE_FILES = 32;

const BURST_MS = 50;

const sleep = (ms: number): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    t.unref?.();
  });

export class FilePlayback {
  readonly file: string;
  readonly info: MediaInfo;
  #reader: MediaReader;
  #source: FileSource;
  #closed = false;
  #paused = false;
  #pauseWaiters: (() => void)[] = [];
  /** Wall clock (ms) that corresponds to #clockTs. */
  #clockWall = 0;
  #clockTs = 0;
  #lastTs = 0;
  #bytes = 0;
  #seekTo: number | null = null;
  #running: Promise<'end' | 'closed'> | null = null;

  private constructor(file: string, source: FileSource, reader: MediaReader) {
    this.file = file;
    this.#source = source;
    this.#reader = reader;
    this.info = reader.info;
  }

  /** Opens and parses the file's headers; throws MediaError for missing, truncated or corrupt files. */
  static async open(file: string, format?: MediaFormat): Promise<FilePlayback> {
    const source = await FileSource.open(file);
    try {
      const st = await fsp.stat(file);
      const key = `${file}\0${st.size}\0${st.mtimeMs}`;
      const parsed = mp4Parsed.get(key);
      if (parsed) {
        // Refresh its place in the LRU order.
        mp4Parsed.delete(key);
        mp4Parsed.set(key, parsed);
        return new FilePlayback(file, source, parsed.fork(source));
      }
      const reader = await openMediaReader(source, format);
      if (reader instanceof Mp4Reader) {
        mp4Parsed.set(key, reader);
        if (mp4Parsed.size > MP4_CACHE_FILES) mp4Parsed.delete(mp4Parsed.keys().next().value!);
      }
      return new FilePlayback(file, source, reader);
    } catch (err) {
      await source.close().catch(() => undefined);
      throw err;
    }
  }

  /** Timestamp of the last tag delivered. */
  get position(): number {
    return this.#lastTs;
  }

  get bytesSent(): number {
    return this.#bytes;
  }

  /** Runs until the end (or `lenMs`), then resolves 'end'; 'closed' when stopped early. */
  run(target: PlaybackTarget, opts: PlaybackOptions): Promise<'end' | 'closed'> {
    this.#running ??= this.#loop(target, opts);
    return this.#running;
  }

  async #loop(target: PlaybackTarget, opts: PlaybackOptions): Promise<'end' | 'closed'> {
    let startTs = opts.startMs > 0 ? await this.#reader.seek(opts.startMs) : 0;
    this.#resetClock(startTs);
    let sawVideoFrame = false;
    for (;;) {
      if (this.#closed) return 'closed';
      if (this.#seekTo !== null) {
        const to = this.#seekTo;
        this.#seekTo = null;
        startTs = await this.#reader.seek(to);
        this.#resetClock(startTs);
        sawVideoFrame = false;
      }
      const tag = await this.#reader.next();
      if (this.#closed) return 'closed';
      if (this.#seekTo !== null) continue;
      if (!tag) return 'end';
      if (tag.type === 18 && isOnMetaData(tag.payload)) continue; // sent once at start by the caller
      if (opts.lenMs > 0 && tag.timestamp > startTs + opts.lenMs) return 'end';
      if (opts.lenMs === 0 && sawVideoFrame) return 'end';
      if (!(tag.type === 18 && opts.dataAtOnce)) await this.#pace(tag.timestamp, target, opts);
      if (this.#closed) return 'closed';
      if (this.#seekTo !== null) continue;
      target.tag(tag);
      this.#lastTs = tag.timestamp;
      this.#bytes += tag.payload.length;
      if (tag.type === 9 && tag.payload.length > 1 && !(tag.payload[0] === 0x17 && tag.payload[1] === 0)) sawVideoFrame = true;
    }
  }

  #resetClock(ts: number): void {
    this.#clockWall = Date.now();
    this.#clockTs = ts;
    this.#lastTs = ts;
  }

  async #pace(ts: number, target: PlaybackTarget, opts: PlaybackOptions): Promise<void> {
    for (;;) {
      if (this.#closed || this.#seekTo !== null) return;
      if (this.#paused) {
        const pausedAt = Date.now();
        await new Promise<void>((r) => this.#pauseWaiters.push(r));
        // Time stood still while paused.
        this.#clockWall += Date.now() - pausedAt;
        continue;
      }
      const due = this.#clockWall + (ts - this.#clockTs) - opts.leadMs;
      const wait = due - Date.now();
      // Tags due within the next BURST_MS go out now: one wake-up per player every ~50 ms rather than one
      // per tag (at 1000 players of a 70-tags/s file, 70,000 timers a second otherwise).
      if (wait > BURST_MS) {
        await sleep(Math.min(wait, 250));
        continue;
      }
      if (target.backlog() > opts.highWaterBytes) {
        await sleep(20);
        continue;
      }
      return;
    }
  }

  pause(paused: boolean): void {
    this.#paused = paused;
    if (!paused) {
      const w = this.#pauseWaiters;
      this.#pauseWaiters = [];
      for (const r of w) r();
    }
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Repositions to the key frame at or before `ms`; takes effect at the next tag. */
  seek(ms: number): void {
    this.#seekTo = Math.max(0, ms);
    this.pause(this.#paused);
    // Wake a paced wait at once.
    const w = this.#pauseWaiters;
    if (!this.#paused) {
      this.#pauseWaiters = [];
      for (const r of w) r();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#pauseWaiters;
    this.#pauseWaiters = [];
    for (const r of w) r();
    void this.#source.close().catch(() => undefined);
  }
}

function isOnMetaData(payload: Buffer): boolean {
  // Cheap check before decoding: AMF0 string marker, length 10, "onMetaData".
  if (payload.length < 13 || payload[0] !== 2) return false;
  if (payload.readUInt16BE(1) !== 10) return false;
  try {
    return decodeAmf0All(payload.subarray(0, 13))[0] === 'onMetaData';
  } catch {
    return false;
  }
}
