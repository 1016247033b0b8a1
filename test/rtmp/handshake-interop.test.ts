/**
 * Handshake against real peers on loopback: ffmpeg and rtmpdump as clients of ServerHandshake (both check
 * the server digest and S2 signature, and abort otherwise), and ClientHandshake against nginx-rtmp.
 * Each test proves the peer got past the handshake by decoding its (or nginx's) next RTMP messages.
 */
import * as net from 'net';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ServerHandshake, ClientHandshake } from '../../src/rtmp/handshake';
import { ChunkDecoder } from '../../src/rtmp/chunk-decoder';
import { ChunkEncoder } from '../../src/rtmp/chunk-encoder';
import { MessageType, type RtmpMessage } from '../../src/rtmp/types';
import { freePort, waitForPort, LOOPBACK } from '../support/ports';
import { amf0Number, amf0Object, amf0String, commandName, spawnPeer, withTimeout, type Peer } from './rtmp-test-utils';

const FFMPEG = '/usr/bin/ffmpeg';
const RTMPDUMP = '/usr/bin/rtmpdump';
const NGINX = '/usr/sbin/nginx';
const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

interface Accepted {
  handshake: ServerHandshake;
  /** The first command message (type 20) the client sent after the handshake. */
  command: RtmpMessage;
  before: RtmpMessage[];
}

/** A one-connection server running ServerHandshake then ChunkDecoder until the first AMF0 command. */
async function startServer(
  tamper?: (out: Buffer) => void,
): Promise<{ port: number; accepted: Promise<Accepted>; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let settle!: { resolve: (a: Accepted) => void; reject: (e: unknown) => void };
  const accepted = new Promise<Accepted>((resolve, reject) => (settle = { resolve, reject }));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const handshake = new ServerHandshake();
    const before: RtmpMessage[] = [];
    const decoder = new ChunkDecoder({
      onMessage: (m) => {
        if (m.type === MessageType.CommandAmf0) settle.resolve({ handshake, command: m, before });
        else before.push(m);
      },
    });
    socket.on('data', (buf: Buffer) => {
      try {
        if (!handshake.done) {
          const step = handshake.push(buf);
          for (const out of step.send) {
            tamper?.(out);
            socket.write(out);
          }
          if (step.done && step.rest) decoder.push(step.rest);
          return;
        }
        decoder.push(buf);
      } catch (err) {
        settle.reject(err);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port, accepted, close };
}

async function expectConnectFrom(makePeer: (port: number) => Peer): Promise<{ accepted: Accepted; log: string }> {
  const server = await startServer();
  const peer = makePeer(server.port);
  try {
    const accepted = await withTimeout(
      Promise.race([
        server.accepted,
        peer.exited.then((code) => {
          throw new Error(`peer exited (${code}) before sending connect:\n${peer.output().slice(-3000)}`);
        }),
      ]),
      15_000,
      () => peer.output().slice(-3000),
    );
    return { accepted, log: peer.output() };
  } finally {
    await peer.kill();
    await server.close();
  }
}

describe('ServerHandshake with real clients', () => {
  test('ffmpeg (playing: validates S1 digest and S2 signature) completes and sends connect', async () => {
    const { accepted, log } = await expectConnectFrom((port) =>
      spawnPeer(FFMPEG, [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'debug',
        '-rw_timeout',
        '5000000',
        '-i',
        `rtmp://${LOOPBACK}:${port}/live/test`,
        '-f',
        'null',
        '-',
      ]),
    );
    expect(log).not.toMatch(/validating failed|Signature mismatch/);
    expect(accepted.handshake.digestScheme).toBe(0);
    expect(accepted.handshake.clientFlashVersion).toBe('9.0.124.2');
    expect(accepted.handshake.c2Valid).toBe(true);
    expect(accepted.command.type).toBe(20);
    expect(commandName(accepted.command.payload)).toBe('connect');
  });

  test('control: ffmpeg rejects an S1 whose digest is broken', async () => {
    const server = await startServer((out) => {
      if (out.length > 1000) out[1 + 600] ^= 0x55; // one byte of S1
    });
    const peer = spawnPeer(FFMPEG, ['-hide_banner', '-nostdin', '-rw_timeout', '5000000', '-i', `rtmp://${LOOPBACK}:${server.port}/live/test`, '-f', 'null', '-']);
    try {
      const outcome = await withTimeout(
        Promise.race([server.accepted.then(() => 'connected'), peer.exited.then(() => 'exited')]),
        15_000,
        () => peer.output(),
      );
      expect(outcome).toBe('exited');
      expect(peer.output()).toMatch(/Server response validating failed/);
    } finally {
      await peer.kill();
      await server.close();
    }
  });

  test('ffmpeg (publishing) completes and sends connect', async () => {
    const { accepted } = await expectConnectFrom((port) =>
      spawnPeer(FFMPEG, [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'debug',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=64x48:rate=5',
        '-t',
        '1',
        '-rw_timeout',
        '5000000',
        '-f',
        'flv',
        `rtmp://${LOOPBACK}:${port}/live/test`,
      ]),
    );
    expect(accepted.handshake.digestScheme).toBe(0);
    // A publishing ffmpeg does not check the server and echoes S1 as C2.
    expect(accepted.handshake.c2Valid).toBe(true);
    expect(commandName(accepted.command.payload)).toBe('connect');
  });

  test('rtmpdump (plain handshake by default) completes and sends connect', async () => {
    const { accepted } = await expectConnectFrom((port) =>
      spawnPeer(RTMPDUMP, ['-r', `rtmp://${LOOPBACK}:${port}/live/test`, '-o', '/dev/null', '-m', '5', '-V']),
    );
    expect(accepted.handshake.digestScheme).toBeNull();
    expect(accepted.handshake.c2Valid).toBe(true);
    expect(commandName(accepted.command.payload)).toBe('connect');
  });

  test('rtmpdump with SWF verification (digest handshake) completes and sends connect', async () => {
    // -w/-x (SWF hash and size) make librtmp use the digest handshake and verify S1 and S2. Debian's
    // librtmp announces Flash Player 10.0.45.2 and places its digest with scheme 0.
    const { accepted, log } = await expectConnectFrom((port) =>
      spawnPeer(RTMPDUMP, [
        '-r',
        `rtmp://${LOOPBACK}:${port}/live/test`,
        '-o',
        '/dev/null',
        '-m',
        '5',
        '-V',
        '-w',
        '00'.repeat(32),
        '-x',
        '1000',
      ]),
    );
    expect(log).not.toMatch(/Couldn't verify the server digest|not genuine Adobe/);
    expect(accepted.handshake.digestScheme).not.toBeNull();
    expect(accepted.handshake.clientFlashVersion).not.toBeNull();
    expect(accepted.handshake.c2Valid).toBe(true);
    expect(commandName(accepted.command.payload)).toBe('connect');
  });
});

describe('ClientHandshake with nginx-rtmp', () => {
  let dir: string;
  let port: number;
  let nginx: Peer | null = null;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssas-nginx-'));
    port = await freePort();
    const conf = [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log debug;`,
      `load_module ${NGINX_RTMP_MODULE};`,
      'events { worker_connections 64; }',
      `rtmp { server { listen ${LOOPBACK}:${port}; chunk_size 4096; application live { live on; } } }`,
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    nginx = spawnPeer(NGINX, ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`]);
    await waitForPort(port, { abort: nginx.exited.then((c) => Promise.reject(new Error(`nginx exited ${c}: ${nginx!.output()}`))) });
  });

  afterAll(async () => {
    await nginx?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function connectTo(simple: boolean): Promise<{ hs: ClientHandshake; replies: RtmpMessage[] }> {
    const socket = net.connect({ host: LOOPBACK, port });
    const hs = new ClientHandshake({ simple });
    const replies: RtmpMessage[] = [];
    try {
      return await withTimeout(
        new Promise<{ hs: ClientHandshake; replies: RtmpMessage[] }>((resolve, reject) => {
          const decoder = new ChunkDecoder({
            onMessage: (m) => {
              replies.push(m);
              if (m.type === MessageType.CommandAmf0 && commandName(m.payload) === '_result') resolve({ hs, replies });
            },
          });
          const encoder = new ChunkEncoder();
          socket.on('error', reject);
          socket.on('close', () => reject(new Error('nginx closed the connection')));
          socket.on('connect', () => socket.write(hs.start()));
          socket.on('data', (buf: Buffer) => {
            try {
              if (!hs.done) {
                const step = hs.push(buf);
                for (const out of step.send) socket.write(out);
                if (!step.done) return;
                const connect = Buffer.concat([
                  amf0String('connect'),
                  amf0Number(1),
                  amf0Object({ app: 'live', flashVer: 'LNX 9,0,124,2', tcUrl: `rtmp://${LOOPBACK}:${port}/live`, fpad: false }),
                ]);
                socket.write(encoder.encode({ type: MessageType.CommandAmf0, streamId: 0, timestamp: 0, csid: 3, payload: connect }));
                if (step.rest) decoder.push(step.rest);
                return;
              }
              decoder.push(buf);
            } catch (err) {
              reject(err);
            }
          });
        }),
        10_000,
        () => fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-3000),
      );
    } finally {
      socket.destroy();
    }
  }

  test('digest handshake: nginx answers with a valid S1 digest and S2 signature, then replies to connect', async () => {
    const { hs, replies } = await connectTo(false);
    expect(hs.serverDigestScheme).not.toBeNull();
    expect(hs.s2Valid).toBe(true);
    const types = replies.map((m) => m.type);
    expect(types).toEqual(expect.arrayContaining([MessageType.WindowAckSize, MessageType.SetPeerBandwidth, MessageType.CommandAmf0]));
  });

  test('simple handshake: nginx echoes C1 and replies to connect', async () => {
    const { hs, replies } = await connectTo(true);
    expect(hs.serverDigestScheme).toBeNull();
    expect(hs.s2Valid).toBe(true);
    expect(replies.some((m) => m.type === MessageType.CommandAmf0)).toBe(true);
  });
});
