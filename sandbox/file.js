// @ts-check
/**
 * The File class (FMS 2 Server-Side ActionScript Language Reference; ssas-api.md 8). The host
 * (src/host/file.ts, src/script/file-extension.ts) confines paths and does the file system work
 * asynchronously while this thread waits (hostCallAsync), so a script's file I/O never holds the event
 * loop. Reads are served from a 64 KB buffer and writes are buffered here and handed over as fire-and-forget
 * ops (in order with every other op), so reading or writing a file line by line costs a host round trip per
 * 64 KB, not per line.
 *
 * Failures (a refused path, a missing file, a disk error) make the method return false (or null / -1 for
 * reads, see README) and are reported to application.onStatus as documented, with the ssas error code in
 * `details`; nothing is thrown at the script.
 *
 * Choices where the reference leaves room (README "File"): `open(type, mode)` types "text" (UTF-8; a line
 * that is not valid UTF-8 is read as Latin-1), "utf8" (UTF-8, a BOM at the start skipped) and "binary" (one
 * character per byte); modes "read", "write", "readWrite", "append", "create", combinable with spaces: read
 * and readWrite need an existing file unless create is given, write and append create a missing file,
 * create empties an existing one, append writes at the end. Lines end with "\n" (the server's platform);
 * readln() strips "\n" and "\r\n". seek(n) moves n bytes from the current position and returns the new one.
 */
function ssasFile(S) {
  var g = S.global;
  var CHUNK = 64 * 1024;
  /** @type {Map<number, any>} open File facades by host id, for write failures reported later */
  var openFiles = new Map();

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  /** Reports a failure as FMS did (application.onStatus) and logs it; returns false. */
  function report(file, method, err) {
    var code = (err && err.code) || 'ERR_FILE_IO';
    var message = String((err && err.message) || err);
    var info = { level: 'warning', code: 'Application.Script.Warning', description: 'File.' + method + '(' + file.__ssasPath + ') failed: ' + message, details: code };
    S.emit({ op: 'fileWarning', message: info.description + ' [' + code + ']' });
    var app = S.application;
    if (app && typeof app.onStatus === 'function') S.safeCall(app, app.onStatus, [info]);
    return false;
  }

  function call(file, method, req) {
    try {
      return { ok: true, value: S.hostCallAsync(req) };
    } catch (err) {
      if (S.isTermination(err)) throw err;
      report(file, method, err);
      return { ok: false, value: undefined };
    }
  }

  function info(file) {
    var h = file.__ssasOpen;
    var res = call(file, 'info', { t: 'fileInfo', path: file.__ssasPath });
    var i = res.ok ? res.value : { exists: false, isFile: false, isDirectory: false, length: 0, creationTime: null, lastModified: null, canRead: false, canWrite: false };
    if (h && res.ok) i.length = Math.max(i.length, h.size);
    return i;
  }

  /** @constructor @this {any} */
  function File(name) {
    // @ts-ignore called without new
    if (!(this instanceof File)) return new File(name);
    var p = String(name === undefined || name === null ? '' : name);
    if (p.charAt(0) !== '/') p = '/' + p;
    hidden(this, '__ssasPath', p);
    hidden(this, '__ssasOpen', null);
  }
  var FP = File.prototype;

  function prop(name, get, set) {
    Object.defineProperty(FP, name, { get: get, set: set, enumerable: false, configurable: true });
  }
  prop('name', function () {
    return this.__ssasPath;
  });
  prop('exists', function () {
    return info(this).exists === true;
  });
  prop('isFile', function () {
    return info(this).isFile === true;
  });
  prop('isDirectory', function () {
    return info(this).isDirectory === true;
  });
  prop('length', function () {
    return info(this).length;
  });
  prop('creationTime', function () {
    var d = info(this).creationTime;
    return typeof d === 'number' ? new Date(d) : null;
  });
  prop('lastModified', function () {
    var d = info(this).lastModified;
    return typeof d === 'number' ? new Date(d) : null;
  });
  prop('isOpen', function () {
    return this.__ssasOpen !== null;
  });
  prop('mode', function () {
    var h = this.__ssasOpen;
    return h ? h.modeText : undefined;
  });
  prop('type', function () {
    var h = this.__ssasOpen;
    if (h) return h.type;
    return info(this).isDirectory ? 'directory' : undefined;
  });
  prop('canRead', function () {
    var h = this.__ssasOpen;
    return h ? h.read : info(this).canRead === true;
  });
  prop('canWrite', function () {
    var h = this.__ssasOpen;
    return h ? h.write : info(this).canWrite === true;
  });
  prop('canAppend', function () {
    var h = this.__ssasOpen;
    return h ? h.append : info(this).canWrite === true;
  });
  prop('canReplace', function () {
    var h = this.__ssasOpen;
    return h ? h.create : info(this).canWrite === true;
  });
  prop(
    'position',
    function () {
      var h = this.__ssasOpen;
      return h ? h.pos : 0;
    },
    function (v) {
      var h = this.__ssasOpen;
      if (!h) return;
      var n = Number(v);
      if (!(n >= 0)) n = 0;
      flushWrites(this, h);
      h.pos = Math.floor(n);
    },
  );

  // --- open, close -----------------------------------------------------------------------------------

  FP.open = function (type, mode) {
    if (this.__ssasOpen !== null) return report(this, 'open', { code: 'ERR_FILE_MODE', message: 'the file is already open' });
    var t = String(type === undefined ? 'text' : type).toLowerCase();
    if (t !== 'text' && t !== 'utf8' && t !== 'binary') return report(this, 'open', { code: 'ERR_FILE_MODE', message: '"' + String(type) + '" is not a file type (text, utf8, binary)' });
    var modeText = String(mode === undefined ? 'read' : mode);
    var res = call(this, 'open', { t: 'fileOpen', path: this.__ssasPath, type: t, mode: modeText });
    if (!res.ok) return false;
    var words = modeText.toLowerCase().split(/\s+/);
    var has = function (w) {
      return words.indexOf(w) >= 0;
    };
    var h = {
      id: res.value.id,
      type: t,
      modeText: modeText,
      read: has('read') || has('readwrite'),
      write: has('write') || has('readwrite') || has('create') || has('append'),
      append: has('append'),
      create: has('create'),
      size: res.value.length,
      pos: has('append') ? res.value.length : 0,
      // Read buffer: bytes [bufStart, bufStart + buf.length) of the file.
      buf: new Uint8Array(0),
      bufStart: 0,
      // The buffer as a string when it is all ASCII (characters = bytes): lines are found by indexOf.
      ascii: /** @type {string | null} */ (null),
      // Write buffer: strings (or byte arrays) from wpos on, wbytes bytes in all.
      wparts: [],
      wbytes: 0,
      wpos: 0,
      failed: false,
    };
    hidden(this, '__ssasOpen', h);
    openFiles.set(h.id, this);
    // A BOM at the start of a utf8 file is not text.
    if (t === 'utf8' && h.read && h.size >= 3) {
      fill(this, h, 0, 3);
      if (h.buf.length >= 3 && h.buf[0] === 0xef && h.buf[1] === 0xbb && h.buf[2] === 0xbf) h.pos = 3;
    }
    return true;
  };

  FP.close = function () {
    var h = this.__ssasOpen;
    if (h === null) return false;
    flushWrites(this, h);
    hidden(this, '__ssasOpen', null);
    openFiles.delete(h.id);
    var res = call(this, 'close', { t: 'fileClose', id: h.id });
    return res.ok && res.value === true && !h.failed;
  };

  FP.flush = function () {
    var h = this.__ssasOpen;
    if (h === null) return false;
    flushWrites(this, h);
    var res = call(this, 'flush', { t: 'fileFlush', id: h.id });
    var ok = res.ok && res.value === true && !h.failed;
    h.failed = false;
    return ok;
  };

  FP.eof = function () {
    var h = this.__ssasOpen;
    if (h === null) return true;
    return h.pos >= h.size;
  };

  FP.seek = function (n) {
    var h = this.__ssasOpen;
    if (h === null) return report(this, 'seek', { code: 'ERR_FILE_NOT_OPEN', message: 'the file is not open' });
    flushWrites(this, h);
    var to = h.pos + (Number(n) || 0);
    h.pos = Math.max(0, Math.min(Math.floor(to), h.size));
    return h.pos;
  };

  // --- reading ---------------------------------------------------------------------------------------

  /** Makes bytes [pos, pos + want) available in the buffer, as far as the file has them; false when none. */
  function fill(file, h, pos, want) {
    var have = h.bufStart + h.buf.length;
    if (pos >= h.bufStart && pos + want <= have) return true;
    var kept = new Uint8Array(0);
    var from = pos;
    if (pos >= h.bufStart && pos < have) {
      kept = h.buf.subarray(pos - h.bufStart);
      from = have;
    }
    var res = call(file, 'read', { t: 'fileRead', id: h.id, pos: from, n: Math.max(CHUNK, want - kept.length) });
    if (!res.ok) return false;
    var got = res.value instanceof Uint8Array ? res.value : toBytes(res.value);
    var merged = new Uint8Array(kept.length + got.length);
    merged.set(kept, 0);
    merged.set(got, kept.length);
    h.buf = merged;
    h.bufStart = pos;
    h.ascii = S.utf8.asciiText(merged);
    if (from + got.length > h.size) h.size = from + got.length;
    return merged.length > 0;
  }

  function toBytes(v) {
    // A ByteArray facade from fromHost: its bytes.
    if (v && typeof v.__ssasBytes === 'function') return v.__ssasBytes();
    return new Uint8Array(0);
  }

  function readable(file, h, method) {
    if (h === null) return report(file, method, { code: 'ERR_FILE_NOT_OPEN', message: 'the file is not open' });
    if (!h.read) return report(file, method, { code: 'ERR_FILE_MODE', message: 'the file was not opened for reading' });
    flushWrites(file, h);
    return true;
  }

  function decodeText(h, bytes) {
    if (h.type === 'binary') return S.utf8.latin1(bytes);
    if (h.type === 'utf8') return S.utf8.decode(bytes, false);
    return S.utf8.decode(bytes, true);
  }

  /** readln(): the next line without its end of line; null at the end of the file. */
  FP.readln = function () {
    var h = this.__ssasOpen;
    if (!readable(this, h, 'readln')) return null;
    if (h.pos >= h.size && !fill(this, h, h.pos, 1)) return null;
    var a = h.ascii;
    var at = h.pos - h.bufStart;
    if (a !== null && at >= 0 && at < a.length) {
      var lf = a.indexOf('\n', at);
      if (lf >= 0) {
        h.pos = h.bufStart + lf + 1;
        return a.slice(at, lf > at && a.charCodeAt(lf - 1) === 13 ? lf - 1 : lf);
      }
    }
    for (;;) {
      var off = h.pos - h.bufStart;
      if (off < 0 || off > h.buf.length) {
        if (!fill(this, h, h.pos, 1)) return null;
        continue;
      }
      var nl = h.buf.indexOf(10, off);
      if (nl >= 0) {
        var end = nl > off && h.buf[nl - 1] === 13 ? nl - 1 : nl;
        var line = decodeText(h, h.buf.subarray(off, end));
        h.pos = h.bufStart + nl + 1;
        return line;
      }
      var before = h.buf.length - off;
      if (h.bufStart + h.buf.length >= h.size || !fill(this, h, h.pos, before + CHUNK) || h.buf.length - (h.pos - h.bufStart) <= before) {
        // The last line, without an end of line.
        var rest = h.buf.subarray(h.pos - h.bufStart);
        var tail = rest.length > 0 && rest[rest.length - 1] === 13 ? rest.subarray(0, rest.length - 1) : rest;
        h.pos += rest.length;
        return rest.length === 0 ? null : decodeText(h, tail);
      }
    }
  };

  /** readAll(): the remaining lines, as an array. */
  FP.readAll = function () {
    var h = this.__ssasOpen;
    if (!readable(this, h, 'readAll')) return null;
    var lines = [];
    var line;
    while ((line = this.readln()) !== null) lines.push(line);
    return lines;
  };

  /** read(n): n characters (bytes in binary mode), fewer at the end; "" at the end of the file. */
  FP.read = function (n) {
    var h = this.__ssasOpen;
    if (!readable(this, h, 'read')) return null;
    var count = Math.max(0, Math.floor(Number(n) || 0));
    if (count === 0) return '';
    if (h.type === 'binary') {
      fill(this, h, h.pos, count);
      var off = h.pos - h.bufStart;
      var bytes = h.buf.subarray(Math.max(0, off), Math.max(0, off) + count);
      h.pos += bytes.length;
      return S.utf8.latin1(bytes);
    }
    // Characters: up to 4 bytes each.
    fill(this, h, h.pos, count * 4);
    var o = h.pos - h.bufStart;
    var r = S.utf8.decodeChars(h.buf, Math.max(0, o), count);
    h.pos += r.bytes;
    return r.text;
  };

  /** readChar(): the next character; null at the end of the file. */
  FP.readChar = function () {
    var s = this.read(1);
    return s === '' || s === null ? null : s;
  };

  /** readByte(): the next byte (0-255); -1 at the end of the file. */
  FP.readByte = function () {
    var h = this.__ssasOpen;
    if (!readable(this, h, 'readByte')) return -1;
    if (!fill(this, h, h.pos, 1)) return -1;
    var b = h.buf[h.pos - h.bufStart];
    if (b === undefined) return -1;
    h.pos++;
    return b;
  };

  /** readBytes(byteArray[, offset[, length]]): bytes from here into the ByteArray (AMS 5). */
  FP.readBytes = function (ba, offset, length) {
    var h = this.__ssasOpen;
    if (!readable(this, h, 'readBytes')) return false;
    if (!ba || typeof ba.__ssasBytes !== 'function') return report(this, 'readBytes', { code: 'ERR_FILE_MODE', message: 'readBytes needs a ByteArray' });
    var want = length === undefined || Number(length) === 0 ? h.size - h.pos : Math.max(0, Math.floor(Number(length)));
    fill(this, h, h.pos, want);
    var off = h.pos - h.bufStart;
    var bytes = h.buf.subarray(off, off + want);
    h.pos += bytes.length;
    ba.__ssasWriteAt(Math.max(0, Math.floor(Number(offset) || 0)), bytes);
    return true;
  };

  // --- writing ---------------------------------------------------------------------------------------

  function writable(file, h, method) {
    if (h === null) return report(file, method, { code: 'ERR_FILE_NOT_OPEN', message: 'the file is not open' });
    if (!h.write) return report(file, method, { code: 'ERR_FILE_MODE', message: 'the file was not opened for writing' });
    return true;
  }

  /** Buffers text (or bytes) at the current position (the end, in append mode). */
  function put(file, h, data) {
    if (h.append) h.pos = h.size;
    if (h.wparts.length > 0 && h.wpos + h.wbytes !== h.pos) flushWrites(file, h);
    if (h.wparts.length === 0) h.wpos = h.pos;
    var n = typeof data === 'string' ? (h.type === 'binary' ? data.length : S.utf8.length(data)) : data.length;
    h.wparts.push(data);
    h.wbytes += n;
    h.pos += n;
    if (h.pos > h.size) h.size = h.pos;
    // What was read ahead may be stale now.
    if (h.buf.length > 0) {
      h.buf = new Uint8Array(0);
      h.ascii = null;
    }
    if (h.wbytes >= CHUNK) flushWrites(file, h);
  }

  function flushWrites(file, h) {
    if (h === null || h.wparts.length === 0) return;
    var parts = h.wparts;
    var allText = true;
    for (var i = 0; i < parts.length; i++) if (typeof parts[i] !== 'string') allText = false;
    var data;
    if (allText) data = parts.join('');
    else {
      var total = new Uint8Array(h.wbytes);
      var at = 0;
      for (var j = 0; j < parts.length; j++) {
        var p = typeof parts[j] === 'string' ? (h.type === 'binary' ? S.utf8.fromLatin1(parts[j]) : S.utf8.encode(parts[j])) : parts[j];
        total.set(p, at);
        at += p.length;
      }
      data = total;
    }
    S.emit({ op: 'fileWrite', id: h.id, pos: h.wpos, data: data, enc: h.type === 'binary' ? 'latin1' : 'utf8' });
    h.wparts = [];
    h.wbytes = 0;
  }

  function joinArgs(args) {
    var s = '';
    for (var i = 0; i < args.length; i++) s += String(args[i]);
    return s;
  }

  /** write(p1, ..., pN): the parameters as strings, one after another; true when buffered. */
  FP.write = function () {
    var h = this.__ssasOpen;
    if (!writable(this, h, 'write')) return false;
    put(this, h, joinArgs(arguments));
    return true;
  };

  /** writeln(p1, ..., pN): like write, then an end of line. */
  FP.writeln = function () {
    var h = this.__ssasOpen;
    if (!writable(this, h, 'writeln')) return false;
    put(this, h, joinArgs(arguments) + '\n');
    return true;
  };

  /** writeAll(array): writeln of each element. */
  FP.writeAll = function (array) {
    var h = this.__ssasOpen;
    if (!writable(this, h, 'writeAll')) return false;
    if (!array || typeof array.length !== 'number') return false;
    for (var i = 0; i < array.length; i++) put(this, h, String(array[i]) + '\n');
    return true;
  };

  /** writeByte(n): one byte (n & 0xff). */
  FP.writeByte = function (n) {
    var h = this.__ssasOpen;
    if (!writable(this, h, 'writeByte')) return false;
    put(this, h, new Uint8Array([Number(n) & 0xff]));
    return true;
  };

  /** writeBytes(byteArray[, offset[, length]]): bytes of the ByteArray (AMS 5). */
  FP.writeBytes = function (ba, offset, length) {
    var h = this.__ssasOpen;
    if (!writable(this, h, 'writeBytes')) return false;
    if (!ba || typeof ba.__ssasBytes !== 'function') return report(this, 'writeBytes', { code: 'ERR_FILE_MODE', message: 'writeBytes needs a ByteArray' });
    var all = ba.__ssasBytes();
    var off = Math.max(0, Math.floor(Number(offset) || 0));
    var len = length === undefined || Number(length) === 0 ? all.length - off : Math.max(0, Math.floor(Number(length)));
    put(this, h, new Uint8Array(all.subarray(off, off + len)));
    return true;
  };

  // --- the file system -------------------------------------------------------------------------------

  FP.list = function (filter) {
    var res = call(this, 'list', { t: 'fileList', path: this.__ssasPath });
    if (!res.ok) return null;
    var base = this.__ssasPath === '/' ? '' : this.__ssasPath;
    var out = [];
    for (var i = 0; i < res.value.length; i++) {
      var name = res.value[i];
      if (typeof filter === 'function') {
        var r = S.safeCall(this, filter, [name]);
        if (r.threw || !r.value) continue;
      }
      out.push(new File(base + '/' + name));
    }
    return out;
  };

  FP.mkdir = function (name) {
    return call(this, 'mkdir', { t: 'fileMkdir', path: this.__ssasPath, name: String(name) }).ok;
  };
  FP.createDirectory = FP.mkdir;

  FP.remove = function (recursive) {
    if (this.__ssasOpen !== null) this.close();
    return call(this, 'remove', { t: 'fileRemove', path: this.__ssasPath, recursive: recursive === true }).ok;
  };

  FP.renameTo = function (name) {
    var h = this.__ssasOpen;
    if (h !== null) this.close();
    var to = String(name);
    if (to.charAt(0) !== '/') to = '/' + to;
    var ok = call(this, 'renameTo', { t: 'fileRename', path: this.__ssasPath, to: to }).ok;
    if (ok) hidden(this, '__ssasPath', to);
    return ok;
  };

  FP.copyTo = function (name) {
    var h = this.__ssasOpen;
    if (h !== null) this.flush();
    return call(this, 'copyTo', { t: 'fileCopy', path: this.__ssasPath, to: String(name) }).ok;
  };

  FP.toString = function () {
    return this.__ssasPath;
  };

  Object.keys(FP).forEach(function (k) {
    Object.defineProperty(FP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'File', { value: File, writable: true, enumerable: false, configurable: true });

  // The instance may unload after onAppStop: what open files still buffer goes to the host first (the host
  // closes them after their last write).
  var stop = S.handlers.stop;
  S.handlers.stop = function (ev) {
    var r = stop(ev);
    openFiles.forEach(function (file) {
      flushWrites(file, file.__ssasOpen);
    });
    return r;
  };

  /** A write that failed after it was handed over: onStatus, and flush()/close() of that file say false. */
  S.handlers.fileError = function (ev) {
    var file = openFiles.get(ev.id);
    if (!file) return;
    var h = file.__ssasOpen;
    if (h) h.failed = true;
    report(file, ev.method, { code: ev.code, message: ev.message });
  };
}
