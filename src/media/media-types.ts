/**
 * Shapes shared by the container readers and writers. Readers turn files into `MediaTag`s (FLV tag bodies,
 * i.e. RTMP message payloads); writers turn `MediaTag`s into bytes for the edge to append, plus patches to
 * earlier bytes that only become known at the end (durations, sizes).
 */
import type { AmfObject } from '../amf/types';
import { MediaError, isSsasError } from '../errors';
import type { MediaTag } from './tag-info';

export type MediaFormat = 'flv' | 'mp4' | 'mp3';

/** What a reader knows about its file; `onMetaData` is what the server sends as the onMetaData message. */
export interface MediaInfo {
  format: MediaFormat;
  /** Seconds. */
  duration: number;
  fileSize: number;
  width?: number;
  height?: number;
  framerate?: number;
  /** FLV VIDEODATA codec id (7 = AVC). */
  videoCodecId?: number;
  /** FLV AUDIODATA sound format (10 = AAC, 2 = MP3). */
  audioCodecId?: number;
  /** FourCC-ish names as FMS reports them for MP4 ('avc1', 'mp4a', '.mp3'). */
  videoCodec?: string;
  audioCodec?: string;
  audioSampleRate?: number;
  audioChannels?: number;
  audioSampleSize?: number;
  /** For FLV the file's own onMetaData object ({} when it has none); otherwise one built like FMS does. */
  onMetaData: AmfObject;
  /** MP3 only: ID3v2 frames (see mp3.ts). */
  id3?: Record<string, string>;
}

export interface MediaReader extends AsyncIterable<MediaTag> {
  readonly info: MediaInfo;
  /** The next tag in decode order, or null at the end. */
  next(): Promise<MediaTag | null>;
  /**
   * Repositions to the sync point (video key frame, or any audio frame for audio-only files) at or before
   * `ms`; returns the timestamp of that point. The next tags are the codec sequence headers (stamped with
   * that time) followed by the media from the sync point.
   */
  seek(ms: number): Promise<number>;
}

/** Bytes to write over earlier output, at an absolute file position. */
export interface Patch {
  position: number;
  bytes: Buffer;
}

/** What a writer asks the edge to do, in this order: truncate, append `data`, apply `patches`, append `sidecar`. */
export interface WriterOutput {
  /** Cut the file to this length before appending (append mode over a torn tail, repair). */
  truncateTo?: number;
  data: Buffer[];
  patches: Patch[];
  /** MP4 only: records for the crash-recovery index file. */
  sidecar: Buffer[];
}

export interface MediaWriter {
  /** Bytes that start the file (or, for append, the truncate position). Call once, first. */
  start(): WriterOutput;
  write(tag: MediaTag): WriterOutput;
  /** Final bytes and patches; the writer is unusable afterwards. */
  end(): WriterOutput;
  /** File length after applying everything returned so far. */
  readonly position: number;
}

export function emptyOutput(): WriterOutput {
  return { data: [], patches: [], sidecar: [] };
}

/**
 * Readers must fail only with coded MediaErrors: anything else escaping a parser on hostile bytes (a RangeError
 * from a Buffer read, an AmfError from a script tag) is reported as ERR_MEDIA_CORRUPT. I/O errors pass through.
 */
export function asMediaError(err: unknown): unknown {
  if (isSsasError(err) && err.name === 'MediaError') return err;
  if (err instanceof RangeError || err instanceof TypeError || isSsasError(err)) {
    return new MediaError('ERR_MEDIA_CORRUPT', `corrupt media: ${(err as Error).message}`, undefined, { cause: err });
  }
  return err;
}

export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asMediaError(err);
  }
}
