// @ts-check
/**
 * The sandbox core: everything script-side facades share. This file and the other sandbox/*.js files are
 * concatenated by src/script/sandbox-source.ts into one function that the host calls once per isolate with
 * its two host references; nothing here is reachable from user scripts except what the facades expose.
 *
 * Protocol (see src/script/runtime.ts for the host side):
 *  - The host calls dispatch(events, bytes, base) asynchronously; each event is handled in order, user code
 *    errors are caught per event, and at the end the "ops" the script produced (client calls, traces,
 *    accept/reject decisions, event results) go to the host in one fire-and-forget call. Ops that need no
 *    answer never cross the bridge on their own. `bytes` holds the packed client calls of the batch's
 *    `rcalls` events (sandbox/amf.js); their encoded results travel as `results` ops, in program order with
 *    the other ops.
 *  - Script calls that need an answer at once (Stream.length, File reads, ping...) go through hostCall, which
 *    first hands over the ops queued so far, so the host sees everything in program order.
 *  - progress[0] is incremented at the start of every event: the host's watchdog uses it to tell a busy
 *    event from a stuck one.
 */

/** Marker key of tagged values crossing the bridge (see src/script/marshal.ts). */
var TAG = '\u0001';

/**
 * @param {any} hostSync  ivm Reference to the host's synchronous call handler
 * @param {any} hostAsync ivm Reference to the host's asynchronous call handler (used with applySyncPromise)
 * @param {any} hostOps  ivm Reference that takes the ops of a finished dispatch (fire and forget)
 * @param {Int32Array} progress shared with the host watchdog
 * @param {any} boot       copied boot information (application name, server version, config...)
 */
function ssasCore(hostSync, hostAsync, hostOps, progress, boot) {
  /** @type {any[]} */
  var ops = [];
  var global = globalThis;
  if (!(progress instanceof Int32Array)) progress = new Int32Array(progress);
  /** Sources of loaded scripts by file name, for Application.Script.Error linebuf. */
  /** @type {Record<string, string[]>} */
  var sources = Object.create(null);
  /** Registered classes (application.registerClass). */
  /** @type {Map<string, Function>} */
  var classes = new Map();
  /** @type {Map<Function, string>} */
  var classNames = new Map();
  var secureMode = false;

  var S = {
    boot: boot,
    global: global,
    /** @type {Record<string, Function>} event handlers by event kind, filled by the facade files */
    handlers: Object.create(null),
    classes: classes,
    classNames: classNames,
    sources: sources,
    /** @type {any} set by application.js */
    application: null,
    get secureMode() {
      return secureMode;
    },
    set secureMode(v) {
      secureMode = v;
    },

    /** Queues an op for the host (handed over with the dispatch result or before the next host call). */
    emit: function (op) {
      // Encoded call results (sandbox/amf.js) go before any later op: the host sees program order.
      if (S.amf.hasResults()) ops.push(S.amf.takeResults());
      ops.push(op);
    },

    /**
     * Hands the queued ops to the host without waiting for it (the end of a dispatch). isolated-vm delivers
     * this and later host calls in order, so the host always sees the script's effects in program order.
     */
    flushOps: function () {
      // Called once at the end of every dispatch, even with nothing to hand over: it also tells the host
      // that the dispatch finished.
      deliverOps(takeOps());
    },

    /** Hands the queued ops to the host at the end of a shell statement, which is not a dispatch. */
    flushStatementOps: function () {
      deliverOps(takeOps(), true);
    },

    /** Events raised inside the sandbox, run by the dispatcher after the current batch (see S.later). */
    laterQueue: [],
    /** Queues an event (as the host would post it) to run once the current batch of events has run. */
    later: function (event) {
      S.laterQueue.push(event);
    },

    /** Synchronous request to the host; the queued ops go first so the host sees program order. */
    hostCall: function (req) {
      return unwrapHostResult(callHost(hostSync, 'applySync', req, { arguments: { copy: true }, result: { copy: true } }));
    },

    /** Like hostCall, but the host may take time (network, files); this event's code waits, the server does not. */
    hostCallAsync: function (req) {
      return unwrapHostResult(callHost(hostAsync, 'applySyncPromise', req, { arguments: { copy: true } }));
    },

    /** A handler's result meaning "answered already" (an encoded call result): no done op. */
    HANDLED: { handled: true },
    /** Host offset of the first byte of the current dispatch's packed call arguments. */
    callBase: 0,
    /**
     * A handler failed in a way user code did not catch (a sandbox bug or a hostile value): logged by the
     * host, and the event's result, which the host answers as "Internal error.".
     */
    internalFailure: function (err) {
      var message = String((err && err.stack) || err);
      S.emit({ op: 'internalError', message: message });
      return { internalError: message };
    },
    isTermination: isTermination,
    toHost: toHost,
    fromHost: fromHost,
    errorInfo: errorInfo,
    reportError: reportError,
    safeCall: safeCall,
    runScript: runScript,
    progress: progress,
  };

  /** The queued ops (encoded results included), leaving the queue empty. */
  function takeOps() {
    if (S.amf.hasResults()) ops.push(S.amf.takeResults());
    var out = ops;
    ops = [];
    return out;
  }

  function unwrapHostResult(res) {
    if (res && typeof res === 'object' && res.error) {
      var e = new Error(res.error.message);
      if (res.error.name) e.name = res.error.name;
      /** @type {any} */ (e).code = res.error.code;
      throw e;
    }
    return res ? fromHost(res.value) : undefined;
  }

  // --- values -------------------------------------------------------------------------------------------

  /** Converts a script value into a copyable tagged form the host turns back into AMF values. */
  /**
   * True when a value can be handed to the host as it is (the structured clone copies it): plain objects
   * and arrays of primitives and Dates, no functions, no registered classes or host facades, and no
   * inherited enumerable properties anywhere (for-in would serialise those; the clone would not).
   */
  function isPlainData(v, depth) {
    if (v === null || typeof v !== 'object') return typeof v !== 'function' && typeof v !== 'symbol' && typeof v !== 'bigint';
    if (depth > 16) return false;
    if (v instanceof Date) return true;
    var proto = Object.getPrototypeOf(v);
    if (Array.isArray(v)) {
      if (proto !== Array.prototype) return false;
      var n = 0;
      for (var k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) return false;
        n++;
      }
      if (n !== v.length) return false;
      for (var i = 0; i < v.length; i++) if (!isPlainMember(v, String(i), depth)) return false;
      return true;
    }
    if (proto !== Object.prototype) return false;
    for (var key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key) || key === TAG) return false;
      if (!isPlainMember(v, key, depth)) return false;
    }
    return true;
  }

  /** A data property holding plain data (an accessor is not: the clone would run it a second time). */
  function isPlainMember(v, key, depth) {
    var desc = Object.getOwnPropertyDescriptor(v, key);
    return desc !== undefined && 'value' in desc && isPlainData(desc.value, depth + 1);
  }

  /**
   * A deep copy of ops made only of plain objects, arrays and primitives (tags kept), for when the clone of
   * the ops failed: a script value isolated-vm cannot copy (a Proxy passes isPlainData) costs that value,
   * not the instance.
   */
  function plainCopy(value) {
    var seen = new Map();
    function conv(v, depth) {
      if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? undefined : typeof v === 'bigint' ? Number(v) : v;
      if (depth > 256) return null;
      if (seen.has(v)) return seen.get(v);
      if (v instanceof Date) return new Date(v.getTime());
      if (v instanceof Uint8Array) return new Uint8Array(v);
      var out = Array.isArray(v) ? [] : {};
      seen.set(v, out);
      var keys = Object.keys(v);
      for (var i = 0; i < keys.length; i++) out[keys[i]] = conv(v[keys[i]], depth + 1);
      return out;
    }
    return conv(value, 0);
  }

  /**
   * Hands ops to the host (fire and forget); an uncopyable value is copied plainly, or fails its call.
   * `statement`: these end a shell statement, not a dispatch.
   */
  function deliverOps(out, statement) {
    var marker = statement === true;
    try {
      hostOps.applyIgnored(undefined, [out, marker], { arguments: { copy: true } });
      return;
    } catch (err) {
      var why = String((err && err.message) || err);
      try {
        hostOps.applyIgnored(undefined, [plainCopy(out), marker], { arguments: { copy: true } });
        return;
      } catch (err2) {
        // Keep the bookkeeping: every awaited result still arrives (as an internal error).
        /** @type {any[]} */
        var minimal = [{ op: 'internalError', message: 'ops could not be copied to the host: ' + why }];
        for (var i = 0; i < out.length; i++) {
          var op = out[i];
          if (op && op.op === 'done') minimal.push({ op: 'done', seq: op.seq, value: { internalError: why } });
          else if (op && op.op === 'results') minimal.push(op);
        }
        hostOps.applyIgnored(undefined, [minimal, marker], { arguments: { copy: true } });
      }
    }
  }

  /** A synchronous host call; if the queued ops cannot be copied they go first on their own. */
  function callHost(ref, method, req, opts) {
    var pending = takeOps();
    try {
      return ref[method](undefined, [pending, req], opts);
    } catch (err) {
      if (pending.length === 0) throw err;
      deliverOps(pending);
      return ref[method](undefined, [[], req], opts);
    }
  }

  function toHost(value) {
    if (value === null || typeof value !== 'object' || isPlainData(value, 0)) {
      if (typeof value === 'function' || typeof value === 'symbol') return undefined;
      if (typeof value === 'bigint') return Number(value);
      return value;
    }
    var seen = new Map();
    function conv(v, depth) {
      if (v === null || typeof v !== 'object') {
        if (typeof v === 'function' || typeof v === 'symbol') return undefined;
        if (typeof v === 'bigint') return Number(v);
        return v;
      }
      if (seen.has(v)) return seen.get(v);
      if (depth > 256) return null;
      if (v instanceof Date) return new Date(v.getTime());
      if (v instanceof Uint8Array) return new Uint8Array(v);
      if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
      if (typeof v.__ssasToHost === 'function') {
        var special = v.__ssasToHost();
        seen.set(v, special);
        return special;
      }
      if (Array.isArray(v)) {
        var out = [];
        seen.set(v, out);
        var named = null;
        var keys = Object.keys(v);
        for (var i = 0; i < keys.length; i++) {
          var k = keys[i];
          var idx = Number(k);
          if (String(idx >>> 0) === k && idx < 4294967295) continue;
          if (typeof v[k] === 'function') continue;
          if (named === null) named = {};
          named[k] = conv(v[k], depth + 1);
        }
        for (var j = 0; j < v.length; j++) out[j] = conv(v[j], depth + 1);
        if (named !== null) {
          var tagged = {};
          tagged[TAG] = 'A';
          tagged.d = out;
          tagged.p = named;
          seen.set(v, tagged);
          return tagged;
        }
        return out;
      }
      var props = {};
      var cls = classNames.get(v.constructor);
      var result = props;
      if (cls !== undefined) {
        result = {};
        result[TAG] = 'T';
        result.c = cls;
        result.p = props;
      }
      seen.set(v, result);
      for (var key in v) {
        // for-in includes inherited enumerable properties, as SpiderMonkey serialised them; skip functions.
        var pv = v[key];
        if (typeof pv === 'function' || key === TAG) continue;
        props[key] = conv(pv, depth + 1);
      }
      return result;
    }
    return conv(value, 0);
  }

  /** Converts a tagged host value into script values (registered classes get their prototype). */
  /** Converts a tagged host value into script values in place (it is always a fresh copy from the host). */
  function fromHost(value) {
    if (value === null || typeof value !== 'object') return value;
    var seen = new Map();
    function conv(v) {
      if (v === null || typeof v !== 'object') return v;
      if (v instanceof Uint8Array) return wrapBytes(v);
      if (v instanceof Date) return v;
      if (seen.has(v)) return seen.get(v);
      if (Array.isArray(v)) {
        seen.set(v, v);
        for (var i = 0; i < v.length; i++) {
          var c = conv(v[i]);
          if (c !== v[i]) v[i] = c;
        }
        return v;
      }
      var tag = v[TAG];
      if (tag !== undefined) return convTagged(v, tag);
      seen.set(v, v);
      for (var k in v) {
        var ck = conv(v[k]);
        if (ck !== v[k]) v[k] = ck;
      }
      return v;
    }
    function convTagged(v, tag) {
      switch (tag) {
        case 'A': {
          var a = [];
          seen.set(v, a);
          for (var i = 0; i < v.d.length; i++) a[i] = conv(v.d[i]);
          for (var k in v.p) a[k] = conv(v.p[k]);
          return a;
        }
        case 'E': {
          // ECMA arrays arrive as Arrays with named properties, as SpiderMonkey made them.
          var e = [];
          seen.set(v, e);
          for (var ek in v.p) e[ek] = conv(v.p[ek]);
          return e;
        }
        case 'T': {
          var ctor = classes.get(v.c);
          var obj = ctor ? Object.create(ctor.prototype) : {};
          seen.set(v, obj);
          if (ctor) {
            try {
              ctor.call(obj);
            } catch (err) {
              reportError(err);
            }
          }
          for (var tk in v.p) obj[tk] = conv(v.p[tk]);
          if (ctor && typeof obj.onInitialize === 'function') {
            try {
              obj.onInitialize();
            } catch (err2) {
              reportError(err2);
            }
          }
          return obj;
        }
        case 'X':
        case 'X3':
          return S.makeXml ? S.makeXml(v.s, tag === 'X3') : v.s;
        case 'V': {
          var items = [];
          seen.set(v, items);
          for (var vi = 0; vi < v.i.length; vi++) items[vi] = conv(v.i[vi]);
          return items;
        }
        case 'D': {
          var d = {};
          seen.set(v, d);
          for (var di = 0; di < v.e.length; di++) d[String(conv(v.e[di][0]))] = conv(v.e[di][1]);
          return d;
        }
        default:
          return null;
      }
    }
    return conv(value);
  }

  function wrapBytes(v) {
    if (v instanceof Date) return new Date(v.getTime());
    return S.makeByteArray ? S.makeByteArray(v) : v;
  }

  // --- errors -------------------------------------------------------------------------------------------

  /** The Application.Script.Error info object for an error thrown by user code. */
  function errorInfo(err) {
    var message = err && typeof err === 'object' && 'message' in err ? String(err.name ? err.name + ': ' + err.message : err.message) : String(err);
    var where = locate(err);
    var info = { level: 'error', code: 'Application.Script.Error', description: message };
    if (where) {
      info.filename = where.file;
      info.lineno = where.line;
      var lines = sources[where.file];
      if (lines && lines[where.line - 1] !== undefined) info.linebuf = lines[where.line - 1];
    }
    return info;
  }

  /** The first stack frame in a user script (not in the sandbox itself). */
  function locate(err) {
    var stack = err && typeof err === 'object' && typeof err.stack === 'string' ? err.stack : '';
    var re = /(?:at |@)(?:.*?\()?([^()\s]+?):(\d+):(\d+)\)?/g;
    var m;
    while ((m = re.exec(stack)) !== null) {
      var file = m[1];
      if (file.indexOf('ssas-sandbox') >= 0 || file === '<isolated-vm>' || file === 'native') continue;
      if (sources[file] !== undefined) return { file: file, line: Number(m[2]) };
    }
    if (err && typeof err === 'object' && err.__ssasFile) return { file: err.__ssasFile, line: err.__ssasLine || 0 };
    return null;
  }

  /** Reports an error of user code: application.onStatus gets Application.Script.Error, the host logs it. */
  function reportError(err) {
    var info = errorInfo(err);
    S.emit({ op: 'scriptError', info: info });
    var app = S.application;
    if (app && typeof app.onStatus === 'function') {
      try {
        app.onStatus(info);
      } catch (inner) {
        S.emit({ op: 'scriptError', info: errorInfo(inner) });
      }
    }
    return info;
  }

  /**
   * Calls obj[name] (or fn) with `this` = obj; errors are reported and give {threw: true}.
   * @returns {{ value?: any, threw?: boolean, error?: any, info?: any }}
   */
  function safeCall(obj, fn, args) {
    try {
      return { value: fn.apply(obj, args) };
    } catch (err) {
      if (isTermination(err)) throw err;
      return { threw: true, error: err, info: reportError(err) };
    }
  }

  function isTermination(err) {
    return err && typeof err === 'object' && err.__ssasFatal === true;
  }

  /** Runs script source at global scope, sloppy mode, with its file name in stack traces. */
  function runScript(code, filename) {
    sources[filename] = code.split('\n');
    // Indirect eval: global scope, sloppy mode (legacy scripts rely on implicit globals); sourceURL gives
    // stack traces the script's own file name and line numbers.
    var indirectEval = eval;
    return indirectEval(code + '\n//# sourceURL=' + filename);
  }

  return S;
}
