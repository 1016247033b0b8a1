import * as fs from 'fs';
import { Mp3Reader, mp3Length, parseId3v2 } from '../../src/media/mp3';
import { parseMpegAudioHeader } from '../../src/media/mpeg-audio';
import { BufferSource, FileSource } from '../../src/media/source';
import type { MediaTag } from '../../src/media/tag-info';
import { ffprobe, ffprobeCountPackets, fixture } from './fixtures';

async function readAll(r: Mp3Reader, limit = 100000): Promise<MediaTag[]> {
  const tags: MediaTag[] = [];
  for (let t = await r.next(); t && tags.length < limit; t = await r.next()) tags.push(t);
  return tags;
}

describe('Mp3Reader', () => {
  test.each([
    ['cbr.mp3', 'Info'],
    ['vbr.mp3', 'Xing'],
    ['cbr-noxing.mp3', undefined],
    ['mpeg2.mp3', 'Info'],
    ['id3v1.mp3', 'Info'],
  ])('%s: duration, frame count and stream facts agree with ffprobe', async (name, vbrKind) => {
    const file = fixture(name);
    const probe = ffprobe(file);
    const counts = ffprobeCountPackets(file);
    const src = await FileSource.open(file);
    try {
      const r = await Mp3Reader.open(src);
      expect(r.vbr?.kind).toBe(vbrKind);
      expect(Math.abs(r.info.duration - Number(probe.format.duration))).toBeLessThan(0.1);
      expect(Math.abs((await mp3Length(src)) - Number(probe.format.duration))).toBeLessThan(0.1);
      const s = probe.streams[0]!;
      expect(r.info.audioSampleRate).toBe(Number(s.sample_rate));
      expect(r.info.audioChannels).toBe(s.channels);
      const tags = await readAll(r);
      expect(tags.length).toBe(counts.audio);
      const header = parseMpegAudioHeader(tags[0]!.payload, 1)!;
      expect(header.sampleRate).toBe(Number(s.sample_rate));
      expect(tags[0]!.payload[0]! >> 4).toBe(2);
      expect(tags[0]!.payload[0]! & 1).toBe(s.channels === 2 ? 1 : 0);
      const last = tags[tags.length - 1]!;
      expect(Math.abs(last.timestamp / 1000 - r.info.duration)).toBeLessThan(0.1);
    } finally {
      await src.close();
    }
  });

  test('ID3v2.4 and v2.3 text frames are exposed with Flash names', async () => {
    const r = await Mp3Reader.open(new BufferSource(fs.readFileSync(fixture('cbr.mp3'))));
    expect(r.id3).toMatchObject({ TIT2: 'Test Tone', TPE1: 'ssas', TALB: 'Fixtures', songName: 'Test Tone', artist: 'ssas', album: 'Fixtures' });
    expect(r.id3.comment).toBe('generated');
    expect(r.id3.year).toBe('2024');
    const v = await Mp3Reader.open(new BufferSource(fs.readFileSync(fixture('vbr.mp3'))));
    expect(v.id3.TIT2).toBe('Variable \u00e9t\u00e9');
    const v23 = await Mp3Reader.open(new BufferSource(fs.readFileSync(fixture('mpeg2.mp3'))));
    expect(v23.id3.TIT2).toBe('v23');
    expect(r.info.id3).toBe(r.id3);
  });

  test('hand-made ID3v2.2 / v2.3 tags with UTF-16, TXXX and unsynchronisation', () => {
    const frame23 = (id: string, body: Buffer): Buffer => {
      const h = Buffer.alloc(10);
      h.write(id, 0, 'latin1');
      h.writeUInt32BE(body.length, 4);
      return Buffer.concat([h, body]);
    };
    const utf16 = Buffer.concat([Buffer.from([1, 0xff, 0xfe]), Buffer.from('Ünï', 'utf16le')]);
    const txxx = Buffer.concat([Buffer.from([0]), Buffer.from('mood\0calm', 'latin1')]);
    const comm = Buffer.concat([Buffer.from([0]), Buffer.from('eng', 'latin1'), Buffer.from('\0hello', 'latin1')]);
    const body = Buffer.concat([frame23('TIT2', utf16), frame23('TXXX', txxx), frame23('COMM', comm), Buffer.alloc(20)]);
    const head = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, body.length]);
    expect(parseId3v2(Buffer.concat([head, body]))).toMatchObject({ TIT2: 'Ünï', songName: 'Ünï', 'TXXX:mood': 'calm', COMM: 'hello', comment: 'hello' });
    const f22 = Buffer.concat([Buffer.from('TT2', 'latin1'), Buffer.from([0, 0, 4, 0]), Buffer.from('abc', 'latin1')]);
    const h22 = Buffer.from([0x49, 0x44, 0x33, 2, 0, 0, 0, 0, 0, f22.length]);
    expect(parseId3v2(Buffer.concat([h22, f22]))).toMatchObject({ TIT2: 'abc' });
    // Unsynchronised v2.3 tag: FF 00 pairs collapse to FF before frames are read.
    const raw = frame23('TIT2', Buffer.from([0, 0x41, 0xff, 0x42]));
    const unsync: number[] = [];
    for (const b of raw) {
      unsync.push(b);
      if (b === 0xff) unsync.push(0);
    }
    const hu = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0x80, 0, 0, 0, unsync.length]);
    expect(parseId3v2(Buffer.concat([hu, Buffer.from(unsync)])).TIT2).toBe('A\u00ffB');
  });

  test('seek is frame accurate near, and by Xing TOC far away', async () => {
    const bytes = fs.readFileSync(fixture('vbr.mp3'));
    const r = await Mp3Reader.open(new BufferSource(bytes));
    const all = await readAll(r);
    const at = await r.seek(3000);
    expect(at).toBeLessThanOrEqual(3000);
    expect(at).toBeGreaterThan(3000 - 27);
    const t = (await r.next())!;
    expect(t.timestamp).toBe(at);
    const same = all.find((x) => x.timestamp === at)!;
    expect(t.payload.equals(same.payload)).toBe(true);
    expect(await r.seek(0)).toBe(0);
    expect((await r.next())!.payload.equals(all[0]!.payload)).toBe(true);
    // A reader that has read nothing and is not allowed to scan far: estimated (TOC) seek, then in-sync frames.
    const fresh = await Mp3Reader.open(new BufferSource(bytes), { blockSize: 4096 });
    (fresh as unknown as { first: { frameSize: number } }).first.frameSize = 1e9; // pretend frames are huge: forces the estimate path
    const est = await fresh.seek(4000);
    expect(Math.abs(est - 4000)).toBeLessThan(30);
    const f = (await fresh.next())!;
    expect(f.timestamp).toBe(est);
    expect(parseMpegAudioHeader(f.payload, 1)).toBeDefined();
    expect(all.some((x) => x.payload.equals(f.payload))).toBe(true);
    expect(await fresh.seek(1e9)).toBeGreaterThan(5000);
    expect(await fresh.next()).toBeNull();
  });

  test('MPEG layer II frames are read too', async () => {
    const file = fixture('layer2.mp2');
    const counts = ffprobeCountPackets(file);
    const r = await Mp3Reader.open(new BufferSource(fs.readFileSync(file)));
    expect(Math.abs(r.info.duration - Number(ffprobe(file).format.duration))).toBeLessThan(0.1);
    expect((await readAll(r)).length).toBe(counts.audio);
  });

  test('garbage between frames is skipped by re-synchronising; no frames at all is a coded error', async () => {
    const bytes = fs.readFileSync(fixture('cbr-noxing.mp3'));
    const clean = await readAll(await Mp3Reader.open(new BufferSource(bytes)));
    const cut = 20 * 209;
    const dirty = Buffer.concat([bytes.subarray(0, cut), Buffer.alloc(333, 0x55), bytes.subarray(cut)]);
    const tags = await readAll(await Mp3Reader.open(new BufferSource(dirty)));
    expect(tags.length).toBeGreaterThanOrEqual(clean.length - 1);
    await expect(Mp3Reader.open(new BufferSource(Buffer.alloc(5000, 0x11)))).rejects.toMatchObject({ code: 'ERR_MEDIA_CORRUPT' });
  });
});
