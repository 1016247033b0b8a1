/**
 * Groupspec strings and group ids against the vectors of notes/netgroup-facts.md 1.2: four of them were
 * confirmed by MonaServer's "join group" log with librtmfp's TestClient (the README vector by
 * ../shared/peers/README.md too).
 */
import { emptyGroupSpec, groupspecString, groupspecWithoutAuthorizations, memberIdOf, parseGroupspec, passwordHash, encodeAuthorizations, encodeIpMulticastAddress } from '../../src/rtmfp/groupspec';
import { isSsasError } from '../../src/errors';

test('the README vector: name "test", multicast, posting, serverChannel, ipMulticastMemberUpdates, version 2', () => {
  const g = { ...emptyGroupSpec('test'), multicastEnabled: true, postingEnabled: true, serverChannelEnabled: true, ipMulticastMemberUpdatesEnabled: true };
  const s = groupspecString(g);
  expect(s).toBe('G:027f0201010103010c050e74657374011b00');
  const p = parseGroupspec(s);
  expect(p.groupId.toString('hex')).toBe('763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620');
  expect(p.spec).toEqual(g);
});

test('version 1 (single hash), and every flag in Flash order', () => {
  const v1 = { ...emptyGroupSpec('test'), version: 1, multicastEnabled: true, serverChannelEnabled: true };
  expect(groupspecString(v1)).toBe('G:0101010c050e7465737400');
  expect(parseGroupspec('G:0101010c050e7465737400').groupId.toString('hex')).toBe('9571b515bf5ea5f63bd8811729057938a3c6bdf59b7bc084ea56255a630bd01f');
  const all = {
    ...emptyGroupSpec('myGroup'),
    routingEnabled: true,
    multicastEnabled: true,
    objectReplicationEnabled: true,
    postingEnabled: true,
    serverChannelEnabled: true,
    peerToPeerDisabled: true,
    ipMulticastMemberUpdatesEnabled: true,
  };
  expect(groupspecString(all)).toBe('G:027f020100010101020103010c010d080e6d7947726f7570011b00');
  expect(parseGroupspec(groupspecString(all)).groupId.toString('hex')).toBe('75508d9081e6018ae7068498250dabc637c627ae0a5a2d2b17397eddd66b90c8');
});

test('passwords: hashes in the description (part of the id), clear text in the authorizations', () => {
  const g = {
    ...emptyGroupSpec('g'),
    multicastEnabled: true,
    serverChannelEnabled: true,
    publishPasswordHash: passwordHash('secret', null),
    postingPasswordHash: passwordHash('pw', 'salt'),
    publishPassword: 'secret',
    postingPassword: 'pw',
  };
  const s = groupspecString(g);
  expect(s).toBe(
    'G:027f02010121052bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b250773616c7421baed949b716c49cbf7d8fe79412f1dc104745650a32081ae0be0b967aeb7f3010c020e6700' +
      '071573656372657403177077',
  );
  expect(encodeAuthorizations(g).toString('hex')).toBe('071573656372657403177077');
  expect(parseGroupspec(s).groupId.toString('hex')).toBe('aaacd470cfe850023be81f912878e2747c44a8940e6a4ba98d69ab4e9b9a1474');
  // Without the authorizations it is the same group.
  expect(parseGroupspec(groupspecWithoutAuthorizations(g)).groupId.equals(parseGroupspec(s).groupId)).toBe(true);
  expect(parseGroupspec(s).spec.publishPassword).toBe('secret');
});

test('IP multicast addresses and bootstrap peers come after the end marker: same group id', () => {
  const g = {
    ...emptyGroupSpec('g'),
    multicastEnabled: true,
    serverChannelEnabled: true,
    ipMulticastAddresses: [
      { address: '224.0.0.254', port: 30000 },
      { address: 'ff03::ffff', port: 30000 },
    ],
    bootstrapPeers: ['763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620'],
  };
  const s = groupspecString(g);
  expect(s).toBe(
    'G:027f020101010c020e6700070ae00000fe7530130aff03000000000000000000000000ffff7530210b763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620',
  );
  const p = parseGroupspec(s);
  expect(p.groupId.toString('hex')).toBe('322cec6e9ce61969438000c49644a54d161a09db8c548807f9287912b70d5b07');
  expect(p.spec.ipMulticastAddresses).toEqual([
    { address: '224.0.0.254', port: 30000 },
    { address: 'ff03::ffff', port: 30000 },
  ]);
  expect(p.spec.bootstrapPeers).toEqual(g.bootstrapPeers);
});

test('member id: SHA-256 of 21 0f + peer id (MonaServer orders members by it)', () => {
  const peer = Buffer.from('e362664b5b7e2d9e4d50b3a5d2c2a8d1f8d6a16a0c8e26f6d07e93b89e8a182f', 'hex');
  expect(memberIdOf(peer).length).toBe(32);
});

test.each(['', 'G:', 'G:0', 'X:0100', 'G:010e', 'G:0101', 'G:050e74657374', 'G:zz00', 'G:ff'])('bad groupspec %p: a coded error', (s) => {
  let err: unknown;
  try {
    parseGroupspec(s);
  } catch (e) {
    err = e;
  }
  expect(isSsasError(err)).toBe(true);
  expect((err as { code: string }).code).toMatch(/^ERR_RTMFP_/);
});

// Found by the group-address fuzz target (scripts/fuzz/rtmfp-lib.js): the IPv6 reader behind
// addIPMulticastAddress threw a RangeError, read malformed texts as other addresses, and a source of the
// other IP version gave a groupspec that parseGroupspec refused.
describe('IP multicast addresses (what GroupSpecifier.addIPMulticastAddress validates)', () => {
  const coded = (address: string, source?: string): string => {
    try {
      encodeIpMulticastAddress({ address, port: 30000, ...(source !== undefined ? { source } : {}) });
    } catch (err) {
      expect(isSsasError(err)).toBe(true);
      return (err as { code: string }).code;
    }
    return 'accepted';
  };

  test.each(['1:2:3:4:5:6:7:8:9::1', '::1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9::'])('more than 8 groups around "::" (%s): a coded error, not a RangeError', (a) => {
    expect(coded(a)).toBe('ERR_RTMFP_BAD_ADDRESS');
  });

  test.each(['1::2::3', '::1::', '1:2:3:4::5:6:7:8', '1:2:3:4:5:6:7:8::', ':1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:', ':1::2'])('not an IPv6 address (%s): refused, not read as another one', (a) => {
    expect(coded(a)).toBe('ERR_RTMFP_BAD_ADDRESS');
  });

  test.each([
    ['::', '00000000000000000000000000000000'],
    ['1::', '00010000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['FF03::FFFF', `ff03${'0'.repeat(24)}ffff`],
  ])('IPv6 %s is read', (a, hex) => {
    expect(encodeIpMulticastAddress({ address: a, port: 30000 }).toString('hex')).toBe(`${hex}7530`);
  });

  test('a source of the other IP version is refused (its groupspec could not be read back)', () => {
    expect(coded('224.0.0.1', 'ff03::1')).toBe('ERR_RTMFP_BAD_ADDRESS');
    expect(coded('ff03::1', '10.0.0.1')).toBe('ERR_RTMFP_BAD_ADDRESS');
    const ok = [
      { address: '232.1.1.1', port: 30000, source: '10.0.0.1' },
      { address: 'ff3e::1', port: 30000, source: '2001:db8::1' },
    ];
    expect(parseGroupspec(groupspecString({ ...emptyGroupSpec('g'), ipMulticastAddresses: ok })).spec.ipMulticastAddresses).toEqual(ok);
  });
});
