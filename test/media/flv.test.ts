import * as fs from 'fs';
import * as path from 'path';
import { MediaFileWriter } from '../../src/media/file-writer';
import { encodeFlvHeader, encodeFlvTag, FlvReader, FlvWriter, flvLength, inspectFlvForAppend } from '../../src/media/flv';
import { locateMetadata } from '../../src/media/flv-metadata';
import { BufferSource, FileSource } from '../../src/media/source';
import type { MediaTag } from '../../src/media/tag-info';
import { ffprobe, ffprobeCountPackets, fixture, tempDir } from './fixtures';

async function readAll(r: FlvReader, limit = 100000): Promise<MediaTag[]> {
  const tags: MediaTag[] = [];
  for (let t = await r.next(); t && tags.length < limit; t = await r.next()) tags.push(t);
  return tags;
}

const isSeqHeader = (t: MediaTag): boolean => (t.type === 9 && t.payload[1] === 0) || (t.type === 8 && t.payload[0]! >> 4 === 10 && t.payload[1] === 0);
const isEndOfSeq = (t: MediaTag): boolean => t.type === 9 && t.payload[1] === 2;

async function record(file: string, tags: MediaTag[], writer: FlvWriter, mode: 'create' | 'append' = 'create'): Promise<void> {
  const w = await MediaFileWriter.open(file, writer, { mode });
  for (const t of tags) void w.write(t);
  await w.close();
}

let dir: string;
beforeAll(() => {
  dir = tempDir('flv');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('FlvReader', () => {
  test('ffmpeg FLV: metadata, codecs and packet counts agree with ffprobe', async () => {
    const file = fixture('avc-aac.flv');
    const probe = ffprobe(file);
    const counts = ffprobeCountPackets(file);
    const src = await FileSource.open(file);
    try {
      const r = await FlvReader.open(src);
      expect(Math.abs(r.info.duration - Number(probe.format.duration))).toBeLessThan(0.1);
      expect(r.info.width).toBe(320);
      expect(r.info.height).toBe(240);
      expect(r.info.videoCodecId).toBe(7);
      expect(r.info.audioCodecId).toBe(10);
      expect(r.info.audioSampleRate).toBe(44100);
      expect(r.info.onMetaData.encoder).toMatch(/^Lavf/);
      expect(r.indexSource).toBe('scan');
      const tags = await readAll(r);
      expect(tags[0]!.type).toBe(18);
      const media = tags.filter((t) => t.type !== 18 && !isSeqHeader(t) && !isEndOfSeq(t));
      expect(media.filter((t) => t.type === 9).length).toBe(counts.video);
      expect(media.filter((t) => t.type === 8).length).toBe(counts.audio);
      expect(r.previousTagSizeMismatches).toBe(0);
      expect(Math.abs((await flvLength(src)) - Number(probe.format.duration))).toBeLessThan(0.1);
    } finally {
      await src.close();
    }
  });

  test('seek by scanned index lands on a key frame at or before the target, with sequence headers first', async () => {
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(fixture('avc-aac.flv'))));
    const at = await r.seek(2100);
    expect(at).toBe(2000); // GOP of 25 frames at 25 fps
    const seq = [(await r.next())!, (await r.next())!];
    expect(seq.every(isSeqHeader)).toBe(true);
    expect(seq.every((t) => t.timestamp === at)).toBe(true);
    const key = (await r.next())!;
    expect(key.type).toBe(9);
    expect(key.payload[0]).toBe(0x17);
    expect(key.timestamp).toBe(2000);
    expect(await r.seek(500)).toBe(0);
    expect(await r.seek(99999)).toBe(2000);
  });

  test('audio-only FLV seeks to the last audio frame at or before the target', async () => {
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(fixture('aac-only.flv'))));
    const at = await r.seek(1234);
    expect(at).toBeLessThanOrEqual(1234);
    expect(at).toBeGreaterThan(1234 - 30);
    const first = (await r.next())!;
    expect(isSeqHeader(first)).toBe(true);
    const next = (await r.next())!;
    expect(next.timestamp).toBe(at);
  });

  test('a torn tail ends cleanly after the last complete tag; FLV without metadata gets its duration from the tags', async () => {
    const bytes = fs.readFileSync(fixture('avc-aac.flv'));
    const all = await readAll(await FlvReader.open(new BufferSource(bytes)));
    const torn = await readAll(await FlvReader.open(new BufferSource(bytes.subarray(0, bytes.length - 100))));
    expect(torn.length).toBeGreaterThan(all.length - 5);
    expect(torn.length).toBeLessThan(all.length);
    // Rebuild the file without its onMetaData tag.
    const parts = [encodeFlvHeader(true, true), ...all.filter((t) => t.type !== 18).map((t) => encodeFlvTag(t.type, t.timestamp, t.payload))];
    const file = path.join(dir, 'nometa.flv');
    fs.writeFileSync(file, Buffer.concat(parts));
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(file)));
    expect(r.info.width).toBe(320);
    expect(r.info.audioCodecId).toBe(10);
    expect(Math.abs(r.info.duration - Number(ffprobe(file).format.duration))).toBeLessThan(0.1);
    // Same, cut mid-tag: duration comes from scanning.
    const cut = Buffer.concat(parts).subarray(0, Buffer.concat(parts).length - 50);
    const rc = await FlvReader.open(new BufferSource(cut));
    expect(rc.info.duration).toBeGreaterThan(2.9);
  });

  test('strict mode rejects a wrong PreviousTagSize; lenient mode counts it', async () => {
    const bytes = Buffer.from(fs.readFileSync(fixture('avc-aac-2s.flv')));
    const firstTagSize = bytes.readUIntBE(13 + 1, 3);
    bytes.writeUInt32BE(12345, 13 + 11 + firstTagSize);
    const lenient = await FlvReader.open(new BufferSource(bytes));
    await readAll(lenient);
    expect(lenient.previousTagSizeMismatches).toBe(1);
    await expect(FlvReader.open(new BufferSource(bytes), { strict: true }).then(readAll)).rejects.toMatchObject({ code: 'ERR_MEDIA_CORRUPT' });
  });
});

describe('FlvWriter', () => {
  test('recording: ffprobe reads the patched duration; tags read back identical; keyframes stored for seeking', async () => {
    const src = fixture('avc-aac.flv');
    const input = (await readAll(await FlvReader.open(new BufferSource(fs.readFileSync(src))))).filter((t) => t.type !== 18);
    const out = path.join(dir, 'rec.flv');
    await record(out, input, new FlvWriter({ metadata: { encoder: 'ssas test', author: 'me' } }));
    const probe = ffprobe(out);
    const counts = ffprobeCountPackets(out);
    const expected = ffprobeCountPackets(src);
    expect(counts).toEqual(expected);
    expect(Math.abs(Number(probe.format.duration) - 3.08)).toBeLessThan(0.1);
    expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(probe.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac', sample_rate: '44100' });
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(out)));
    const meta = r.info.onMetaData;
    expect(meta).toMatchObject({ width: 320, height: 240, videocodecid: 7, audiocodecid: 10, audiosamplerate: 44100, encoder: 'ssas test', author: 'me' });
    expect(meta.filesize).toBe(fs.statSync(out).size);
    expect(meta.framerate).toBeCloseTo(25, 0);
    expect(r.indexSource).toBe('metadata');
    const back = (await readAll(r)).filter((t) => t.type !== 18);
    expect(back.length).toBe(input.length);
    back.forEach((t, i) => {
      expect(t.type).toBe(input[i]!.type);
      expect(t.timestamp).toBe(input[i]!.timestamp);
      expect(t.payload.equals(input[i]!.payload)).toBe(true);
    });
    expect(await r.seek(1500)).toBe(1000);
    const tags = await readAll(r, 3);
    expect(tags[2]!.payload[0]).toBe(0x17);
  });

  test('a small keyframe reserve keeps every n-th key frame; no reserve writes none', async () => {
    const input = (await readAll(await FlvReader.open(new BufferSource(fs.readFileSync(fixture('avc-aac.flv')))))).filter((t) => t.type !== 18);
    const small = path.join(dir, 'small-index.flv');
    await record(small, input, new FlvWriter({ keyframeIndexEntries: 2 }));
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(small)));
    const kf = r.info.onMetaData.keyframes as { times: number[] };
    expect(kf.times.length).toBeGreaterThan(0);
    expect(kf.times.length).toBeLessThan(3);
    expect(kf.times[0]).toBe(0);
    const none = path.join(dir, 'no-index.flv');
    await record(none, input, new FlvWriter({ keyframeIndexEntries: 0 }));
    const r2 = await FlvReader.open(new BufferSource(fs.readFileSync(none)));
    expect(r2.info.onMetaData.keyframes).toBeUndefined();
    expect(r2.indexSource).toBe('scan');
    expect(Math.abs(Number(ffprobe(none).format.duration) - 3.08)).toBeLessThan(0.1);
  });

  test('timestamps are rebased to start at 0', async () => {
    const w = new FlvWriter({ keyframeIndexEntries: 0 });
    const parts = [...w.start().data];
    parts.push(...w.write({ type: 8, timestamp: 5000, payload: Buffer.from([0x2e, 0xff, 0xfb, 0x90, 0]) }).data);
    parts.push(...w.write({ type: 8, timestamp: 5026, payload: Buffer.from([0x2e, 0xff, 0xfb, 0x90, 0]) }).data);
    const end = w.end();
    const file = Buffer.concat(parts);
    for (const p of end.patches) p.bytes.copy(file, p.position);
    const r = await FlvReader.open(new BufferSource(file));
    expect((await readAll(r)).filter((t) => t.type === 8).map((t) => t.timestamp)).toEqual([0, 26]);
    expect(r.info.duration).toBeCloseTo(0.052, 3);
    expect(file[4]).toBe(0x04);
  });

  test.each([
    ['append', 0],
    ['appendWithGap', 1500],
  ])('%s: one file whose duration is the sum (plus the gap)', async (_mode, gap) => {
    const input = (await readAll(await FlvReader.open(new BufferSource(fs.readFileSync(fixture('avc-aac-2s.flv')))))).filter((t) => t.type !== 18);
    const file = path.join(dir, `append-${gap}.flv`);
    await record(file, input, new FlvWriter());
    const first = ffprobe(file);
    const d1 = Number(first.format.duration);
    const before = fs.statSync(file).size;
    const src = await FileSource.open(file);
    const info = await inspectFlvForAppend(src);
    await src.close();
    expect(info.appendPosition).toBe(before);
    expect(info.endTime).toBe(Math.round(d1 * 1000));
    // The second session's timestamps start anywhere: the writer continues after the old end.
    const shifted = input.map((t) => ({ ...t, timestamp: t.timestamp + 777 }));
    await record(file, shifted, new FlvWriter({ append: info, appendGap: gap }), 'append');
    const probe = ffprobe(file);
    expect(Math.abs(Number(probe.format.duration) - (2 * d1 + gap / 1000))).toBeLessThan(0.1);
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(file)));
    expect(Math.abs(r.info.duration - (2 * d1 + gap / 1000))).toBeLessThan(0.1);
    expect(r.info.onMetaData.filesize).toBe(fs.statSync(file).size);
    const tags = (await readAll(r)).filter((t) => t.type !== 18);
    expect(tags.length).toBe(2 * input.length);
    const second = tags[input.length]!;
    expect(second.timestamp).toBe(Math.round(d1 * 1000) + gap);
    const kf = r.info.onMetaData.keyframes as { times: number[] };
    expect(kf.times.length).toBe(4);
    expect(await r.seek(Math.round(d1 * 1000) + gap + 1100)).toBe(Math.round(d1 * 1000) + gap + 1000);
    const counts = ffprobeCountPackets(file);
    const single = ffprobeCountPackets(fixture('avc-aac-2s.flv'));
    expect(counts.video).toBe(2 * single.video);
  });

  test('appending to a torn file cuts the torn tail first', async () => {
    const input = (await readAll(await FlvReader.open(new BufferSource(fs.readFileSync(fixture('avc-aac-2s.flv')))))).filter((t) => t.type !== 18);
    const file = path.join(dir, 'torn-append.flv');
    await record(file, input, new FlvWriter());
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 10);
    const src = await FileSource.open(file);
    const info = await inspectFlvForAppend(src);
    await src.close();
    expect(info.appendPosition).toBeLessThan(size - 10);
    await record(file, input, new FlvWriter({ append: info }), 'append');
    const r = await FlvReader.open(new BufferSource(fs.readFileSync(file)));
    const tags = (await readAll(r)).filter((t) => t.type !== 18);
    expect(tags.length).toBe(2 * input.length - 1);
    expect(r.previousTagSizeMismatches).toBe(0);
  });

  test('metadata layout: managed numbers are patchable in place', () => {
    const w = new FlvWriter();
    const head = Buffer.concat(w.start().data);
    const body = head.subarray(13 + 11, head.length - 4);
    const layout = locateMetadata(body)!;
    expect(layout.name).toBe('onMetaData');
    for (const k of ['duration', 'filesize', 'width', 'height', 'lasttimestamp']) expect(layout.fields.get(k)?.marker).toBe(0);
    expect(layout.fields.get('stereo')?.marker).toBe(1);
  });
});
