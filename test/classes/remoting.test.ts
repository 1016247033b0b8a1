/**
 * Flash Remoting (issue 14): NetConnection.connect("http://...") and ssas's own netservices.asc against a
 * remoting gateway the test runs on loopback, whose AMF values are read and written with amf-codec (an AMF0
 * codec nobody here wrote; the packet framing around them is the test's own). Checked: batched calls,
 * /onResult and /onStatus, the <method>_Result/_Status responder convention, Credentials and addHeader
 * headers, AppendToGatewayUrl / ReplaceGatewayUrl / RequestPersistentHeader, HTTP failures reported as
 * NetConnection.Call.Failed and a non-AMF answer as Call.BadVersion.
 *
 * Packet fixtures are PyAMF's (pyamf/tests/test_remoting.py of the PyAMF project, MIT licence): a request
 * with one ECMA-array argument, two headers without messages, and a response with an unknown (0) length.
 */
import * as http from 'http';
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { startHttpPeer, type HttpPeer, type RecordedRequest } from '../support/http-peer';
import { until } from '../support';
import { decodeRemotingPacket, encodeRemotingPacket } from '../../src/amf/remoting';
import { isEcmaArray } from '../../src/amf';
import type { RtmpClient } from '../../src/net/rtmp-client';

const amf = require('amf-codec') as { toAMF(v: unknown): Buffer; fromAMF(b: Buffer): unknown };

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('AMF packets: PyAMF fixtures', () => {
  it('decodes a request with one ECMA array argument', () => {
    const p = decodeRemotingPacket(bin('\x00\x00\x00\x00\x00\x01\x00\x09test.test\x00\x02/1\x00\x00\x00\x14\x0a\x00\x00\x00\x01\x08\x00\x00\x00\x00\x00\x01\x61\x02\x00\x01\x61\x00\x00\x09'));
    expect(p.version).toBe(0);
    expect(p.headers).toEqual([]);
    expect(p.messages).toHaveLength(1);
    expect(p.messages[0]).toMatchObject({ target: 'test.test', response: '/1', value: [{ a: 'a' }] });
    expect(isEcmaArray((p.messages[0]!.value as unknown[])[0])).toBe(true);
  });

  it('decodes two headers (must-understand or not) and no message', () => {
    const p = decodeRemotingPacket(bin('\x00\x00\x00\x02\x00\x04name\x00\x00\x00\x00\x05\x0a\x00\x00\x00\x00\x00\x03foo\x01\x00\x00\x00\x01\x05\x00\x00'));
    expect(p.headers).toEqual([
      { name: 'name', mustUnderstand: false, value: [] },
      { name: 'foo', mustUnderstand: true, value: null },
    ]);
    expect(p.messages).toEqual([]);
  });

  it('writes the response PyAMF writes in strict mode, and reads its length-0 form', () => {
    const strict = bin('\x00\x00\x00\x00\x00\x01\x00\x0b/1/onResult\x00\x04null\x00\x00\x00\x08\x02\x00\x05hello');
    expect(encodeRemotingPacket({ version: 0, headers: [], messages: [{ target: '/1/onResult', response: 'null', value: 'hello' }] })).toEqual(strict);
    const loose = bin('\x00\x00\x00\x00\x00\x01\x00\x0b/1/onResult\x00\x04null\x00\x00\x00\x00\x02\x00\x05hello');
    expect(decodeRemotingPacket(loose).messages[0]!.value).toBe('hello');
    expect(encodeRemotingPacket({ version: 0, headers: [{ name: 'foo', mustUnderstand: false, value: 'bar' }], messages: [] })).toEqual(
      bin('\x00\x00\x00\x01\x00\x03foo\x00\x00\x00\x00\x06\x02\x00\x03bar\x00\x00'),
    );
  });

  it('malformed packets throw coded errors', () => {
    expect(() => decodeRemotingPacket(bin('\x00\x00\x00\x00\x00\x01'))).toThrow(expect.objectContaining({ code: 'ERR_AMF_REMOTING_TRUNCATED' }));
    expect(() => decodeRemotingPacket(bin('\x00\x07\x00\x00\x00\x00'))).toThrow(expect.objectContaining({ code: 'ERR_AMF_REMOTING_VERSION' }));
    // PyAMF's "invalid body data length": 0x13 declared, 0x14 read.
    expect(() =>
      decodeRemotingPacket(bin('\x00\x00\x00\x00\x00\x01\x00\x09test.test\x00\x02/1\x00\x00\x00\x13\x0a\x00\x00\x00\x01\x08\x00\x00\x00\x00\x00\x01\x61\x02\x00\x01\x61\x00\x00\x09')),
    ).toThrow(expect.objectContaining({ code: 'ERR_AMF_REMOTING_LENGTH' }));
  });
});

// --- a gateway whose values are amf-codec's -------------------------------------------------------------

interface GatewayCall {
  url: string;
  headers: Record<string, unknown>;
  target: string;
  response: string;
  args: unknown;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u16(b.length), b]);
}

/** Reads a request packet: the framing here, each value with amf-codec. */
function readRequest(body: Buffer, url: string): GatewayCall[] {
  let p = 2;
  const headers: Record<string, unknown> = {};
  const hc = body.readUInt16BE(p);
  p += 2;
  const readStr = (): string => {
    const n = body.readUInt16BE(p);
    const s = body.toString('utf8', p + 2, p + 2 + n);
    p += 2 + n;
    return s;
  };
  for (let i = 0; i < hc; i++) {
    const name = readStr();
    p += 1;
    const len = body.readUInt32BE(p);
    p += 4;
    headers[name] = amf.fromAMF(body.subarray(p, p + len));
    p += len;
  }
  const mc = body.readUInt16BE(p);
  p += 2;
  const calls: GatewayCall[] = [];
  for (let i = 0; i < mc; i++) {
    const target = readStr();
    const response = readStr();
    const len = body.readUInt32BE(p);
    p += 4;
    calls.push({ url, headers, target, response, args: amf.fromAMF(body.subarray(p, p + len)) });
    p += len;
  }
  return calls;
}

function writeResponse(headers: { name: string; value: unknown }[], messages: { target: string; value: unknown }[]): Buffer {
  const parts: Buffer[] = [u16(0), u16(headers.length)];
  for (const h of headers) {
    const v = amf.toAMF(h.value);
    parts.push(str(h.name), Buffer.from([0]), u32(v.length), v);
  }
  parts.push(u16(messages.length));
  for (const m of messages) {
    const v = amf.toAMF(m.value);
    parts.push(str(m.target), str('null'), u32(v.length), v);
  }
  return Buffer.concat(parts);
}

const MAIN = String.raw`
load("netservices.asc");
var log = [];
Client.prototype.log = function () { var l = log; log = []; return l; };

Client.prototype.viaNetServices = function (gateway) {
  NetServices.setDefaultGatewayUrl(gateway);
  var conn = NetServices.createGatewayConnection();
  conn.setCredentials("bob", "s3cret");
  conn.onStatus = function (info) { log.push("conn " + info.code); };
  var auth = conn.getService("auth", {
    check_Result: function (ok) { log.push("check_Result " + ok); },
    onResult: function (r) { log.push("onResult " + r); },
    onStatus: function (s) { log.push("onStatus " + s.code + " " + s.description); }
  });
  auth.check("token-1");
  auth.whoami();
  auth.boom();
  var math = conn.getService("math");
  math.add({ onResult: function (r) { log.push("add " + r); } }, 2, 3);
  math.add({ add_Result: function (r) { log.push("add_Result " + r); } }, 10, 20);
  return true;
};

Client.prototype.raw = function (gateway) {
  var nc = new NetConnection();
  nc.onStatus = function (info) { log.push("raw " + info.code + " " + info.description); };
  var ok = nc.connect(gateway);
  nc.addHeader("Token", true, { t: 1 });
  nc.call("math.add", { onResult: function (r) { log.push("raw add " + r); } }, 1, 2);
  nc.call("echo.same", null, "fire and forget");
  return [ok, nc.isConnected, nc.uri];
};

Client.prototype.again = function (gateway) {
  var nc = new NetConnection();
  nc.connect(gateway);
  var results = {};
  var responder = function (tag) { return { onResult: function (r) { log.push(tag + " " + r); } }; };
  nc.call("session.first", responder("first"));
  // After the first answer: its AppendToGatewayUrl, RequestPersistentHeader and ReplaceGatewayUrl apply.
  setTimeout_(function () { nc.call("session.second", responder("second")); }, 300);
  setTimeout_(function () { nc.call("session.third", responder("third")); }, 600);
  return true;
};

function setTimeout_(fn, ms) { var id = setInterval(function () { clearInterval(id); fn(); }, ms); }
`;

let gateway: HttpPeer;
let apps: ScriptApps;
let c: RtmpClient;
const calls: GatewayCall[] = [];

function answer(req: RecordedRequest, res: http.ServerResponse): void {
  const got = readRequest(req.body, req.url);
  calls.push(...got);
  const headers: { name: string; value: unknown }[] = [];
  const messages = got.map((m) => {
    const args = m.args as unknown[];
    switch (m.target) {
      case 'auth.check':
        return { target: `${m.response}/onResult`, value: args[0] === 'token-1' && (m.headers.Credentials as { userid?: string })?.userid === 'bob' };
      case 'auth.whoami':
        return { target: `${m.response}/onResult`, value: (m.headers.Credentials as { userid?: string })?.userid ?? 'nobody' };
      case 'math.add':
        return { target: `${m.response}/onResult`, value: (args[0] as number) + (args[1] as number) };
      case 'session.first':
        headers.push({ name: 'AppendToGatewayUrl', value: '?PHPSESSID=abc' });
        headers.push({ name: 'RequestPersistentHeader', value: { name: 'Session', mustUnderstand: false, data: 'xyz' } });
        return { target: `${m.response}/onResult`, value: 'one' };
      case 'session.second':
        headers.push({ name: 'ReplaceGatewayUrl', value: `${gateway.url}/gateway?moved=1` });
        return { target: `${m.response}/onResult`, value: `two ${req.url} ${(m.headers.Session as string) ?? ''}` };
      case 'session.third':
        return { target: `${m.response}/onResult`, value: `three ${req.url}` };
      default:
        return { target: `${m.response}/onStatus`, value: { level: 'error', code: 'Server.Processing', description: `no method ${m.target}` } };
    }
  });
  res.writeHead(200, { 'content-type': 'application/x-amf' });
  res.end(writeResponse(headers, messages));
}

beforeAll(async () => {
  gateway = await startHttpPeer({
    '/gateway': answer,
    '/failing': (_req, res) => {
      res.writeHead(500).end('error');
    },
    '/html': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a gateway</html>');
    },
    // PyAMF's response fixture (length 0 = unknown), whatever was asked.
    '/pyamf': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amf' }).end(bin('\x00\x00\x00\x00\x00\x01\x00\x0b/1/onResult\x00\x04null\x00\x00\x00\x00\x02\x00\x05hello'));
    },
  });
  apps = await startScriptApps({ 'remote/main.asc': MAIN });
  c = await apps.connect('remote');
});

afterAll(async () => {
  await apps?.close();
  await gateway?.close();
});

async function logUntil(n: number, ms = 8000): Promise<string[]> {
  const all: string[] = [];
  await until(async () => {
    all.push(...((await c.call('log')) as string[]));
    return all.length >= n;
  }, ms, `${n} log lines`);
  return all;
}

it('netservices.asc: getService, Credentials, <method>_Result, onResult, onStatus, responder as first argument; one POST for one event', async () => {
  const before = gateway.requests.length;
  expect(await c.call('viaNetServices', `${gateway.url}/gateway`)).toBe(true);
  const log = await logUntil(5);
  expect(log.sort()).toEqual(['add 5', 'add_Result 30', 'check_Result true', 'onResult bob', 'onStatus Server.Processing no method auth.boom'].sort());
  const posts = gateway.requests.slice(before);
  expect(posts).toHaveLength(1);
  expect(posts[0]!.headers['content-type']).toBe('application/x-amf');
  const got = calls.slice(-5);
  expect(got.map((g) => g.target)).toEqual(['auth.check', 'auth.whoami', 'auth.boom', 'math.add', 'math.add']);
  expect(got.map((g) => g.response)).toEqual(['/1', '/2', '/3', '/4', '/5']);
  expect(got[0]!.headers.Credentials).toEqual({ userid: 'bob', password: 's3cret' });
  expect(got[3]!.args).toEqual([2, 3]);
});

it('a plain NetConnection to http://: connect, addHeader, call with and without a responder', async () => {
  expect(await c.call('raw', `${gateway.url}/gateway`)).toEqual([true, true, `${gateway.url}/gateway`]);
  expect(await logUntil(1)).toEqual(['raw add 3']);
  const got = calls.slice(-2);
  expect(got[0]!.headers.Token).toEqual({ t: 1 });
  expect(got[1]).toMatchObject({ target: 'echo.same', args: ['fire and forget'] });
});

it('the gateway headers AppendToGatewayUrl, RequestPersistentHeader and ReplaceGatewayUrl apply to later calls', async () => {
  expect(await c.call('again', `${gateway.url}/gateway`)).toBe(true);
  expect(await logUntil(3)).toEqual(['first one', 'second two /gateway?PHPSESSID=abc xyz', 'third three /gateway?moved=1']);
});

it("a length-0 answer (PyAMF's fixture) settles the call", async () => {
  expect(await c.call('raw', `${gateway.url}/pyamf`)).toEqual([true, true, `${gateway.url}/pyamf`]);
  expect(await logUntil(1)).toEqual(['raw add hello']);
});

it('HTTP failures: NetConnection.Call.Failed (500, refused), Call.BadVersion for an answer that is not AMF', async () => {
  await c.call('raw', `${gateway.url}/failing`);
  expect(await logUntil(1)).toEqual(['raw NetConnection.Call.Failed HTTP: Status 500']);
  await c.call('raw', `${gateway.url}/html`);
  const bad = await logUntil(1);
  expect(bad[0]).toMatch(/^raw NetConnection\.Call\.BadVersion /);
  await c.call('raw', 'http://127.0.0.1:1/gateway');
  const refused = await logUntil(1);
  expect(refused[0]).toMatch(/^raw NetConnection\.Call\.Failed HTTP: Failed/);
});
