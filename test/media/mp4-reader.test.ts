import * as fs from 'fs';
import { parseMpegAudioHeader } from '../../src/media/mpeg-audio';
import { Mp4Reader, mp4Length } from '../../src/media/mp4-reader';
import { BufferSource, FileSource } from '../../src/media/source';
import type { MediaTag } from '../../src/media/tag-info';
import { ffprobe, ffprobeCountPackets, fixture } from './fixtures';

async function readAll(r: Mp4Reader, limit = 100000): Promise<MediaTag[]> {
  const tags: MediaTag[] = [];
  for (let t = await r.next(); t && tags.length < limit; t = await r.next()) tags.push(t);
  return tags;
}

describe('Mp4Reader on ffmpeg files', () => {
  for (const name of ['avc-aac.mp4', 'avc-aac-faststart.mp4', 'avc-aac.f4v', 'frag.mp4', 'frag-dash.mp4']) {
    test(`${name}: metadata, sample counts and order agree with ffprobe`, async () => {
      const file = fixture(name);
      const probe = ffprobe(file);
      const counts = ffprobeCountPackets(file);
      const src = await FileSource.open(file);
      try {
        const r = await Mp4Reader.open(src);
        expect(Math.abs(r.info.duration - Number(probe.format.duration))).toBeLessThan(0.1);
        expect(Math.abs((await mp4Length(src)) - Number(probe.format.duration))).toBeLessThan(0.1);
        const v = probe.streams.find((s) => s.codec_type === 'video')!;
        expect(r.info.width).toBe(v.width);
        expect(r.info.height).toBe(v.height);
        expect(r.info.videoCodec).toBe('avc1');
        expect(r.info.audioCodec).toBe('mp4a');
        expect(r.info.audioSampleRate).toBe(44100);
        expect(r.info.framerate).toBeCloseTo(25, 0);
        expect(r.info.onMetaData.videocodecid).toBe('avc1');
        const tags = await readAll(r);
        const video = tags.filter((t) => t.type === 9);
        const audio = tags.filter((t) => t.type === 8);
        // one sequence header per track, then the samples
        expect(video[0]!.payload.subarray(0, 2)).toEqual(Buffer.from([0x17, 0]));
        expect(audio[0]!.payload.subarray(0, 2)).toEqual(Buffer.from([0xaf, 0]));
        expect(video.length - 1).toBe(counts.video);
        expect(audio.length - 1).toBe(counts.audio);
        expect(video[1]!.payload[0]).toBe(0x17);
        for (let i = 1; i < tags.length; i++) expect(tags[i]!.timestamp).toBeGreaterThanOrEqual(tags[i - 1]!.timestamp);
        expect(Math.min(...tags.map((t) => t.timestamp))).toBe(0);
        // B-frames: some composition offsets are not zero
        expect(video.slice(1).some((t) => t.payload.readIntBE(2, 3) !== 0)).toBe(true);
      } finally {
        await src.close();
      }
    });
  }

  test('seek lands on a key frame at or before the target and resends sequence headers', async () => {
    const r = await Mp4Reader.open(new BufferSource(fs.readFileSync(fixture('avc-aac.mp4'))));
    const at = await r.seek(1500);
    expect(at).toBeLessThanOrEqual(1500);
    expect(at).toBeGreaterThan(500);
    const t1 = (await r.next())!;
    const t2 = (await r.next())!;
    expect([t1.payload.subarray(0, 2), t2.payload.subarray(0, 2)]).toEqual(expect.arrayContaining([Buffer.from([0x17, 0]), Buffer.from([0xaf, 0])]));
    expect(t1.timestamp).toBe(at);
    const rest = [];
    for (let t = await r.next(); t && rest.length < 5; t = await r.next()) rest.push(t);
    const firstVideo = rest.find((t) => t.type === 9)!;
    expect(firstVideo.payload[0]).toBe(0x17);
    expect(firstVideo.timestamp).toBe(at);
    expect(rest.every((t) => t.timestamp >= at)).toBe(true);
    expect(await r.seek(0)).toBe(0);
    expect(await r.seek(10_000_000)).toBeGreaterThan(1000);
  });

  test('MP3 in MP4 plays as FLV MP3 frames', async () => {
    const file = fixture('mp3-in.mp4');
    const probe = ffprobe(file);
    const counts = ffprobeCountPackets(file);
    const r = await Mp4Reader.open(new BufferSource(fs.readFileSync(file)));
    expect(r.info.audioCodecId).toBe(2);
    expect(r.info.audioSampleRate).toBe(44100);
    expect(Math.abs(r.info.duration - Number(probe.format.duration))).toBeLessThan(0.1);
    const tags = await readAll(r);
    expect(tags.length).toBe(counts.audio);
    expect(tags[0]!.payload[0]).toBe(0x2e); // MP3, 44 kHz, 16-bit, mono (the sine source is mono)
    expect(r.info.audioChannels).toBe(probe.streams[0]!.channels);
    expect(parseMpegAudioHeader(tags[0]!.payload, 1)?.sampleRate).toBe(44100);
  });

  test('H.264 + MP3 in MP4', async () => {
    const file = fixture('avc-mp3.mp4');
    const counts = ffprobeCountPackets(file);
    const r = await Mp4Reader.open(new BufferSource(fs.readFileSync(file)));
    const tags = await readAll(r);
    expect(tags.filter((t) => t.type === 8).length).toBe(counts.audio);
    expect(tags.filter((t) => t.type === 9).length).toBe(counts.video + 1);
  });

  test('no supported track and truncated moov are coded errors', async () => {
    const bytes = fs.readFileSync(fixture('avc-aac.mp4'));
    await expect(Mp4Reader.open(new BufferSource(bytes.subarray(0, bytes.length - 100)))).rejects.toMatchObject({ code: 'ERR_MEDIA_TRUNCATED' });
    await expect(Mp4Reader.open(new BufferSource(bytes.subarray(0, 5000)))).rejects.toMatchObject({ code: 'ERR_MEDIA_TRUNCATED' });
    await expect(Mp4Reader.open(new BufferSource(Buffer.from('not a movie at all, just text')))).rejects.toMatchObject({ code: 'ERR_MEDIA_CORRUPT' });
    // Rename every sample entry type so nothing is playable.
    const hacked = Buffer.from(bytes);
    for (const fourcc of ['avc1', 'mp4a']) {
      for (let i = hacked.indexOf(fourcc); i >= 0; i = hacked.indexOf(fourcc, i + 1)) {
        if (hacked.readUInt32BE(i - 4) > 8 && hacked.readUInt32BE(i - 4) < 2000) hacked.write('zzzz', i, 'latin1');
      }
    }
    await expect(Mp4Reader.open(new BufferSource(hacked))).rejects.toMatchObject({ code: 'ERR_MEDIA_NO_SUPPORTED_TRACK' });
  });
});
