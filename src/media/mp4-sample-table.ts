/**
 * Accumulates the sample table of one track while a recording runs and turns it into a `trak`
 * (ISO/IEC 14496-12 8.5-8.7). Both the MP4 writer (on close) and the repair path (replaying a sidecar index)
 * feed the same records through this builder, so a repaired file has exactly the moov a clean close would write.
 */
import * as B from './mp4-boxes';

export type SampleEntryDesc =
  | { kind: 'avc1'; width: number; height: number; avcC: Buffer }
  | { kind: 'mp4a'; objectType: number; sampleRate: number; channels: number; dsi?: Buffer };

export interface SampleRecord {
  /** Absolute file position of the sample bytes. */
  offset: number;
  size: number;
  /** Decode time in the track timescale. */
  dts: number;
  /** The source timestamp (ms on the recording timeline) the dts was derived from. */
  ms: number;
  /** Composition offset in the track timescale. */
  cto: number;
  sync: boolean;
  /** 1-based sample description index. */
  entry: number;
}

function sameEntry(a: SampleEntryDesc, b: SampleEntryDesc): boolean {
  if (a.kind === 'avc1' && b.kind === 'avc1') return a.width === b.width && a.height === b.height && a.avcC.equals(b.avcC);
  if (a.kind === 'mp4a' && b.kind === 'mp4a') {
    return a.objectType === b.objectType && a.sampleRate === b.sampleRate && a.channels === b.channels && (a.dsi ?? Buffer.alloc(0)).equals(b.dsi ?? Buffer.alloc(0));
  }
  return false;
}

export class TrackBuilder {
  readonly entries: SampleEntryDesc[] = [];
  private readonly sizes: number[] = [];
  private readonly sttsRuns: [number, number][] = [];
  private readonly cttsRuns: [number, number][] = [];
  private readonly syncSamples: number[] = [];
  private readonly chunks: { offset: number; samples: number; entry: number }[] = [];
  private lastDts = 0;
  private startDts = 0;
  /** Interval of start times (ms) consistent with every sample's source timestamp (see presentation()). */
  private phaseLo = -Infinity;
  private phaseHi = Infinity;
  private lastEnd = -1;
  private lastEntry = 0;
  private bytes = 0;
  private anyCto = false;

  constructor(
    readonly id: number,
    readonly handler: 'vide' | 'soun',
    readonly timescale: number,
  ) {}

  get sampleCount(): number {
    return this.sizes.length;
  }

  get lastDecodeTime(): number {
    return this.lastDts;
  }

  /** Decode-time difference of the last two samples (0 with fewer than two). */
  get lastDelta(): number {
    const last = this.sttsRuns[this.sttsRuns.length - 1];
    return last ? last[1] : 0;
  }

  /** 1-based index of an equal sample description, or 0. */
  findEntry(desc: SampleEntryDesc): number {
    return this.entries.findIndex((e) => sameEntry(e, desc)) + 1;
  }

  /** Registers a sample description (deduplicated); returns its 1-based index. */
  addEntry(desc: SampleEntryDesc): number {
    const i = this.findEntry(desc);
    if (i > 0) return i;
    this.entries.push(desc);
    return this.entries.length;
  }

  /** Samples must come in decode order with non-decreasing dts. */
  addSample(s: SampleRecord): void {
    const n = this.sizes.length;
    if (n === 0) this.startDts = s.dts;
    // Source timestamps are whole milliseconds rounded from the real clock: each one bounds where sample 0 really
    // started. Narrowing that interval recovers the sub-millisecond start an audio track needs to round-trip.
    const rel = ((s.dts - this.startDts) * 1000) / this.timescale;
    const lo = Math.max(this.phaseLo, s.ms - 0.5 - rel);
    const hi = Math.min(this.phaseHi, s.ms + 0.5 - rel);
    if (lo <= hi) {
      this.phaseLo = lo;
      this.phaseHi = hi;
    }
    if (n > 0) this.pushRun(this.sttsRuns, Math.max(0, s.dts - this.lastDts));
    this.pushRun(this.cttsRuns, s.cto);
    if (s.cto !== 0) this.anyCto = true;
    if (s.sync) this.syncSamples.push(n + 1);
    this.sizes.push(s.size);
    this.bytes += s.size;
    const last = this.chunks[this.chunks.length - 1];
    if (last && s.offset === this.lastEnd && s.entry === this.lastEntry) last.samples++;
    else this.chunks.push({ offset: s.offset, samples: 1, entry: s.entry });
    this.lastEnd = s.offset + s.size;
    this.lastEntry = s.entry;
    this.lastDts = s.dts;
  }

  private pushRun(runs: [number, number][], value: number): void {
    const last = runs[runs.length - 1];
    if (last && last[1] === value) last[0]++;
    else runs.push([1, value]);
  }

  /** Media duration in the track timescale once the last sample lasts `lastDuration`. */
  duration(lastDuration: number): number {
    return this.sizes.length === 0 ? 0 : this.lastDts + lastDuration - this.startDts;
  }

  /**
   * Where the track starts on the movie timeline. MP4 media time always starts at 0 and the movie timescale
   * (ms) is too coarse for an audio start like 56.78 ms, so the start is expressed as an empty edit of whole
   * movie ticks (`delay`) plus a few media units skipped at the start of the media (`mediaTime`).
   */
  presentation(movieTimescale: number): { delay: number; mediaTime: number } {
    if (this.sizes.length === 0) return { delay: 0, mediaTime: 0 };
    const startMs = Number.isFinite(this.phaseLo) && Number.isFinite(this.phaseHi) ? (this.phaseLo + this.phaseHi) / 2 : (this.startDts * 1000) / this.timescale;
    const delay = Math.max(0, Math.ceil((startMs * movieTimescale) / 1000 - 1e-6));
    const mediaTime = Math.max(0, Math.round(((delay * 1000) / movieTimescale - startMs) * (this.timescale / 1000)));
    return { delay, mediaTime };
  }

  /** The `trak` box; `lastDuration` is the duration given to the final sample. */
  trak(movieTimescale: number, lastDuration: number): Buffer {
    const stts = this.sttsRuns.map((r) => [r[0], r[1]] as [number, number]);
    if (this.sizes.length > 0) {
      const last = stts[stts.length - 1];
      if (last && last[1] === lastDuration) last[0]++;
      else stts.push([1, lastDuration]);
    }
    const mediaDuration = this.duration(lastDuration);
    const { delay, mediaTime } = this.presentation(movieTimescale);
    const playDuration = Math.round((Math.max(0, mediaDuration - mediaTime) * movieTimescale) / this.timescale);
    const seconds = mediaDuration / this.timescale;
    const avgBitrate = seconds > 0 ? Math.round((this.bytes * 8) / seconds) : 0;
    const maxSize = this.sizes.reduce((m, s) => Math.max(m, s), 0);
    const entries = this.entries.map((e) =>
      e.kind === 'avc1'
        ? B.avc1(e.width, e.height, e.avcC)
        : B.mp4a(e.sampleRate, e.channels, B.esds({ esId: this.id, objectType: e.objectType, decoderSpecificInfo: e.dsi, bufferSize: maxSize, maxBitrate: avgBitrate, avgBitrate })),
    );
    const stscRuns: [number, number, number][] = [];
    this.chunks.forEach((c, i) => {
      const last = stscRuns[stscRuns.length - 1];
      if (!last || last[1] !== c.samples || last[2] !== c.entry) stscRuns.push([i + 1, c.samples, c.entry]);
    });
    const stblChildren = [B.stsd(...entries), B.stts(stts)];
    if (this.anyCto) stblChildren.push(B.ctts(this.cttsRuns));
    if (this.handler === 'vide' && this.syncSamples.length < this.sizes.length) stblChildren.push(B.stss(this.syncSamples));
    stblChildren.push(B.stsc(stscRuns), B.stsz(this.sizes), B.chunkOffsets(this.chunks.map((c) => c.offset)));
    const first = this.entries[0];
    const width = first?.kind === 'avc1' ? first.width : 0;
    const height = first?.kind === 'avc1' ? first.height : 0;
    const isAudio = this.handler === 'soun';
    // A track that starts late (audio joining a live stream after video) keeps its place through an empty edit.
    const edits: [number, number][] = [];
    if (delay > 0) edits.push([delay, -1]);
    if (edits.length > 0 || mediaTime > 0) edits.push([playDuration, mediaTime]);
    const edts = edits.length > 0 ? [B.box('edts', B.elst(edits))] : [];
    return B.box(
      'trak',
      B.tkhd(this.id, delay + playDuration, isAudio, width, height),
      ...edts,
      B.box(
        'mdia',
        B.mdhd(this.timescale, mediaDuration),
        B.hdlr(this.handler, isAudio ? 'SoundHandler' : 'VideoHandler'),
        B.box('minf', isAudio ? B.smhd() : B.vmhd(), B.dinf(), B.box('stbl', ...stblChildren)),
      ),
    );
  }
}

/** `moov` for finished tracks; movie timescale is milliseconds. */
export function buildMoov(tracks: { builder: TrackBuilder; lastDuration: number }[]): Buffer {
  const movieTimescale = 1000;
  const used = tracks.filter((t) => t.builder.sampleCount > 0);
  const duration = used.reduce(
    (m, t) => {
      const { delay, mediaTime } = t.builder.presentation(movieTimescale);
      return Math.max(m, delay + Math.round((Math.max(0, t.builder.duration(t.lastDuration) - mediaTime) * movieTimescale) / t.builder.timescale));
    },
    0,
  );
  const nextId = used.reduce((m, t) => Math.max(m, t.builder.id), 0) + 1;
  return B.box('moov', B.mvhd(movieTimescale, duration, nextId), ...used.map((t) => t.builder.trak(movieTimescale, t.lastDuration)));
}
