/**
 * Media fixtures and ffmpeg/ffprobe/rtmpdump drivers. Clips are synthesised with lavfi (testsrc + sine)
 * so no binary fixtures live in the repository; each parameter set is encoded once and cached on disk.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SsasError } from '../../src/errors';
import { requirePeer } from './peers';
import { runTracked, spawnTracked, type TrackedProcess } from './processes';

// Bump when the encoding recipe changes so stale cached clips are not reused.
const CLIP_RECIPE_VERSION = 1;

export type ClipFormat = 'flv' | 'mp4' | 'mp3';

export interface TestClipOptions {
  durationSec?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** ffmpeg bitrate syntax ('300k') or bits per second. */
  videoBitrate?: string | number;
  /** Include the sine tone. Default true (mp3 is always audio only). */
  audio?: boolean;
  /** Include the test pattern. Default true; ignored for mp3. */
  video?: boolean;
  format?: ClipFormat;
  audioSampleRate?: number;
  audioChannels?: 1 | 2;
  audioBitrate?: string | number;
  toneHz?: number;
}

type NormalizedClip = Required<TestClipOptions>;

function normalizeClip(o: TestClipOptions): NormalizedClip {
  const format = o.format ?? 'flv';
  return {
    durationSec: o.durationSec ?? 5,
    width: o.width ?? 320,
    height: o.height ?? 240,
    fps: o.fps ?? 25,
    videoBitrate: o.videoBitrate ?? '300k',
    audio: format === 'mp3' ? true : (o.audio ?? true),
    video: format === 'mp3' ? false : (o.video ?? true),
    format,
    audioSampleRate: o.audioSampleRate ?? 44100,
    audioChannels: o.audioChannels ?? 1,
    audioBitrate: o.audioBitrate ?? (format === 'mp3' ? '128k' : '64k'),
    toneHz: o.toneHz ?? 440,
  };
}

function clipArgs(c: NormalizedClip, out: string): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const dur = String(c.durationSec);
  if (c.video) args.push('-f', 'lavfi', '-i', `testsrc=size=${c.width}x${c.height}:rate=${c.fps}:duration=${dur}`);
  if (c.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=${c.toneHz}:sample_rate=${c.audioSampleRate}:duration=${dur}`);
  if (c.video) {
    // One keyframe per second exactly (no scene-cut keyframes) so seek and live-join tests are predictable.
    const gop = String(Math.max(1, Math.round(c.fps)));
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop);
    args.push('-sc_threshold', '0', '-b:v', String(c.videoBitrate));
  }
  if (c.audio) {
    args.push('-c:a', c.format === 'mp3' ? 'libmp3lame' : 'aac', '-b:a', String(c.audioBitrate));
    args.push('-ar', String(c.audioSampleRate), '-ac', String(c.audioChannels));
  }
  args.push('-t', dur);
  if (c.format === 'mp4') args.push('-movflags', '+faststart');
  args.push('-f', c.format, out);
  return args;
}

const clipCache = new Map<string, Promise<string>>();

/** Directory shared by all test processes for cached clips. */
export function mediaCacheDir(): string {
  return path.join(os.tmpdir(), 'ssas-test-media');
}

/**
 * Path of a synthetic clip (H.264 with 1 s keyframe interval + AAC, or MP3 via libmp3lame). Cached per
 * parameter set in this process and on disk across processes; written atomically (temp name + rename).
 */
export function makeTestClip(options: TestClipOptions = {}): Promise<string> {
  const c = normalizeClip(options);
  const key = createHash('sha1')
    .update(JSON.stringify({ v: CLIP_RECIPE_VERSION, ...c }))
    .digest('hex')
    .slice(0, 16);
  let pending = clipCache.get(key);
  if (!pending) {
    pending = encodeClip(c, key);
    clipCache.set(key, pending);
    pending.catch(() => clipCache.delete(key));
  }
  return pending;
}

async function encodeClip(c: NormalizedClip, key: string): Promise<string> {
  const ffmpeg = requirePeer('ffmpeg');
  const dir = mediaCacheDir();
  fs.mkdirSync(dir, { recursive: true });
  const shape = c.video ? `${c.width}x${c.height}-${c.fps}fps` : 'audio';
  const name = `clip-${shape}-${c.durationSec}s-${key}.${c.format}`;
  const file = path.join(dir, name);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return file;
  const tmp = path.join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  const res = await runTracked(ffmpeg, clipArgs(c, tmp), { name: 'ffmpeg-clip', timeoutMs: 120_000 });
  if (res.code !== 0 || !fs.existsSync(tmp)) {
    fs.rmSync(tmp, { force: true });
    throw new SsasError('ERR_TEST_CLIP_FAILED', `ffmpeg could not make test clip ${name}\n${res.process.describe()}`);
  }
  fs.renameSync(tmp, file);
  return file;
}

export interface PublishOptions {
  /** Media file to publish with stream copy; without it a lavfi test pattern is encoded live. */
  file?: string;
  /** Loop the file forever (`-stream_loop -1`). Default false. */
  loop?: boolean;
  /** Pace input at its native rate (`-re`). Default true. */
  realtime?: boolean;
  /** Stop after this many seconds of media (`-t`). */
  durationSec?: number;
  /** AMF items for `-rtmp_conn` (e.g. ['S:hello', 'N:42', 'O:1', 'NS:name:v', 'O:0']), joined by spaces. */
  connArgs?: string[];
  /** Extra output options, placed just before `-f flv <url>` (e.g. ['-rtmp_app', 'a/b']). */
  extra?: string[];
  /** Extra input options, placed before the first `-i`. */
  inputExtra?: string[];
  /** Live test pattern geometry; ignored with `file`. Defaults 320x240 @ 25 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** Live test pattern: include the sine tone (default true). */
  audio?: boolean;
  /** Live test pattern: include video (default true). */
  video?: boolean;
  name?: string;
  echo?: boolean;
}

/** Starts ffmpeg publishing to an rtmp:// URL; returns the tracked process (end it with kill()). */
export function publishWithFfmpeg(url: string, options: PublishOptions = {}): TrackedProcess {
  const ffmpeg = requirePeer('ffmpeg');
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-stats_period', '0.5'];
  const realtime = options.realtime ?? true;
  args.push(...(options.inputExtra ?? []));
  if (options.file) {
    if (realtime) args.push('-re');
    if (options.loop) args.push('-stream_loop', '-1');
    args.push('-i', options.file);
    if (options.durationSec !== undefined) args.push('-t', String(options.durationSec));
    args.push('-c', 'copy');
  } else {
    const w = options.width ?? 320;
    const h = options.height ?? 240;
    const fps = options.fps ?? 25;
    const video = options.video ?? true;
    const audio = options.audio ?? true;
    if (video) {
      if (realtime) args.push('-re');
      args.push('-f', 'lavfi', '-i', `testsrc=size=${w}x${h}:rate=${fps}`);
    }
    if (audio) {
      if (realtime) args.push('-re');
      args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
    }
    if (options.durationSec !== undefined) args.push('-t', String(options.durationSec));
    if (video) {
      args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p');
      args.push('-g', String(Math.max(1, Math.round(fps))));
    }
    if (audio) args.push('-c:a', 'aac', '-b:a', '64k', '-ar', '44100');
  }
  if (options.connArgs && options.connArgs.length > 0) args.push('-rtmp_conn', options.connArgs.join(' '));
  args.push(...(options.extra ?? []));
  args.push('-f', 'flv', url);
  // ffmpeg finishes the FLV trailer and closes the RTMP session cleanly on SIGINT.
  return spawnTracked(ffmpeg, args, { name: options.name ?? 'ffmpeg-publish', killSignal: 'SIGINT', echo: options.echo });
}

/** Waits until a publishing ffmpeg has connected and started writing (it printed its output header). */
export async function waitForPublishStart(proc: TrackedProcess, timeoutMs = 10_000): Promise<void> {
  await proc.waitForOutput(/Output #0, flv, to/, timeoutMs, 'stderr');
}

export interface ProbeStream {
  index: number;
  codec_name?: string;
  codec_type?: 'video' | 'audio' | 'data' | string;
  profile?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
  bit_rate?: string;
  duration?: string;
  nb_frames?: string;
  [key: string]: unknown;
}

export interface ProbeFormat {
  filename?: string;
  format_name?: string;
  duration?: string;
  size?: string;
  bit_rate?: string;
  nb_streams?: number;
  tags?: Record<string, string>;
  [key: string]: unknown;
}

export interface ProbeResult {
  streams: ProbeStream[];
  format: ProbeFormat;
}

export interface ProbeOptions {
  /** Extra ffprobe options placed before `-i` (e.g. ['-rtmp_app', 'x'], ['-count_packets']). */
  extra?: string[];
}

/** "25/1" -> 25; "0/0" or missing -> NaN. */
export function parseRate(rate: string | undefined): number {
  if (!rate) return NaN;
  const [n, d] = rate.split('/').map(Number);
  return d ? n / d : NaN;
}

export function videoStream(probe: ProbeResult): ProbeStream | undefined {
  return probe.streams.find((s) => s.codec_type === 'video');
}

export function audioStream(probe: ProbeResult): ProbeStream | undefined {
  return probe.streams.find((s) => s.codec_type === 'audio');
}

/** ffprobe -show_streams -show_format as parsed JSON, for an rtmp:// URL or a file. */
export async function probeUrl(url: string, timeoutMs = 15_000, options: ProbeOptions = {}): Promise<ProbeResult> {
  const ffprobe = requirePeer('ffprobe');
  const args = ['-hide_banner', '-v', 'error'];
  if (/^rtmp/i.test(url)) args.push('-rw_timeout', String(timeoutMs * 1000));
  args.push(...(options.extra ?? []), '-show_streams', '-show_format', '-of', 'json', '-i', url);
  const res = await runTracked(ffprobe, args, { name: 'ffprobe', timeoutMs });
  if (res.code !== 0 || res.timedOut) {
    throw new SsasError(
      'ERR_TEST_PROBE_FAILED',
      `ffprobe ${url} failed${res.timedOut ? ` (timed out after ${timeoutMs} ms)` : ''}\n${res.process.describe()}`,
      { url },
    );
  }
  try {
    const parsed = JSON.parse(res.stdout) as Partial<ProbeResult>;
    return { streams: parsed.streams ?? [], format: parsed.format ?? {} };
  } catch (e) {
    throw new SsasError('ERR_TEST_PROBE_FAILED', `ffprobe ${url} printed no JSON\n${res.process.describe()}`, { url }, { cause: e });
  }
}

export interface RtmpdumpOptions {
  /** Pass --live (default true). */
  live?: boolean;
  /**
   * Stop after this many seconds. Live: wall clock from the first received data, then SIGINT (rtmpdump
   * ignores --stop for live streams). Recorded: --stop. Default 3; 0 records until the stream ends.
   */
  stopAfterSec?: number;
  /** Hard limit; rtmpdump is interrupted (SIGINT, then SIGKILL) after it. Default stopAfterSec + 10 s. */
  timeoutMs?: number;
  /** Explicit connection parameters (override what rtmpdump derives from the URL). */
  app?: string;
  tcUrl?: string;
  playpath?: string;
  /** Extra connect arguments, rtmpdump --conn syntax ('S:x', 'N:1', 'O:1', 'NS:k:v', 'O:0'). */
  conn?: string[];
  extra?: string[];
}

export interface RtmpdumpResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  outFile: string;
  /** Size of the written FLV (0 when nothing was written). */
  bytes: number;
  stderr: string;
  timedOut: boolean;
}

/**
 * Records a stream with rtmpdump into an FLV file. rtmpdump exits 1 or 2 ("incomplete") when it is
 * interrupted, which is how live recordings end, so judge by the file, not by the exit code alone.
 */
export async function recordWithRtmpdump(url: string, outFile: string, options: RtmpdumpOptions = {}): Promise<RtmpdumpResult> {
  const rtmpdump = requirePeer('rtmpdump');
  const live = options.live ?? true;
  const stopAfter = options.stopAfterSec ?? 3;
  const args = ['-r', url, '-o', outFile];
  if (live) args.push('--live');
  else if (stopAfter > 0) args.push('--stop', String(stopAfter));
  if (options.app !== undefined) args.push('--app', options.app);
  if (options.tcUrl !== undefined) args.push('--tcUrl', options.tcUrl);
  if (options.playpath !== undefined) args.push('--playpath', options.playpath);
  for (const c of options.conn ?? []) args.push('--conn', c);
  args.push(...(options.extra ?? []));
  // SIGINT makes rtmpdump flush and close the file ("Caught signal ... cleaning up").
  const proc = spawnTracked(rtmpdump, args, { name: 'rtmpdump', killSignal: 'SIGINT' });
  const limitMs = options.timeoutMs ?? (stopAfter > 0 ? stopAfter * 1000 + 10_000 : 30_000);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill(2000);
  }, limitMs);
  let stopTimer: NodeJS.Timeout | undefined;
  if (live && stopAfter > 0) {
    // The progress line ("12.3 kB / 0.40 sec") appears once media flows.
    proc.waitForOutput(/[\d.]+ kB \/ [\d.]+ sec/, limitMs, 'stderr').then(
      () => {
        stopTimer = setTimeout(() => void proc.kill(2000), stopAfter * 1000);
      },
      () => undefined,
    );
  }
  const info = await proc.exited;
  clearTimeout(timer);
  if (stopTimer) clearTimeout(stopTimer);
  let bytes = 0;
  try {
    bytes = fs.statSync(outFile).size;
  } catch {
    bytes = 0;
  }
  return { code: info.code, signal: info.signal, outFile, bytes, stderr: proc.stderr(), timedOut };
}

export interface ReadOptions {
  /**
   * Stop after this much media time (output -t). Default 3. The clock starts at the first packet of any
   * stream; on a live join video is decodable only from the next keyframe, so expect up to one GOP less.
   */
  durationSec?: number;
  /** Hard wall-clock limit. Default durationSec + 15 s. */
  timeoutMs?: number;
  /** Decode the media (default true: proves it is decodable); false counts packets with -c copy. */
  decode?: boolean;
  /** Extra input options before `-i` (e.g. ['-rtmp_live', 'live', '-rtmp_app', 'x']). */
  extra?: string[];
}

export interface StreamCount {
  packets: number;
  bytes: number;
  /** Decoded frames (0 with decode: false). */
  frames: number;
}

export interface ReadResult {
  /** Last `frame=` value of the progress line (video frames written). */
  frames: number;
  video: StreamCount;
  audio: StreamCount;
  code: number | null;
  timedOut: boolean;
  stderr: string;
}

function parseInputSummary(stderr: string, kind: 'video' | 'audio'): StreamCount {
  const total: StreamCount = { packets: 0, bytes: 0, frames: 0 };
  const re = new RegExp(`Input stream #\\d+:\\d+ \\(${kind}\\): (\\d+) packets read \\((\\d+) bytes\\);(?: (\\d+) frames decoded)?`, 'g');
  for (const m of stderr.matchAll(re)) {
    total.packets += Number(m[1]);
    total.bytes += Number(m[2]);
    total.frames += Number(m[3] ?? 0);
  }
  return total;
}

/** Plays a URL (or file) with ffmpeg into the null muxer and counts what arrived. */
export async function readWithFfmpeg(url: string, options: ReadOptions = {}): Promise<ReadResult> {
  const ffmpeg = requirePeer('ffmpeg');
  const duration = options.durationSec ?? 3;
  const args = ['-hide_banner', '-nostdin', '-v', 'verbose', '-stats_period', '0.5'];
  if (/^rtmp/i.test(url)) args.push('-rw_timeout', String((options.timeoutMs ?? 15_000) * 1000));
  args.push(...(options.extra ?? []), '-i', url, '-t', String(duration));
  if (options.decode === false) args.push('-c', 'copy');
  args.push('-f', 'null', '-');
  const res = await runTracked(ffmpeg, args, {
    name: 'ffmpeg-read',
    killSignal: 'SIGINT',
    timeoutMs: options.timeoutMs ?? duration * 1000 + 15_000,
  });
  const frameMatches = [...res.stderr.matchAll(/frame=\s*(\d+)/g)];
  const frames = frameMatches.length > 0 ? Number(frameMatches[frameMatches.length - 1][1]) : 0;
  return {
    frames,
    video: parseInputSummary(res.stderr, 'video'),
    audio: parseInputSummary(res.stderr, 'audio'),
    code: res.code,
    timedOut: res.timedOut,
    stderr: res.stderr,
  };
}
