/**
 * Recorded streams for clients: playing files (FLV, F4V/MP4, MP3) on client NetStreams, recording what
 * clients publish with "record" / "append" / "appendWithGap", the "live" rule that removes an older
 * recording of the name (unless the file is read-only, as the NetStream seed document says), and
 * Stream.length.
 */
import * as fs from 'node:fs';
import { FileSource, mediaLength } from '../media';
import { getLogger } from '../logger';
import { accessAllows } from '../host/access';
import type { AppInstance } from './app-instance';
import type { ServerFeature } from './server';
import type { ClientSession, SessionStream } from './session';
import type { LiveStream } from './live-stream';
import { csidFor } from './live-stream';
import { Playlist } from './playlist';
import { Recorder, type RecordMode } from './recorder';
import { findStreamFile, instanceStreamRoot, locateStream, type StreamStorage } from './stream-paths';
import { defaultAppConfig } from '../script/app-config';

const log = getLogger('streams');

/**
 * Where an instance's streams live, for someone with `virtualKey` (a client's, or the one given to
 * Stream.play/length): the application's virtual directories, then the server's (Vhost.xml).
 */
export function storageOf(instance: AppInstance, virtualKey = ''): StreamStorage {
  const cfg = instance.appConfig ?? defaultAppConfig();
  const vhost = instance.vhost.virtualDirectories;
  const own = instance.vhost.scriptMappings.get(instance.app.name);
  const dirs = vhost.length === 0 ? cfg.streams.virtualDirectories : [...cfg.streams.virtualDirectories, ...vhost];
  return {
    appDir: instance.app.dir,
    instanceName: instance.instanceName,
    storageDir: cfg.streams.storageDir,
    virtualDirectories: own ? [...own, ...dirs] : dirs,
    virtualKey,
  };
}

/** Recording limits of an instance from Application.xml. */
export function recordLimits(instance: AppInstance): { quotaBytes?: number; maxDurationSec?: number; maxSizeBytes?: number; quotaRoot: string } {
  const s = (instance.appConfig ?? defaultAppConfig()).streams;
  const pos = (v: number | undefined): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
  const quota = pos(s.diskQuotaMB);
  const maxSize = pos(s.maxSize);
  return {
    quotaRoot: instanceStreamRoot(storageOf(instance)),
    quotaBytes: quota !== undefined ? quota * 1024 * 1024 : undefined,
    maxDurationSec: pos(s.maxDuration),
    maxSizeBytes: maxSize !== undefined ? maxSize * 1024 : undefined,
  };
}

/** Stream.length: seconds of the recorded file, 0 when there is none or it cannot be read. */
export async function recordedLength(instance: AppInstance, name: string, virtualKey = ''): Promise<number> {
  let file: string | null = null;
  let format;
  try {
    const loc = locateStream(storageOf(instance, virtualKey), name);
    file = findStreamFile(loc);
    format = loc.format;
  } catch {
    return 0;
  }
  if (!file) return 0;
  let src: FileSource | null = null;
  try {
    src = await FileSource.open(file);
    return await mediaLength(src, format);
  } catch (err) {
    log.debug(`length of ${file}: ${(err as Error).message}`);
    return 0;
  } finally {
    await src?.close().catch(() => undefined);
  }
}

export class StreamFeature implements ServerFeature {
  /** Recordings of client publishers, by session stream. */
  readonly #recorders = new Map<SessionStream, Recorder | Promise<Recorder | null>>();
  readonly #stopping = new Set<Promise<void>>();

  async streamLength(instance: AppInstance, name: string, virtualKey = ''): Promise<number | null> {
    return recordedLength(instance, name, virtualKey);
  }

  playFile(session: ClientSession, stream: SessionStream, name: string, start: number, len: number, reset: boolean): boolean {
    const instance = session.instance!;
    const client = session.client!;
    const storage = storageOf(instance, client.virtualKey);
    let file: string | null;
    try {
      file = findStreamFile(locateStream(storage, name));
    } catch {
      return false;
    }
    if (!file) return false;
    const playlist = new Playlist(
      {
        instance,
        storage,
        leadMs: () => Math.min(Math.max(stream.clientBufferMs || 1000, 250), 10_000),
        highWaterBytes: session.ctx.config.playerHighWaterBytes,
        clientId: client.id,
      },
      {
        status: (i) => session.sendStatus(stream.id, i),
        data: (values, ts) => session.sendData(stream.id, ts, values),
        media: (type, ts, payload) => {
          if (type === 8 && !stream.receiveAudio) return;
          if (type === 9 && !stream.receiveVideo) return;
          session.conn.send({ type, streamId: stream.id, timestamp: ts, csid: csidFor(type), payload });
        },
        userControl: (ev) => session.conn.sendUserControl(ev, stream.id),
        backlog: () => session.conn.backlog,
        sampleAccess: (n) => [accessAllows(client.audioSampleAccess, n), accessAllows(client.videoSampleAccess, n)],
      },
    );
    stream.attachVod(
      {
        close: () => playlist.stop(false),
        pause: (p) => playlist.pause(p),
        seek: (ms) => {
          if (!playlist.seek(ms)) session.sendStatus(stream.id, { level: 'error', code: 'NetStream.Seek.Failed', description: 'Seek failed.', details: name });
        },
      },
      file,
    );
    playlist.play({ name, start, len }, reset);
    return true;
  }

  onPublishStarted(session: ClientSession, stream: SessionStream, live: LiveStream, mode: string): void {
    const instance = session.instance!;
    const name = live.name;
    let loc;
    try {
      loc = locateStream(storageOf(instance, session.client?.virtualKey), stream.publishName, true);
    } catch {
      return;
    }
    const file = loc.candidates[0]!;
    if (mode === 'live' && instance.app.readOnly) return;
    if (mode === 'live') {
      // "If a file with this name already exists ... it is deleted. If the file is read-only, live data is
      // published and the file is not deleted." (NetStream.publish)
      try {
        const st = fs.statSync(file);
        if (st.isFile() && (st.mode & 0o222) !== 0) {
          fs.unlinkSync(file);
          log.info(`${instance.name}: removed old recording ${file} (published live)`);
        }
      } catch {
        // no such file
      }
      return;
    }
    if (mode !== 'record' && mode !== 'append' && mode !== 'appendWithGap') return;
    const limits = recordLimits(instance);
    const pending = Recorder.start({
      live,
      name: stream.publishName || name,
      file,
      format: loc.format,
      mode: mode as RecordMode,
      ...limits,
      clientId: session.clientId,
      status: (i) => session.sendStatus(stream.id, i),
      refuse: instance.app.readOnly,
    });
    this.#recorders.set(stream, pending);
    const recordName = stream.publishName || name;
    void pending.then((r) => {
      // Access log: the recording began (200), or could not be written (500: NetStream.Record.NoAccess/Failed).
      session.ctx.access?.('record', session, r ? 200 : 500, { stream, name: recordName, file });
      if (this.#recorders.get(stream) !== pending) {
        void r?.stop();
        if (r) session.ctx.access?.('recordstop', session, 200, { stream, name: recordName, file });
        return;
      }
      if (r) this.#recorders.set(stream, r);
      else this.#recorders.delete(stream);
    });
    this.#files.set(stream, { name: recordName, file });
  }

  /** What each client recording writes, for its recordstop. */
  readonly #files = new Map<SessionStream, { name: string; file: string }>();

  onPublishStopped(session: ClientSession, stream: SessionStream): void {
    const r = this.#recorders.get(stream);
    const what = this.#files.get(stream);
    this.#files.delete(stream);
    if (!r) return;
    this.#recorders.delete(stream);
    // A recording still starting is stopped (and logged) by its start (above).
    if (!(r instanceof Promise) && what) session.ctx.access?.('recordstop', session, 200, { stream, ...what });
    const stopping = Promise.resolve(r).then((rec) => rec?.stop());
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
    void session;
  }

  /** Waits for recordings that are still being finished. */
  async close(): Promise<void> {
    await Promise.all(Array.from(this.#stopping));
  }
}
