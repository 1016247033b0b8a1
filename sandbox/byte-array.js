// @ts-check
/**
 * ByteArray (AMS 5: "identical to the client-side ByteArray class" of ActionScript 3.0 except that inflate()
 * and deflate() are missing and int/uint are Numbers) and SHA256 (FMS 4 / AMS: SHA256.computeDigest(bytes),
 * a port of Flex's mx.utils.SHA256), plus the UTF-8 helpers other facades use (the isolate has no
 * TextEncoder/TextDecoder).
 *
 * A ByteArray crosses AMF as an AMF3 ByteArray both ways (client calls, shared objects, results): it hands
 * the host its bytes (__ssasToHost), and bytes from the host arrive as a ByteArray (S.makeByteArray).
 * readObject/writeObject use the host's AMF codec (AMF3 or AMF0 after objectEncoding), compress/uncompress
 * the host's zlib while this thread waits.
 */
function ssasByteArray(S) {
  var g = S.global;

  // --- UTF-8 ---------------------------------------------------------------------------------------------

  /** Bytes of s as UTF-8 (lone surrogates become U+FFFD). */
  function utf8Encode(s) {
    var out = new Uint8Array(utf8Length(s));
    var p = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) out[p++] = c;
      else if (c < 0x800) {
        out[p++] = 0xc0 | (c >> 6);
        out[p++] = 0x80 | (c & 63);
      } else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          var d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            var cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            out[p++] = 0xf0 | (cp >> 18);
            out[p++] = 0x80 | ((cp >> 12) & 63);
            out[p++] = 0x80 | ((cp >> 6) & 63);
            out[p++] = 0x80 | (cp & 63);
            i++;
            continue;
          }
        }
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        out[p++] = 0xe0 | (c >> 12);
        out[p++] = 0x80 | ((c >> 6) & 63);
        out[p++] = 0x80 | (c & 63);
      }
    }
    return out;
  }

  /** Byte length of s in UTF-8 (as utf8Encode writes it). */
  function utf8Length(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  /**
   * Decodes UTF-8 bytes. Invalid sequences become U+FFFD, or, with latin1Fallback, the whole input is read as
   * Latin-1 (an old single-byte file).
   */
  function utf8Decode(bytes, latin1Fallback) {
    var n = bytes.length;
    var ascii = true;
    for (var k = 0; k < n; k++) {
      if (bytes[k] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return latin1(bytes);
    var parts = [];
    var units = [];
    var i = 0;
    while (i < n) {
      var b = bytes[i];
      var cp = -1;
      var len = 1;
      if (b < 0x80) cp = b;
      else if (b >= 0xc2 && b <= 0xdf && i + 1 < n && (bytes[i + 1] & 0xc0) === 0x80) {
        cp = ((b & 31) << 6) | (bytes[i + 1] & 63);
        len = 2;
      } else if (b >= 0xe0 && b <= 0xef && i + 2 < n && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
        cp = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63);
        len = 3;
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) cp = -1;
      } else if (b >= 0xf0 && b <= 0xf4 && i + 3 < n && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
        cp = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63);
        len = 4;
        if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
      }
      if (cp < 0) {
        if (latin1Fallback) return latin1(bytes);
        cp = 0xfffd;
        len = 1;
      }
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
      } else units.push(cp);
      i += len;
      if (units.length >= 8192) {
        parts.push(String.fromCharCode.apply(null, units));
        units = [];
      }
    }
    parts.push(String.fromCharCode.apply(null, units));
    return parts.join('');
  }

  /** One character per byte. */
  function latin1(bytes) {
    var parts = [];
    for (var i = 0; i < bytes.length; i += 8192) parts.push(String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + 8192))));
    return parts.join('');
  }

  /** The bytes as a string when they are all ASCII, else null. */
  function asciiText(bytes) {
    for (var i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return null;
    return latin1(bytes);
  }

  function fromLatin1(s) {
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
    return out;
  }

  /** The first `count` characters of UTF-8 bytes from `start`: { text, bytes used }. */
  function decodeChars(bytes, start, count) {
    var i = start;
    var chars = 0;
    while (i < bytes.length && chars < count) {
      var b = bytes[i];
      var len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (i + len > bytes.length) len = bytes.length - i;
      i += len;
      chars++;
    }
    return { text: utf8Decode(bytes.subarray(start, i), false), bytes: i - start };
  }

  S.utf8 = { encode: utf8Encode, decode: utf8Decode, length: utf8Length, latin1: latin1, fromLatin1: fromLatin1, decodeChars: decodeChars, asciiText: asciiText };

  // --- ByteArray -----------------------------------------------------------------------------------------

  var STATE = Symbol('ssas.bytearray');

  function eof() {
    var e = new Error('Error #2030: End of file was encountered.');
    e.name = 'EOFError';
    return e;
  }

  function rangeError(msg) {
    var e = new Error(msg);
    e.name = 'RangeError';
    return e;
  }

  function st(ba) {
    var s = ba[STATE];
    if (!s) throw new TypeError('not a ByteArray');
    return s;
  }

  function ensure(s, n) {
    if (n <= s.bytes.length) return;
    var cap = Math.max(n, s.bytes.length * 2, 64);
    var nb = new Uint8Array(cap);
    nb.set(s.bytes.subarray(0, s.length), 0);
    s.bytes = nb;
    s.view = new DataView(nb.buffer);
  }

  function reserve(s, n) {
    ensure(s, s.position + n);
    if (s.position + n > s.length) s.length = s.position + n;
  }

  function need(s, n) {
    if (s.position + n > s.length) throw eof();
  }

  var little = function (s) {
    return s.endian === 'littleEndian';
  };

  /** @constructor @this {any} */
  function ByteArray() {
    // @ts-ignore called without new
    if (!(this instanceof ByteArray)) return new ByteArray();
    var bytes = new Uint8Array(0);
    var s = { bytes: bytes, view: new DataView(bytes.buffer), length: 0, position: 0, endian: 'bigEndian', objectEncoding: ByteArray.defaultObjectEncoding === 0 ? 0 : 3 };
    Object.defineProperty(this, STATE, { value: s, enumerable: false });
    // ba[i] reads and writes bytes, as in ActionScript 3.0.
    return new Proxy(this, {
      get: function (target, key, receiver) {
        if (typeof key === 'string' && isIndex(key)) {
          var i = Number(key);
          return i < s.length ? s.bytes[i] : undefined;
        }
        return Reflect.get(target, key, receiver);
      },
      set: function (target, key, value, receiver) {
        if (typeof key === 'string' && isIndex(key)) {
          var i = Number(key);
          if (i >= s.length) {
            ensure(s, i + 1);
            s.length = i + 1;
          }
          s.bytes[i] = Number(value) & 0xff;
          return true;
        }
        return Reflect.set(target, key, value, receiver);
      },
      has: function (target, key) {
        if (typeof key === 'string' && isIndex(key)) return Number(key) < s.length;
        return Reflect.has(target, key);
      },
    });
  }

  function isIndex(key) {
    var c = key.charCodeAt(0);
    return c >= 48 && c <= 57 && String(Number(key) >>> 0) === key;
  }

  ByteArray.defaultObjectEncoding = 3;
  var BP = ByteArray.prototype;

  function accessor(name, get, set) {
    Object.defineProperty(BP, name, { get: get, set: set, enumerable: false, configurable: true });
  }
  accessor(
    'length',
    function () {
      return st(this).length;
    },
    function (v) {
      var s = st(this);
      var n = Math.max(0, Math.floor(Number(v) || 0));
      if (n > 0x7fffffff) throw rangeError('Error #1506: The specified range is invalid.');
      ensure(s, n);
      if (n < s.length) s.bytes.fill(0, n, s.length);
      s.length = n;
      if (s.position > n) s.position = n;
    },
  );
  accessor(
    'position',
    function () {
      return st(this).position;
    },
    function (v) {
      st(this).position = Math.max(0, Math.floor(Number(v) || 0));
    },
  );
  accessor('bytesAvailable', function () {
    var s = st(this);
    return Math.max(0, s.length - s.position);
  });
  accessor(
    'endian',
    function () {
      return st(this).endian;
    },
    function (v) {
      var e = String(v);
      if (e !== 'bigEndian' && e !== 'littleEndian') throw new TypeError('Error #2008: Parameter endian must be one of the accepted values.');
      st(this).endian = e;
    },
  );
  accessor(
    'objectEncoding',
    function () {
      return st(this).objectEncoding;
    },
    function (v) {
      var n = Number(v);
      if (n === 0 || n === 3) st(this).objectEncoding = n;
    },
  );

  BP.clear = function () {
    var s = st(this);
    s.bytes = new Uint8Array(0);
    s.view = new DataView(s.bytes.buffer);
    s.length = 0;
    s.position = 0;
  };

  // reads
  BP.readBoolean = function () {
    var s = st(this);
    need(s, 1);
    return s.bytes[s.position++] !== 0;
  };
  BP.readByte = function () {
    var s = st(this);
    need(s, 1);
    return s.view.getInt8(s.position++);
  };
  BP.readUnsignedByte = function () {
    var s = st(this);
    need(s, 1);
    return s.bytes[s.position++];
  };
  function reader(size, fn) {
    return function () {
      var s = st(this);
      need(s, size);
      var v = s.view[fn](s.position, little(s));
      s.position += size;
      return v;
    };
  }
  BP.readShort = reader(2, 'getInt16');
  BP.readUnsignedShort = reader(2, 'getUint16');
  BP.readInt = reader(4, 'getInt32');
  BP.readUnsignedInt = reader(4, 'getUint32');
  BP.readFloat = reader(4, 'getFloat32');
  BP.readDouble = reader(8, 'getFloat64');

  BP.readUTFBytes = function (length) {
    var s = st(this);
    var n = Math.max(0, Math.floor(Number(length) || 0));
    need(s, n);
    var bytes = s.bytes.subarray(s.position, s.position + n);
    s.position += n;
    // Like Flash, the text stops at a NUL byte.
    var z = bytes.indexOf(0);
    return utf8Decode(z >= 0 ? bytes.subarray(0, z) : bytes, false);
  };
  BP.readUTF = function () {
    var s = st(this);
    need(s, 2);
    var n = s.view.getUint16(s.position, false);
    s.position += 2;
    return this.readUTFBytes(n);
  };
  BP.readMultiByte = function (length, charSet) {
    var cs = String(charSet || 'utf-8').toLowerCase();
    if (cs === 'iso-8859-1' || cs === 'latin1' || cs === 'us-ascii' || cs === 'windows-1252') {
      var s = st(this);
      var n = Math.max(0, Math.floor(Number(length) || 0));
      need(s, n);
      var out = latin1(s.bytes.subarray(s.position, s.position + n));
      s.position += n;
      return out;
    }
    return this.readUTFBytes(length);
  };
  BP.readBytes = function (target, offset, length) {
    var s = st(this);
    var t = st(target);
    var off = Math.max(0, Math.floor(Number(offset) || 0));
    var n = length === undefined || Number(length) === 0 ? s.length - s.position : Math.floor(Number(length));
    if (n < 0) n = 0;
    need(s, n);
    var chunk = s.bytes.slice(s.position, s.position + n);
    s.position += n;
    ensure(t, off + n);
    t.bytes.set(chunk, off);
    if (off + n > t.length) t.length = off + n;
  };
  BP.readObject = function () {
    var s = st(this);
    if (s.position >= s.length) throw eof();
    var r = S.hostCall({ t: 'amfDecode', b: s.bytes.slice(s.position, s.length), enc: s.objectEncoding });
    s.position += r.used;
    return r.value;
  };

  // writes
  BP.writeBoolean = function (v) {
    var s = st(this);
    reserve(s, 1);
    s.bytes[s.position++] = v ? 1 : 0;
  };
  BP.writeByte = function (v) {
    var s = st(this);
    reserve(s, 1);
    s.bytes[s.position++] = Number(v) & 0xff;
  };
  function writer(size, fn, conv) {
    return function (v) {
      var s = st(this);
      reserve(s, size);
      s.view[fn](s.position, conv(v), little(s));
      s.position += size;
    };
  }
  var toInt = function (v) {
    return Number(v) | 0;
  };
  var toUint = function (v) {
    return Number(v) >>> 0;
  };
  var toNum = function (v) {
    return Number(v);
  };
  BP.writeShort = writer(2, 'setInt16', function (v) {
    return (Number(v) << 16) >> 16;
  });
  BP.writeInt = writer(4, 'setInt32', toInt);
  BP.writeUnsignedInt = writer(4, 'setUint32', toUint);
  BP.writeFloat = writer(4, 'setFloat32', toNum);
  BP.writeDouble = writer(8, 'setFloat64', toNum);

  function putBytes(s, bytes) {
    reserve(s, bytes.length);
    s.bytes.set(bytes, s.position);
    s.position += bytes.length;
  }
  BP.writeUTFBytes = function (v) {
    putBytes(st(this), utf8Encode(String(v)));
  };
  BP.writeUTF = function (v) {
    var b = utf8Encode(String(v));
    if (b.length > 65535) throw rangeError('Error #2006: The supplied index is out of bounds.');
    var s = st(this);
    reserve(s, 2);
    s.view.setUint16(s.position, b.length, false);
    s.position += 2;
    putBytes(s, b);
  };
  BP.writeMultiByte = function (v, charSet) {
    var cs = String(charSet || 'utf-8').toLowerCase();
    if (cs === 'iso-8859-1' || cs === 'latin1' || cs === 'us-ascii' || cs === 'windows-1252') putBytes(st(this), fromLatin1(String(v)));
    else this.writeUTFBytes(v);
  };
  BP.writeBytes = function (source, offset, length) {
    var src = st(source);
    var off = Math.max(0, Math.floor(Number(offset) || 0));
    var n = length === undefined || Number(length) === 0 ? src.length - off : Math.floor(Number(length));
    if (off > src.length || n < 0 || off + n > src.length) throw rangeError('Error #2006: The supplied index is out of bounds.');
    putBytes(st(this), src.bytes.slice(off, off + n));
  };
  BP.writeObject = function (v) {
    var s = st(this);
    var b = S.hostCall({ t: 'amfEncode', v: S.toHost([v]), enc: s.objectEncoding });
    putBytes(s, b instanceof Uint8Array ? b : b.__ssasBytes());
  };

  BP.compress = function (algorithm) {
    var a = String(algorithm === undefined ? 'zlib' : algorithm).toLowerCase();
    if (a !== 'zlib' && a !== 'deflate') throw new Error('ByteArray.compress(): "' + String(algorithm) + '" is not supported (zlib, deflate)');
    var s = st(this);
    if (s.length === 0) return;
    var out = S.hostCallAsync({ t: 'zlib', op: a, b: s.bytes.slice(0, s.length) });
    setAll(s, out);
    s.position = s.length;
  };
  BP.uncompress = function (algorithm) {
    var a = String(algorithm === undefined ? 'zlib' : algorithm).toLowerCase();
    if (a !== 'zlib' && a !== 'deflate') throw new Error('ByteArray.uncompress(): "' + String(algorithm) + '" is not supported (zlib, deflate)');
    var s = st(this);
    if (s.length === 0) return;
    var out;
    try {
      out = S.hostCallAsync({ t: 'zlib', op: a === 'zlib' ? 'inflate' : 'inflateRaw', b: s.bytes.slice(0, s.length) });
    } catch (err) {
      var e = new Error('Error #2058: There was an error decompressing the data.');
      e.name = 'IOError';
      throw e;
    }
    setAll(s, out);
    s.position = 0;
  };

  function setAll(s, bytes) {
    var b = bytes instanceof Uint8Array ? bytes : bytes.__ssasBytes();
    s.bytes = new Uint8Array(b);
    s.view = new DataView(s.bytes.buffer);
    s.length = b.length;
  }

  /** The bytes as UTF-8 text (a BOM skipped), as ActionScript 3.0's toString does. */
  BP.toString = function () {
    var s = st(this);
    var b = s.bytes.subarray(0, s.length);
    if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
    return utf8Decode(b, false);
  };

  // For the bridge and the other facades.
  BP.__ssasBytes = function () {
    var s = st(this);
    return s.bytes.subarray(0, s.length);
  };
  BP.__ssasWriteAt = function (offset, bytes) {
    var s = st(this);
    ensure(s, offset + bytes.length);
    s.bytes.set(bytes, offset);
    if (offset + bytes.length > s.length) s.length = offset + bytes.length;
  };
  BP.__ssasToHost = function () {
    return new Uint8Array(this.__ssasBytes());
  };

  Object.keys(BP).forEach(function (k) {
    Object.defineProperty(BP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'ByteArray', { value: ByteArray, writable: true, enumerable: false, configurable: true });

  /** Bytes from the host (AMF3 ByteArray) become a ByteArray over a copy of them. */
  S.makeByteArray = function (bytes) {
    var ba = new ByteArray();
    var s = ba[STATE];
    setAll(s, bytes);
    return ba;
  };

  // --- SHA256 --------------------------------------------------------------------------------------------

  // FIPS 180-2 constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
  var K = new Uint32Array(64);
  (function () {
    var n = 0;
    for (var p = 2; n < 64; p++) {
      var prime = true;
      for (var d = 2; d * d <= p; d++) if (p % d === 0) prime = false;
      if (!prime) continue;
      K[n++] = ((Math.cbrt(p) % 1) * 4294967296) >>> 0;
    }
  })();
  // ...and of the square roots of the first 8 primes, the initial hash value.
  var H0 = new Uint32Array([2, 3, 5, 7, 11, 13, 17, 19].map(function (p) {
    return ((Math.sqrt(p) % 1) * 4294967296) >>> 0;
  }));

  function sha256Hex(msg) {
    var n = msg.length;
    var total = Math.ceil((n + 9) / 64) * 64;
    var m = new Uint8Array(total);
    m.set(msg, 0);
    m[n] = 0x80;
    var dv = new DataView(m.buffer);
    dv.setUint32(total - 8, Math.floor(n / 0x20000000), false);
    dv.setUint32(total - 4, (n * 8) >>> 0, false);
    var h = new Uint32Array(H0);
    var w = new Uint32Array(64);
    for (var off = 0; off < total; off += 64) {
      for (var t = 0; t < 16; t++) w[t] = dv.getUint32(off + t * 4, false);
      for (t = 16; t < 64; t++) {
        var x = w[t - 15];
        var y = w[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], gg = h[6], hh = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & gg);
        var t1 = (hh + S1 + ch + K[t] + w[t]) >>> 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) >>> 0;
        hh = gg;
        gg = f;
        f = e;
        e = (d + t1) >>> 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) >>> 0;
      }
      h[0] = (h[0] + a) >>> 0;
      h[1] = (h[1] + b) >>> 0;
      h[2] = (h[2] + c) >>> 0;
      h[3] = (h[3] + d) >>> 0;
      h[4] = (h[4] + e) >>> 0;
      h[5] = (h[5] + f) >>> 0;
      h[6] = (h[6] + gg) >>> 0;
      h[7] = (h[7] + hh) >>> 0;
    }
    var hex = '';
    for (var i = 0; i < 8; i++) hex += ('00000000' + h[i].toString(16)).slice(-8);
    return hex;
  }

  var SHA256 = {
    TYPE_ID: 'SHA-256',
    /** computeDigest(bytes): the 64-character hex SHA-256 of a ByteArray; an Error for anything else. */
    computeDigest: function (bytes) {
      if (bytes === null || bytes === undefined || !(bytes instanceof ByteArray)) throw new Error('SHA256.computeDigest(): the argument must be a ByteArray');
      return sha256Hex(/** @type {any} */ (bytes).__ssasBytes());
    },
  };
  Object.defineProperty(SHA256, 'computeDigest', { enumerable: false });
  Object.defineProperty(g, 'SHA256', { value: SHA256, writable: true, enumerable: false, configurable: true });
}
