/**
 * Records a live stream to a file (FLV, or MP4/F4V for `mp4:` names): a subscriber of the LiveStream that
 * hands every message to a pure writer and applies its output at the file edge. Modes as FMS: "record"
 * (new file, overwrite), "append" (continue the file's timeline), "appendWithGap" (continue after the wall
 * clock gap since the file was last written). A failing disk stops the recording with Record.Failed and
 * never disturbs the live stream; the instance's DiskQuota gives Record.DiskQuotaExceeded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlvWriter, Mp4Writer, FileSource, inspectFlvForAppend, type MediaWriter } from '../media';
import { MediaFileWriter, sidecarPath } from '../media/file-writer';
import { getLogger } from '../logger';
import { info, type InfoObject } from '../rtmp/command';
import { isSsasError } from '../errors';
import { TAG_SCRIPT } from '../media/tag-info';
import type { LiveMessage, LiveStream, LiveSubscriber } from './live-stream';
import { folderBytes } from './stream-paths';

const log = getLogger('recorder');

export type RecordMode = 'record' | 'append' | 'appendWithGap';

export interface RecorderOptions {
  live: LiveStream;
  /** The stream name as the client/script gave it (for status details). */
  name: string;
  file: string;
  format: 'flv' | 'mp4' | 'mp3';
  mode: RecordMode;
  /** Folder whose total size counts against the quota, and the quota in bytes (undefined = none). */
  quotaRoot?: string;
  quotaBytes?: number;
  /** Stop after this many seconds / bytes (undefined = unlimited). */
  maxDurationSec?: number;
  maxSizeBytes?: number;
  status: (info: InfoObject) => void;
  clientId?: string;
  /** Why nothing may be written where the file would go (the bundled samples): NetStream.Record.NoAccess. */
  refuse?: string;
}

export class Recorder implements LiveSubscriber {
  readonly name: string;
  readonly file: string;
  readonly live: LiveStream;
  #opts: RecorderOptions;
  #writer: MediaFileWriter | null = null;
  #stopped = false;
  #startTs: number | null = null;
  #bytes = 0;
  #baseBytes = 0;
  #pending: Promise<void> = Promise.resolve();
  #sawVideoKey = false;

  private constructor(opts: RecorderOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.file = opts.file;
    this.live = opts.live;
  }

  /**
   * Opens the file and subscribes. Status events (Record.Start/NoAccess/Failed/DiskQuotaExceeded) go to
   * `opts.status`; resolves with the recorder, or null when recording could not start.
   */
  static async start(opts: RecorderOptions): Promise<Recorder | null> {
    const r = new Recorder(opts);
    const detail = { details: opts.name, clientid: opts.clientId };
    if (opts.refuse) {
      log.warn(`not recording ${opts.name}: ${opts.refuse}`);
      opts.status(info('error', 'NetStream.Record.NoAccess', `Cannot record ${opts.name}: ${opts.refuse}`, detail));
      return null;
    }
    if (opts.format === 'mp3') {
      opts.status(info('error', 'NetStream.Record.Failed', `Recording ${opts.name} as MP3 is not supported.`, detail));
      return null;
    }
    if (opts.quotaBytes !== undefined && opts.quotaRoot && folderBytes(opts.quotaRoot) >= opts.quotaBytes) {
      opts.status(info('error', 'NetStream.Record.DiskQuotaExceeded', `Disk quota exceeded: cannot record ${opts.name}.`, detail));
      return null;
    }
    try {
      fs.mkdirSync(path.dirname(opts.file), { recursive: true });
      if (fs.existsSync(opts.file)) {
        fs.accessSync(opts.file, fs.constants.W_OK);
        const st = fs.statSync(opts.file);
        if ((st.mode & 0o222) === 0) throw Object.assign(new Error('read-only file'), { code: 'EACCES' });
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const noAccess = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
      opts.status(
        info(noAccess ? 'error' : 'error', noAccess ? 'NetStream.Record.NoAccess' : 'NetStream.Record.Failed', `Cannot record ${opts.name}: ${(err as Error).message}`, detail),
      );
      return null;
    }
    try {
      r.#writer = await r.#open();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const noAccess = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
      opts.status(
        info('error', noAccess ? 'NetStream.Record.NoAccess' : 'NetStream.Record.Failed', `Cannot record ${opts.name}: ${isSsasError(err) ? err.message : (err as Error).message}`, detail),
      );
      return null;
    }
    opts.status(info('status', 'NetStream.Record.Start', `Recording ${opts.name}.`, detail));
    // Start with what a late joiner would get, so the file begins decodable.
    for (const m of opts.live.startupMessages()) r.onLiveMessage(m);
    opts.live.subscribe(r);
    return r;
  }

  async #open(): Promise<MediaFileWriter> {
    const o = this.#opts;
    const exists = fs.existsSync(o.file) && fs.statSync(o.file).size > 0;
    const appending = o.mode !== 'record' && exists;
    let writer: MediaWriter;
    if (o.format === 'mp4') {
      if (appending) log.warn(`${o.name}: append to MP4 is not supported, recording a new file`);
      writer = new Mp4Writer({ brand: /\.f4v$/i.test(o.file) ? 'f4v' : 'mp4' });
      return MediaFileWriter.open(o.file, writer, { mode: 'create', sidecar: sidecarPath(o.file) });
    }
    const meta = o.live.dataFrames.get('onMetaData')?.values[1];
    const metadata = meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, never>) : undefined;
    if (appending) {
      const src = await FileSource.open(o.file);
      try {
        const append = await inspectFlvForAppend(src);
        const gap = o.mode === 'appendWithGap' ? Math.max(0, Date.now() - fs.statSync(o.file).mtimeMs) : 0;
        this.#baseBytes = src.size;
        writer = new FlvWriter({ append, appendGap: Math.round(gap), metadata });
      } finally {
        await src.close();
      }
      return MediaFileWriter.open(o.file, writer, { mode: 'append' });
    }
    writer = new FlvWriter({ metadata });
    return MediaFileWriter.open(o.file, writer, { mode: 'create' });
  }

  onLiveMessage(msg: LiveMessage): void {
    if (this.#stopped || !this.#writer) return;
    // A recording starts at a key frame (sequence headers and data before it are kept).
    if (msg.type === 9 && !msg.essential) {
      if (!this.#sawVideoKey && !msg.keyframe) return;
      this.#sawVideoKey = true;
    }
    if (msg.type === TAG_SCRIPT && isDataFrameCopy(msg)) return;
    if (this.#startTs === null && !msg.essential) this.#startTs = msg.timestamp;
    this.#bytes += msg.payload.length + 15;
    const o = this.#opts;
    if (o.maxSizeBytes !== undefined && this.#bytes > o.maxSizeBytes) {
      void this.stop(info('status', 'NetStream.Record.Stop', `Recording ${o.name} reached its maximum size.`, { details: o.name, clientid: o.clientId }));
      return;
    }
    if (o.maxDurationSec !== undefined && this.#startTs !== null && msg.timestamp - this.#startTs > o.maxDurationSec * 1000) {
      void this.stop(info('status', 'NetStream.Record.Stop', `Recording ${o.name} reached its maximum duration.`, { details: o.name, clientid: o.clientId }));
      return;
    }
    if (o.quotaBytes !== undefined && o.quotaRoot && this.#bytes % (256 * 1024) < msg.payload.length + 15) {
      if (folderBytes(o.quotaRoot) > o.quotaBytes) {
        void this.stop(info('error', 'NetStream.Record.DiskQuotaExceeded', `Disk quota exceeded while recording ${o.name}.`, { details: o.name, clientid: o.clientId }));
        return;
      }
    }
    const w = this.#writer;
    this.#pending = w.write({ type: msg.type, timestamp: msg.timestamp, payload: msg.payload }).catch((err) => {
      this.#fail(err);
    });
  }

  /** The publisher left: the recording ends with it (a new publisher needs a new record()). */
  onUnpublishNotify(): void {
    void this.stop();
  }

  #fail(err: unknown): void {
    if (this.#stopped) return;
    const o = this.#opts;
    const why = (err as Error)?.message ?? String(err);
    log.warn(`recording ${o.name} to ${o.file} failed: ${why}`);
    void this.stop(info('error', 'NetStream.Record.Failed', `Recording ${o.name} failed: ${why}`, { details: o.name, clientid: o.clientId }));
  }

  /** Bytes written so far (this recording session). */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /** Waits until everything received so far is on disk (Stream.flush). */
  async flush(): Promise<void> {
    await this.#pending;
  }

  /** Stops recording, finishes the file (metadata / moov) and reports `final` (default Record.Stop). */
  async stop(final?: InfoObject): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const o = this.#opts;
    this.live.unsubscribe(this);
    try {
      await this.#pending;
      await this.#writer?.close();
    } catch (err) {
      log.warn(`closing recording ${o.file} failed: ${(err as Error).message}`);
      if (!final) final = info('error', 'NetStream.Record.Failed', `Recording ${o.name} failed: ${(err as Error).message}`, { details: o.name, clientid: o.clientId });
    }
    o.status(final ?? info('status', 'NetStream.Record.Stop', `Stopped recording ${o.name}.`, { details: o.name, clientid: o.clientId }));
  }
}

/** The cached @setDataFrame copy replayed at start is already in the writer's metadata. */
function isDataFrameCopy(msg: LiveMessage): boolean {
  return msg.timestamp === 0 && msg.payload.length > 13 && msg.payload[0] === 2 && msg.payload.subarray(3, 13).toString('latin1') === 'onMetaData';
}
