// @ts-check
/**
 * AMF0 inside the sandbox: the fast path of client calls. The session hands a call's arguments over as the
 * AMF0 bytes the client sent (packed, one buffer per dispatch); they are decoded here straight into script
 * values, and a plain-data result is encoded here into the AMF0 bytes of the `_result` value. The event loop
 * then neither decodes, converts, clones nor encodes the values of a call (see src/script/runtime.ts).
 *
 * Only what this file can reproduce exactly takes the fast path; everything else "bails" and goes the
 * general way (host codec + tagged values, marshal.ts), so both paths give the script the same values and
 * the client the same bytes:
 *  - decoding: numbers, booleans, strings (short and long, valid UTF-8), null, undefined/unsupported,
 *    anonymous objects, strict arrays, ECMA arrays (-> Array with named properties), dates, references and
 *    typed objects (registered classes: constructor, properties, onInitialize in the order fromHost runs them);
 *    behind the AMF3 switch (0x11, AS3 clients): the same, plus integers, dense arrays, ByteArrays and the
 *    three AMF3 reference tables. Bails on XML, vectors, dictionaries, externalizable classes, AMF3 arrays
 *    with an associative part, invalid UTF-8, keys `__proto__` (and `length` in ECMA arrays), nesting deeper
 *    than 64, and anything malformed (the host codec then reports the coded error).
 *  - encoding: what core.js isPlainData accepts (primitives, dates, plain objects and dense arrays of them,
 *    at most 16 deep), written as src/amf/amf0.ts writes it (references for repeated objects, dates with
 *    time zone 0, long strings above 65535 bytes, lone surrogates as U+FFFD).
 */
function ssasAmf(S) {
  var TAG = '\u0001';
  var BAIL = { bail: true };
  var MAX_DEPTH = 64;
  var hasOwn = Object.prototype.hasOwnProperty;

  // --- decoding -------------------------------------------------------------------------------------------

  /** @type {Uint8Array} */
  var buf = new Uint8Array(0);
  /** @type {DataView} */
  var view = new DataView(buf.buffer);
  var pos = 0;
  var end = 0;
  /** @type {any[]} */
  var refs = [];
  var depth = 0;
  /** Registered-class work, replayed after a successful decode (so a bail never runs user code twice). */
  /** @type {any[] | null} */
  var typed = null;
  /** @type {number[]} */
  var codes = [];

  /** The packed argument bytes of the current dispatch. */
  function setInput(bytes) {
    if (bytes === buf) return;
    buf = bytes;
    view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  function u16() {
    if (end - pos < 2) throw BAIL;
    var v = (buf[pos] << 8) | buf[pos + 1];
    pos += 2;
    return v;
  }

  function u32() {
    if (end - pos < 4) throw BAIL;
    var v = view.getUint32(pos);
    pos += 4;
    return v;
  }

  function f64() {
    if (end - pos < 8) throw BAIL;
    var v = view.getFloat64(pos);
    pos += 8;
    return v;
  }

  /**
   * Short ASCII strings (member names, most short values) recur from call to call: a cache by content
   * returns the same internalized string (no allocation, and property stores and `in` checks with it stay
   * on V8's fast paths); a miss builds the string from a preallocated array of its length.
   */
  var SHORT_MAX = 32;
  var CACHE_SIZE = 1024;
  /** @type {(string | undefined)[]} */
  var cacheStr = new Array(CACHE_SIZE).fill(undefined);
  /** @type {number[][]} */
  var unitArrays = [];
  for (var ua = 0; ua <= SHORT_MAX; ua++) unitArrays.push(new Array(ua).fill(0));

  function shortAscii(n) {
    var h = n;
    for (var q = pos, stop = pos + n; q < stop; q++) {
      var b = buf[q];
      if (b >= 0x80) return null;
      h = ((h << 5) - h + b) | 0;
    }
    var slot = h & (CACHE_SIZE - 1);
    var hit = cacheStr[slot];
    if (hit !== undefined && hit.length === n) {
      var same = true;
      for (var i = 0; i < n; i++) {
        if (hit.charCodeAt(i) !== buf[pos + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        pos += n;
        return hit;
      }
    }
    var units = unitArrays[n];
    for (var j = 0; j < n; j++) units[j] = buf[pos + j];
    var str = String.fromCharCode.apply(null, units);
    pos += n;
    // Keep the internalized copy: a for-in over an object keyed by it yields that string (no prototype:
    // nothing a script put on Object.prototype runs).
    var holder = Object.create(null);
    holder[str] = 0;
    for (var k in holder) str = k;
    cacheStr[slot] = str;
    return str;
  }

  /** Strict UTF-8 (what Node decodes identically); anything invalid bails to the host's lenient decoder. */
  function utf8(n) {
    if (n > end - pos) throw BAIL;
    var stop = pos + n;
    if (n <= SHORT_MAX) {
      var ascii = shortAscii(n);
      if (ascii !== null) return ascii;
    }
    var s = '';
    var k = 0;
    while (pos < stop) {
      var c = buf[pos];
      if (c < 0x80) {
        pos++;
      } else {
        var need, min, max;
        if (c >= 0xc2 && c <= 0xdf) {
          need = 1;
          c &= 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
          need = 2;
          c &= 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
          need = 3;
          c &= 0x07;
        } else throw BAIL;
        min = 0x80;
        max = 0xbf;
        var lead = buf[pos];
        if (lead === 0xe0) min = 0xa0;
        else if (lead === 0xed) max = 0x9f;
        else if (lead === 0xf0) min = 0x90;
        else if (lead === 0xf4) max = 0x8f;
        if (pos + need >= stop) throw BAIL;
        var b = buf[pos + 1];
        if (b < min || b > max) throw BAIL;
        c = (c << 6) | (b & 0x3f);
        for (var j = 2; j <= need; j++) {
          b = buf[pos + j];
          if (b < 0x80 || b > 0xbf) throw BAIL;
          c = (c << 6) | (b & 0x3f);
        }
        pos += need + 1;
        if (c > 0xffff) {
          c -= 0x10000;
          codes[k++] = 0xd800 + (c >> 10);
          c = 0xdc00 + (c & 0x3ff);
        }
      }
      codes[k++] = c;
      if (k >= 4096) {
        codes.length = k;
        s += String.fromCharCode.apply(null, codes);
        k = 0;
      }
    }
    if (k > 0) {
      codes.length = k;
      s += String.fromCharCode.apply(null, codes);
    }
    return s;
  }

  function enter() {
    if (++depth > MAX_DEPTH) throw BAIL;
  }

  function value() {
    if (pos >= end) throw BAIL;
    var m = buf[pos++];
    switch (m) {
      case 0x00:
        return f64();
      case 0x01:
        if (pos >= end) throw BAIL;
        return buf[pos++] !== 0;
      case 0x02:
        return utf8(u16());
      case 0x03:
        return members({}, 0);
      case 0x05:
        return null;
      case 0x06:
      case 0x0d:
        return undefined;
      case 0x07: {
        var idx = u16();
        if (idx >= refs.length) throw BAIL;
        return refs[idx];
      }
      case 0x08:
        u32(); // associative count: a hint only
        return members([], 1);
      case 0x0a: {
        var n = u32();
        if (n > end - pos) throw BAIL;
        enter();
        var arr = [];
        refs.push(arr);
        for (var i = 0; i < n; i++) arr.push(value());
        depth--;
        return arr;
      }
      case 0x0b: {
        var ms = f64();
        u16(); // time zone: dropped, as the general path drops it
        return new Date(ms);
      }
      case 0x0c:
        return utf8(u32());
      case 0x10:
        return typedObject(utf8(u16()));
      case 0x11: {
        // One AMF3 value with fresh tables (AMF0 spec 3.1), nesting counted on.
        var saved = t3;
        t3 = { strings: [], objects: [], traits: [] };
        try {
          return value3();
        } finally {
          t3 = saved;
        }
      }
      default:
        // 0x04 movieclip, 0x09 stray object end, 0x0e recordset, 0x0f XML document, unknown.
        throw BAIL;
    }
  }

  var ObjectProto = Object.prototype;

  /**
   * Stores a member the way the general path ends up with it. Anonymous objects (kind 0) come out of the
   * structured clone with own data properties, whatever Object.prototype holds (a script may have put a
   * setter or a read-only property there); ECMA arrays (1) and objects of unregistered classes (2) are
   * filled by assignment in fromHost.
   */
  function store(obj, key, v, kind) {
    if (kind === 0 && key in ObjectProto) Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true });
    else obj[key] = v;
  }

  /**
   * With registered classes around, the order constructors run in must match fromHost's, which converts
   * members in for-in order (array-index keys first) after duplicates collapsed: such members bail.
   */
  function orderSensitive(obj, key, keys) {
    var c = key.charCodeAt(0);
    if (c >= 48 && c <= 57 && String(Number(key) >>> 0) === key) return true;
    return keys !== null ? keys.indexOf(key) >= 0 : hasOwn.call(obj, key);
  }

  /** Members up to the empty key + object-end marker; kind 0 object, 1 ECMA array (an Array, as fromHost), 2 unregistered class. */
  function members(obj, kind) {
    enter();
    refs.push(obj);
    var guard = S.classes.size > 0;
    for (;;) {
      var key = utf8(u16());
      if (key === '' && pos < end && buf[pos] === 0x09) {
        pos++;
        break;
      }
      if (key === '__proto__' || (kind === 1 && key === 'length')) throw BAIL;
      if (guard && orderSensitive(obj, key, null)) throw BAIL;
      store(obj, key, value(), kind);
    }
    depth--;
    return obj;
  }

  function typedObject(name) {
    var ctor = S.classes.get(name);
    if (!ctor) return members({}, 2);
    var obj = Object.create(ctor.prototype);
    if (typed === null) typed = [];
    // fromHost order: constructor, then each property as it is converted, then onInitialize.
    typed.push(0, obj, ctor);
    enter();
    refs.push(obj);
    var keys = [];
    for (;;) {
      var key = utf8(u16());
      if (key === '' && pos < end && buf[pos] === 0x09) {
        pos++;
        break;
      }
      if (key === '__proto__' || orderSensitive(obj, key, keys)) throw BAIL;
      keys.push(key);
      var v = value();
      typed.push(1, obj, key, v);
    }
    depth--;
    typed.push(2, obj, ctor);
    return obj;
  }

  // --- AMF3 behind the 0x11 switch (what AS3 clients send) ---------------------------------------------

  /** @type {{ strings: string[], objects: any[], traits: any[] }} */
  var t3 = { strings: [], objects: [], traits: [] };

  function u29() {
    var v = 0;
    for (var i = 0; i < 3; i++) {
      if (pos >= end) throw BAIL;
      var b = buf[pos++];
      if (b < 0x80) return (v << 7) | b;
      v = (v << 7) | (b & 0x7f);
    }
    if (pos >= end) throw BAIL;
    v = (v << 8) | buf[pos++];
    return v >>> 0;
  }

  function string3() {
    var u = u29();
    if ((u & 1) === 0) {
      var idx = u >>> 1;
      if (idx >= t3.strings.length) throw BAIL;
      return t3.strings[idx];
    }
    var n = u >>> 1;
    if (n === 0) return '';
    var str = utf8(n);
    t3.strings.push(str);
    return str;
  }

  function objectRef3(u) {
    var idx = u >>> 1;
    if (idx >= t3.objects.length) throw BAIL;
    var v = t3.objects[idx];
    return v instanceof Uint8Array ? wrapBytes(v) : v;
  }

  /** A ByteArray facade per occurrence, over the same bytes (as fromHost wraps each one it meets). */
  function wrapBytes(bytes) {
    return S.makeByteArray ? S.makeByteArray(bytes) : bytes;
  }

  function value3() {
    if (pos >= end) throw BAIL;
    var m = buf[pos++];
    var u;
    switch (m) {
      case 0x00:
        return undefined;
      case 0x01:
        return null;
      case 0x02:
        return false;
      case 0x03:
        return true;
      case 0x04:
        return (u29() << 3) >> 3;
      case 0x05:
        return f64();
      case 0x06:
        return string3();
      case 0x08: {
        u = u29();
        if ((u & 1) === 0) return objectRef3(u);
        var d = new Date(f64());
        t3.objects.push(d);
        return d;
      }
      case 0x09: {
        u = u29();
        if ((u & 1) === 0) return objectRef3(u);
        var dense = u >>> 1;
        if (dense > end - pos) throw BAIL;
        // An associative part: the general path orders its conversions differently; rare, so it bails.
        if (string3() !== '') throw BAIL;
        enter();
        var arr = [];
        t3.objects.push(arr);
        for (var i = 0; i < dense; i++) arr[i] = value3();
        depth--;
        return arr;
      }
      case 0x0a:
        return object3();
      case 0x0c: {
        u = u29();
        if ((u & 1) === 0) return objectRef3(u);
        var n = u >>> 1;
        if (n > end - pos) throw BAIL;
        var bytes = buf.slice(pos, pos + n);
        pos += n;
        t3.objects.push(bytes);
        return wrapBytes(bytes);
      }
      default:
        // XML, XMLDocument, vectors, dictionaries, unknown markers.
        throw BAIL;
    }
  }

  function object3() {
    var u = u29();
    if ((u & 1) === 0) return objectRef3(u);
    var traits;
    if ((u & 2) === 0) {
      var idx = u >>> 2;
      if (idx >= t3.traits.length) throw BAIL;
      traits = t3.traits[idx];
    } else if ((u & 4) !== 0) {
      throw BAIL; // externalizable: the host's registry reads it
    } else {
      var count = u >>> 4;
      if (count * 2 > end - pos) throw BAIL;
      var cls = string3();
      var sealed = [];
      for (var i = 0; i < count; i++) sealed.push(string3());
      traits = { cls: cls, dynamic: (u & 8) !== 0, sealed: sealed };
      t3.traits.push(traits);
    }
    var ctor = traits.cls !== '' ? S.classes.get(traits.cls) : undefined;
    var obj = ctor ? Object.create(ctor.prototype) : {};
    var kind = traits.cls === '' ? 0 : 2;
    var keys = S.classes.size > 0 ? [] : null;
    if (ctor) {
      if (typed === null) typed = [];
      typed.push(0, obj, ctor);
    }
    enter();
    t3.objects.push(obj);
    for (var j = 0; j < traits.sealed.length; j++) member3(obj, ctor, traits.sealed[j], kind, keys);
    if (traits.dynamic) {
      for (;;) {
        var key = string3();
        if (key === '') break;
        member3(obj, ctor, key, kind, keys);
      }
    }
    depth--;
    if (ctor) /** @type {any[]} */ (typed).push(2, obj, ctor);
    return obj;
  }

  function member3(obj, ctor, key, kind, keys) {
    if (key === '__proto__') throw BAIL;
    if (keys !== null) {
      if (orderSensitive(obj, key, keys)) throw BAIL;
      keys.push(key);
    }
    var v = value3();
    if (ctor) /** @type {any[]} */ (typed).push(1, obj, key, v);
    else store(obj, key, v, kind);
  }

  function replayTyped(list) {
    for (var i = 0; i < list.length; ) {
      var op = list[i];
      var obj = list[i + 1];
      if (op === 1) {
        obj[list[i + 2]] = list[i + 3];
        i += 4;
        continue;
      }
      var ctor = list[i + 2];
      i += 3;
      try {
        if (op === 0) ctor.call(obj);
        else if (typeof obj.onInitialize === 'function') obj.onInitialize();
      } catch (err) {
        S.reportError(err);
      }
    }
  }

  /**
   * Decodes the AMF0 values in bytes [start, start + length) of the dispatch's packed buffer. Returns null
   * when the general path must decode them instead.
   */
  function decodeArgs(start, length) {
    pos = start;
    end = start + length;
    refs = [];
    depth = 0;
    typed = null;
    t3 = { strings: [], objects: [], traits: [] };
    var out = [];
    try {
      while (pos < end) out.push(value());
    } catch (err) {
      refs = [];
      typed = null;
      if (err === BAIL) return null;
      throw err;
    }
    refs = [];
    if (typed !== null) {
      var list = typed;
      typed = null;
      replayTyped(list);
    }
    return out;
  }

  /** UTF-16 units behind a u16 count (call records: client ids and method names, exact). */
  function units(at) {
    var n = (buf[at] << 8) | buf[at + 1];
    at += 2;
    if (n === 0) return '';
    var u = new Array(n);
    for (var i = 0; i < n; i++, at += 2) u[i] = (buf[at] << 8) | buf[at + 1];
    return String.fromCharCode.apply(null, u);
  }

  /** Client ids and method names by the index the host interned them under (ScriptRuntime #intern). */
  /** @type {string[]} */
  var interned = [];

  /** An interned string of a call record at p; sets recNext. */
  function internedAt(p) {
    var v = view.getUint32(p);
    p += 4;
    if (v === 0xfffffffe) {
      interned = [];
      v = view.getUint32(p);
      p += 4;
    }
    if (v < 0x80000000) {
      recNext = p;
      return interned[v];
    }
    var str = units(p);
    recNext = p + 2 + 2 * ((buf[p] << 8) | buf[p + 1]);
    if (v !== 0xffffffff) interned[v & 0x7fffffff] = str;
    return str;
  }

  // The call record last read (module state: no object per call).
  var recNext = 0;
  var rec = { seq: 0, cid: '', name: '', args: 0, argsLength: 0, next: 0 };

  /**
   * The call record at p: [seq f64][client id][method name][args length u32][args], each string a u32 index
   * of the intern table, with its UTF-16 units after it when the index is new (high bit) or not kept
   * (0xffffffff), after an optional table reset (0xfffffffe). The host wrote it, so its shape is trusted
   * (the arguments are not).
   */
  function readCallRecord(p) {
    rec.seq = view.getFloat64(p);
    rec.cid = internedAt(p + 8);
    rec.name = internedAt(recNext);
    p = recNext;
    rec.argsLength = view.getUint32(p);
    rec.args = p + 4;
    rec.next = rec.args + rec.argsLength;
    return rec;
  }

  /** A copy of argument bytes, for the host's codec when decodeArgs bailed. */
  function argBytes(start, length) {
    return buf.slice(start, start + length);
  }

  // --- encoding -------------------------------------------------------------------------------------------

  var out = new Uint8Array(4096);
  var outView = new DataView(out.buffer);
  var len = 0;
  /**
   * Objects written so far in this value, for references: an array searched linearly while short (most
   * results hold a handful of objects), a Map beyond that. Fresh per value, never a long-lived Map: see
   * src/script/seq-table.ts for what churn on one does to the garbage collector.
   */
  /** @type {object[] | null} */
  var wlist = null;
  /** @type {Map<object, number> | null} */
  var wmap = null;

  function ensure(n) {
    if (len + n <= out.length) return;
    var size = out.length * 2;
    while (size < len + n) size *= 2;
    var next = new Uint8Array(size);
    next.set(out.subarray(0, len));
    out = next;
    outView = new DataView(out.buffer);
  }

  /** UTF-8 of s at len (room for 3 bytes per unit must be ensured); lone surrogates become U+FFFD. */
  function putUtf8(s) {
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) out[len++] = c;
      else if (c < 0x800) {
        out[len++] = 0xc0 | (c >> 6);
        out[len++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          var d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
            var cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
            out[len++] = 0xf0 | (cp >> 18);
            out[len++] = 0x80 | ((cp >> 12) & 0x3f);
            out[len++] = 0x80 | ((cp >> 6) & 0x3f);
            out[len++] = 0x80 | (cp & 0x3f);
            continue;
          }
          c = 0xfffd;
        }
        out[len++] = 0xe0 | (c >> 12);
        out[len++] = 0x80 | ((c >> 6) & 0x3f);
        out[len++] = 0x80 | (c & 0x3f);
      }
    }
  }

  /** A marker-less string with a u16 length (object keys); bails above 65535 bytes, as the host throws. */
  function putKey(s) {
    ensure(2 + s.length * 3);
    var at = len;
    len += 2;
    putUtf8(s);
    var n = len - at - 2;
    if (n > 0xffff) throw BAIL;
    out[at] = n >>> 8;
    out[at + 1] = n & 0xff;
  }

  function putString(s) {
    ensure(5 + s.length * 3);
    if (s.length <= 0x5555) {
      out[len++] = 0x02;
      var at = len;
      len += 2;
      putUtf8(s);
      var n = len - at - 2;
      out[at] = n >>> 8;
      out[at + 1] = n & 0xff;
      return;
    }
    var start = len;
    len += 5;
    putUtf8(s);
    var bytes = len - start - 5;
    if (bytes <= 0xffff) {
      // Fits a short string after all: move the text up by 2 bytes.
      out[start] = 0x02;
      out[start + 1] = bytes >>> 8;
      out[start + 2] = bytes & 0xff;
      out.copyWithin(start + 3, start + 5, len);
      len -= 2;
    } else {
      out[start] = 0x0c;
      outView.setUint32(start + 1, bytes);
    }
  }

  /** A double; every NaN as the one NaN the host writes (7FF8000000000000), whatever its bits here. */
  function putDouble(v) {
    if (v !== v) {
      out[len] = 0x7f;
      out[len + 1] = 0xf8;
      out[len + 2] = out[len + 3] = out[len + 4] = out[len + 5] = out[len + 6] = out[len + 7] = 0;
    } else outView.setFloat64(len, v);
    len += 8;
  }

  function put(v, d) {
    switch (typeof v) {
      case 'number':
        ensure(9);
        out[len++] = 0x00;
        putDouble(v);
        return;
      case 'string':
        putString(v);
        return;
      case 'boolean':
        ensure(2);
        out[len++] = 0x01;
        out[len++] = v ? 1 : 0;
        return;
      case 'undefined':
        ensure(1);
        out[len++] = 0x06;
        return;
      case 'object':
        if (v === null) {
          ensure(1);
          out[len++] = 0x05;
          return;
        }
        putObject(v, d);
        return;
      default:
        throw BAIL; // functions, symbols, bigints: the general path decides
    }
  }

  function putObject(v, d) {
    if (d > 16) throw BAIL;
    if (v instanceof Date) {
      ensure(11);
      out[len++] = 0x0b;
      putDouble(v.getTime());
      out[len++] = 0;
      out[len++] = 0;
      return;
    }
    var proto = Object.getPrototypeOf(v);
    var isArray = Array.isArray(v);
    if (isArray ? proto !== Array.prototype : proto !== Object.prototype) throw BAIL;
    var idx = -1;
    if (wmap !== null) {
      var hit = wmap.get(v);
      if (hit !== undefined) idx = hit;
    } else if (wlist !== null) idx = wlist.indexOf(v);
    if (idx >= 0) {
      ensure(3);
      out[len++] = 0x07;
      out[len++] = idx >>> 8;
      out[len++] = idx & 0xff;
      return;
    }
    // Indices above 65535 cannot be written: such objects are written again in full, as the host does.
    if (wmap !== null) {
      if (wmap.size <= 0xffff) wmap.set(v, wmap.size);
    } else if (wlist === null) wlist = [v];
    else if (wlist.length < 64) wlist.push(v);
    else {
      wmap = new Map();
      for (var w = 0; w < wlist.length; w++) wmap.set(wlist[w], w);
      wmap.set(v, wmap.size);
      wlist = null;
    }
    var key;
    if (isArray) {
      var n = 0;
      for (key in v) {
        if (!hasOwn.call(v, key)) throw BAIL;
        n++;
      }
      if (n !== v.length) throw BAIL;
      ensure(5);
      out[len++] = 0x0a;
      outView.setUint32(len, n);
      len += 4;
      for (var i = 0; i < n; i++) put(v[i], d + 1);
      return;
    }
    ensure(1);
    out[len++] = 0x03;
    for (key in v) {
      if (!hasOwn.call(v, key) || key === TAG) throw BAIL;
      var item = v[key];
      var t = typeof item;
      if (t === 'function' || t === 'symbol' || t === 'bigint') throw BAIL;
      putKey(key);
      put(item, d + 1);
    }
    ensure(3);
    out[len++] = 0;
    out[len++] = 0;
    out[len++] = 0x09;
  }

  /** Results of this dispatch: records [seq f64][length u32][AMF0 value], handed over as one op. */
  function writeResult(seq, value) {
    var start = len;
    ensure(12);
    len += 12;
    wlist = null;
    wmap = null;
    try {
      put(value, 0);
    } catch (err) {
      len = start;
      if (err === BAIL) return false;
      // A getter threw: as toHost would (the call gets "Internal error."), without running it twice.
      throw err;
    } finally {
      wlist = null;
      wmap = null;
    }
    outView.setFloat64(start, seq);
    outView.setUint32(start + 8, len - start - 12);
    return true;
  }

  /** The results written since the last call, as one op (or null). */
  function takeResults() {
    if (len === 0) return null;
    var b = out.slice(0, len);
    len = 0;
    return { op: 'results', b: b };
  }

  S.amf = {
    setInput: setInput,
    decodeArgs: decodeArgs,
    readCallRecord: readCallRecord,
    argBytes: argBytes,
    writeResult: writeResult,
    takeResults: takeResults,
    hasResults: function () {
      return len > 0;
    },
  };
}
