/**
 * The SSAS Stream object's host side (ssas-api.md 4): a server-side handle on a named stream of the
 * instance. `play()` makes the server the publisher of the name (outranking a client publisher) and feeds
 * it from a play list of files and live streams; `record()` records whatever the name carries (the server's
 * play list or a client's publish); `send()` injects data messages for subscribers and recordings.
 */
import type { AmfValue } from '../amf';
import { encodeAmf0 } from '../amf';
import { getLogger } from '../logger';
import { info, type InfoObject } from '../rtmp/command';
import type { AppInstance } from '../server/app-instance';
import { liveKey, type LivePublisher, type LiveStream } from '../server/live-stream';
import { Playlist, type PlaylistItem } from '../server/playlist';
import { Recorder, type RecordMode } from '../server/recorder';
import { locateStream, findStreamFile } from '../server/stream-paths';
import { recordLimits, storageOf } from '../server/stream-feature';
import { TAG_SCRIPT } from '../media/tag-info';
import * as fs from 'node:fs';

const log = getLogger('stream');

export interface ServerStreamEvents {
  /** A status for the script's Stream.onStatus (falls back to application.onStatus there). */
  status(stream: ServerStream, info: InfoObject): void;
}

export class ServerStream implements LivePublisher {
  readonly kind = 'server' as const;
  readonly name: string;
  readonly instance: AppInstance;
  readonly live: LiveStream;
  bufferTime = 2;
  syncWrite = false;
  maxQueueDelay = 0;
  maxQueueSize = 0;
  #events: ServerStreamEvents;
  #playlist: Playlist | null = null;
  #recorder: Recorder | null = null;
  #recording: Promise<Recorder | null> | null = null;
  #publishing = false;
  #sentData = false;
  #release: (() => void) | null = null;
  #destroyed = false;

  constructor(instance: AppInstance, name: string, events: ServerStreamEvents) {
    this.instance = instance;
    this.name = name;
    this.#events = events;
    this.live = instance.streams.getOrCreate(liveKey(name.replace(/\?.*$/, '')));
  }

  get label(): string {
    return `server stream ${this.name}`;
  }

  /** Seconds the stream has been playing/publishing (Stream.time). */
  get time(): number {
    if (this.#playlist && this.#publishing) return this.#playlist.time / 1000;
    return this.live.time;
  }

  get publishQueryString(): string {
    return this.live.publishQueryString;
  }

  #status(i: InfoObject): void {
    this.#events.status(this, i);
  }

  /** Stream.play(name, start, len, reset). `reset` 2/3 deliver data messages of files at once. */
  play(item: PlaylistItem, reset: number | boolean): boolean {
    if (this.#destroyed) return false;
    if (!this.#playlist) this.#playlist = this.#makePlaylist();
    this.#takeOver();
    const resetFlag = reset === true || reset === 1 || reset === 3;
    const atOnce = reset === 2 || reset === 3;
    this.#playlist.play({ ...item, dataAtOnce: atOnce }, resetFlag);
    return true;
  }

  /** Stream.play(false): stops playing and releases the name. */
  stop(): boolean {
    if (!this.#playlist) return false;
    this.#playlist.stop(true);
    this.#release?.();
    this.#release = null;
    if (this.#publishing) {
      this.#publishing = false;
      this.live.stopPublishing(this);
      this.#status(info('status', 'NetStream.Unpublish.Success', `${this.name} is now unpublished.`, { details: this.name }));
    }
    return true;
  }

  /** The server outranks clients: a client publishing this name is forced off. */
  #takeOver(): void {
    if (this.#publishing) return;
    const current = this.live.publisher;
    if (current && current !== this) current.forceUnpublish?.(`server stream ${this.name} took over`);
    if (this.live.publisher && this.live.publisher !== this) return;
    this.#publishing = true;
    this.#release ??= this.instance.hold();
    this.live.startPublishing(this);
    this.#status(info('status', 'NetStream.Publish.Start', `${this.name} is now published.`, { details: this.name }));
  }

  #makePlaylist(): Playlist {
    return new Playlist(
      {
        instance: this.instance,
        storage: storageOf(this.instance),
        leadMs: () => Math.max(0, this.bufferTime * 1000),
        highWaterBytes: Number.MAX_SAFE_INTEGER,
      },
      {
        status: (i) => this.#status(i),
        data: (values, ts) => {
          const handler = values[0];
          const payload = encodeAmf0(...values);
          if (handler === 'onMetaData') this.live.setDataFrame('onMetaData', values, payload, ts);
          else if (handler !== '|RtmpSampleAccess') this.live.push(TAG_SCRIPT, ts, payload);
        },
        media: (type, ts, payload) => {
          if (this.#publishing) this.live.push(type, ts, payload);
        },
        userControl: () => undefined,
        backlog: () => 0,
        sampleAccess: () => null,
      },
    );
  }

  /** Stream.record(mode, maxDuration, maxSize); mode false stops. */
  async record(mode: RecordMode | false, maxDurationSec?: number, maxSizeKB?: number): Promise<boolean> {
    if (mode === false) {
      const r = this.#recorder ?? (await this.#recording);
      this.#recorder = null;
      this.#recording = null;
      if (!r) return false;
      await r.stop();
      return true;
    }
    if (this.#recorder || this.#recording) return false;
    let loc;
    try {
      loc = locateStream(storageOf(this.instance), this.name, true);
    } catch (err) {
      this.#status(info('error', 'NetStream.Record.Failed', (err as Error).message, { details: this.name }));
      return false;
    }
    const limits = recordLimits(this.instance);
    const capDuration = maxDurationSec !== undefined && maxDurationSec > 0 ? maxDurationSec : limits.maxDurationSec;
    const capSize = maxSizeKB !== undefined && maxSizeKB > 0 ? maxSizeKB * 1024 : limits.maxSizeBytes;
    this.#recording = Recorder.start({
      live: this.live,
      name: this.name,
      file: loc.candidates[0]!,
      format: loc.format,
      mode,
      quotaRoot: limits.quotaRoot,
      quotaBytes: limits.quotaBytes,
      maxDurationSec: capDuration,
      maxSizeBytes: capSize,
      refuse: this.instance.app.readOnly,
      status: (i) => {
        if (i.code === 'NetStream.Record.Stop' || i.code === 'NetStream.Record.Failed' || i.code === 'NetStream.Record.DiskQuotaExceeded') {
          this.#recorder = null;
        }
        this.#status(i);
      },
    });
    const r = await this.#recording;
    this.#recording = null;
    this.#recorder = r;
    return r !== null;
  }

  /** Stream.send(handler, ...args): a data message to subscribers and into a recording. */
  send(handler: string, args: AmfValue[]): boolean {
    if (handler === '@setDataFrame') {
      const h = typeof args[0] === 'string' ? args[0] : '';
      if (!h) return false;
      const values = [h, ...args.slice(1)];
      this.live.setDataFrame(h, values, encodeAmf0(...values), this.live.lastTimestamp);
      return true;
    }
    if (handler === '@clearDataFrame') {
      const h = typeof args[0] === 'string' ? args[0] : '';
      this.live.setDataFrame(h, null, null, 0);
      return true;
    }
    if (!this.#sentData && this.live.messagesIn === 0) {
      this.#sentData = true;
      this.#status(info('status', 'NetStream.Data.Start', `Data messages started on ${this.name}.`, { details: this.name }));
    }
    this.live.push(TAG_SCRIPT, this.live.lastTimestamp, encodeAmf0(handler, ...args));
    return true;
  }

  /** Stream.flush(): everything recorded so far reaches the disk. */
  async flush(): Promise<boolean> {
    if (!this.#recorder) return false;
    await this.#recorder.flush();
    return true;
  }

  /** Stream.clear(): deletes the recorded file (Clear.Success / Clear.Failed). */
  async clear(): Promise<boolean> {
    if (this.#recorder) await this.record(false);
    try {
      const file = findStreamFile(locateStream(storageOf(this.instance), this.name));
      if (file) fs.unlinkSync(file);
      this.#status(info('status', 'NetStream.Clear.Success', `Cleared ${this.name}.`, { details: this.name }));
      return true;
    } catch (err) {
      this.#status(info('error', 'NetStream.Clear.Failed', `Failed to clear ${this.name}: ${(err as Error).message}`, { details: this.name }));
      return false;
    }
  }

  /** The metadata of the stream (the live data frame, else the recorded file's). */
  getOnMetaData(): AmfValue {
    const f = this.live.dataFrames.get('onMetaData');
    return f ? (f.values[1] ?? null) : null;
  }

  /** Stream.destroy: stops playing and recording and forgets the stream. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.stop();
    await this.record(false).catch(() => undefined);
    this.#destroyed = true;
    this.instance.streams.release(this.live);
  }

  forceUnpublish(reason: string): void {
    log.info(`${this.label}: ${reason}`);
    this.stop();
  }
}
