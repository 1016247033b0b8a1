/**
 * XMLSocket and XMLStreams (issue 14) against a TCP XML server the test runs on loopback, from an
 * FMS-style application driven by our RTMP client: zero-terminated documents both ways (split across TCP
 * writes at every point), onConnect/onXML/onData/onClose, XMLStreams fragments of an XMPP-like stream, a
 * refused port, a host outside the allow-list, an oversized message and a malformed stream.
 */
import * as net from 'net';
import type { AddressInfo } from 'net';
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { freePort, until } from '../support';
import type { RtmpClient } from '../../src/net/rtmp-client';

const MAIN = String.raw`
var log = [];
Client.prototype.log = function () { var l = log; log = []; return l; };
var sock = null;
Client.prototype.open = function (kind, host, port) {
  sock = kind == "streams" ? new XMLStreams() : new XMLSocket();
  sock.onConnect = function (ok) { log.push("connect " + ok); };
  sock.onXML = function (doc) { log.push("xml " + doc.firstChild.nodeName + " " + doc.toString()); };
  sock.onClose = function () { log.push("close"); };
  return sock.connect(host, port);
};
Client.prototype.raw = function (host, port) {
  sock = new XMLSocket();
  sock.onConnect = function (ok) { log.push("connect " + ok); };
  sock.onData = function (src) { log.push("data " + src); };
  sock.onClose = function () { log.push("close"); };
  return sock.connect(host, port);
};
Client.prototype.send = function (text) { return sock.send(new XML(text)); };
Client.prototype.sendRaw = function (text) { return sock.send(text); };
Client.prototype.close = function () { sock.close(); return true; };
Client.prototype.badArgs = function () {
  var s = new XMLSocket();
  return [s.connect("127.0.0.1", 0), s.connect("127.0.0.1", 70000), s.connect("bad host", 80), s.send("x")];
};
`;

let apps: ScriptApps;
let c: RtmpClient;
let server: net.Server;
let port: number;
const received: string[] = [];
let streamMode: 'socket' | 'streams' | 'huge' | 'malformed' = 'socket';
const sockets = new Set<net.Socket>();

/** Writes `text` one byte at a time (every split point a TCP peer may produce). */
async function dribble(s: net.Socket, text: string): Promise<void> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i++) {
    s.write(b.subarray(i, i + 1));
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
}

beforeAll(async () => {
  server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    if (streamMode === 'streams') {
      void (async () => {
        await dribble(s, "<?xml version='1.0'?><stream:stream xmlns:stream=\"urn:s\" id=\"42\">");
        await dribble(s, '  <message to="bob"><body>hi &amp; bye</body><!-- c --></message>\n<presence/>');
        await dribble(s, '<iq type="get"><query xmlns="x"><item a="1"/></query></iq></stream:stream>');
        s.end();
      })();
      return;
    }
    if (streamMode === 'huge') {
      s.write('<big>' + 'x'.repeat(300 * 1024));
      return;
    }
    if (streamMode === 'malformed') {
      s.write('<stream><a></b>');
      return;
    }
    void dribble(s, '<hello from="server"/>\u0000');
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let z: number;
      while ((z = buf.indexOf('\u0000')) >= 0) {
        const doc = buf.slice(0, z);
        buf = buf.slice(z + 1);
        received.push(doc);
        if (doc === '<quit />') s.end();
        else void dribble(s, `<echo>${doc.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</echo>\u0000<second/>\u0000`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  apps = await startScriptApps({
    'sock/main.asc': MAIN,
    'sock/Application.xml': '<Application><JSEngine><NetworkAccess><Allow>127.0.0.1</Allow><Timeout>2</Timeout><MaxResponseSize>256</MaxResponseSize></NetworkAccess></JSEngine></Application>',
  });
  c = await apps.connect('sock');
});

afterAll(async () => {
  await apps?.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => server?.close(r));
});

async function logUntil(pred: (log: string[]) => boolean, ms = 8000): Promise<string[]> {
  const all: string[] = [];
  await until(async () => {
    all.push(...((await c.call('log')) as string[]));
    return pred(all);
  }, ms, 'the socket events');
  return all;
}

it('XMLSocket: zero-terminated documents both ways, split at every byte; onClose when the server ends', async () => {
  streamMode = 'socket';
  expect(await c.call('open', 'socket', '127.0.0.1', port)).toBe(true);
  let log = await logUntil((l) => l.some((x) => x.startsWith('xml hello')));
  expect(log).toEqual(['connect true', 'xml hello <hello from="server" />']);
  expect(await c.call('send', '<login user="bob">é</login>')).toBe(true);
  log = await logUntil((l) => l.length >= 2);
  expect(log).toEqual(['xml echo <echo>&lt;login user=&quot;bob&quot;&gt;é&lt;/login&gt;</echo>', 'xml second <second />']);
  expect(received).toContain('<login user="bob">é</login>');
  expect(await c.call('send', '<quit/>')).toBe(true);
  log = await logUntil((l) => l.includes('close'));
  expect(log[log.length - 1]).toBe('close');
  expect(await c.call('sendRaw', 'after close')).toBe(false);
});

it('XMLSocket: onData gets the raw text; close() from the script sends no onClose', async () => {
  streamMode = 'socket';
  expect(await c.call('raw', null, port)).toBe(true);
  const log = await logUntil((l) => l.some((x) => x.startsWith('data')));
  expect(log).toEqual(['connect true', 'data <hello from="server"/>']);
  expect(await c.call('close')).toBe(true);
  await new Promise((r) => setTimeout(r, 200));
  expect(await c.call('log')).toEqual([]);
});

it('XMLStreams: the stream root, then each element inside it, however the bytes were split', async () => {
  streamMode = 'streams';
  expect(await c.call('open', 'streams', '127.0.0.1', port)).toBe(true);
  const log = await logUntil((l) => l.includes('close'));
  expect(log).toEqual([
    'connect true',
    'xml stream:stream <stream:stream xmlns:stream="urn:s" id="42" />',
    'xml message <message to="bob"><body>hi &amp; bye</body></message>',
    'xml presence <presence />',
    'xml iq <iq type="get"><query xmlns="x"><item a="1" /></query></iq>',
    'close',
  ]);
});

it('failures: a refused port and a host outside the allow-list give onConnect(false); bad arguments give false', async () => {
  const closed = await freePort();
  expect(await c.call('open', 'socket', '127.0.0.1', closed)).toBe(true);
  expect(await logUntil((l) => l.length > 0)).toEqual(['connect false']);
  expect(await c.call('open', 'socket', 'localhost', port)).toBe(true);
  expect(await logUntil((l) => l.length > 0)).toEqual(['connect false']);
  expect(await c.call('badArgs')).toEqual([false, false, false, false]);
});

it('a message past MaxResponseSize, or a malformed stream, closes the connection (onClose)', async () => {
  streamMode = 'huge';
  expect(await c.call('open', 'socket', '127.0.0.1', port)).toBe(true);
  expect(await logUntil((l) => l.includes('close'))).toEqual(['connect true', 'close']);
  streamMode = 'malformed';
  expect(await c.call('open', 'streams', '127.0.0.1', port)).toBe(true);
  const log = await logUntil((l) => l.includes('close'));
  expect(log[0]).toBe('connect true');
  expect(log[log.length - 1]).toBe('close');
});
