// @ts-check
'use strict';
/**
 * The few wire pieces the benchmark's load clients need, written small on purpose: the load clients must stay
 * cheap enough not to be the bottleneck, so they do not use the server's full codecs.
 * AMF0 (spec "AMF 0", 2007: number 0x00, boolean 0x01, string 0x02, object 0x03, null 0x05, ECMA array 0x08)
 * and RTMP chunking of our few outgoing messages (always format 0, chunk size 128).
 */

/** @param {unknown} v @param {Buffer[]} out */
function amfWrite(v, out) {
  if (v === null || v === undefined) {
    out.push(Buffer.from([0x05]));
  } else if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(v, 1);
    out.push(b);
  } else if (typeof v === 'boolean') {
    out.push(Buffer.from([0x01, v ? 1 : 0]));
  } else if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    const h = Buffer.alloc(3);
    h[0] = 0x02;
    h.writeUInt16BE(s.length, 1);
    out.push(h, s);
  } else if (typeof v === 'object') {
    out.push(Buffer.from([0x03]));
    for (const [k, val] of Object.entries(/** @type {Record<string, unknown>} */ (v))) {
      const kb = Buffer.from(k, 'utf8');
      const h = Buffer.alloc(2);
      h.writeUInt16BE(kb.length, 0);
      out.push(h, kb);
      amfWrite(val, out);
    }
    out.push(Buffer.from([0x00, 0x00, 0x09]));
  }
}

/** @param {unknown[]} values */
function amfValues(values) {
  /** @type {Buffer[]} */
  const out = [];
  for (const v of values) amfWrite(v, out);
  return Buffer.concat(out);
}

/**
 * Reads AMF0 values, enough of the format for command replies (objects are read, their content dropped
 * unless needed). Returns what it could read.
 * @param {Buffer} b
 */
function amfRead(b) {
  /** @type {unknown[]} */
  const vals = [];
  let p = 0;
  /** @returns {unknown} */
  function one() {
    const t = b[p++];
    switch (t) {
      case 0x00: {
        const v = b.readDoubleBE(p);
        p += 8;
        return v;
      }
      case 0x01:
        return b[p++] !== 0;
      case 0x02: {
        const n = b.readUInt16BE(p);
        p += 2;
        const s = b.toString('utf8', p, p + n);
        p += n;
        return s;
      }
      case 0x03:
      case 0x08: {
        if (t === 0x08) p += 4;
        /** @type {Record<string, unknown>} */
        const o = {};
        for (;;) {
          const n = b.readUInt16BE(p);
          p += 2;
          if (n === 0 && b[p] === 0x09) {
            p++;
            return o;
          }
          const k = b.toString('utf8', p, p + n);
          p += n;
          o[k] = one();
        }
      }
      case 0x05:
      case 0x06:
        return null;
      default:
        throw new Error(`AMF0 marker ${t} not handled by the load client`);
    }
  }
  try {
    while (p < b.length) vals.push(one());
  } catch {
    // Partial read is enough for command name, transaction and the value we want.
  }
  return vals;
}

/** @param {number} csid @param {number} type @param {number} streamId @param {Buffer} payload */
function chunk128(csid, type, streamId, payload) {
  const parts = [];
  const h = Buffer.alloc(12);
  h[0] = csid;
  h.writeUIntBE(0, 1, 3);
  h.writeUIntBE(payload.length, 4, 3);
  h[7] = type;
  h.writeUInt32LE(streamId, 8);
  parts.push(h);
  for (let off = 0; off < payload.length; off += 128) {
    if (off > 0) parts.push(Buffer.from([0xc0 | csid]));
    parts.push(payload.subarray(off, Math.min(off + 128, payload.length)));
  }
  return Buffer.concat(parts);
}

/** @param {number} event @param {number} value @param {number} [extra] */
function userControl(event, value, extra) {
  const p = Buffer.alloc(extra === undefined ? 6 : 10);
  p.writeUInt16BE(event, 0);
  p.writeUInt32BE(value >>> 0, 2);
  if (extra !== undefined) p.writeUInt32BE(extra >>> 0, 6);
  return chunk128(2, 4, 0, p);
}

module.exports = { amfWrite, amfValues, amfRead, chunk128, userControl };
