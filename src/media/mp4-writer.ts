/**
 * MP4/F4V recorder for H.264 + AAC (and MP3) from FLV-style payloads. Layout follows ISO/IEC 14496-12: ftyp,
 * a free/mdat pair whose size is patched on close, samples appended to mdat as they arrive, moov appended on close
 * ("moov written on close"), the way FMS records F4V. Sample entries follow ISO/IEC 14496-15 (avc1/avcC) and
 * 14496-14 (mp4a/esds).
 *
 * Crash safety, option (a) of the design: the writer also emits a sidecar index (`WriterOutput.sidecar`, kept
 * by the edge in `<file>.idx`): one record per sample description and one 35-byte record per sample, written
 * after the sample bytes. If the process dies before close, `repairMp4(fileSize, sidecar)` replays the records
 * through the same TrackBuilder the writer uses and returns the moov and mdat-size patch that a clean close
 * would have produced, minus the samples whose bytes never reached the file. `ssas repair` applies it.
 *
 * Timing: video uses a 1 ms timescale (FLV timestamps are milliseconds); audio uses its sample rate and snaps
 * each frame to the previous frame's end when the millisecond timestamp is within one frame of it, so steady
 * streams get exact sample-accurate stts entries while real gaps are kept. A track that starts after the
 * recording start gets an empty edit so A/V sync survives.
 */
import { MediaError } from '../errors';
import { avcConfigInfo, parseAacConfig } from './codec-config';
import { parseAudioPayload, parseVideoPayload } from './flv-payload';
import { emptyOutput, type MediaWriter, type Patch, type WriterOutput } from './media-types';
import * as B from './mp4-boxes';
import { TrackBuilder, buildMoov, type SampleEntryDesc } from './mp4-sample-table';
import { splitMpegAudioFrames } from './mpeg-audio';
import { AudioCodec, TAG_AUDIO, TAG_VIDEO, type MediaTag } from './tag-info';

const SIDECAR_MAGIC = Buffer.from('SSASMP4I', 'latin1');
const SIDECAR_VERSION = 1;
const REC_LAYOUT = 1;
const REC_TRACK = 2;
const REC_ENTRY = 3;
const REC_SAMPLE = 4;
const SAMPLE_RECORD_BYTES = 35;
const VIDEO_TRACK = 1;
const AUDIO_TRACK = 2;
/** Default duration of a last video frame whose successor never came (ms). */
const DEFAULT_VIDEO_FRAME_MS = 40;

export interface Mp4WriterOptions {
  /** 'f4v' writes the F4V brand (FMS recordings of `mp4:name.f4v`); default 'mp4'. */
  brand?: 'f4v' | 'mp4';
  /** Emit sidecar index records (default true). */
  sidecar?: boolean;
}

function record(kind: number, track: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = kind;
  head[1] = track;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

function encodeEntry(e: SampleEntryDesc): Buffer {
  if (e.kind === 'avc1') {
    const h = Buffer.alloc(5);
    h[0] = 1;
    h.writeUInt16BE(e.width, 1);
    h.writeUInt16BE(e.height, 3);
    return Buffer.concat([h, e.avcC]);
  }
  const h = Buffer.alloc(7);
  h[0] = 2;
  h[1] = e.objectType;
  h.writeUInt32BE(e.sampleRate, 2);
  h[6] = e.channels;
  return Buffer.concat([h, e.dsi ?? Buffer.alloc(0)]);
}

function decodeEntry(p: Buffer): SampleEntryDesc {
  if (p[0] === 1 && p.length >= 5) return { kind: 'avc1', width: p.readUInt16BE(1), height: p.readUInt16BE(3), avcC: Buffer.from(p.subarray(5)) };
  if (p[0] === 2 && p.length >= 7) {
    const dsi = p.subarray(7);
    return { kind: 'mp4a', objectType: p[1]!, sampleRate: p.readUInt32BE(2), channels: p[6]!, ...(dsi.length ? { dsi: Buffer.from(dsi) } : {}) };
  }
  throw new MediaError('ERR_MEDIA_CORRUPT', 'bad sample entry record in MP4 index');
}

/**
 * Holds the file layout and the tracks; the single place that turns records into a moov, used by the writer
 * and by repair.
 */
class Mp4Assembler {
  freePosition = 0;
  mdatPosition = 0;
  readonly tracks = new Map<number, { builder: TrackBuilder; defaultDuration: number }>();

  applyRecord(kind: number, track: number, p: Buffer): { offset: number; size: number } | undefined {
    if (kind === REC_LAYOUT) {
      if (p.length < 16) throw new MediaError('ERR_MEDIA_CORRUPT', 'bad layout record in MP4 index');
      this.freePosition = p.readDoubleBE(0);
      this.mdatPosition = p.readDoubleBE(8);
    } else if (kind === REC_TRACK) {
      if (p.length < 12) throw new MediaError('ERR_MEDIA_CORRUPT', 'bad track record in MP4 index');
      const handler = p.toString('latin1', 0, 4) === 'soun' ? 'soun' : 'vide';
      const timescale = p.readUInt32BE(4);
      if (timescale === 0) throw new MediaError('ERR_MEDIA_CORRUPT', 'track timescale 0 in MP4 index');
      this.tracks.set(track, { builder: new TrackBuilder(track, handler, timescale), defaultDuration: p.readUInt32BE(8) });
    } else if (kind === REC_ENTRY) {
      this.track(track).builder.addEntry(decodeEntry(p));
    } else if (kind === REC_SAMPLE) {
      if (p.length < SAMPLE_RECORD_BYTES) throw new MediaError('ERR_MEDIA_CORRUPT', 'bad sample record in MP4 index');
      const s = {
        offset: p.readDoubleBE(0),
        size: p.readUInt32BE(8),
        dts: p.readDoubleBE(12),
        cto: p.readInt32BE(20),
        sync: p[24] === 1,
        entry: p.readUInt16BE(25),
        ms: p.readDoubleBE(27),
      };
      this.track(track).builder.addSample(s);
      return { offset: s.offset, size: s.size };
    }
    return undefined;
  }

  private track(id: number): { builder: TrackBuilder; defaultDuration: number } {
    const t = this.tracks.get(id);
    if (!t) throw new MediaError('ERR_MEDIA_CORRUPT', `MP4 index refers to unknown track ${id}`);
    return t;
  }

  /** moov and the mdat header patch for a file whose media data ends at `end`. */
  finish(end: number): { moov: Buffer; patch: Patch } {
    const list = [...this.tracks.values()].map(({ builder, defaultDuration }) => ({
      builder,
      lastDuration: builder.handler === 'soun' ? defaultDuration : builder.lastDelta || defaultDuration,
    }));
    const moov = buildMoov(list);
    const size = end - this.mdatPosition;
    const patch: Patch =
      size <= B.UINT32_MAX
        ? { position: this.mdatPosition, bytes: B.mdatHeader(size) }
        : { position: this.freePosition, bytes: B.mdatLargeHeader(end - this.freePosition) }; // free + mdat become one 16-byte header
    return { moov, patch };
  }
}

interface AudioState {
  timescale: number;
  frameLength: number;
  entry: number;
  lastDts: number;
  started: boolean;
}

export class Mp4Writer implements MediaWriter {
  private readonly asm = new Mp4Assembler();
  private readonly brand: 'f4v' | 'mp4';
  private readonly sidecarEnabled: boolean;
  private pos = 0;
  private started = false;
  private ended = false;
  private t0: number | undefined;
  private videoEntry = 0;
  private videoLastDts = -1;
  private audio: AudioState | undefined;
  /** Tags dropped because their codec cannot go into MP4 or came before their sequence header. */
  skipped = 0;
  samples = 0;

  constructor(opts: Mp4WriterOptions = {}) {
    this.brand = opts.brand ?? 'mp4';
    this.sidecarEnabled = opts.sidecar ?? true;
  }

  get position(): number {
    return this.pos;
  }

  start(): WriterOutput {
    if (this.started) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'start() called twice');
    this.started = true;
    const head =
      this.brand === 'f4v' ? B.ftyp('f4v ', 0, ['isom', 'mp42', 'm4v ', 'f4v ']) : B.ftyp('isom', 512, ['isom', 'iso2', 'avc1', 'mp41', 'mp42']);
    const free = B.box('free');
    const mdat = B.mdatHeader(0);
    this.asm.freePosition = head.length;
    this.asm.mdatPosition = head.length + free.length;
    this.pos = head.length + free.length + mdat.length;
    const out = emptyOutput();
    out.data.push(head, free, mdat);
    if (this.sidecarEnabled) {
      const h = Buffer.alloc(16);
      SIDECAR_MAGIC.copy(h);
      h.writeUInt32BE(SIDECAR_VERSION, 8);
      const layout = Buffer.alloc(16);
      layout.writeDoubleBE(this.asm.freePosition, 0);
      layout.writeDoubleBE(this.asm.mdatPosition, 8);
      out.sidecar.push(h, record(REC_LAYOUT, 0, layout));
    }
    return out;
  }

  private emit(out: WriterOutput, kind: number, track: number, payload: Buffer): void {
    this.asm.applyRecord(kind, track, payload);
    if (this.sidecarEnabled) out.sidecar.push(record(kind, track, payload));
  }

  private ensureTrack(out: WriterOutput, id: number, handler: 'vide' | 'soun', timescale: number, defaultDuration: number): void {
    if (this.asm.tracks.has(id)) return;
    const p = Buffer.alloc(12);
    p.write(handler, 0, 'latin1');
    p.writeUInt32BE(timescale, 4);
    p.writeUInt32BE(defaultDuration, 8);
    this.emit(out, REC_TRACK, id, p);
  }

  /** The 1-based description index; a new description is registered through a record so repair sees it too. */
  private addEntry(out: WriterOutput, id: number, desc: SampleEntryDesc): number {
    const builder = this.asm.tracks.get(id)!.builder;
    const known = builder.findEntry(desc);
    if (known > 0) return known;
    this.emit(out, REC_ENTRY, id, encodeEntry(desc));
    return builder.entries.length;
  }

  private addSample(out: WriterOutput, id: number, data: Buffer, dts: number, cto: number, sync: boolean, entry: number, ms: number): void {
    const p = Buffer.alloc(SAMPLE_RECORD_BYTES);
    p.writeDoubleBE(ms, 27);
    p.writeDoubleBE(this.pos, 0);
    p.writeUInt32BE(data.length, 8);
    p.writeDoubleBE(dts, 12);
    p.writeInt32BE(cto, 20);
    p[24] = sync ? 1 : 0;
    p.writeUInt16BE(entry, 25);
    out.data.push(data);
    this.pos += data.length;
    this.samples++;
    this.emit(out, REC_SAMPLE, id, p);
  }

  private relativeMs(ts: number): number {
    if (this.t0 === undefined) this.t0 = ts;
    return Math.max(0, ts - this.t0);
  }

  write(tag: MediaTag): WriterOutput {
    if (!this.started || this.ended) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'write() outside start()/end()');
    const out = emptyOutput();
    if (tag.type === TAG_VIDEO) this.writeVideo(out, tag);
    else if (tag.type === TAG_AUDIO) this.writeAudio(out, tag);
    return out;
  }

  private writeVideo(out: WriterOutput, tag: MediaTag): void {
    const v = parseVideoPayload(tag.payload);
    if (!v || v.codec !== 7) {
      this.skipped++;
      return;
    }
    if (v.packetType === 0) {
      let width = 0;
      let height = 0;
      try {
        const info = avcConfigInfo(v.config);
        if (info) ({ width, height } = info);
      } catch {
        this.skipped++;
        return;
      }
      this.ensureTrack(out, VIDEO_TRACK, 'vide', 1000, DEFAULT_VIDEO_FRAME_MS);
      this.videoEntry = this.addEntry(out, VIDEO_TRACK, { kind: 'avc1', width, height, avcC: Buffer.from(v.config) });
      return;
    }
    if (v.packetType !== 1) return; // end of sequence carries no picture
    if (this.videoEntry === 0 || v.data.length === 0) {
      this.skipped++;
      return;
    }
    const ms = this.relativeMs(tag.timestamp);
    const dts = this.videoLastDts < 0 ? ms : Math.max(ms, this.videoLastDts + 1); // MP4 needs increasing decode times
    this.videoLastDts = dts;
    this.addSample(out, VIDEO_TRACK, Buffer.from(v.data), dts, v.compositionTime, v.keyframe, this.videoEntry, ms);
  }

  private audioDts(a: AudioState, ms: number): number {
    const derived = Math.round((ms * a.timescale) / 1000);
    if (!a.started) {
      a.started = true;
      a.lastDts = derived;
      return derived;
    }
    const expected = a.lastDts + a.frameLength;
    const dts = Math.abs(derived - expected) <= a.frameLength ? expected : Math.max(derived, a.lastDts + 1);
    a.lastDts = dts;
    return dts;
  }

  private writeAudio(out: WriterOutput, tag: MediaTag): void {
    const a = parseAudioPayload(tag.payload);
    if (!a) {
      this.skipped++;
      return;
    }
    if (a.format === AudioCodec.AAC) {
      if (a.packetType === 0) {
        let asc;
        try {
          asc = parseAacConfig(a.config);
        } catch {
          this.skipped++;
          return;
        }
        this.ensureTrack(out, AUDIO_TRACK, 'soun', asc.sampleRate, asc.frameLength);
        const entry = this.addEntry(out, AUDIO_TRACK, { kind: 'mp4a', objectType: 0x40, sampleRate: asc.sampleRate, channels: asc.channels, dsi: Buffer.from(a.config) });
        const ts = this.asm.tracks.get(AUDIO_TRACK)!.builder.timescale;
        this.audio = this.audio ? { ...this.audio, entry } : { timescale: ts, frameLength: asc.frameLength, entry, lastDts: 0, started: false };
        return;
      }
      if (!this.audio || a.packetType !== 1 || a.data.length === 0) {
        this.skipped++;
        return;
      }
      const ms = this.relativeMs(tag.timestamp);
      this.addSample(out, AUDIO_TRACK, Buffer.from(a.data), this.audioDts(this.audio, ms), 0, true, this.audio.entry, ms);
      return;
    }
    if (a.format !== AudioCodec.MP3 && a.format !== AudioCodec.MP3_8k) {
      this.skipped++;
      return;
    }
    const frames = splitMpegAudioFrames(a.data as Buffer);
    if (frames.length === 0) {
      this.skipped++;
      return;
    }
    const ms0 = this.relativeMs(tag.timestamp);
    for (const [k, f] of frames.entries()) {
      const h = f.header;
      this.ensureTrack(out, AUDIO_TRACK, 'soun', h.sampleRate, h.samplesPerFrame);
      const entry = this.addEntry(out, AUDIO_TRACK, { kind: 'mp4a', objectType: h.version === 1 ? 0x6b : 0x69, sampleRate: h.sampleRate, channels: h.channels });
      const ts = this.asm.tracks.get(AUDIO_TRACK)!.builder.timescale;
      this.audio ??= { timescale: ts, frameLength: h.samplesPerFrame, entry, lastDts: 0, started: false };
      this.audio.entry = entry;
      const ms = ms0 + (k * h.samplesPerFrame * 1000) / h.sampleRate;
      this.addSample(out, AUDIO_TRACK, Buffer.from(f.data), this.audioDts(this.audio, ms), 0, true, entry, ms);
    }
  }

  end(): WriterOutput {
    if (!this.started || this.ended) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'end() outside start()');
    this.ended = true;
    const { moov, patch } = this.asm.finish(this.pos);
    const out = emptyOutput();
    out.data.push(moov);
    out.patches.push(patch);
    this.pos += moov.length;
    return out;
  }
}

export interface Mp4RepairResult extends WriterOutput {
  truncateTo: number;
  /** Samples that made it into the repaired moov. */
  samples: number;
  /** Samples listed in the index whose bytes are not (completely) in the file. */
  droppedSamples: number;
}

/**
 * Rebuilds the moov of an interrupted recording from its sidecar index. `fileSize` is the current size of
 * the recording; the result truncates it after the last complete sample, appends the moov and patches the
 * mdat size. A torn last index record is ignored.
 */
export function repairMp4(fileSize: number, sidecar: Buffer): Mp4RepairResult {
  if (sidecar.length < 16 || !sidecar.subarray(0, 8).equals(SIDECAR_MAGIC)) {
    throw new MediaError('ERR_MEDIA_CORRUPT', 'not an ssas MP4 index file');
  }
  if (sidecar.readUInt32BE(8) !== SIDECAR_VERSION) throw new MediaError('ERR_MEDIA_UNSUPPORTED', 'unknown MP4 index version');
  const asm = new Mp4Assembler();
  let p = 16;
  let end = -1;
  let samples = 0;
  let dropped = 0;
  let sawLayout = false;
  while (p + 8 <= sidecar.length) {
    const kind = sidecar[p]!;
    const track = sidecar[p + 1]!;
    const len = sidecar.readUInt32BE(p + 4);
    if (p + 8 + len > sidecar.length) break;
    const payload = sidecar.subarray(p + 8, p + 8 + len);
    p += 8 + len;
    if (kind === REC_SAMPLE) {
      if (len < SAMPLE_RECORD_BYTES) break;
      const off = payload.readDoubleBE(0);
      const size = payload.readUInt32BE(8);
      if (off + size > fileSize || dropped > 0) {
        dropped++;
        continue;
      }
      samples++;
      end = Math.max(end, off + size);
    } else if (kind === REC_LAYOUT) sawLayout = true;
    asm.applyRecord(kind, track, payload);
  }
  if (!sawLayout) throw new MediaError('ERR_MEDIA_CORRUPT', 'MP4 index without a layout record');
  if (end < 0) end = asm.mdatPosition + 8;
  if (end > fileSize) throw new MediaError('ERR_MEDIA_TRUNCATED', 'recording ends before its mdat header', { fileSize });
  const { moov, patch } = asm.finish(end);
  return { truncateTo: end, data: [moov], patches: [patch], sidecar: [], samples, droppedSamples: dropped };
}
