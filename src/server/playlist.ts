/**
 * A play list as FMS keeps one per stream: `play(name, start, len, reset)` items that play back to back,
 * each a recorded file or a live stream (ssas-api.md 4.2). Used for client NetStreams playing files and for
 * server-side Stream objects (which republish what they play).
 *
 * start -2: live if someone publishes the name, else the file, else wait for a publisher; -1: live only (wait);
 * >= 0: the file from that second (not found: StreamNotFound, next item). len -1: all; 0: one frame; > 0: seconds.
 * reset true starts over (Play.Reset); false appends (Play.Switch at the transition). Timestamps stay
 * continuous across items: the first item keeps its own timestamps (so positions after a seek mean what the
 * file says), later items continue from where the previous one stopped.
 */
import type { AmfValue } from '../amf';
import { isSsasError } from '../errors';
import { getLogger } from '../logger';
import { info, type InfoObject } from '../rtmp/command';
import { UserControlEvent } from '../rtmp/types';
import { FilePlayback } from './file-playback';
import type { AppInstance } from './app-instance';
import { liveKey, type LiveMessage, type LiveStream, type LiveSubscriber } from './live-stream';
import { findStreamFile, locateStream, type StreamStorage } from './stream-paths';
import { Status } from './status';

const log = getLogger('playlist');

export interface PlaylistItem {
  name: string;
  start: number;
  len: number;
  /** Deliver a file's data messages at once (reset 2/3 of Stream.play). */
  dataAtOnce?: boolean;
  /** The virtual key files are looked up with (Stream.play's virtualKey); the storage's own when absent. */
  virtualKey?: string;
  /** Pull the live stream from elsewhere (remote NetConnection); resolved by the caller. */
  liveSource?: () => LiveStream | null;
}

export interface PlaylistSink {
  status(info: InfoObject): void;
  /** A data message built by the server (onMetaData, onPlayStatus, |RtmpSampleAccess, onId3). */
  data(values: AmfValue[], timestamp: number): void;
  /** Media and file data messages with their output timestamp. */
  media(type: 8 | 9 | 18, timestamp: number, payload: Buffer): void;
  userControl(event: number): void;
  /** Bytes waiting for the player (0 for server streams). */
  backlog(): number;
  /** Client sinks get the |RtmpSampleAccess message for this name; server sinks return null. */
  sampleAccess(name: string): [boolean, boolean] | null;
}

export interface PlaylistOptions {
  instance: AppInstance;
  storage: StreamStorage;
  leadMs: () => number;
  highWaterBytes: number;
  clientId?: string;
}

type Active =
  | { kind: 'file'; item: PlaylistItem; playback: FilePlayback }
  | { kind: 'live'; item: PlaylistItem; live: LiveStream; sub: LiveSubscriber; timer: NodeJS.Timeout | null }
  | null;

export class Playlist {
  readonly #opts: PlaylistOptions;
  readonly #sink: PlaylistSink;
  #queue: PlaylistItem[] = [];
  #active: Active = null;
  #generation = 0;
  /** Output timestamp handling. */
  #itemIndex = 0;
  #base = 0;
  #firstTs: number | null = null;
  #lastOut = 0;
  #stopped = true;
  /** True while the next item is being opened (an append must not start another one meanwhile). */
  #starting = false;
  /** Name of the item that played last (Play.Stop names it). */
  #lastName = '';

  constructor(opts: PlaylistOptions, sink: PlaylistSink) {
    this.#opts = opts;
    this.#sink = sink;
  }

  get current(): PlaylistItem | null {
    return this.#active?.item ?? null;
  }

  get isFile(): boolean {
    return this.#active?.kind === 'file';
  }

  /** Output time of the last message, in ms (Stream.time / NetStream.time). */
  get time(): number {
    return this.#lastOut;
  }

  /** Adds an item; returns false when the name is invalid. */
  play(item: PlaylistItem, reset: boolean): void {
    if (reset || this.#stopped) {
      this.#stopActive();
      this.#queue = [];
      this.#itemIndex = 0;
      this.#base = 0;
      this.#firstTs = null;
      this.#lastOut = 0;
      this.#stopped = false;
      if (reset) this.#sink.status(Status.playReset(item.name, this.#opts.clientId));
      this.#queue.push(item);
      void this.#next();
      return;
    }
    this.#queue.push(item);
    if (!this.#active && !this.#starting) void this.#next();
  }

  /** play(false): stops and empties the list. */
  stop(notify = true): void {
    const name = this.#active?.item.name;
    this.#stopActive();
    this.#queue = [];
    const wasStopped = this.#stopped;
    this.#stopped = true;
    if (notify && !wasStopped && name !== undefined) this.#sink.status(Status.playStop(name, this.#opts.clientId));
  }

  pause(paused: boolean): void {
    const a = this.#active;
    if (a?.kind === 'file') a.playback.pause(paused);
  }

  /** Seeks within the current file item (live items cannot seek). Returns false when not possible. */
  seek(ms: number): boolean {
    const a = this.#active;
    if (a?.kind !== 'file') return false;
    a.playback.seek(ms);
    const name = a.item.name;
    this.#sink.status(info('status', 'NetStream.Seek.Notify', `Seeking ${ms} (stream ID: 1).`, { details: name, clientid: this.#opts.clientId }));
    this.#sink.userControl(UserControlEvent.StreamIsRecorded);
    this.#sink.userControl(UserControlEvent.StreamBegin);
    this.#sink.status(Status.playStart(name, this.#opts.clientId));
    const sa = this.#sink.sampleAccess(name);
    if (sa) this.#sink.data(['|RtmpSampleAccess', sa[0], sa[1]], 0);
    // Sequence headers come again from the reader after a seek; the output clock follows the file.
    this.#firstTs = null;
    return true;
  }

  #stopActive(): void {
    this.#generation++;
    const a = this.#active;
    this.#active = null;
    if (!a) return;
    if (a.kind === 'file') a.playback.close();
    else {
      if (a.timer) clearTimeout(a.timer);
      a.live.unsubscribe(a.sub);
      this.#opts.instance.streams.release(a.live);
    }
  }

  #out(ts: number): number {
    if (this.#itemIndex === 1) {
      this.#lastOut = ts;
      return ts;
    }
    if (this.#firstTs === null) this.#firstTs = ts;
    const out = Math.max(0, this.#base + (ts - this.#firstTs));
    this.#lastOut = out;
    return out;
  }

  async #next(): Promise<void> {
    this.#starting = true;
    try {
      await this.#startNext();
    } finally {
      this.#starting = false;
    }
  }

  async #startNext(): Promise<void> {
    this.#stopActive();
    const gen = this.#generation;
    const item = this.#queue.shift();
    if (!item) {
      this.#complete();
      return;
    }
    this.#itemIndex++;
    this.#lastName = item.name;
    if (this.#itemIndex > 1) {
      this.#base = this.#lastOut + 1;
      this.#firstTs = null;
    }
    const first = this.#itemIndex === 1;
    const instance = this.#opts.instance;
    const key = liveKey(item.name.replace(/\?.*$/, ''));
    const remote = item.liveSource?.() ?? null;
    const liveNow = remote ?? (instance.streams.get(key)?.isPublishing ? instance.streams.get(key)! : null);
    if (item.start < -2 || (item.start < 0 && item.start > -1) || Number.isNaN(item.start)) item.start = -2;
    const wantsFile = item.start >= 0 || (item.start === -2 && !liveNow);
    if (wantsFile && !remote) {
      let file: string | null = null;
      let format;
      try {
        const storage = item.virtualKey ? { ...this.#opts.storage, virtualKey: item.virtualKey } : this.#opts.storage;
        const loc = locateStream(storage, item.name);
        file = findStreamFile(loc);
        format = loc.format;
      } catch (err) {
        log.debug(`bad stream name ${item.name}: ${(err as Error).message}`);
      }
      if (file) {
        let playback: FilePlayback;
        try {
          playback = await FilePlayback.open(file, format);
        } catch (err) {
          if (gen !== this.#generation) return;
          const why = isSsasError(err) ? `${err.message} [${err.code}]` : (err as Error).message;
          this.#sink.status(Status.playFailed(item.name, `Failed to play ${item.name}: ${why}`, this.#opts.clientId));
          return this.#startNext();
        }
        if (gen !== this.#generation) {
          playback.close();
          return;
        }
        this.#startFile(item, playback, first, gen);
        return;
      }
      if (item.start >= 0) {
        this.#sink.status(Status.playStreamNotFound(item.name, this.#opts.clientId));
        return this.#startNext();
      }
    }
    this.#startLive(item, remote ?? instance.streams.getOrCreate(key), first);
  }

  #announce(item: PlaylistItem, first: boolean, recorded: boolean): void {
    if (recorded) this.#sink.userControl(UserControlEvent.StreamIsRecorded);
    this.#sink.userControl(UserControlEvent.StreamBegin);
    if (first) this.#sink.status(Status.playStart(item.name, this.#opts.clientId));
    else {
      this.#sink.status(info('status', 'NetStream.Play.Switch', `Switched to ${item.name}.`, { details: item.name, clientid: this.#opts.clientId }));
      this.#sink.data(['onPlayStatus', info('status', 'NetStream.Play.Switch', undefined, { details: item.name })], this.#lastOut);
    }
    const sa = this.#sink.sampleAccess(item.name);
    if (sa && first) this.#sink.data(['|RtmpSampleAccess', sa[0], sa[1]], 0);
  }

  #startFile(item: PlaylistItem, playback: FilePlayback, first: boolean, gen: number): void {
    this.#active = { kind: 'file', item, playback };
    this.#announce(item, first, true);
    const meta = { ...playback.info.onMetaData } as Record<string, AmfValue>;
    if (typeof meta.duration !== 'number') meta.duration = playback.info.duration;
    const startMs = Math.max(0, item.start) * 1000;
    this.#sink.data(['onMetaData', meta], first ? startMs : this.#lastOut);
    if (/^id3:/i.test(item.name) && playback.info.id3) this.#sink.data(['onId3', playback.info.id3 as Record<string, AmfValue>], first ? startMs : this.#lastOut);
    const lenMs = item.len < 0 ? -1 : item.len * 1000;
    playback
      .run(
        {
          tag: (t) => this.#sink.media(t.type, this.#out(t.timestamp), t.payload),
          backlog: () => this.#sink.backlog(),
        },
        { startMs, lenMs, leadMs: this.#opts.leadMs(), highWaterBytes: this.#opts.highWaterBytes, dataAtOnce: item.dataAtOnce },
      )
      .then(
        (why) => {
          if (why === 'end' && gen === this.#generation) void this.#next();
        },
        (err) => {
          if (gen !== this.#generation) return;
          const why = isSsasError(err) ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
          log.warn(`playback of ${item.name} failed: ${why}`);
          this.#sink.status(Status.playFailed(item.name, `Failed to play ${item.name}: ${why}`, this.#opts.clientId));
          void this.#next();
        },
      );
  }

  #startLive(item: PlaylistItem, live: LiveStream, first: boolean): void {
    const gen = this.#generation;
    const sink = this.#sink;
    const cid = this.#opts.clientId;
    const forward = (m: LiveMessage): void => {
      if (gen === this.#generation) sink.media(m.type, this.#out(m.timestamp), m.payload);
    };
    const sub: LiveSubscriber = {
      onLiveMessage: forward,
      onPublishNotify: () => sink.status(Status.playPublishNotify(item.name, cid)),
      onUnpublishNotify: () => {
        if (gen !== this.#generation) return;
        if (this.#queue.length > 0) void this.#next();
        else sink.status(Status.playUnpublishNotify(item.name, cid));
      },
    };
    let timer: NodeJS.Timeout | null = null;
    if (item.len > 0) {
      timer = setTimeout(() => {
        if (gen === this.#generation) void this.#next();
      }, item.len * 1000);
      timer.unref?.();
    }
    this.#active = { kind: 'live', item, live, sub, timer };
    this.#announce(item, first, false);
    if (live.isPublishing) for (const m of live.startupMessages()) forward(m);
    live.subscribe(sub);
    if (item.len === 0 && live.isPublishing) {
      // One frame: what the startup messages gave is all.
      void this.#next();
    }
  }

  #complete(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const cid = this.#opts.clientId;
    this.#sink.data(['onPlayStatus', info('status', 'NetStream.Play.Complete', undefined, { duration: this.#lastOut / 1000, bytes: 0 })], this.#lastOut);
    this.#sink.userControl(UserControlEvent.StreamEOF);
    this.#sink.status(Status.playStop(this.#lastName, cid));
  }
}
