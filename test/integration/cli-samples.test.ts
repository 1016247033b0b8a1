/**
 * The `ssas` command as a user runs it (the compiled dist/ build, `npm test` builds first) on the bundled
 * sample applications: live (encoder handshake in the script), vod (files), chat (Client methods,
 * broadcastMsg). Also --help and clean shutdown on SIGTERM.
 */
import * as path from 'path';
import { RtmpClient } from '../../src/net/rtmp-client';
import {
  audioStream,
  killAllTracked,
  probeUrl,
  publishWithFfmpeg,
  runTracked,
  spawnTracked,
  videoStream,
  waitForPublishStart,
  type TrackedProcess,
  until,
} from '../support';

const bin = path.join(__dirname, '..', '..', 'scripts', 'ssas.js');
let proc: TrackedProcess;
let base: string;

beforeAll(async () => {
  proc = spawnTracked(process.execPath, [bin, 'serve', '--port', '0'], { cwd: path.join(__dirname, '..', '..', 'test') });
  await proc.waitForOutput(/applications \(bundled samples\): .*\n/, 20_000);
  base = /ssas listening on (rtmp:\/\/127\.0\.0\.1:\d+)/.exec(proc.stdout())![1]!;
}, 30_000);

afterAll(async () => {
  await killAllTracked();
});


describe('ssas command', () => {
  it('prints one line with the URL and lists the bundled applications', () => {
    expect(proc.stdout()).toMatch(/^ssas listening on rtmp:\/\/127\.0\.0\.1:\d+$/m);
    expect(proc.stdout()).toMatch(/chat, live, vod/);
  });

  it('documents every option in --help', async () => {
    const top = await runTracked(process.execPath, [bin, '--help'], { timeoutMs: 15_000 });
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/serve/);
    const serve = await runTracked(process.execPath, [bin, 'serve', '--help'], { timeoutMs: 15_000 });
    expect(serve.code).toBe(0);
    for (const opt of ['--apps', '--host', '--port', '--chunk-size', '--idle-timeout', '--log-level']) expect(serve.stdout).toContain(opt);
    const bad = await runTracked(process.execPath, [bin, 'serve', '--nope'], { timeoutMs: 15_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option --nope.*ERR_CLI_UNKNOWN_OPTION/);
  });
});

describe('bundled samples', () => {
  it('live: the script answers the encoder handshake; ffmpeg publishes and ffprobe plays', async () => {
    const seen: string[] = [];
    const c = await RtmpClient.connect(`${base}/live`, { handlers: { onBWDone: () => void seen.push('onBWDone:') } });
    c.onCommand = (name, args) => seen.push(`${name}:${(args[0] as { code?: string })?.code ?? ''}`);
    await c.call('FCPublish', 'x');
    await until(() => seen.includes('onFCPublish:NetStream.Publish.Start'));
    expect(seen).toContain('onBWDone:');
    c.close();
    const pub = publishWithFfmpeg(`${base}/live/cam`, { durationSec: 20 });
    await waitForPublishStart(pub);
    const p = await probeUrl(`${base}/live/cam`);
    expect([videoStream(p)?.codec_name, audioStream(p)?.codec_name]).toEqual(['h264', 'aac']);
    await pub.kill();
  }, 40_000);

  it('live: checkBandwidth from onConnect(client, true) calls onBWCheck then onBWDone(kbps, ...)', async () => {
    let checks = 0;
    let done: unknown[] | null = null;
    const c = await RtmpClient.connect(`${base}/live`, {
      args: [true],
      handlers: { onBWCheck: () => ++checks, onBWDone: (...a) => void (done = a) },
    });
    await until(() => done !== null);
    expect(checks).toBeGreaterThan(3);
    const [kbps, deltaDown, deltaTime, latency] = done as unknown as number[];
    expect(kbps).toBeGreaterThan(1000);
    expect(deltaDown).toBeGreaterThan(0);
    expect(deltaTime).toBeGreaterThanOrEqual(0);
    expect(latency).toBeGreaterThanOrEqual(0);
    // Client-side nc.call("checkBandwidth") is answered natively too.
    done = null;
    await c.call('checkBandwidth');
    await until(() => done !== null);
    c.close();
  });

  it('vod: plays the bundled sample files; getStreamLength from the script', async () => {
    const p = await probeUrl(`${base}/vod/mp4:sample.mp4`);
    expect(videoStream(p)?.codec_name).toBe('h264');
    const c = await RtmpClient.connect(`${base}/vod`);
    expect(Math.abs(((await c.call('getStreamLength', 'sample')) as number) - 6)).toBeLessThan(0.2);
    // id3: names deliver the MP3's ID3 tags as an onId3 data message.
    const id3s = await c.createStream();
    const tags: unknown[] = [];
    id3s.onEvent = (ev) => {
      if (ev.kind === 'data' && ev.name === 'onId3') tags.push(ev.args[0]);
    };
    await id3s.play('id3:sample', 0);
    await until(() => tags.length > 0);
    expect(tags[0]).toMatchObject({ songName: 'ssas tone', artist: 'ssas' });
    // The vod script makes every client read-only.
    const s = await c.createStream();
    await expect(s.publish('x')).rejects.toMatchObject({ info: { code: 'NetStream.Publish.Failed' } });
    c.close();
  });

  it('chat: names, messages to everyone, user lists, whispers, duplicate names rejected', async () => {
    const log: string[] = [];
    const handlers = (who: string) => ({
      onMessage: (from: unknown, text: unknown) => void log.push(`${who}<${from}>${text}`),
      onUserList: (users: unknown) => void log.push(`${who} users ${(users as string[]).join(',')}`),
      onWhisper: (from: unknown, text: unknown) => void log.push(`${who} whisper ${from}:${text}`),
      onHistory: () => undefined,
    });
    const alice = await RtmpClient.connect(`${base}/chat/room`, { args: ['alice'], handlers: handlers('A') });
    const bob = await RtmpClient.connect(`${base}/chat/room`, { args: ['bob'], handlers: handlers('B') });
    const dup = await RtmpClient.connect(`${base}/chat/room`, { args: ['bob'] }).catch((e) => e);
    expect(dup.info.application.message).toMatch(/taken/);
    expect(await alice.call('getUsers')).toEqual(['alice', 'bob']);
    await alice.call('sendMessage', 'hello');
    await until(() => log.includes('A<alice>hello') && log.includes('B<alice>hello'));
    expect(await bob.call('whisper', 'alice', 'psst')).toBe(true);
    await until(() => log.includes('A whisper bob:psst'));
    bob.close();
    await until(() => log.includes('A users alice'));
    alice.close();
  });
});

describe('shutdown', () => {
  it('SIGTERM tells clients (AppShutdown) and exits 0', async () => {
    const c = await RtmpClient.connect(`${base}/live`);
    const codes: string[] = [];
    c.onStatus = (i) => codes.push(i.code);
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    expect(codes).toContain('NetConnection.Connect.AppShutdown');
  });
});
