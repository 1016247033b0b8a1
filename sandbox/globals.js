// @ts-check
/**
 * The SSAS global functions (ssas-api.md section 1): trace, load, setInterval, clearInterval, and the
 * secure-mode trio getGlobal, protectObject, setAttributes. setTimeout is deliberately absent: FMS had none
 * and legacy scripts test `typeof setTimeout` before defining their own.
 */
function ssasGlobals(S) {
  var g = S.global;
  /** @type {Map<number, { target: any, fn: any, args: any[] }>} */
  var intervals = new Map();
  var nextInterval = 1;

  function define(name, value) {
    Object.defineProperty(g, name, { value: value, writable: true, enumerable: false, configurable: true });
  }

  define('trace', function trace(expr) {
    var s;
    try {
      s = arguments.length === 0 ? '' : String(expr);
    } catch (err) {
      s = '[unprintable value]';
    }
    S.emit({ op: 'trace', msg: s });
  });

  define('load', function load(path) {
    // Synchronous for the script (the next line may use what the file defines); the host reads the file
    // while only this instance waits.
    var res = S.hostCallAsync({ t: 'load', path: String(path) });
    S.runScript(res.code, res.filename);
  });

  /** Intervals one instance may have at once (setInterval beyond it returns -1). */
  var MAX_INTERVALS = 1000;

  define('setInterval', function setInterval(a, b, c) {
    var target = null;
    var fn;
    var ms;
    var args;
    if (typeof a === 'function') {
      fn = a;
      ms = b;
      args = Array.prototype.slice.call(arguments, 2);
    } else if (a !== null && typeof a === 'object' && typeof b === 'string') {
      // AS1 form: setInterval(object, "methodName", ms, ...args); the method is looked up at each call.
      target = a;
      fn = b;
      ms = c;
      args = Array.prototype.slice.call(arguments, 3);
    } else {
      return -1;
    }
    ms = Number(ms);
    if (!(ms >= 0)) ms = 0;
    if (intervals.size >= MAX_INTERVALS) {
      // An interval storm: refused like a bad argument; the host logs it (once a second at most).
      S.emit({ op: 'intervalRefused', limit: MAX_INTERVALS });
      return -1;
    }
    var id = nextInterval++;
    intervals.set(id, { target: target, fn: fn, args: args });
    S.emit({ op: 'setInterval', id: id, ms: ms });
    return id;
  });

  define('clearInterval', function clearInterval(id) {
    id = Number(id);
    if (intervals.delete(id)) S.emit({ op: 'clearInterval', id: id });
  });

  S.handlers.interval = function (ev) {
    var it = intervals.get(ev.id);
    if (!it) return;
    if (it.target !== null) {
      var m = it.target[it.fn];
      if (typeof m === 'function') S.safeCall(it.target, m, it.args);
      return;
    }
    S.safeCall(g, it.fn, it.args);
  };

  S.clearIntervals = function () {
    intervals.clear();
  };

  // --- secure mode (secure.asc) -------------------------------------------------------------------------

  var secureFunctions = {
    getGlobal: function getGlobal() {
      return g;
    },
    protectObject: function protectObject(obj) {
      if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return obj;
      // A "C wrapper": methods can be called, nothing can be read, listed or changed.
      return new Proxy(Object.create(null), {
        get: function (_t, key) {
          var v = obj[key];
          if (typeof v !== 'function') return undefined;
          return function () {
            return v.apply(obj, arguments);
          };
        },
        set: function () {
          return false;
        },
        defineProperty: function () {
          return false;
        },
        deleteProperty: function () {
          return false;
        },
        ownKeys: function () {
          return [];
        },
        has: function (_t, key) {
          return typeof obj[key] === 'function';
        },
        getOwnPropertyDescriptor: function () {
          return undefined;
        },
        getPrototypeOf: function () {
          return null;
        },
        setPrototypeOf: function () {
          return false;
        },
      });
    },
  };

  /** setAttributes(obj, name, enumerable, readonly, permanent); null leaves an attribute unchanged. */
  define('setAttributes', function setAttributes(obj, name, enumerable, readonly, permanent) {
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return false;
    var d = Object.getOwnPropertyDescriptor(obj, name);
    if (!d) return false;
    if (!d.configurable) return false;
    /** @type {PropertyDescriptor} */
    var nd = {};
    if (enumerable !== null && enumerable !== undefined) nd.enumerable = !!enumerable;
    if ('value' in d && readonly !== null && readonly !== undefined) nd.writable = !readonly;
    if (permanent !== null && permanent !== undefined) nd.configurable = !permanent;
    try {
      Object.defineProperty(obj, name, nd);
      return true;
    } catch (err) {
      return false;
    }
  });

  S.enterSecureMode = function () {
    S.secureMode = true;
    define('getGlobal', secureFunctions.getGlobal);
    define('protectObject', secureFunctions.protectObject);
  };

  S.leaveSecureMode = function () {
    S.secureMode = false;
    // Outside secure.asc these functions do not exist (FMS switches to normal mode for good).
    delete g.getGlobal;
    delete g.protectObject;
  };
}
