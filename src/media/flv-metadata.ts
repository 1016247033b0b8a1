/**
 * The onMetaData script tag of FLV files: Adobe Video File Format Specification v10.1, E.5 (SCRIPTDATA,
 * onMetaData properties), written with AMF0 (Adobe "AMF 0 Specification", 2.2 number, 2.3 boolean, 2.10 ECMA
 * array, 2.12 strict array, 2.14 long string).
 *
 * Our recorder writes the tag first with every property it will know only at the end (duration, filesize, ...)
 * as fixed-width AMF0 numbers, so closing the file is a handful of in-place patches instead of a rewrite.
 * The keyframe index (`keyframes: { times, filepositions }`, the yamdi/flvtool2 convention players use for
 * seeking) gets a fixed number of entries, reserved under the name `ssasIndex` (same length) with zeros. On
 * close it is renamed to `keyframes` and filled; unused entries repeat the last key frame and, when there are
 * more key frames than entries, every n-th is kept (ssas's own reader also builds an index by scanning, so a
 * coarse stored index only affects other players). No padding property is needed, and a crashed recording
 * carries no bogus `keyframes`. (A padding string was tried: ffmpeg rejects AMF0 strings over 255 bytes.)
 */
import { decodeAmf0, encodeAmf0, type AmfObject, type AmfValue } from '../amf';

/** Properties our recorder owns: number-valued ones get 8-byte slots, `stereo` and `canSeekToEnd` 1-byte booleans. */
export const MANAGED_NUMBERS = [
  'duration',
  'filesize',
  'width',
  'height',
  'framerate',
  'videocodecid',
  'videodatarate',
  'audiocodecid',
  'audiodatarate',
  'audiosamplerate',
  'audiosamplesize',
  'lasttimestamp',
  'lastkeyframetimestamp',
  'lastkeyframelocation',
] as const;
export const MANAGED_BOOLEANS = ['stereo', 'canSeekToEnd'] as const;

export interface MetadataField {
  /** Byte offset of the value's AMF0 marker inside the tag body. */
  valueOffset: number;
  /** Offset just past the value. */
  end: number;
  marker: number;
}

export interface MetadataLayout {
  /** Name of the first value: 'onMetaData' for the tag we care about. */
  name: string;
  fields: Map<string, MetadataField>;
  /** Offset of the key (length prefix) of each field, same order as fields. */
  keyOffsets: Map<string, number>;
}

/**
 * Walks an onMetaData body (string name + ECMA array or object) and records where each top-level value sits.
 * Returns undefined when the body does not have that shape; stops quietly at the first value it cannot decode.
 */
export function locateMetadata(body: Buffer): MetadataLayout | undefined {
  if (body.length < 3 || body[0] !== 0x02) return undefined;
  const nameLen = body.readUInt16BE(1);
  if (3 + nameLen >= body.length) return undefined;
  const name = body.toString('utf8', 3, 3 + nameLen);
  let p = 3 + nameLen;
  const kind = body[p];
  if (kind === 0x08) p += 5;
  else if (kind === 0x03) p += 1;
  else return undefined;
  const fields = new Map<string, MetadataField>();
  const keyOffsets = new Map<string, number>();
  while (p + 3 <= body.length) {
    const keyOffset = p;
    const keyLen = body.readUInt16BE(p);
    if (keyLen === 0 && body[p + 2] === 0x09) break;
    if (p + 2 + keyLen >= body.length) break;
    const key = body.toString('utf8', p + 2, p + 2 + keyLen);
    const valueOffset = p + 2 + keyLen;
    let end: number;
    try {
      end = decodeAmf0(body, valueOffset).position;
    } catch {
      break;
    }
    fields.set(key, { valueOffset, end, marker: body[valueOffset]! });
    keyOffsets.set(key, keyOffset);
    p = end;
  }
  return { name, fields, keyOffsets };
}

function key(name: string): Buffer {
  const b = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length);
  b.copy(out, 2);
  return out;
}

function numberValue(v: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x00;
  b.writeDoubleBE(v, 1);
  return b;
}

function strictNumbers(list: readonly number[]): Buffer {
  const b = Buffer.alloc(5 + list.length * 9);
  b[0] = 0x0a;
  b.writeUInt32BE(list.length, 1);
  list.forEach((v, i) => {
    b[5 + i * 9] = 0x00;
    b.writeDoubleBE(v, 6 + i * 9);
  });
  return b;
}

/** Name of the index property until the recording is closed (same length as 'keyframes', so it can be renamed in place). */
export const PLACEHOLDER_INDEX_KEY = 'ssasIndex';

/** Bytes of a keyframes property (key + object with two strict arrays of `capacity` numbers). */
export function keyframeRegionSize(capacity: number): number {
  return 2 + 9 + 1 + (2 + 5 + 5 + 9 * capacity) + (2 + 13 + 5 + 9 * capacity) + 3;
}

/** Entries a region of `size` bytes holds, or -1 when the size does not come from keyframeRegionSize. */
export function keyframeRegionCapacity(size: number): number {
  const n = (size - keyframeRegionSize(0)) / 18;
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/**
 * The `keyframes` property with exactly `capacity` entries, so it always has the same size: when there are
 * more key frames, every n-th is kept (the first always); unused entries repeat the last one, which readers
 * treat as the same seek point.
 */
export function encodeKeyframeRegion(capacity: number, times: readonly number[], positions: readonly number[], name = 'keyframes'): Buffer {
  let t = times;
  let p = positions;
  if (times.length > capacity) {
    const stride = capacity > 0 ? Math.ceil(times.length / capacity) : Infinity;
    t = times.filter((_, i) => i % stride === 0);
    p = positions.filter((_, i) => i % stride === 0);
  }
  const fill = (list: readonly number[]): number[] => {
    const out = list.slice(0, capacity);
    const last = out.length ? out[out.length - 1]! : 0;
    while (out.length < capacity) out.push(last);
    return out;
  };
  return Buffer.concat([
    key(name),
    Buffer.from([0x03]),
    key('times'),
    strictNumbers(fill(t)),
    key('filepositions'),
    strictNumbers(fill(p)),
    Buffer.from([0, 0, 0x09]),
  ]);
}

export interface PlaceholderMetadata {
  /** The whole script tag body. */
  body: Buffer;
  /** Offsets of managed values' markers inside the body. */
  fields: Map<string, number>;
  /** Keyframe region offset and entry capacity inside the body (absent when no space was reserved). */
  keyframeRegion?: { offset: number; capacity: number };
}

/**
 * onMetaData body with fixed-width slots for the managed properties (initial values from `initial`, else 0 /
 * false), then the caller's other properties, then room for `keyframeCapacity` index entries (0 = none).
 */
export function buildPlaceholderMetadata(extra: AmfObject, initial: Record<string, number | boolean>, keyframeCapacity: number): PlaceholderMetadata {
  const parts: Buffer[] = [Buffer.from([0x02, 0x00, 0x0a]), Buffer.from('onMetaData', 'latin1'), Buffer.from([0x08, 0, 0, 0, 0])];
  let offset = parts.reduce((n, b) => n + b.length, 0);
  const fields = new Map<string, number>();
  let count = 0;
  const push = (name: string, value: Buffer): void => {
    const k = key(name);
    parts.push(k, value);
    fields.set(name, offset + k.length);
    offset += k.length + value.length;
    count++;
  };
  for (const name of MANAGED_NUMBERS) {
    const v = initial[name];
    push(name, numberValue(typeof v === 'number' && Number.isFinite(v) ? v : 0));
  }
  for (const name of MANAGED_BOOLEANS) push(name, Buffer.from([0x01, initial[name] === true ? 1 : 0]));
  const managed = new Set<string>([...MANAGED_NUMBERS, ...MANAGED_BOOLEANS, 'keyframes', PLACEHOLDER_INDEX_KEY]);
  for (const [name, value] of Object.entries(extra)) {
    if (managed.has(name)) continue;
    let enc: Buffer;
    try {
      enc = encodeAmf0(value as AmfValue);
    } catch {
      continue; // a value AMF0 cannot carry is left out rather than failing the recording
    }
    const k = key(name);
    parts.push(k, enc);
    offset += k.length + enc.length;
    count++;
  }
  let keyframeRegion: { offset: number; capacity: number } | undefined;
  if (keyframeCapacity > 0) {
    const region = encodeKeyframeRegion(keyframeCapacity, [], [], PLACEHOLDER_INDEX_KEY);
    parts.push(region);
    keyframeRegion = { offset, capacity: keyframeCapacity };
    offset += region.length;
    count++;
  }
  parts.push(Buffer.from([0, 0, 0x09]));
  const body = Buffer.concat(parts);
  body.writeUInt32BE(count, 14);
  return { body, fields, keyframeRegion };
}

/** The value bytes to write at a managed field's marker: 9 bytes for numbers, 2 for booleans. */
export function encodeFieldValue(marker: number, value: number | boolean): Buffer | undefined {
  if (marker === 0x00 && typeof value === 'number') return numberValue(value);
  if (marker === 0x01 && typeof value === 'boolean') return Buffer.from([0x01, value ? 1 : 0]);
  return undefined;
}

/** Key frame times/positions from an onMetaData `keyframes` value when they make a usable index. */
export function keyframesFromMetadata(meta: AmfObject, fileSize: number): { times: number[]; positions: number[] } | undefined {
  const kf = meta.keyframes as AmfObject | undefined;
  if (!kf || typeof kf !== 'object') return undefined;
  const times = kf.times;
  const positions = kf.filepositions;
  if (!Array.isArray(times) || !Array.isArray(positions) || times.length !== positions.length || times.length === 0) return undefined;
  const t: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const ti = times[i];
    const pi = positions[i];
    if (typeof ti !== 'number' || typeof pi !== 'number' || !Number.isFinite(ti) || !Number.isInteger(pi) || pi < 9 || pi >= fileSize) return undefined;
    if (i > 0 && pi === positions[i - 1] && ti === times[i - 1]) continue; // the repeated tail of a fixed-size index
    if (t.length > 0 && (pi <= p[p.length - 1]! || ti < t[t.length - 1]!)) return undefined;
    t.push(ti);
    p.push(pi);
  }
  return { times: t, positions: p };
}
