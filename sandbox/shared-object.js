// @ts-check
/**
 * The script-side SharedObject class (ssas-api.md 5). The objects live in the host (src/server/
 * shared-objects.ts); reads are host calls that first hand over the queued writes, so a script always reads
 * what it wrote. onSync, send() handlers and onStatus arrive as events. As FMS documents, onSync must be set
 * on each object: assigning SharedObject.prototype.onSync does not work.
 */
function ssasSharedObject(S) {
  var g = S.global;
  /** @type {Map<string, any>} */
  var objects = new Map();

  function SharedObject() {
    throw new Error('SharedObject objects are created with SharedObject.get(name, persistence)');
  }

  function keyOf(name, persistent) {
    return (persistent ? 'P:' : 'T:') + name;
  }

  function req(so, t, extra) {
    var r = { t: t, name: so.name, persistent: so.__ssasPersistent };
    if (extra) for (var k in extra) r[k] = extra[k];
    return r;
  }

  function emit(so, op, extra) {
    var o = { op: op, name: so.name, persistent: so.__ssasPersistent };
    if (extra) for (var k in extra) o[k] = extra[k];
    S.emit(o);
  }

  SharedObject.get = function (name, persistence, netConnection) {
    if (typeof name !== 'string' || name === '') return null;
    var persistent = persistence === true;
    var ncId = netConnection === undefined || netConnection === null ? undefined : S.ncId(netConnection);
    var r = S.hostCall({ t: 'soGet', name: name, persistent: persistent, nc: ncId });
    if (r && r.error) {
      S.emit({ op: 'trace', msg: 'SharedObject.get(' + name + '): ' + r.error });
      return null;
    }
    var key = keyOf(name, persistent);
    var so = objects.get(key);
    if (so) return so;
    so = Object.create(SharedObject.prototype);
    Object.defineProperty(so, 'name', { value: name, enumerable: true });
    Object.defineProperty(so, '__ssasPersistent', { value: persistent, enumerable: false });
    Object.defineProperty(so, 'version', {
      enumerable: true,
      get: function () {
        return S.hostCall(req(so, 'soVersion'));
      },
    });
    Object.defineProperty(so, 'isDirty', {
      enumerable: true,
      get: function () {
        return S.hostCall(req(so, 'soIsDirty'));
      },
    });
    Object.defineProperty(so, 'resyncDepth', {
      enumerable: true,
      get: function () {
        var d = S.hostCall(req(so, 'soResyncDepth'));
        return d < 0 ? Infinity : d;
      },
      set: function (v) {
        var n = Number(v);
        emit(so, 'soSetResyncDepth', { value: n === Infinity || !(n >= 0) ? -1 : Math.floor(n) });
      },
    });
    Object.defineProperty(so, 'autoCommit', {
      enumerable: true,
      get: function () {
        return S.hostCall(req(so, 'soAutoCommit'));
      },
      set: function (v) {
        emit(so, 'soSetAutoCommit', { value: !!v });
      },
    });
    objects.set(key, so);
    return so;
  };

  SharedObject.commit = function (name) {
    return S.hostCall({ t: 'soCommit', name: name === undefined ? undefined : String(name) }) === true;
  };

  var P = SharedObject.prototype;
  P.getProperty = function (name) {
    var v = S.hostCall(req(this, 'soGetProperty', { key: String(name) }));
    return v === null ? undefined : v;
  };
  P.setProperty = function (name, value) {
    emit(this, 'soSet', { key: String(name), value: S.toHost(value === undefined ? null : value) });
  };
  P.getPropertyNames = function () {
    return S.hostCall(req(this, 'soNames'));
  };
  P.size = function () {
    return S.hostCall(req(this, 'soSize'));
  };
  P.clear = function () {
    emit(this, 'soClear');
    return true;
  };
  P.lock = function () {
    return S.hostCall(req(this, 'soLock'));
  };
  P.unlock = function () {
    return S.hostCall(req(this, 'soUnlock'));
  };
  P.send = function (handlerName) {
    emit(this, 'soSend', { handler: String(handlerName), args: S.toHost(Array.prototype.slice.call(arguments, 1)) });
    return true;
  };
  P.mark = function (handlerName) {
    emit(this, 'soMark', { handler: String(handlerName), args: S.toHost(Array.prototype.slice.call(arguments, 1)) });
    return true;
  };
  P.flush = function () {
    return S.hostCall(req(this, 'soFlush')) === true;
  };
  P.purge = function (version) {
    emit(this, 'soPurge', { version: Number(version) });
    return true;
  };
  P.close = function () {
    objects.delete(keyOf(this.name, this.__ssasPersistent));
    emit(this, 'soClose');
  };
  Object.keys(P).forEach(function (k) {
    Object.defineProperty(P, k, { enumerable: false });
  });
  Object.defineProperty(g, 'SharedObject', { value: SharedObject, writable: true, enumerable: false, configurable: true });

  S.handlers.soSync = function (ev) {
    var so = objects.get(ev.key);
    // Only an onSync set on the object itself runs (FMS: the prototype's does not).
    if (!so || !Object.prototype.hasOwnProperty.call(so, 'onSync') || typeof so.onSync !== 'function') return;
    S.safeCall(so, so.onSync, [S.fromHost(ev.list) || []]);
  };

  S.handlers.soSend = function (ev) {
    var so = objects.get(ev.key);
    if (!so) return;
    var fn = so[ev.handler];
    if (typeof fn === 'function') S.safeCall(so, fn, S.fromHost(ev.args) || []);
  };

  S.handlers.soStatus = function (ev) {
    var so = objects.get(ev.key);
    var inf = S.fromHost(ev.info);
    if (so && typeof so.onStatus === 'function') S.safeCall(so, so.onStatus, [inf]);
    else S.statusFallback(inf);
  };

  var clearSharedObjects = function (path) {
    return S.hostCall({ t: 'soClearAll', path: String(path) }) === true;
  };
  Object.defineProperty(Object.getPrototypeOf(S.application), 'clearSharedObjects', { value: clearSharedObjects, enumerable: false, writable: true });
}
