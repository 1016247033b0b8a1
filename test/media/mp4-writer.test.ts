import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { MediaFileWriter, repairMp4File, sidecarPath } from '../../src/media/file-writer';
import { FlvReader } from '../../src/media/flv';
import { inspectMp4, type InspectedBox } from '../../src/media/mp4-inspect';
import { Mp4Reader } from '../../src/media/mp4-reader';
import { Mp4Writer, repairMp4 } from '../../src/media/mp4-writer';
import * as B from '../../src/media/mp4-boxes';
import { BufferSource } from '../../src/media/source';
import type { MediaTag } from '../../src/media/tag-info';
import { FFMPEG, ffprobe, ffprobeCountPackets, fixture, tempDir } from './fixtures';

async function readAll(r: { next(): Promise<MediaTag | null> }, limit = 100000): Promise<MediaTag[]> {
  const tags: MediaTag[] = [];
  for (let t = await r.next(); t && tags.length < limit; t = await r.next()) tags.push(t);
  return tags;
}

function find(boxes: InspectedBox[], ...types: string[]): InspectedBox | undefined {
  let list = boxes;
  let found: InspectedBox | undefined;
  for (const t of types) {
    found = list.find((b) => b.type === t);
    if (!found) return undefined;
    list = found.children ?? [];
  }
  return found;
}

/** FLV media tags as the MP4 writer stores them (no script data, no AVC end of sequence). */
async function flvMedia(name: string): Promise<MediaTag[]> {
  const tags = await readAll(await FlvReader.open(new BufferSource(fs.readFileSync(fixture(name)))));
  return tags.filter((t) => t.type !== 18 && !(t.type === 9 && t.payload[1] === 2));
}

let dir: string;
beforeAll(() => {
  dir = tempDir('mp4w');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('Mp4Writer', () => {
  test('FLV -> MP4: ffprobe agrees on codecs, duration and frame counts; our reader gives back the same samples', async () => {
    const input = await flvMedia('avc-aac.flv');
    const file = path.join(dir, 'rt.mp4');
    const w = await MediaFileWriter.open(file, new Mp4Writer(), { sidecar: sidecarPath(file) });
    for (const t of input) void w.write(t);
    await w.close();
    expect(fs.existsSync(sidecarPath(file))).toBe(false);
    const probe = ffprobe(file);
    const counts = ffprobeCountPackets(file);
    const source = ffprobeCountPackets(fixture('avc-aac.flv'));
    expect(counts).toEqual(source);
    expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 320, height: 240, nb_frames: String(source.video) });
    expect(probe.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac', sample_rate: '44100', channels: 1 });
    expect(Math.abs(Number(probe.format.duration) - Number(ffprobe(fixture('avc-aac.flv')).format.duration))).toBeLessThan(0.2);
    // ffmpeg decodes it without complaint
    execFileSync(FFMPEG, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { stdio: 'pipe' });

    const r = await Mp4Reader.open(new BufferSource(fs.readFileSync(file)));
    const back = await readAll(r);
    expect(back.length).toBe(input.length);
    const key = (t: MediaTag): string => `${t.type}:${t.timestamp}:${t.payload.toString('hex')}`;
    // Same samples and timestamps; order may differ only between audio and video at equal times.
    expect(back.map(key).sort()).toEqual(input.map(key).sort());
    expect(back.filter((t) => t.type === 9).map(key)).toEqual(input.filter((t) => t.type === 9).map(key));
    expect(back.filter((t) => t.type === 8).map(key)).toEqual(input.filter((t) => t.type === 8).map(key));
  });

  test('box inspector reads back every box the writer made', async () => {
    const input = await flvMedia('avc-aac-2s.flv');
    const w = new Mp4Writer({ brand: 'f4v', sidecar: false });
    const parts: Buffer[] = [...w.start().data];
    for (const t of input) parts.push(...w.write(t).data);
    const end = w.end();
    parts.push(...end.data);
    const file = Buffer.concat(parts);
    for (const p of end.patches) p.bytes.copy(file, p.position);
    const boxes = inspectMp4(file);
    expect(boxes.map((b) => b.type)).toEqual(['ftyp', 'free', 'mdat', 'moov']);
    expect(boxes[0]!.fields).toMatchObject({ majorBrand: 'f4v ' });
    const mdat = boxes[2]!;
    expect(mdat.offset + mdat.size).toBe(boxes[3]!.offset);
    const traks = find(boxes, 'moov')!.children!.filter((b) => b.type === 'trak');
    expect(traks.length).toBe(2);
    const stbl = (t: InspectedBox): InspectedBox[] => find(t.children!, 'mdia', 'minf', 'stbl')!.children!;
    const video = traks.find((t) => (find(t.children!, 'mdia', 'hdlr')!.fields as { handlerType: string }).handlerType === 'vide')!;
    const vs = stbl(video);
    expect((vs.find((b) => b.type === 'stsd')!.fields as { type: string; video: { width: number } }[])[0]).toMatchObject({ type: 'avc1', video: { width: 320, height: 240 } });
    expect((vs.find((b) => b.type === 'stsz')!.fields as { count: number }).count).toBe(input.filter((t) => t.type === 9 && t.payload[1] === 1).length);
    expect((vs.find((b) => b.type === 'stss')!.fields as Uint32Array).length).toBe(2);
    expect(vs.some((b) => b.type === 'ctts')).toBe(true);
    const audio = traks.find((t) => t !== video)!;
    const as = stbl(audio);
    const entry = (as.find((b) => b.type === 'stsd')!.fields as { audio: { esds: { objectType: number; decoderSpecificInfo: Buffer } } }[])[0]!;
    expect(entry.audio.esds.objectType).toBe(0x40);
    const asc = input.find((t) => t.type === 8 && t.payload[1] === 0)!.payload.subarray(2);
    expect(entry.audio.esds.decoderSpecificInfo.equals(asc)).toBe(true);
    const stts = as.find((b) => b.type === 'stts')!.fields as { counts: Uint32Array; deltas: Uint32Array };
    expect([...stts.deltas]).toEqual([1024]); // steady AAC gets exact 1024-sample durations
    // The audio track starts after the video (ffmpeg shifted it by 57 ms): an empty edit keeps it there.
    const elst = find(audio.children!, 'edts', 'elst')!.fields as { segmentDuration: number; mediaTime: number }[];
    expect(elst[0]).toMatchObject({ segmentDuration: 57, mediaTime: -1 });
  });

  test('box writers and readers round-trip: 64-bit offsets, signed ctts, large mdat header', () => {
    const co = B.chunkOffsets([100, 2 ** 33]);
    const tree = inspectMp4(co);
    expect(tree[0]!.type).toBe('co64');
    expect([...(tree[0]!.fields as Float64Array)]).toEqual([100, 2 ** 33]);
    const ct = inspectMp4(B.ctts([[2, -40], [1, 80]]))[0]!.fields as { counts: Uint32Array; offsets: Int32Array };
    expect([...ct.offsets]).toEqual([-40, 80]);
    const big = B.mdatLargeHeader(2 ** 33);
    expect(big.readUInt32BE(0)).toBe(1);
    expect(Number(big.readBigUInt64BE(8))).toBe(2 ** 33);
    const mv = inspectMp4(B.mvhd(1000, 2 ** 33, 3))[0]!.fields;
    expect(mv).toEqual({ timescale: 1000, duration: 2 ** 33 });
    const el = inspectMp4(B.elst([[10, -1], [500, 0]]))[0]!.fields;
    expect(el).toEqual([
      { segmentDuration: 10, mediaTime: -1, rate: 1 },
      { segmentDuration: 500, mediaTime: 0, rate: 1 },
    ]);
  });

  test('interrupted recording: repair from the sidecar index gives a playable file', async () => {
    const input = await flvMedia('avc-aac.flv');
    const file = path.join(dir, 'crash.mp4');
    const w = await MediaFileWriter.open(file, new Mp4Writer(), { sidecar: sidecarPath(file) });
    const half = input.slice(0, Math.floor(input.length / 2));
    for (const t of half) await w.write(t);
    await w.abandon(); // no moov: what a crash leaves
    expect(() => ffprobe(file)).toThrow();
    // A torn tail: the last sample's bytes are only partly there, and the index has a torn record.
    fs.truncateSync(file, fs.statSync(file).size - 10);
    fs.appendFileSync(sidecarPath(file), Buffer.from([4, 1, 0]));
    const plan = await repairMp4File(file);
    expect(plan.droppedSamples).toBe(1);
    expect(fs.existsSync(sidecarPath(file))).toBe(false);
    const probe = ffprobe(file);
    const counts = ffprobeCountPackets(file);
    expect(counts.video + counts.audio).toBe(plan.samples);
    expect(plan.samples).toBe(half.filter((t) => t.payload[1] === 1).length - 1);
    expect(Number(probe.format.duration)).toBeGreaterThan(1.3);
    expect(Number(probe.format.duration)).toBeLessThan(1.7);
    const r = await Mp4Reader.open(new BufferSource(fs.readFileSync(file)));
    const back = await readAll(r);
    expect(back.length).toBe(plan.samples + 2);
    execFileSync(FFMPEG, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { stdio: 'pipe' });
  });

  test('repair of a cleanly written stream equals the close() result', () => {
    const w = new Mp4Writer();
    const file: Buffer[] = [];
    const side: Buffer[] = [];
    const take = (o: { data: Buffer[]; sidecar: Buffer[] }): void => {
      file.push(...o.data);
      side.push(...o.sidecar);
    };
    take(w.start());
    const avcC = Buffer.from('0164000dffe100196764000dacd94141fb011000000300100000030320f142996001000468ef8fcbfdf8f800', 'hex');
    take(w.write({ type: 9, timestamp: 0, payload: Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), avcC]) }));
    take(w.write({ type: 8, timestamp: 0, payload: Buffer.from([0xaf, 0, 0x12, 0x10]) }));
    for (let i = 0; i < 10; i++) {
      take(w.write({ type: 9, timestamp: i * 40, payload: Buffer.from([i === 0 ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x65 + i]) }));
      take(w.write({ type: 8, timestamp: Math.round((i * 1024 * 1000) / 44100), payload: Buffer.from([0xaf, 1, 0x21, i]) }));
    }
    const size = file.reduce((n, b) => n + b.length, 0);
    const end = w.end();
    const plan = repairMp4(size, Buffer.concat(side));
    expect(plan.truncateTo).toBe(size);
    expect(plan.data[0]!.equals(end.data[0]!)).toBe(true);
    expect(plan.patches).toEqual(end.patches);
    expect(() => repairMp4(size, Buffer.from('garbage garbage garbage'))).toThrow(expect.objectContaining({ code: 'ERR_MEDIA_CORRUPT' }));
  });

  test('unsupported codecs are skipped and counted, MP3 audio is stored as MPEG-1 audio', async () => {
    const w = new Mp4Writer({ sidecar: false });
    const parts: Buffer[] = [...w.start().data];
    parts.push(...w.write({ type: 8, timestamp: 0, payload: Buffer.from([0x62, 1, 2, 3]) }).data); // Nellymoser
    parts.push(...w.write({ type: 9, timestamp: 0, payload: Buffer.from([0x12, 1, 2, 3]) }).data); // Sorenson H.263
    expect(w.skipped).toBe(2);
    const mp3 = await readAll(await Mp4Reader.open(new BufferSource(fs.readFileSync(fixture('mp3-in.mp4')))));
    for (const t of mp3) parts.push(...w.write(t).data);
    const end = w.end();
    parts.push(...end.data);
    const file = Buffer.concat(parts);
    for (const p of end.patches) p.bytes.copy(file, p.position);
    const out = path.join(dir, 'mp3.mp4');
    fs.writeFileSync(out, file);
    expect(ffprobe(out).streams[0]).toMatchObject({ codec_name: 'mp3', sample_rate: '44100' });
    expect(ffprobeCountPackets(out).audio).toBe(mp3.length);
    const back = await readAll(await Mp4Reader.open(new BufferSource(file)));
    expect(back.map((t) => t.payload.toString('hex'))).toEqual(mp3.map((t) => t.payload.toString('hex')));
  });
});
