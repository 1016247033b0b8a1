/**
 * The packet cipher keeps one OpenSSL CBC context per direction for a session's life (src/rtmfp/crypto.ts
 * ChainedCbc); every packet must still be exactly AES-128-CBC with a zero IV, as a fresh context gives it
 * (what every peer decrypts), whatever came before: other packets, and packets that failed their checks.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AesPacketCipher } from '../../src/rtmfp/crypto';

const k1 = randomBytes(16);
const k2 = randomBytes(16);
const modes = [
  { name: 'checksum', mode: { txHmacLength: 0, rxHmacLength: 0, txSequence: false, rxSequence: false } },
  { name: 'HMAC and session sequence numbers', mode: { txHmacLength: 16, rxHmacLength: 16, txSequence: true, rxSequence: true } },
];

function freshDecrypt(key: Buffer, enc: Buffer): Buffer {
  return createDecipheriv('aes-128-cbc', key, Buffer.alloc(16)).setAutoPadding(false).update(enc);
}

describe.each(modes)('AesPacketCipher ($name)', ({ mode }) => {
  const hmacKeys = mode.txHmacLength ? [randomBytes(32), randomBytes(32)] : [null, null];

  test('each of 200 packets is what a fresh zero-IV context makes of it', () => {
    const a = new AesPacketCipher(k1, k2, mode, hmacKeys[0], hmacKeys[1]);
    for (let i = 0; i < 200; i++) {
      const plain = randomBytes(1 + ((i * 37) % 1180));
      const dgram = a.seal(plain, 0x1234);
      const enc = dgram.subarray(4, dgram.length - mode.txHmacLength);
      const fresh = freshDecrypt(k1, enc);
      // The plaintext is inside (after the sequence number / checksum), padded with 0xff.
      expect(fresh.includes(plain)).toBe(true);
      // And encrypting that plaintext afresh gives the same ciphertext.
      expect(createCipheriv('aes-128-cbc', k1, Buffer.alloc(16)).setAutoPadding(false).update(fresh).equals(enc)).toBe(true);
    }
  });

  test('the other end opens every packet, also after garbage, replays and truncated datagrams', () => {
    const a = new AesPacketCipher(k1, k2, mode, hmacKeys[0], hmacKeys[1]);
    const b = new AesPacketCipher(k2, k1, mode, hmacKeys[1], hmacKeys[0]);
    let last: Buffer | null = null;
    for (let i = 0; i < 300; i++) {
      const plain = randomBytes(1 + ((i * 53) % 1100));
      const dgram = a.seal(plain, 7);
      if (i % 7 === 3) expect(b.open(randomBytes(dgram.length))).toBeNull();
      if (i % 11 === 5) expect(b.open(dgram.subarray(0, dgram.length - 5))).toBeNull();
      if (i % 13 === 6 && last && mode.rxSequence) expect(b.open(last)).toBeNull(); // a replay
      const opened = b.open(dgram);
      expect(opened?.subarray(0, plain.length).equals(plain)).toBe(true);
      expect(opened!.subarray(plain.length).every((x) => x === 0xff)).toBe(true);
      last = dgram;
    }
  });
});
