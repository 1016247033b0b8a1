import { epdForUrl } from '../../src/rtmfp/crypto';
import type { Session } from '../../src/rtmfp/session';
import { Loopback } from './loopback';

function connect(lb: Loopback): { client: Session; server: Session } {
  void lb.a.connect(epdForUrl('rtmfp://10.0.0.2/app'), [lb.addrB], lb.now);
  lb.until(() => lb.a.sessions.size > 0 && lb.b.sessions.size > 0, 20_000);
  const client = Array.from(lb.a.sessions.values())[0]!;
  const server = Array.from(lb.b.sessions.values())[0]!;
  return { client, server };
}

function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('RTMFP session core over an in-memory loopback', () => {
  test('handshake opens a session on both ends with matching nonces', async () => {
    const lb = new Loopback();
    const { client, server } = connect(lb);
    await Promise.resolve();
    expect(client).toBeTruthy();
    expect(server).toBeTruthy();
    expect(client.nearNonce.equals(server.farNonce)).toBe(true);
    expect(client.farNonce.equals(server.nearNonce)).toBe(true);
    expect(server.farId).toBe(lb.a.peerId.toString('hex'));
    expect(client.farId).toBe(lb.b.fingerprint.toString('hex'));
  });

  test.each([
    ['clean', {}],
    ['5% loss', { loss: 0.05 }],
    ['loss, duplication and reordering', { loss: 0.05, duplicate: 0.05, reorder: 0.1 }],
  ])('reliable messages arrive complete and in order (%s)', async (_name, imp) => {
    const lb = new Loopback({ seed: 7 });
    const { client, server } = connect(lb);
    await Promise.resolve();
    lb.impair = imp;
    const got: Buffer[] = [];
    server.onRecvFlow = (f) => {
      f.onMessage = (m) => got.push(m);
    };
    const flow = client.openFlow(Buffer.from('TC\x04\x00', 'latin1'));
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const m = payload(i % 7 === 0 ? 5000 + i : 10 + i, i);
      sent.push(m);
      flow.write(m, lb.now);
    }
    expect(lb.until(() => got.length === sent.length, 60_000)).toBe(true);
    for (let i = 0; i < sent.length; i++) expect(got[i]!.equals(sent[i]!)).toBe(true);
  });

  test('messages past their lifetime are abandoned whole, later ones still arrive', async () => {
    const lb = new Loopback({ seed: 3 });
    const { client, server } = connect(lb);
    await Promise.resolve();
    const got: Buffer[] = [];
    server.onRecvFlow = (f) => {
      f.onMessage = (m) => got.push(m);
    };
    const flow = client.openFlow(Buffer.from('TC\x04\x01', 'latin1'));
    flow.write(payload(100, 1), lb.now);
    lb.run(50);
    lb.impair = { loss: 1 };
    flow.write(payload(4000, 2), lb.now, 100); // lost and abandoned
    lb.run(30);
    lb.impair = {};
    lb.run(200);
    flow.write(payload(100, 3), lb.now);
    expect(lb.until(() => got.length >= 2, 20_000)).toBe(true);
    expect(got.map((g) => g.length)).toEqual([100, 100]);
    expect(got[1]!.equals(payload(100, 3))).toBe(true);
  });

  test('orderly close reaches the other end', async () => {
    const lb = new Loopback();
    const { client, server } = connect(lb);
    await Promise.resolve();
    let closed = 0;
    server.onClose = () => closed++;
    client.close(lb.now);
    lb.run(2000);
    expect(closed).toBe(1);
    expect(server.state).toBe('farclose');
    expect(lb.a.sessions.size).toBe(0); // the close was acknowledged
    lb.run(20_000);
    expect(lb.b.sessions.size).toBe(0); // the far end lingered 19 s answering close requests, then forgot
  });

  test('a peer that vanishes is given up after the retransmit limit', async () => {
    const lb = new Loopback({ b: { sessionLimits: { retransmitLimitMs: 3000 } } });
    const { client, server } = connect(lb);
    await Promise.resolve();
    let err: Error | undefined;
    server.onClose = (e) => (err = e);
    const f = server.openFlow(Buffer.from('TC\x04\x00', 'latin1'));
    void client;
    lb.impair = { loss: 1 };
    f.write(payload(1000, 1), lb.now);
    lb.run(15_000);
    expect((err as { code?: string } | undefined)?.code).toBe('ERR_RTMFP_PEER_GONE');
    expect(lb.b.sessions.size).toBe(0);
  });
});

describe('handshake variants', () => {
  test.each([2, 5, 14])('DH group %i: a responder offering only it gets a session that carries data', async (group) => {
    const lb = new Loopback({ seed: group, b: { dhGroups: [group] } });
    const { client, server } = connect(lb);
    expect(client.farNonce.equals(server.nearNonce)).toBe(true);
    const got: Buffer[] = [];
    server.onRecvFlow = (f) => {
      f.onMessage = (m) => got.push(m);
    };
    client.openFlow(Buffer.from('TC\x04\x00', 'latin1')).write(payload(3000, 9), lb.now);
    expect(lb.until(() => got.length === 1, 5000)).toBe(true);
    expect(got[0]!.equals(payload(3000, 9))).toBe(true);
  });

  test('a small receive window (4 KB) paces the sender; everything arrives in order', async () => {
    const lb = new Loopback({ b: { sessionLimits: { flowBuffer: 4096 } } });
    const { client, server } = connect(lb);
    const got: Buffer[] = [];
    server.onRecvFlow = (f) => {
      f.onMessage = (m) => got.push(m);
    };
    const flow = client.openFlow(Buffer.from('TC\x04\x00', 'latin1'));
    for (let i = 0; i < 60; i++) flow.write(payload(1000, i), lb.now);
    expect(lb.until(() => got.length === 60, 20_000)).toBe(true);
    for (let i = 0; i < 60; i++) expect(got[i]!.equals(payload(1000, i))).toBe(true);
  });
});

describe('peer-to-peer sessions (Flash NetGroup members)', () => {
  test('an IHello for our peer id is answered as a peer: static-key certificate, the 73-byte responder component', async () => {
    const { epdForPeer } = await import('../../src/rtmfp/crypto');
    const lb = new Loopback({ b: { acceptsUrls: false, acceptsPeers: true } });
    void lb.a.connect(epdForPeer(lb.b.peerId), [lb.addrB], lb.now);
    lb.until(() => lb.a.sessions.size > 0 && lb.b.sessions.size > 0, 10_000);
    const client = Array.from(lb.a.sessions.values())[0]!;
    const server = Array.from(lb.b.sessions.values())[0]!;
    // Each end knows the other by its peer id (the fingerprint of its static-key certificate).
    expect(client.farId).toBe(lb.b.peerId.toString('hex'));
    expect(server.farId).toBe(lb.a.peerId.toString('hex'));
    const got: Buffer[] = [];
    server.onRecvFlow = (f) => {
      f.onMessage = (m) => got.push(m);
    };
    client.openFlow(Buffer.from('GR\x1c', 'latin1')).write(Buffer.from('hello peer'), lb.now);
    expect(lb.until(() => got.length === 1, 5000)).toBe(true);
  });

  test('an endpoint that does not accept peers ignores an IHello for its peer id', async () => {
    const { epdForPeer } = await import('../../src/rtmfp/crypto');
    const lb = new Loopback({ b: { acceptsUrls: true } });
    void lb.a.connect(epdForPeer(lb.b.peerId), [lb.addrB], lb.now).catch(() => undefined);
    lb.run(3000);
    expect(lb.b.sessions.size).toBe(0);
    expect(lb.b.stats.dropped['not-selected']).toBeGreaterThan(0);
  });
});
