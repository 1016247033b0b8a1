/**
 * Foundation end to end: `ssas serve` semantics with no script (every connection accepted, live streams
 * relayed) against real peers — ffmpeg publishing, ffprobe/ffmpeg/rtmpdump playing, python-librtmp
 * connecting — plus our own client for what the peers cannot show (late-join start, status codes,
 * backpressure, malformed input).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Server } from '../../src/server/server';
import { createServer } from '../../src/server/create';
import { RtmpClient, type ClientStream, ConnectError } from '../../src/net/rtmp-client';
import type { RtmpConnection } from '../../src/net/rtmp-connection';
import { MessageType } from '../../src/rtmp/types';
import {
  audioStream,
  killAllTracked,
  librtmpClient,
  makeTempDir,
  parseRate,
  probeUrl,
  publishWithFfmpeg,
  readWithFfmpeg,
  recordWithRtmpdump,
  removeDir,
  videoStream,
  waitForPublishStart,
  until,
} from '../support';
import { connect as tcpConnect } from 'net';
import { ClientHandshake } from '../../src/rtmp/handshake';

let server: Server;
let base: string;
const apps = makeTempDir('live-relay-apps');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'live'));
  fs.mkdirSync(path.join(apps, 'other'));
  server = createServer({ appsDir: apps, port: 0, host: '127.0.0.1' });
  const { url } = await server.listen();
  base = url;
});

afterAll(async () => {
  await killAllTracked();
  await server.close();
  removeDir(apps);
});

/** Synthetic FLV-style payloads: enough structure for the relay's key frame and header logic. */
const avcHeader = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const aacHeader = Buffer.from([0xaf, 0x00, 0x12, 0x10]);
const keyframe = (n: number): Buffer => Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0]), Buffer.alloc(200, n & 0xff)]);
const interframe = (n: number): Buffer => Buffer.concat([Buffer.from([0x27, 0x01, 0, 0, 0]), Buffer.alloc(100, n & 0xff)]);
const aacFrame = (n: number): Buffer => Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(50, n & 0xff)]);

async function publisher(app: string, name: string): Promise<{ client: RtmpClient; stream: ClientStream }> {
  const client = await RtmpClient.connect(`${base}/${app}`);
  const stream = await client.createStream();
  await stream.publish(name);
  return { client, stream };
}

function collect(stream: ClientStream): { media: { type: number; ts: number; payload: Buffer }[]; data: { name: string; args: unknown[] }[] } {
  const out = { media: [] as { type: number; ts: number; payload: Buffer }[], data: [] as { name: string; args: unknown[] }[] };
  stream.onEvent = (ev) => {
    if (ev.kind === 'media') out.media.push({ type: ev.msg.type, ts: ev.msg.timestamp, payload: ev.msg.payload });
    if (ev.kind === 'data') out.data.push({ name: ev.name, args: ev.args });
  };
  return out;
}


describe('real peers', () => {
  it('ffmpeg publishes H.264+AAC; ffprobe and ffmpeg read it back; rtmpdump records an FLV ffprobe reads', async () => {
    const pub = publishWithFfmpeg(`${base}/live/pattern`, { durationSec: 30, width: 320, height: 240, fps: 25 });
    await waitForPublishStart(pub);
    const probe = await probeUrl(`${base}/live/pattern`);
    const v = videoStream(probe)!;
    const a = audioStream(probe)!;
    expect(v.codec_name).toBe('h264');
    expect([v.width, v.height]).toEqual([320, 240]);
    expect(parseRate(v.r_frame_rate)).toBeCloseTo(25, 0);
    expect(a.codec_name).toBe('aac');
    expect(probe.streams).toHaveLength(2);

    const read = await readWithFfmpeg(`${base}/live/pattern`, { durationSec: 2 });
    expect(read.video.frames).toBeGreaterThanOrEqual(15);
    expect(read.audio.packets).toBeGreaterThan(20);

    const out = path.join(apps, 'dump.flv');
    const dump = await recordWithRtmpdump(`${base}/live/pattern`, out, { live: true, stopAfterSec: 2 });
    expect(dump.bytes).toBeGreaterThan(10_000);
    const fileProbe = await probeUrl(out);
    expect(videoStream(fileProbe)?.codec_name).toBe('h264');
    expect(audioStream(fileProbe)?.codec_name).toBe('aac');
    await pub.kill();
  }, 60_000);

  it('python-librtmp connects with extra connect arguments and gets the FMS connect _result', async () => {
    const r = await librtmpClient({
      url: `${base}/live/room1`,
      app: 'live/room1',
      tcUrl: `${base}/live/room1`,
      connectArgs: ['user', 42, true, { nested: 'yes' }],
    });
    expect(r.connect?.ok).toBe(true);
    expect(r.connect?.name).toBe('_result');
    expect(r.connect?.properties).toEqual({ fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1 });
    const info = r.connect?.info;
    expect(info.code).toBe('NetConnection.Connect.Success');
    expect(info.level).toBe('status');
    expect(info.description).toBe('Connection succeeded.');
    expect(info.objectEncoding).toBe(0);
    expect(info.data.version ?? info.data.$ecma?.version).toBe('3,5,7,7009');
    expect(typeof info.clientid).toBe('string');
    expect(server.instances.has('live/room1')).toBe(true);
  });
});

describe('connect', () => {
  it('rejects an unknown application with NetConnection.Connect.InvalidApp', async () => {
    const err = await RtmpClient.connect(`${base}/nosuchapp`).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.info.code).toBe('NetConnection.Connect.InvalidApp');
    expect(err.info.level).toBe('error');
    expect(err.info.description).toContain('Application (nosuchapp) is not defined');
  });

  it('echoes objectEncoding 3 and parses app/instance as FMS does', async () => {
    const c = await RtmpClient.connect(`${base}/other/a/b`, { objectEncoding: 3 });
    expect(c.connectResult?.info.objectEncoding).toBe(3);
    expect(server.instances.has('other/a/b')).toBe(true);
    c.close();
    const d = await RtmpClient.connect(`${base}/other`);
    expect(server.instances.has('other/_definst_')).toBe(true);
    d.close();
  });

  it('answers an unknown method with _error NetConnection.Call.Failed', async () => {
    const c = await RtmpClient.connect(`${base}/live`);
    await expect(c.call('noSuchMethod', 1)).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed', level: 'error' } });
    c.close();
  });

  it('answers encoder calls itself when there is no script (onFCPublish, getStreamLength)', async () => {
    const seen: string[] = [];
    const c = await RtmpClient.connect(`${base}/live`);
    c.onCommand = (name, args) => seen.push(`${name}:${(args[0] as { code: string }).code}`);
    await c.call('releaseStream', 'enc');
    await c.call('FCPublish', 'enc');
    expect(await c.call('getStreamLength', 'enc')).toBe(0);
    await until(() => seen.length > 0);
    expect(seen).toContain('onFCPublish:NetStream.Publish.Start');
    c.close();
  });
});

describe('live relay semantics', () => {
  it('Publish.Start, Publish.BadName for a taken name, Unpublish.Success; players get Reset/Start/PublishNotify/UnpublishNotify', async () => {
    const player = await RtmpClient.connect(`${base}/live`);
    const ps = await player.createStream();
    const start = await ps.play('s1');
    expect(start.code).toBe('NetStream.Play.Start');
    expect(ps.statusLog.map((i) => i.code)).toEqual(['NetStream.Play.Reset', 'NetStream.Play.Start']);

    let notify = ps.waitFor('NetStream.Play.PublishNotify');
    const a = await publisher('live', 's1');
    await notify;
    const b = await RtmpClient.connect(`${base}/live`);
    const bs = await b.createStream();
    await expect(bs.publish('s1')).rejects.toMatchObject({ info: { code: 'NetStream.Publish.BadName', level: 'error' } });

    const unpub = a.stream.waitFor('NetStream.Unpublish.Success');
    const unnotify = ps.waitFor('NetStream.Play.UnpublishNotify');
    a.client.sendCommandOn(a.stream.id, 'publish', 0, [false]);
    await unpub;
    await unnotify;
    // The name is free again.
    notify = ps.waitFor('NetStream.Play.PublishNotify');
    await bs.publish('s1');
    await notify;
    for (const c of [player, a.client, b]) c.close();
  });

  it('a late joiner gets metadata, sequence headers and starts at a key frame; media arrives in order', async () => {
    const { client, stream } = await publisher('live', 'late');
    stream.send('@setDataFrame', 'onMetaData', { width: 320, height: 240, framerate: 25 });
    let ts = 0;
    stream.sendMedia(9, ts, avcHeader);
    stream.sendMedia(8, ts, aacHeader);
    for (let i = 0; i < 30; i++) {
      stream.sendMedia(9, ts, i % 10 === 0 ? keyframe(i) : interframe(i));
      stream.sendMedia(8, ts, aacFrame(i));
      ts += 40;
    }
    const player = await RtmpClient.connect(`${base}/live`);
    const ps = await player.createStream();
    const got = collect(ps);
    await ps.play('late');
    // Startup: the AVC header and the 10 messages of the GOP that began with key frame 20.
    await until(() => got.media.filter((m) => m.type === 9).length >= 11);
    const meta = got.data.find((d) => d.name === 'onMetaData');
    expect(meta?.args[0]).toMatchObject({ width: 320, height: 240 });
    expect(got.data.some((d) => d.name === '|RtmpSampleAccess')).toBe(true);
    const video = got.media.filter((m) => m.type === 9);
    expect(video[0]!.payload.equals(avcHeader)).toBe(true);
    expect(video[1]!.payload[0]).toBe(0x17);
    expect(video[1]!.payload.equals(keyframe(20))).toBe(true);
    expect(got.media.some((m) => m.type === 8 && m.payload.equals(aacHeader))).toBe(true);
    // Continues live from there, in order.
    stream.sendMedia(9, ts, interframe(30));
    await until(() => got.media.some((m) => m.type === 9 && m.payload.equals(interframe(30))));
    const tss = got.media.filter((m) => m.type === 9).map((m) => m.ts);
    expect([...tss].sort((x, y) => x - y)).toEqual(tss);
    client.close();
    player.close();
  });

  it('a slow player is skipped to the next key frame with bounded server buffering; a fast player gets everything', async () => {
    const { client, stream } = await publisher('live', 'bp');
    stream.sendMedia(9, 0, avcHeader);
    // A raw player that completes play and then stops reading its socket.
    const slow = await RtmpClient.connect(`${base}/live`);
    const slowStream = await slow.createStream();
    await slowStream.play('bp');
    const fast = await RtmpClient.connect(`${base}/live`);
    const fs2 = await fast.createStream();
    const got = collect(fs2);
    await fs2.play('bp');
    (slow.conn as RtmpConnection).socket.pause();
    const big = Buffer.alloc(32 * 1024, 7);
    let maxBacklog = 0;
    const slowSession = () => Array.from(server.sessions).find((s) => s.conn.remotePort === slow.conn.localPort);
    let sent = 0;
    // ~10 MB at ~6 MB/s: a reading player keeps up easily, the one that stopped reading cannot.
    for (let i = 0; i < 320; i++) {
      const payload = Buffer.concat([Buffer.from([i % 25 === 0 ? 0x17 : 0x27, 0x01, 0, 0, 0]), big]);
      stream.sendMedia(9, i * 40, payload);
      sent++;
      await new Promise((r) => setTimeout(r, 5));
      maxBacklog = Math.max(maxBacklog, slowSession()?.conn.backlog ?? 0);
    }
    const fastSession = () => Array.from(server.sessions).find((x) => x.conn.remotePort === fast.conn.localPort);
    await until(() => got.media.filter((m) => m.type === 9).length >= sent, 20_000).catch((e) => {
      throw new Error(`${e.message}: fast got ${got.media.length}/${sent}, dropped ${fastSession()?.conn.stats.msgDropped}`);
    });
    const s = slowSession()!;
    maxBacklog = Math.max(maxBacklog, s.conn.backlog);
    // The slow player's queue stayed near the high-water mark (plus what the kernel took).
    expect(maxBacklog).toBeLessThan(server.config.playerHighWaterBytes + 2 * big.length + 64 * 1024);
    expect(s.conn.stats.msgDropped).toBeGreaterThan(50);
    expect(fastSession()!.conn.stats.msgDropped).toBe(0);
    (slow.conn as RtmpConnection).socket.resume();
    client.close();
    slow.close();
    fast.close();
  }, 40_000);
});

describe('bad input', () => {
  it('garbage after the handshake closes only that connection, with a coded error', async () => {
    const good = await RtmpClient.connect(`${base}/live`);
    const closed = new Promise<string>((resolve) => {
      const sock = tcpConnect(server.port, '127.0.0.1');
      const hs = new ClientHandshake({ simple: true });
      sock.write(hs.start());
      sock.on('data', (b) => {
        const r = hs.push(b);
        for (const out of r.send) sock.write(out);
        // Chunk header for csid 3, fmt 0, then an AMF command claiming a nonsense marker.
        if (r.done) sock.write(Buffer.from([0x03, 0, 0, 0, 0, 0, 0x05, 0x14, 0, 0, 0, 0, 0x42, 0x42, 0x42, 0x42, 0x42]));
      });
      sock.on('close', () => resolve('closed'));
      sock.on('error', () => undefined);
    });
    expect(await closed).toBe('closed');
    // The other client still works.
    await expect(good.call('noSuchMethod')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
    good.close();
  });

  it('a message larger than the limit closes the connection (ERR_RTMP_MESSAGE_TOO_LARGE)', async () => {
    const small = createServer({ appsDir: apps, port: 0, limits: { maxMessageSize: 1000 } });
    const { url } = await small.listen();
    const c = await RtmpClient.connect(`${url}/live`);
    const closed = new Promise<string | undefined>((r) => (c.onClose = (e) => r(e?.code)));
    c.sendRaw({ type: MessageType.DataAmf0, streamId: 0, timestamp: 0, csid: 5, payload: Buffer.alloc(5000) });
    await closed;
    expect(small.sessions.size).toBe(0);
    await small.close();
  });
});

describe('shutdown', () => {
  it('server.close() tells connected clients NetConnection.Connect.AppShutdown and closes them', async () => {
    const srv = createServer({ appsDir: apps, port: 0 });
    const { url } = await srv.listen();
    const c = await RtmpClient.connect(`${url}/live`);
    const codes: string[] = [];
    c.onStatus = (i) => codes.push(i.code);
    const gone = new Promise<void>((r) => (c.onClose = () => r()));
    await srv.close();
    await gone;
    expect(codes).toContain('NetConnection.Connect.AppShutdown');
  });
});
