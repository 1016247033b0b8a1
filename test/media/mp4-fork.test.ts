/** Mp4Reader.fork: players of one file share the parsed moov yet read independently. */
import * as fs from 'fs';
import { BufferSource, Mp4Reader } from '../../src/media';
import { makeTestClip } from '../support';

it('a fork reads the same tags as a freshly opened reader, independently of the original', async () => {
  const file = await makeTestClip({ durationSec: 3, format: 'mp4' });
  const bytes = fs.readFileSync(file);
  const first = await Mp4Reader.open(new BufferSource(bytes));
  const fresh = await Mp4Reader.open(new BufferSource(bytes));
  // Move the original along first: the fork must not inherit its position.
  for (let i = 0; i < 10; i++) await first.next();
  const fork = first.fork(new BufferSource(bytes));
  expect(fork.info).toBe(first.info);
  const a: string[] = [];
  const b: string[] = [];
  for (let t = await fork.next(); t; t = await fork.next()) a.push(`${t.type}:${t.timestamp}:${t.payload.length}`);
  for (let t = await fresh.next(); t; t = await fresh.next()) b.push(`${t.type}:${t.timestamp}:${t.payload.length}`);
  expect(a).toEqual(b);
  expect(a.length).toBeGreaterThan(100);
  // Seeking the fork leaves the original where it was.
  await fork.seek(1000);
  const next = await first.next();
  expect(next).not.toBeNull();
});
