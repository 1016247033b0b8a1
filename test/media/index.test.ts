import * as fs from 'fs';
import { FileSource, mediaLength, openMediaReader, sniffFormat } from '../../src/media/index';
import { BufferSource } from '../../src/media/source';
import { FIXTURES, ffprobe, fixture } from './fixtures';

describe('media index', () => {
  test.each(Object.keys(FIXTURES))('%s: mediaLength agrees with ffprobe within 0.1 s', async (name) => {
    const file = fixture(name);
    const expected = Number(ffprobe(file).format.duration);
    const src = await FileSource.open(file);
    try {
      const hint = name.endsWith('.mp3') || name.endsWith('.mp2') ? 'mp3' : undefined;
      expect(Math.abs((await mediaLength(src, hint)) - expected)).toBeLessThan(0.1);
      const r = await openMediaReader(src, hint);
      expect(r.info.format).toBe(name.endsWith('.flv') ? 'flv' : name.endsWith('.mp4') || name.endsWith('.f4v') ? 'mp4' : 'mp3');
      expect(r.info.fileSize).toBe(fs.statSync(file).size);
      expect((await r.next())).not.toBeNull();
    } finally {
      await src.close();
    }
  });

  test('sniffing and unknown formats', async () => {
    expect(sniffFormat(Buffer.from('FLV\x01\x05'))).toBe('flv');
    expect(sniffFormat(Buffer.from('\0\0\0\x18ftypisom'))).toBe('mp4');
    expect(sniffFormat(Buffer.from('ID3\x04\0\0\0\0\0\0'))).toBe('mp3');
    expect(sniffFormat(Buffer.from([0xff, 0xfb, 0x90, 0x64]))).toBe('mp3');
    expect(sniffFormat(Buffer.from('hello world!'))).toBeUndefined();
    await expect(openMediaReader(new BufferSource(Buffer.from('hello world, not media')))).rejects.toMatchObject({ code: 'ERR_MEDIA_UNSUPPORTED' });
    await expect(mediaLength(new BufferSource(Buffer.alloc(0)))).rejects.toMatchObject({ code: 'ERR_MEDIA_UNSUPPORTED' });
  });

  test('iterating a reader with for await', async () => {
    const r = await openMediaReader(new BufferSource(fs.readFileSync(fixture('avc-aac-2s.flv'))));
    let n = 0;
    for await (const tag of r) {
      expect([8, 9, 18]).toContain(tag.type);
      n++;
    }
    expect(n).toBeGreaterThan(100);
  });
});
