/**
 * The shared object manager (src/server/shared-objects.ts) with fake subscribers: messages are really encoded,
 * and decoded again here, so every assertion is about what would go on the wire. Then a smoke test of the
 * client side (src/net/so-client.ts) against the manager through an in-memory transport: several clients,
 * AMF0 and AMF3, random concurrent writes converge.
 */
import { AmfXml, type AmfValue } from '../../src/amf';
import { isSsasError, type SsasError } from '../../src/errors';
import { accessAllows } from '../../src/host/access';
import type { RtmpClient } from '../../src/net/rtmp-client';
import { RemoteSharedObject, type SoTransport } from '../../src/net/so-client';
import {
  decodeSharedObjectBody,
  encodeSharedObjectMessage,
  sharedObjectRtmpMessage,
  type SoEvent,
  type SoMessage,
} from '../../src/rtmp/shared-object';
import type { RtmpMessage } from '../../src/rtmp/types';
import {
  SharedObjectManager,
  type ServerSharedObject,
  type SharedObjectManagerOptions,
  type SoStatusInfo,
  type SoSubscriber,
  type SoSyncInfo,
} from '../../src/server/shared-objects';
import { listSharedObjects, loadSharedObjectSync, saveSharedObjectSync } from '../../src/server/so-store';
import { Rng } from '../amf/amf-test-utils';
import { makeTempDir, removeDir } from '../support/tmp';

class FakeSub implements SoSubscriber {
  readAccess = '/';
  writeAccess = '/';
  inbox: { amf3: boolean; msg: SoMessage }[] = [];
  disconnected: SsasError | null = null;
  constructor(
    readonly id: string,
    readonly objectEncoding = 0,
  ) {}
  canRead(p: string): boolean {
    return accessAllows(this.readAccess, p);
  }
  canWrite(p: string): boolean {
    return accessAllows(this.writeAccess, p);
  }
  send(body: Buffer, amf3: boolean): void {
    this.inbox.push({ amf3, msg: decodeSharedObjectBody(body, amf3) });
  }
  disconnect(reason: SsasError): void {
    this.disconnected = reason;
  }
  /** Messages received since the last take. */
  take(): SoMessage[] {
    const out = this.inbox.map((i) => i.msg);
    this.inbox = [];
    return out;
  }
  /** Events of the messages received since the last take, one array per message. */
  events(): SoEvent[][] {
    return this.take().map((m) => m.events);
  }
}

function clientMessage(sub: FakeSub, name: string, events: SoEvent[], persistent = false, version = 0): RtmpMessage {
  const amf3 = sub.objectEncoding === 3;
  return sharedObjectRtmpMessage(encodeSharedObjectMessage({ name, version, persistent, events }, amf3), amf3);
}

let managers: SharedObjectManager[] = [];
let tmp: string;
beforeEach(() => {
  tmp = makeTempDir('so-mgr');
});
afterEach(async () => {
  for (const m of managers) await m.close();
  managers = [];
  removeDir(tmp);
});

function manager(opts: SharedObjectManagerOptions = {}): SharedObjectManager {
  const m = new SharedObjectManager({ autoCommitIntervalMs: 0, ...opts });
  managers.push(m);
  return m;
}

function use(mgr: SharedObjectManager, sub: FakeSub, name: string, persistent = false, version = 0): void {
  mgr.handleMessage(sub, clientMessage(sub, name, [{ kind: 'use' }], persistent, version));
}
function change(mgr: SharedObjectManager, sub: FakeSub, name: string, key: string, value: AmfValue, persistent = false): void {
  mgr.handleMessage(sub, clientMessage(sub, name, [{ kind: 'requestChange', key, value }], persistent));
}
function remove(mgr: SharedObjectManager, sub: FakeSub, name: string, key: string): void {
  mgr.handleMessage(sub, clientMessage(sub, name, [{ kind: 'requestRemove', key }]));
}

describe('use, change, delete, send', () => {
  test('Use answers UseSuccess + Clear + a Change per slot in one message, with the current version', () => {
    const mgr = manager();
    const so = mgr.get('room');
    so.setProperty('a', 1);
    so.setProperty('b', { nested: ['x'] });
    const s = new FakeSub('s1');
    use(mgr, s, 'room');
    const msgs = s.take();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.version).toBe(2);
    expect(msgs[0]!.name).toBe('room');
    expect(msgs[0]!.persistent).toBe(false);
    expect(msgs[0]!.events).toEqual([
      { kind: 'useSuccess' },
      { kind: 'clear' },
      { kind: 'change', key: 'a', value: 1 },
      { kind: 'change', key: 'b', value: { nested: ['x'] } },
    ]);
    expect(so.subscriberCount).toBe(1);
  });

  test('AMF0 subscribers get type 19 bodies, AMF3 subscribers type 16', () => {
    const mgr = manager();
    const a = new FakeSub('a', 0);
    const b = new FakeSub('b', 3);
    use(mgr, a, 'x');
    use(mgr, b, 'x');
    expect(a.inbox[0]!.amf3).toBe(false);
    expect(b.inbox[0]!.amf3).toBe(true);
  });

  test('a client change: Success to it, Change to the others, onSync to the script, version+1', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    const so = mgr.get('room');
    so.setProperty('k', 'old');
    const a = new FakeSub('a');
    const b = new FakeSub('b', 3);
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    change(mgr, a, 'room', 'k', 'new');
    expect(a.events()).toEqual([[{ kind: 'success', key: 'k' }]]);
    const bm = b.take();
    expect(bm).toHaveLength(1);
    expect(bm[0]!.events).toEqual([{ kind: 'change', key: 'k', value: 'new' }]);
    expect(bm[0]!.version).toBe(2);
    expect(so.getProperty('k')).toBe('new');
    expect(so.version).toBe(2);
    expect(syncs).toEqual([[{ code: 'change', name: 'k', oldValue: 'old' }]]);
  });

  test('several requests in one message: one answer per subscriber, one onSync list', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    mgr.get('room').setProperty('gone', true);
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    mgr.handleMessage(
      a,
      clientMessage(a, 'room', [
        { kind: 'requestChange', key: 'x', value: 1 },
        { kind: 'requestChange', key: 'y', value: 2 },
        { kind: 'requestRemove', key: 'gone' },
      ]),
    );
    expect(a.events()).toEqual([
      [
        { kind: 'success', key: 'x' },
        { kind: 'success', key: 'y' },
        { kind: 'success', key: 'gone' },
      ],
    ]);
    expect(b.events()).toEqual([
      [
        { kind: 'change', key: 'x', value: 1 },
        { kind: 'change', key: 'y', value: 2 },
        { kind: 'remove', key: 'gone' },
      ],
    ]);
    expect(syncs).toEqual([
      [
        { code: 'change', name: 'x', oldValue: undefined },
        { code: 'change', name: 'y', oldValue: undefined },
        { code: 'delete', name: 'gone', oldValue: true },
      ],
    ]);
  });

  test('a client delete: Success to it, Remove to the others, onSync "delete" with the old value', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    const so = mgr.get('room');
    so.setProperty('k', 5);
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    remove(mgr, a, 'room', 'k');
    expect(a.events()).toEqual([[{ kind: 'success', key: 'k' }]]);
    expect(b.events()).toEqual([[{ kind: 'remove', key: 'k' }]]);
    expect(so.getPropertyNames()).toEqual([]);
    expect(syncs).toEqual([[{ code: 'delete', name: 'k', oldValue: 5 }]]);
    // Deleting what is not there: acknowledged, nothing else, no new version.
    const v = so.version;
    remove(mgr, a, 'room', 'nothing');
    expect(a.events()).toEqual([[{ kind: 'success', key: 'nothing' }]]);
    expect(b.take()).toEqual([]);
    expect(so.version).toBe(v);
  });

  test('conflict: the later request wins and the earlier requester gets a Change with the winner value', () => {
    const mgr = manager();
    const so = mgr.get('room');
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    change(mgr, a, 'room', 'x', 'from a');
    change(mgr, b, 'room', 'x', 'from b');
    expect(a.events()).toEqual([[{ kind: 'success', key: 'x' }], [{ kind: 'change', key: 'x', value: 'from b' }]]);
    expect(b.events()).toEqual([[{ kind: 'change', key: 'x', value: 'from a' }], [{ kind: 'success', key: 'x' }]]);
    expect(so.getProperty('x')).toBe('from b');
  });

  test('client send(): every subscriber including the sender, and the script handler', () => {
    const sends: [string, AmfValue[]][] = [];
    const mgr = manager({ hooks: { onSend: (_so, h, args) => sends.push([h, args]) } });
    mgr.get('chat');
    const a = new FakeSub('a');
    const b = new FakeSub('b', 3);
    use(mgr, a, 'chat');
    use(mgr, b, 'chat');
    a.take();
    b.take();
    mgr.handleMessage(a, clientMessage(a, 'chat', [{ kind: 'sendMessage', handler: 'say', args: ['hi', { from: 'a' }] }]));
    const ev = [{ kind: 'sendMessage', handler: 'say', args: ['hi', { from: 'a' }] }];
    expect(a.events()).toEqual([ev]);
    expect(b.events()).toEqual([ev]);
    expect(sends).toEqual([['say', ['hi', { from: 'a' }]]]);
  });

  test('script setProperty/send reach clients at once; the script own changes do not fire onSync', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    a.take();
    const so = mgr.get('room');
    so.setProperty('p', 1);
    expect(a.events()).toEqual([[{ kind: 'change', key: 'p', value: 1 }]]);
    so.setProperty('p', 1); // unchanged primitive: nothing to say
    expect(a.take()).toEqual([]);
    so.setProperty('p', null);
    expect(a.events()).toEqual([[{ kind: 'remove', key: 'p' }]]);
    so.send('notify', 1, 'two');
    expect(a.events()).toEqual([[{ kind: 'sendMessage', handler: 'notify', args: [1, 'two'] }]]);
    so.clear();
    expect(a.events()).toEqual([[{ kind: 'clear' }]]);
    expect(syncs).toEqual([]);
    expect(so.size()).toBe(0);
  });

  test('a late joiner gets the whole current state', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    for (let i = 0; i < 10; i++) change(mgr, a, 'room', `k${i}`, i);
    remove(mgr, a, 'room', 'k3');
    const late = new FakeSub('late', 3);
    use(mgr, late, 'room');
    const [m] = late.take();
    expect(m!.version).toBe(11);
    expect(m!.events[0]).toEqual({ kind: 'useSuccess' });
    expect(m!.events[1]).toEqual({ kind: 'clear' });
    expect(m!.events.slice(2)).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => ({ kind: 'change', key: `k${i}`, value: i })));
  });

  test('persistent and non-persistent objects of one name are separate', () => {
    const mgr = manager({ root: tmp });
    mgr.get('same', true).setProperty('p', 'persistent');
    mgr.get('same', false).setProperty('p', 'temporary');
    const a = new FakeSub('a');
    use(mgr, a, 'same', true);
    use(mgr, a, 'same', false);
    const [mp, mt] = a.take();
    expect(mp!.persistent).toBe(true);
    expect(mp!.events[2]).toEqual({ kind: 'change', key: 'p', value: 'persistent' });
    expect(mt!.persistent).toBe(false);
    expect(mt!.events[2]).toEqual({ kind: 'change', key: 'p', value: 'temporary' });
  });

  test('requests from a client that did not use the object are ignored; Release unsubscribes', () => {
    const mgr = manager();
    const so = mgr.get('room');
    const a = new FakeSub('a');
    change(mgr, a, 'room', 'k', 1);
    expect(so.size()).toBe(0);
    expect(a.take()).toEqual([]);
    use(mgr, a, 'room');
    mgr.handleMessage(a, clientMessage(a, 'room', [{ kind: 'release' }]));
    expect(so.subscriberCount).toBe(0);
    so.setProperty('k', 2);
    expect(a.take()).toHaveLength(1); // only the Use answer
  });
});

describe('lock / unlock', () => {
  test('changes inside a lock go out as ONE message per subscriber at the last unlock', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    const b = new FakeSub('b', 3);
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    const so = mgr.get('room');
    expect(so.lock()).toBe(1);
    expect(so.lock()).toBe(2);
    so.setProperty('a', 1);
    so.setProperty('b', 2);
    so.setProperty('a', 3); // only the last state of "a" is sent
    so.setProperty('b', null);
    so.mark('marked', 'm');
    so.setProperty('c', 'x');
    expect(so.unlock()).toBe(1);
    expect(a.take()).toEqual([]);
    expect(so.unlock()).toBe(0);
    expect(so.unlock()).toBe(-1);
    const expected = [
      { kind: 'change', key: 'a', value: 3 },
      { kind: 'remove', key: 'b' },
      { kind: 'sendMessage', handler: 'marked', args: ['m'] },
      { kind: 'change', key: 'c', value: 'x' },
    ];
    const am = a.take();
    expect(am).toHaveLength(1);
    expect(am[0]!.events).toEqual(expected);
    expect(am[0]!.version).toBe(so.version);
    expect(b.events()).toEqual([expected]);
    expect(so.version).toBe(5);
  });

  test('clear inside a lock drops earlier slot changes of the batch', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    a.take();
    const so = mgr.get('room');
    so.lock();
    so.setProperty('x', 1);
    so.clear();
    so.setProperty('y', 2);
    so.unlock();
    expect(a.events()).toEqual([[{ kind: 'clear' }, { kind: 'change', key: 'y', value: 2 }]]);
  });

  test('client requests arriving during a lock wait for the unlock, then apply in order', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    const so = mgr.get('room');
    so.lock();
    so.setProperty('k', 'script');
    change(mgr, a, 'room', 'k', 'client');
    expect(so.getProperty('k')).toBe('script');
    expect(a.take()).toEqual([]);
    so.unlock();
    expect(so.getProperty('k')).toBe('client');
    expect(a.events()).toEqual([[{ kind: 'change', key: 'k', value: 'script' }], [{ kind: 'success', key: 'k' }]]);
    expect(b.events()).toEqual([[{ kind: 'change', key: 'k', value: 'script' }], [{ kind: 'change', key: 'k', value: 'client' }]]);
  });

  test('send() is not batched; lock/unlock on a remote-owned object answer -1 and requests are forwarded', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    a.take();
    const so = mgr.get('room');
    so.lock();
    so.send('now');
    expect(a.events()).toEqual([[{ kind: 'sendMessage', handler: 'now', args: [] }]]);
    so.unlock();
    const forwarded: SoEvent[][] = [];
    so.remoteOwner = { forward: (_so, _from, events) => forwarded.push(events) };
    expect(so.lock()).toBe(-1);
    expect(so.unlock()).toBe(-1);
    change(mgr, a, 'room', 'k', 1);
    expect(forwarded).toEqual([[{ kind: 'requestChange', key: 'k', value: 1 }]]);
    expect(so.size()).toBe(0);
  });
});

describe('access and encodings', () => {
  test('readAccess denial: Status SharedObject.NoReadAccess, not subscribed', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    a.readAccess = 'public';
    use(mgr, a, 'private/room');
    expect(a.events()).toEqual([[{ kind: 'status', code: 'SharedObject.NoReadAccess', level: 'error' }]]);
    expect(mgr.find('private/room', false)).toBeUndefined();
    use(mgr, a, 'public/room');
    expect(a.events()[0]![0]).toEqual({ kind: 'useSuccess' });
  });

  test('writeAccess denial: Status SharedObject.NoWriteAccess and the current values back; nothing changes', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    mgr.get('room').setProperty('k', 'kept');
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    a.writeAccess = '';
    use(mgr, a, 'room');
    use(mgr, b, 'room');
    a.take();
    b.take();
    mgr.handleMessage(
      a,
      clientMessage(a, 'room', [
        { kind: 'requestChange', key: 'k', value: 'hacked' },
        { kind: 'requestChange', key: 'new', value: 1 },
        { kind: 'requestRemove', key: 'k' },
      ]),
    );
    expect(a.events()).toEqual([
      [
        { kind: 'status', code: 'SharedObject.NoWriteAccess', level: 'error' },
        { kind: 'change', key: 'k', value: 'kept' },
        { kind: 'remove', key: 'new' },
        { kind: 'change', key: 'k', value: 'kept' },
      ],
    ]);
    expect(b.take()).toEqual([]);
    expect(syncs).toEqual([]);
    expect(mgr.get('room').getProperty('k')).toBe('kept');
  });

  test('an AMF0 subscriber that would receive an AMF3-only value is disconnected; AMF3 ones get it', () => {
    const mgr = manager();
    const a0 = new FakeSub('a0', 0);
    const a3 = new FakeSub('a3', 3);
    const w = new FakeSub('writer', 3);
    for (const s of [a0, a3, w]) use(mgr, s, 'room');
    for (const s of [a0, a3, w]) s.take();
    change(mgr, w, 'room', 'bytes', Buffer.from([1, 2, 3]));
    expect(a3.events()).toEqual([[{ kind: 'change', key: 'bytes', value: Buffer.from([1, 2, 3]) }]]);
    expect(a0.take()).toEqual([]);
    expect(a0.disconnected?.code).toBe('ERR_AMF_AMF3_ONLY');
    expect(mgr.find('room', false)!.subscriberCount).toBe(2);
    // A late AMF0 joiner cannot take the initial state either.
    const late = new FakeSub('late0', 0);
    use(mgr, late, 'room');
    expect(late.disconnected?.code).toBe('ERR_AMF_AMF3_ONLY');
    expect(mgr.find('room', false)!.subscriberCount).toBe(2);
    // Script-set E4X XML likewise.
    const b0 = new FakeSub('b0', 0);
    use(mgr, b0, 'other');
    mgr.get('other').setProperty('xml', new AmfXml('<a/>'));
    expect(b0.disconnected?.code).toBe('ERR_AMF_AMF3_ONLY');
  });

  test('a malformed message throws a coded error before anything changes', () => {
    const mgr = manager();
    const so = mgr.get('room');
    so.setProperty('k', 1);
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    const good = clientMessage(a, 'room', [{ kind: 'requestChange', key: 'k', value: 2 }, { kind: 'requestChange', key: 'j', value: 3 }]);
    const bad = { ...good, payload: good.payload.subarray(0, good.payload.length - 2) };
    let code: string | undefined;
    try {
      mgr.handleMessage(a, bad);
    } catch (e) {
      code = isSsasError(e) ? e.code : 'uncoded';
    }
    expect(code).toMatch(/^ERR_(SO|AMF)_/);
    expect(so.getProperty('k')).toBe(1);
    expect(so.getProperty('j')).toBeUndefined();
    expect(so.version).toBe(1);
  });

  test('too many objects per client: ObjectCreationFailed; bad persistent names too', () => {
    const mgr = manager({ maxSubscriptionsPerClient: 2, root: tmp });
    const a = new FakeSub('a');
    use(mgr, a, 'one');
    use(mgr, a, 'two');
    use(mgr, a, 'three');
    use(mgr, a, 'one'); // re-use of one it has is fine
    use(mgr, a, '../escape', true);
    const last = a.events().map((e) => e[0]);
    expect(last).toEqual([
      { kind: 'useSuccess' },
      { kind: 'useSuccess' },
      { kind: 'status', code: 'SharedObject.ObjectCreationFailed', level: 'error' },
      { kind: 'useSuccess' },
      { kind: 'status', code: 'SharedObject.ObjectCreationFailed', level: 'error' },
    ]);
  });

  test('too many objects in an instance: ObjectCreationFailed for clients, ERR_SO_LIMIT for the script; used ones keep working', () => {
    const mgr = manager({ maxObjects: 3 });
    const subs = ['a', 'b', 'c', 'd'].map((id) => new FakeSub(id));
    subs.forEach((sub, i) => use(mgr, sub, `room${i}`));
    expect(subs.map((sub) => sub.events()[0]![0])).toEqual([
      { kind: 'useSuccess' },
      { kind: 'useSuccess' },
      { kind: 'useSuccess' },
      { kind: 'status', code: 'SharedObject.ObjectCreationFailed', level: 'error' },
    ]);
    expect(() => mgr.get('another')).toThrow(expect.objectContaining({ code: 'ERR_SO_LIMIT' }));
    // Objects that exist are still there for anyone.
    use(mgr, subs[3]!, 'room0');
    expect(subs[3]!.events().map((e) => e[0])).toContainEqual({ kind: 'useSuccess' });
    expect(mgr.get('room1').name).toBe('room1');
  });

  test('huge states are split over several messages', () => {
    const mgr = manager({ maxMessageBytes: 1000 });
    const so = mgr.get('big');
    for (let i = 0; i < 50; i++) so.setProperty(`k${i}`, 'v'.repeat(100));
    const a = new FakeSub('a');
    use(mgr, a, 'big');
    const msgs = a.take();
    expect(msgs.length).toBeGreaterThan(5);
    const events = msgs.flatMap((m) => m.events);
    expect(events.slice(0, 2)).toEqual([{ kind: 'useSuccess' }, { kind: 'clear' }]);
    expect(events).toHaveLength(52);
  });
});

describe('lifetime and persistence', () => {
  test('a non-persistent object is dropped with its last subscriber unless the script holds it', () => {
    const mgr = manager();
    const a = new FakeSub('a');
    use(mgr, a, 'temp');
    change(mgr, a, 'temp', 'k', 1);
    mgr.removeSubscriber(a);
    expect(mgr.find('temp', false)).toBeUndefined();
    const so = mgr.get('held');
    use(mgr, a, 'held');
    mgr.removeSubscriber(a);
    expect(mgr.find('held', false)).toBe(so);
    so.close();
    expect(mgr.find('held', false)).toBeUndefined();
  });

  test('after close() the script hooks are not called any more', () => {
    const syncs: SoSyncInfo[][] = [];
    const mgr = manager({ hooks: { onSync: (_so, list) => syncs.push(list) } });
    const so = mgr.get('room');
    const a = new FakeSub('a');
    use(mgr, a, 'room');
    so.close();
    change(mgr, a, 'room', 'k', 1);
    expect(syncs).toEqual([]);
    expect(mgr.find('room', false)!.getProperty('k')).toBe(1);
  });

  test('persistent objects survive a manager restart (instance unload, server restart)', async () => {
    const m1 = manager({ root: tmp });
    const so = m1.get('rooms/lobby', true);
    so.setProperty('topic', 'hello');
    so.setProperty('when', new Date(5000));
    const a = new FakeSub('a');
    use(m1, a, 'rooms/lobby', true);
    change(m1, a, 'rooms/lobby', 'users', ['ann', 'bob'], true);
    expect(so.isDirty).toBe(true);
    await m1.close();
    const m2 = manager({ root: tmp });
    const back = m2.get('rooms/lobby', true);
    expect(back.version).toBe(3);
    expect(back.getProperty('topic')).toBe('hello');
    expect(back.getProperty('when')).toEqual(new Date(5000));
    expect(back.getProperty('users')).toEqual(['ann', 'bob']);
    expect(back.isDirty).toBe(false);
  });

  test('the last client leaving unloads a persistent object after saving it', async () => {
    const m1 = manager({ root: tmp });
    const a = new FakeSub('a');
    use(m1, a, 'doc', true);
    change(m1, a, 'doc', 'text', 'saved on unload', true);
    m1.removeSubscriber(a);
    await m1.autoCommitNow(); // waits for the save started by the unload as well
    await new Promise((r) => setImmediate(r));
    expect(m1.find('doc', true)).toBeUndefined();
    expect(loadSharedObjectSync(tmp, 'doc')!.slots.get('text')).toBe('saved on unload');
  });

  test('flush() writes now and answers true; non-persistent false; commit() saves the dirty ones', () => {
    const mgr = manager({ root: tmp });
    const p = mgr.get('p', true);
    p.setProperty('a', 1);
    expect(p.flush()).toBe(true);
    expect(p.isDirty).toBe(false);
    expect(loadSharedObjectSync(tmp, 'p')!.slots.get('a')).toBe(1);
    expect(mgr.get('t').flush()).toBe(false);
    expect(mgr.get('t').isDirty).toBe(false);
    const q = mgr.get('q', true);
    q.autoCommit = false;
    q.setProperty('b', 2);
    p.setProperty('a', 2);
    expect(mgr.commit('q')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual(['p', 'q']);
    expect(loadSharedObjectSync(tmp, 'p')!.slots.get('a')).toBe(1);
    expect(mgr.commit()).toBe(true);
    expect(loadSharedObjectSync(tmp, 'p')!.slots.get('a')).toBe(2);
  });

  test('autoCommit saves dirty persistent objects periodically; autoCommit=false ones only on flush/commit', async () => {
    const mgr = manager({ root: tmp, autoCommitIntervalMs: 30 });
    const on = mgr.get('on', true);
    const off = mgr.get('off', true);
    off.autoCommit = false;
    on.setProperty('x', 1);
    off.setProperty('x', 1);
    const t0 = Date.now();
    while (loadSharedObjectSync(tmp, 'on') === null && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(loadSharedObjectSync(tmp, 'on')!.slots.get('x')).toBe(1);
    expect(on.isDirty).toBe(false);
    expect(off.isDirty).toBe(true);
    await mgr.close();
    expect(loadSharedObjectSync(tmp, 'off')).toBeNull();
  });

  test('a failed save reports SharedObject.Flush.Failed to the script and stays dirty', () => {
    const statuses: SoStatusInfo[] = [];
    require('node:fs').writeFileSync(`${tmp}/blocker`, 'x');
    const mgr = manager({ root: `${tmp}/blocker`, hooks: { onStatus: (_so, i) => statuses.push(i) } });
    const so = mgr.get('x', true);
    so.setProperty('a', 1);
    expect(so.flush()).toBe(false);
    expect(so.isDirty).toBe(true);
    expect(statuses[0]).toMatchObject({ code: 'SharedObject.Flush.Failed', level: 'error' });
  });

  test('a corrupt file: the object starts empty, the file is kept aside', () => {
    saveSharedObjectSync(tmp, 'c', { version: 4, slots: new Map([['a', 1]]) });
    require('node:fs').appendFileSync(`${tmp}/c.fso`, 'junk');
    const mgr = manager({ root: tmp });
    const so = mgr.get('c', true);
    expect(so.size()).toBe(0);
    expect(so.version).toBe(0);
    expect(require('node:fs').existsSync(`${tmp}/c.fso.corrupt`)).toBe(true);
  });

  test('clearSharedObjects clears live objects (clients get "clear") and deletes matching files', () => {
    const mgr = manager({ root: tmp });
    saveSharedObjectSync(tmp, 'chat/old', { version: 1, slots: new Map([['a', 1]]) });
    saveSharedObjectSync(tmp, 'keep', { version: 1, slots: new Map([['a', 1]]) });
    const live = mgr.get('chat/live', true);
    live.setProperty('x', 1);
    live.flush();
    const temp = mgr.get('chat/temp');
    temp.setProperty('y', 2);
    const a = new FakeSub('a');
    use(mgr, a, 'chat/live', true);
    use(mgr, a, 'chat/temp');
    a.take();
    expect(mgr.clearSharedObjects('/chat/*')).toBe(true);
    expect(a.events()).toEqual([[{ kind: 'clear' }], [{ kind: 'clear' }]]);
    expect(live.size()).toBe(0);
    expect(temp.size()).toBe(0);
    expect(live.isDirty).toBe(false);
    expect(listSharedObjects(tmp)).toEqual(['keep']);
    expect(mgr.clearSharedObjects('/x*/y')).toBe(false);
  });
});

describe('resync of a reconnecting client', () => {
  async function loaded(depth = -1): Promise<{ mgr: SharedObjectManager; so: ServerSharedObject; v: number }> {
    const m1 = manager({ root: tmp });
    const s = m1.get('doc', true);
    for (let i = 0; i < 5; i++) s.setProperty(`k${i}`, i);
    await m1.close();
    const mgr = manager({ root: tmp, resyncDepth: depth });
    const so = mgr.get('doc', true);
    return { mgr, so, v: so.version };
  }

  test('a client at the loaded version gets only what changed since (no Clear)', async () => {
    const { mgr, so, v } = await loaded();
    expect(v).toBe(5);
    const a = new FakeSub('a');
    use(mgr, a, 'doc', true, v);
    expect(a.events()).toEqual([[{ kind: 'useSuccess' }]]);
    so.setProperty('k1', 'changed');
    so.setProperty('k2', null);
    so.setProperty('k9', 'new');
    const b = new FakeSub('b');
    use(mgr, b, 'doc', true, v);
    expect(b.events()).toEqual([
      [
        { kind: 'useSuccess' },
        { kind: 'change', key: 'k1', value: 'changed' },
        { kind: 'remove', key: 'k2' },
        { kind: 'change', key: 'k9', value: 'new' },
      ],
    ]);
    const c = new FakeSub('c');
    use(mgr, c, 'doc', true, v + 2);
    expect(c.events()).toEqual([[{ kind: 'useSuccess' }, { kind: 'change', key: 'k9', value: 'new' }]]);
  });

  test('older than the loaded version, version 0, ahead of the server, or purged: full resync', async () => {
    const { mgr, so, v } = await loaded();
    so.setProperty('k0', 'x');
    so.setProperty('k1', null);
    for (const cv of [0, v - 1, so.version + 5]) {
      const s = new FakeSub(`s${cv}`);
      use(mgr, s, 'doc', true, cv);
      expect(s.events()[0]![1]).toEqual({ kind: 'clear' });
    }
    expect(so.purge(so.version)).toBe(true);
    const p = new FakeSub('p');
    use(mgr, p, 'doc', true, v);
    expect(p.events()[0]![1]).toEqual({ kind: 'clear' });
  });

  test('beyond resyncDepth: full resync', async () => {
    const { mgr, so, v } = await loaded(1);
    so.setProperty('a', 1);
    so.setProperty('b', 1);
    const s = new FakeSub('s');
    use(mgr, s, 'doc', true, v);
    expect(s.events()[0]![1]).toEqual({ kind: 'clear' });
    const t = new FakeSub('t');
    use(mgr, t, 'doc', true, so.version - 1);
    expect(t.events()).toEqual([[{ kind: 'useSuccess' }, { kind: 'change', key: 'b', value: 1 }]]);
  });

  test('a file not written at unload (flush, then a crash) gives no deltas: that history may have gone further', () => {
    // Never closed: stands for a process killed after its last flush.
    const crashed = new SharedObjectManager({ root: tmp, autoCommitIntervalMs: 0 });
    const s = crashed.get('doc', true);
    s.setProperty('a', 1);
    s.flush();
    s.setProperty('a', 2); // handed out to clients, never saved
    expect(loadSharedObjectSync(tmp, 'doc')!.final).toBe(false);
    const mgr = manager({ root: tmp });
    const so = mgr.get('doc', true);
    expect(so.version).toBe(1);
    so.setProperty('b', 'other history');
    const c = new FakeSub('c');
    use(mgr, c, 'doc', true, 2); // a client of the crashed process, at its version 2
    expect(c.events()[0]![1]).toEqual({ kind: 'clear' });
  });

  test('unloading writes the file final; the first change after loading it rewrites it unmarked first', async () => {
    const m1 = manager({ root: tmp });
    const a = new FakeSub('a');
    use(m1, a, 'doc', true);
    change(m1, a, 'doc', 'k', 1, true);
    m1.removeSubscriber(a);
    await m1.autoCommitNow();
    await tick();
    expect(m1.find('doc', true)).toBeUndefined();
    expect(loadSharedObjectSync(tmp, 'doc')).toMatchObject({ version: 1, final: true });
    const so = m1.get('doc', true);
    so.setProperty('k', 2);
    // Rewritten (old state, no mark) before version 2 went out.
    expect(loadSharedObjectSync(tmp, 'doc')).toMatchObject({ version: 1, final: false });
  });

  test('a client coming back while the unload save runs: the file does not end up final', async () => {
    const mgr = manager({ root: tmp });
    const a = new FakeSub('a');
    use(mgr, a, 'doc', true);
    change(mgr, a, 'doc', 'k', 1, true);
    mgr.removeSubscriber(a); // starts the final save in the background
    const so = mgr.find('doc', true)!;
    for (let i = 0; i < 3 && !so.finalPending; i++) await Promise.resolve();
    expect(so.finalPending).toBe(true); // its snapshot is taken, the write is under way
    use(mgr, a, 'doc', true);
    change(mgr, a, 'doc', 'k', 2, true);
    await mgr.autoCommitNow();
    await quiet(5);
    const stored = loadSharedObjectSync(tmp, 'doc')!;
    expect(stored.final).toBe(false);
    expect(mgr.find('doc', true)!.getProperty('k')).toBe(2);
    expect(stored.slots.get('k')).toBe(2);
  });

  test('non-persistent objects always resync fully (their versions restart with the object)', () => {
    const mgr = manager();
    const so = mgr.get('t');
    so.setProperty('a', 1);
    so.setProperty('b', 2);
    const s = new FakeSub('s');
    use(mgr, s, 't', false, 1);
    expect(s.events()[0]![1]).toEqual({ kind: 'clear' });
  });
});

// ------------------------------------------------------------------------------------- client smoke test

/** An in-memory connection: both directions asynchronous and in order, as over TCP. */
class Link {
  readonly transport: SoTransport;
  readonly sub: SoSubscriber & { readAccess: string; writeAccess: string };
  closed = false;

  constructor(mgr: SharedObjectManager, id: string, objectEncoding: 0 | 3) {
    const transport: SoTransport = {
      objectEncoding,
      sendRaw: (msg: RtmpMessage) => {
        setImmediate(() => {
          if (!this.closed) mgr.handleMessage(this.sub, msg);
        });
      },
      onSharedObjectMessage: () => {
        throw new Error('message for an unknown shared object');
      },
      onClose: () => {},
    };
    this.transport = transport;
    const link = this;
    this.sub = {
      id,
      objectEncoding,
      readAccess: '/',
      writeAccess: '/',
      canRead(p: string): boolean {
        return accessAllows(this.readAccess, p);
      },
      canWrite(p: string): boolean {
        return accessAllows(this.writeAccess, p);
      },
      send(body: Buffer, amf3: boolean): void {
        setImmediate(() => {
          if (!link.closed) transport.onSharedObjectMessage(sharedObjectRtmpMessage(body, amf3));
        });
      },
      disconnect(): void {
        link.closed = true;
        transport.onClose?.();
      },
    };
  }
}

// Our RtmpClient is a SoTransport as it is (checked by the compiler).
void ((c: RtmpClient): SoTransport => c);

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function quiet(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

describe('client side against the manager (in-memory transport)', () => {
  test('connect, change, delete, send, onSync codes, AMF0 and AMF3 clients', async () => {
    const mgr = manager();
    mgr.get('room').setProperty('topic', 'hi');
    const l1 = new Link(mgr, 'c1', 0);
    const l2 = new Link(mgr, 'c2', 3);
    const so1 = RemoteSharedObject.get(l1.transport, 'room');
    const so2 = RemoteSharedObject.get(l2.transport, 'room');
    expect(RemoteSharedObject.get(l1.transport, 'room')).toBe(so1);
    const first = so1.nextSync();
    await Promise.all([so1.connect(), so2.connect()]);
    expect(await first).toEqual([{ code: 'clear' }, { code: 'change', name: 'topic', oldValue: undefined }]);
    expect({ ...so1.data }).toEqual({ topic: 'hi' });
    expect({ ...so2.data }).toEqual({ topic: 'hi' });

    const got2 = so2.nextSync();
    const got1 = so1.nextSync();
    so1.setProperty('user', { name: 'ann', age: 3 });
    expect(so1.data.user).toEqual({ name: 'ann', age: 3 }); // optimistic
    expect(await got1).toEqual([{ code: 'success', name: 'user' }]);
    expect(await got2).toEqual([{ code: 'change', name: 'user', oldValue: undefined }]);
    expect(so2.data.user).toEqual({ name: 'ann', age: 3 });

    const heard: AmfValue[][] = [];
    so1.handlers.say = (...args) => heard.push(['so1', ...args]);
    so2.handlers.say = (...args) => heard.push(['so2', ...args]);
    so2.send('say', 'hello');
    await quiet();
    expect(heard.sort()).toEqual([
      ['so1', 'hello'],
      ['so2', 'hello'],
    ]);

    const del = so2.nextSync();
    so1.deleteProperty('user');
    expect(await del).toEqual([{ code: 'delete', name: 'user', oldValue: { name: 'ann', age: 3 } }]);
    expect('user' in so2.data).toBe(false);

    // An AMF3-only value reaches the AMF3 client; the AMF0 client is disconnected.
    const closed = new Promise<void>((r) => (l1.transport.onClose = () => r()));
    so2.setProperty('bytes', Buffer.from([9]));
    await closed;
    await so2.settled();
    expect(l1.closed).toBe(true);
    expect(mgr.find('room', false)!.subscriberCount).toBe(1);
  });

  test('denied connect and denied write (reject, value put back)', async () => {
    const mgr = manager();
    mgr.get('ro').setProperty('k', 'server');
    const l = new Link(mgr, 'c', 0);
    l.sub.readAccess = 'ro';
    l.sub.writeAccess = '';
    await expect(RemoteSharedObject.get(l.transport, 'secret').connect()).rejects.toMatchObject({ code: 'ERR_SO_CONNECT_FAILED' });
    const so = RemoteSharedObject.get(l.transport, 'ro');
    const statuses: string[] = [];
    so.onStatus = (i) => statuses.push(i.code);
    await so.connect();
    const sync = so.nextSync();
    so.setProperty('k', 'mine');
    expect(so.data.k).toBe('mine');
    expect(await sync).toEqual([{ code: 'reject', name: 'k', oldValue: 'mine' }]);
    expect(so.data.k).toBe('server');
    expect(statuses).toEqual(['SharedObject.NoWriteAccess']);
    expect(so.pendingCount).toBe(0);
  });

  test('random concurrent writes from three clients converge on the server state', async () => {
    const mgr = manager();
    const script = mgr.get('board');
    const links = [new Link(mgr, 'a', 0), new Link(mgr, 'b', 3), new Link(mgr, 'c', 3)];
    const sos = links.map((l) => RemoteSharedObject.get(l.transport, 'board'));
    await Promise.all(sos.map((s) => s.connect()));
    const rng = new Rng(0xc0ffee);
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 6; i++) {
        const so = rng.pick(sos);
        const key = `k${rng.int(0, 3)}`;
        if (rng.chance(0.2)) so.deleteProperty(key);
        else so.setProperty(key, `${round}.${i}`);
      }
      if (rng.chance(0.3)) script.setProperty(`k${rng.int(0, 3)}`, `script${round}`);
      if (rng.chance(0.1)) {
        script.lock();
        script.setProperty('k0', `locked${round}`);
        script.setProperty('k9', round);
        script.unlock();
      }
      if (rng.chance(0.5)) await tick();
    }
    await Promise.all(sos.map((s) => s.settled()));
    await quiet();
    const server: Record<string, AmfValue> = {};
    for (const k of script.getPropertyNames()) server[k] = script.getProperty(k);
    for (const so of sos) {
      expect({ ...so.data }).toEqual(server);
      expect(so.version).toBe(script.version);
    }
  });

  test('reconnect with the last version gets a delta; the data stays in place', async () => {
    const m1 = manager({ root: tmp });
    m1.get('doc', true).setProperty('a', 1);
    await m1.close();
    const mgr = manager({ root: tmp });
    const l = new Link(mgr, 'c', 3);
    const so = RemoteSharedObject.get(l.transport, 'doc', true);
    await so.connect();
    expect({ ...so.data }).toEqual({ a: 1 });
    so.close();
    await quiet();
    mgr.get('doc', true).setProperty('b', 2);
    const sync = so.nextSync();
    await so.connect();
    expect(await sync).toEqual([{ code: 'change', name: 'b', oldValue: undefined }]);
    expect({ ...so.data }).toEqual({ a: 1, b: 2 });
  });
});
