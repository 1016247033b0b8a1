/**
 * `ssas run DIR --inspect`: the built CLI serves one application folder and opens its isolate to the Chrome
 * DevTools Protocol over our own WebSocket endpoint. A WebSocket client written here plays DevTools: target
 * list, scripts announced with their file names, evaluation in the instance, a breakpoint in main.asc hit
 * by a real RTMP call (held longer than the instance's MaxTimeOut), ping and close.
 * The frame parser is also tested alone: split input, masking, fragments, control frames, violations.
 */
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { RtmpClient } from '../../src/net/rtmp-client';
import { acceptKey, closePayload, encodeFrame, FrameParser, newWebSocketKey, Opcode, type WsMessage } from '../../src/script/inspector';
import { killAllTracked, spawnTracked, until, type TrackedProcess } from '../support';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'scripts', 'ssas.js');
const appDir = path.join(root, 'test', 'fixtures', 'repl', 'run', 'debugme');

describe('WebSocket frames (RFC 6455)', () => {
  const mask = Buffer.from([1, 2, 3, 4]);

  it('computes Sec-WebSocket-Accept as in the RFC example', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(newWebSocketKey()).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it('reads masked frames of every length encoding, fed whole and at every split point', () => {
    for (const size of [0, 5, 125, 126, 65535, 65536]) {
      const payload = randomBytes(size);
      const wire = encodeFrame(Opcode.Binary, payload, mask);
      expect(new FrameParser().push(wire)).toEqual([{ opcode: Opcode.Binary, payload }]);
      if (size > 200) continue;
      for (let cut = 1; cut < wire.length; cut++) {
        const p = new FrameParser();
        const got = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
        expect(got).toEqual([{ opcode: Opcode.Binary, payload }]);
      }
    }
  });

  it('reassembles fragments with control frames between them, byte by byte', () => {
    const first = encodeFrame(Opcode.Text, Buffer.from('hel'), mask);
    first[0] = first[0]! & 0x7f; // FIN off
    const ping = encodeFrame(Opcode.Ping, Buffer.from('p'), mask);
    const last = encodeFrame(Opcode.Continuation, Buffer.from('lo'), mask);
    const wire = Buffer.concat([first, ping, last]);
    const p = new FrameParser();
    const got: WsMessage[] = [];
    for (const b of wire) got.push(...p.push(Buffer.from([b])));
    expect(got.map((m) => [m.opcode, m.payload.toString()])).toEqual([
      [Opcode.Ping, 'p'],
      [Opcode.Text, 'hello'],
    ]);
  });

  it('fails with coded errors on protocol violations', () => {
    const fail = (wire: Buffer, opts = {}): unknown => {
      try {
        new FrameParser(opts).push(wire);
      } catch (err) {
        return err;
      }
      return null;
    };
    expect(fail(encodeFrame(Opcode.Text, Buffer.from('x')))).toMatchObject({ code: 'ERR_WS_UNMASKED', closeCode: 1002 });
    expect(fail(encodeFrame(Opcode.Text, Buffer.alloc(100), mask), { maxMessageBytes: 10 })).toMatchObject({ code: 'ERR_WS_TOO_BIG', closeCode: 1009 });
    const reserved = encodeFrame(Opcode.Text, Buffer.from('x'), mask);
    reserved[0] = reserved[0]! | 0x40;
    expect(fail(reserved)).toMatchObject({ code: 'ERR_WS_RESERVED_BITS' });
    const badOp = encodeFrame(3, Buffer.from('x'), mask);
    expect(fail(badOp)).toMatchObject({ code: 'ERR_WS_BAD_OPCODE' });
    const longPing = encodeFrame(Opcode.Ping, Buffer.alloc(126), mask);
    expect(fail(longPing)).toMatchObject({ code: 'ERR_WS_BAD_CONTROL' });
    expect(fail(encodeFrame(Opcode.Continuation, Buffer.from('x'), mask))).toMatchObject({ code: 'ERR_WS_BAD_CONTINUATION' });
  });
});

/** A minimal DevTools-side WebSocket client. */
class Devtools {
  readonly messages: Record<string, unknown>[] = [];
  readonly frames: WsMessage[] = [];
  #socket: net.Socket;
  #parser = new FrameParser({ requireMask: false });
  #nextId = 1;
  #closed = false;

  private constructor(socket: net.Socket, rest: Buffer) {
    this.#socket = socket;
    socket.on('data', (d) => this.#onData(d));
    socket.on('close', () => (this.#closed = true));
    if (rest.length > 0) this.#onData(rest);
  }

  static connect(port: number, pathName: string): Promise<Devtools> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const key = newWebSocketKey();
      let head = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const text = head.subarray(0, end).toString();
        if (!text.startsWith('HTTP/1.1 101') || !text.includes(`Sec-WebSocket-Accept: ${acceptKey(key)}`)) {
          socket.destroy();
          reject(new Error(text));
          return;
        }
        resolve(new Devtools(socket, head.subarray(end + 4)));
      };
      socket.on('data', onData);
      socket.on('error', reject);
      socket.write(`GET ${pathName} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onData(d: Buffer): void {
    for (const m of this.#parser.push(d)) {
      this.frames.push(m);
      if (m.opcode === Opcode.Text) this.messages.push(JSON.parse(m.payload.toString('utf8')));
    }
  }

  sendRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  sendFrame(opcode: number, payload: Buffer): void {
    this.#socket.write(encodeFrame(opcode, payload, randomBytes(4)));
  }

  /** Sends a protocol command and resolves with its answer. */
  async command(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    this.sendFrame(Opcode.Text, Buffer.from(JSON.stringify({ id, method, params })));
    let answer: Record<string, unknown> | undefined;
    await until(() => (answer = this.messages.find((m) => m.id === id)) !== undefined, 10_000, method);
    if (answer!.error) throw new Error(JSON.stringify(answer!.error));
    return answer!.result as Record<string, unknown>;
  }

  async event(method: string, pred: (params: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    let hit: Record<string, unknown> | undefined;
    await until(() => (hit = this.messages.find((m) => m.method === method && pred(m.params as Record<string, unknown>))) !== undefined, 10_000, method);
    return hit!.params as Record<string, unknown>;
  }

  close(): void {
    this.#socket.destroy();
  }
}

function get(port: number, pathName: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathName, headers: { Host: host } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('ssas run --inspect', () => {
  let proc: TrackedProcess;
  let rtmp: string;
  let port: number;
  let id: string;

  beforeAll(async () => {
    proc = spawnTracked(process.execPath, [bin, 'run', path.join(appDir, 'main.asc'), '--port', '0', '--inspect=0'], { cwd: root });
    const m = await proc.waitForOutput(/Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\/([-0-9a-f]+)/, 20_000);
    port = Number(m[1]);
    id = m[2]!;
    rtmp = /ssas running debugme \(.*\) on (rtmp:\/\/\S+)/.exec(proc.stdout())![1]!;
  }, 30_000);

  afterAll(async () => {
    await killAllTracked();
  });

  it('serves the target list and version DevTools asks for, to loopback hosts only', async () => {
    const list = await get(port, '/json/list');
    expect(list.status).toBe(200);
    const targets = JSON.parse(list.body);
    expect(targets).toEqual([
      expect.objectContaining({
        id,
        title: 'ssas debugme/_definst_',
        type: 'node',
        url: `file://${path.join(appDir, 'main.asc')}`,
        webSocketDebuggerUrl: `ws://127.0.0.1:${port}/${id}`,
        devtoolsFrontendUrl: expect.stringContaining(`ws=127.0.0.1:${port}/${id}`),
      }),
    ]);
    expect(JSON.parse((await get(port, '/json')).body)).toEqual(targets);
    expect(JSON.parse((await get(port, '/json/version')).body)).toEqual({ Browser: expect.stringMatching(/^ssas\//), 'Protocol-Version': '1.3' });
    expect((await get(port, '/json/list', 'attacker.example:80')).status).toBe(403);
    expect((await get(port, '/nothing')).status).toBe(404);
    await expect(Devtools.connect(port, '/no-such-target')).rejects.toThrow(/404/);
  });

  it('announces main.asc, evaluates in the instance and stops at a breakpoint in main.asc', async () => {
    const dt = await Devtools.connect(port, `/${id}`);
    try {
      await dt.command('Runtime.enable');
      await dt.command('Debugger.enable');
      const parsed = await dt.event('Debugger.scriptParsed', (p) => p.url === 'main.asc');
      const contextId = parsed.executionContextId as number;
      const name = await dt.command('Runtime.evaluate', { expression: 'application.name', contextId });
      expect(name.result).toEqual({ type: 'string', value: 'debugme/_definst_' });

      const bp = await dt.command('Debugger.setBreakpointByUrl', { url: 'main.asc', lineNumber: 6 });
      expect(bp.locations).toEqual([expect.objectContaining({ scriptId: parsed.scriptId, lineNumber: 6 })]);
      const client = await RtmpClient.connect(`${rtmp}`);
      try {
        const started = Date.now();
        const result = client.call('add', 2, 3);
        const paused = await dt.event('Debugger.paused');
        const frame = (paused.callFrames as { callFrameId: string; functionName: string; location: { lineNumber: number } }[])[0]!;
        expect(frame.location.lineNumber).toBe(6);
        const a = await dt.command('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression: 'a * 10 + b' });
        expect(a.result).toEqual(expect.objectContaining({ type: 'number', value: 23 }));
        // Held past the application's one-second MaxTimeOut.
        await new Promise((r) => setTimeout(r, 1500));
        await dt.command('Debugger.resume');
        expect(await result).toBe(5);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
        await dt.command('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
        expect(await client.call('add', 1, 1)).toBe(2);
      } finally {
        client.close();
      }
      const calls = await dt.command('Runtime.evaluate', { expression: 'calls', contextId });
      expect(calls.result).toEqual(expect.objectContaining({ value: 2 }));
    } finally {
      dt.close();
    }
  }, 30_000);

  it('answers ping with pong and a close frame with a close frame', async () => {
    const dt = await Devtools.connect(port, `/${id}`);
    dt.sendFrame(Opcode.Ping, Buffer.from('are you there'));
    await until(() => dt.frames.some((f) => f.opcode === Opcode.Pong && f.payload.toString() === 'are you there'));
    dt.sendFrame(Opcode.Close, closePayload(1000, 'bye'));
    await until(() => dt.frames.some((f) => f.opcode === Opcode.Close) && dt.closed);
    expect(dt.frames.find((f) => f.opcode === Opcode.Close)!.payload.readUInt16BE(0)).toBe(1000);
  });

  it('closes the connection with 1002 on a protocol violation (an unmasked client frame)', async () => {
    const dt = await Devtools.connect(port, `/${id}`);
    dt.sendRaw(encodeFrame(Opcode.Text, Buffer.from('{"id":1,"method":"Runtime.enable"}')));
    await until(() => dt.closed);
    const close = dt.frames.find((f) => f.opcode === Opcode.Close);
    expect(close?.payload.readUInt16BE(0)).toBe(1002);
    expect(dt.messages).toEqual([]);
  });

  it('stops the server on SIGTERM', async () => {
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    await expect(get(port, '/json/list')).rejects.toThrow();
  });
});
