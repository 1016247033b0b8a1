// @ts-check
/**
 * The script-side `application` object and `Client` class (ssas-api.md sections 2 and 3). The host owns the
 * truth (sessions, sockets, access checks); these facades mirror what scripts read often (client properties,
 * application.clients) and turn what scripts do into ops.
 */
function ssasApplication(S) {
  var g = S.global;
  var boot = S.boot;
  /** Facades of every client the host told us about, by client id. */
  /** @type {Map<string, any>} */
  var clients = new Map();
  /** Raw (unproxied) client objects, for property mirroring. */
  /** @type {Map<string, any>} */
  var raw = new Map();
  /** Result objects of Client.call, by request id. */
  /** @type {Map<number, any>} */
  var responders = new Map();
  var nextRid = 1;
  /** The client whose onConnect is running, and whether the script decided inside it. */
  var connecting = null;
  var decided = false;

  function readonly(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, writable: false, enumerable: true, configurable: false });
  }

  // --- Client ------------------------------------------------------------------------------------------

  function Client() {
    throw new Error('Client objects are created by the server when a client connects');
  }

  function idOf(client) {
    var id = client && client.__ssasClientId;
    return typeof id === 'string' ? id : null;
  }

  Client.prototype.call = function (methodName, resultObj) {
    var cid = idOf(this);
    if (cid === null || !clients.has(cid)) return false;
    var args = Array.prototype.slice.call(arguments, 2);
    var rid = 0;
    if (resultObj !== null && resultObj !== undefined && typeof resultObj === 'object') {
      rid = nextRid++;
      responders.set(rid, resultObj);
    }
    S.emit({ op: 'call', cid: cid, method: String(methodName), rid: rid, args: S.toHost(args) });
    return true;
  };

  Client.prototype.ping = function () {
    var cid = idOf(this);
    if (cid === null) return false;
    return S.hostCallAsync({ t: 'ping', cid: cid }) === true;
  };

  Client.prototype.getStats = function () {
    var cid = idOf(this);
    if (cid === null) return null;
    return S.hostCall({ t: 'clientStats', cid: cid });
  };

  Client.prototype.getBandwidthLimit = function (direction) {
    var cid = idOf(this);
    if (cid === null) return 0;
    return S.hostCall({ t: 'bandwidthLimit', cid: cid, direction: Number(direction) === 0 ? 0 : 1 });
  };

  Client.prototype.setBandwidthLimit = function (serverToClient, clientToServer) {
    var cid = idOf(this);
    if (cid === null) return;
    S.emit({ op: 'setBandwidthLimit', cid: cid, down: Number(serverToClient) || 0, up: Number(clientToServer) || 0 });
  };

  Client.prototype.checkBandwidth = function () {
    var cid = idOf(this);
    if (cid !== null) S.emit({ op: 'checkBandwidth', cid: cid });
  };

  Client.prototype.__ssasToHost = function () {
    // A Client passed as a value travels as a plain snapshot of its properties (FMS serialised it likewise).
    /** @type {Record<string, any>} */
    var snap = {};
    /** @type {any} */
    var self = this;
    for (var k in self) {
      var v = self[k];
      if (typeof v !== 'function' && k.indexOf('__ssas') !== 0) snap[k] = v;
    }
    return S.toHost(snap);
  };

  Object.defineProperty(Client.prototype, '__ssasToHost', { enumerable: false });
  ['call', 'ping', 'getStats', 'getBandwidthLimit', 'setBandwidthLimit', 'checkBandwidth'].forEach(function (m) {
    Object.defineProperty(Client.prototype, m, { enumerable: false });
  });

  Object.defineProperty(g, 'Client', { value: Client, writable: true, enumerable: false, configurable: true });

  var RW_PROPS = ['readAccess', 'writeAccess', 'audioSampleAccess', 'videoSampleAccess', 'virtualKey'];
  var RO_PROPS = ['id', 'ip', 'agent', 'referrer', 'pageUrl', 'uri', 'protocol', 'objectEncoding', 'farAddress', 'nearAddress', 'secure'];
  var RTMFP_PROPS = ['farID', 'nearID', 'farNonce', 'nearNonce'];

  /** Builds the facade of a newly connecting client: a Client whose unknown names go to __resolve. */
  function makeClient(cid, props) {
    var c = Object.create(Client.prototype);
    Object.defineProperty(c, '__ssasClientId', { value: cid, enumerable: false });
    RO_PROPS.forEach(function (k) {
      readonly(c, k, props[k]);
    });
    // FMS 4 RTMFP client properties: only RTMFP clients have them.
    if (props.protocol === 'rtmfp') {
      RTMFP_PROPS.forEach(function (k) {
        readonly(c, k, props[k]);
      });
    }
    var values = {};
    RW_PROPS.forEach(function (k) {
      values[k] = props[k] === undefined ? '' : String(props[k]);
      Object.defineProperty(c, k, {
        enumerable: true,
        configurable: false,
        get: function () {
          return values[k];
        },
        set: function (v) {
          v = v === null || v === undefined ? '' : String(v);
          // "A legal key can be any string that does not contain the characters * or :"; others are ignored.
          if (k === 'virtualKey' && /[*:]/.test(v)) return;
          values[k] = v;
          S.emit({ op: 'clientSet', cid: cid, key: k, value: v });
        },
      });
    });
    raw.set(cid, c);
    var proxy = new Proxy(c, {
      get: function (target, key, receiver) {
        if (typeof key !== 'string' || key in target) return Reflect.get(target, key, receiver);
        if (key === '__resolve' || key === 'then' || key === 'toJSON' || key === 'constructor' || key.indexOf('__ssas') === 0) {
          return undefined;
        }
        var resolve = target.__resolve;
        if (typeof resolve === 'function') return resolve.call(receiver, key);
        return undefined;
      },
    });
    clients.set(cid, proxy);
    return proxy;
  }

  // --- application ---------------------------------------------------------------------------------------

  function Application() {}
  var app = new Application();
  S.application = app;
  /** @type {any[]} */
  var clientList = [];
  readonly(app, 'name', boot.name);
  readonly(app, 'server', boot.server);
  readonly(app, 'hostname', boot.hostname);
  readonly(app, 'config', Object.assign({}, boot.config || {}));
  readonly(app, 'clients', clientList);
  app.allowDebug = !!boot.allowDebug;

  /** Clients already accepted, rejected or redirected: a second decision is refused (false). */
  var decidedIds = new Set();

  function decide(client, op) {
    var cid = idOf(client);
    if (cid === null || !clients.has(cid) || decidedIds.has(cid)) return false;
    decidedIds.add(cid);
    op.cid = cid;
    if (connecting === cid) decided = true;
    if (op.op === 'accept') {
      if (clientList.indexOf(client) < 0) clientList.push(client);
    }
    S.emit(op);
    return true;
  }

  var P = Application.prototype;
  P.acceptConnection = function (client) {
    return decide(client, { op: 'accept' });
  };
  P.rejectConnection = function (client, errObj) {
    return decide(client, { op: 'reject', application: S.toHost(errObj) });
  };
  P.redirectConnection = function (client, url, description, errObj) {
    if (url === undefined || url === null || url === '') return P.rejectConnection(client, errObj);
    return decide(client, {
      op: 'redirect',
      url: String(url),
      description: description === undefined ? undefined : String(description),
      application: S.toHost(errObj),
    });
  };
  P.broadcastMsg = function (cmd) {
    S.emit({ op: 'broadcast', method: String(cmd), args: S.toHost(Array.prototype.slice.call(arguments, 1)) });
  };
  P.disconnect = function (client) {
    var cid = idOf(client);
    if (cid === null || !clients.has(cid)) return false;
    S.emit({ op: 'disconnect', cid: cid });
    return true;
  };
  P.getStats = function () {
    return S.hostCall({ t: 'appStats' });
  };
  P.gc = function () {};
  P.shutdown = function () {
    S.emit({ op: 'shutdown' });
    return true;
  };
  P.registerClass = function (className, ctor) {
    className = String(className);
    var old = S.classes.get(className);
    if (old) S.classNames.delete(old);
    if (ctor === null || ctor === undefined) {
      S.classes.delete(className);
      return;
    }
    if (typeof ctor !== 'function') throw new TypeError('registerClass: constructor must be a function');
    S.classes.set(className, ctor);
    S.classNames.set(ctor, className);
  };
  Object.keys(P).forEach(function (k) {
    Object.defineProperty(P, k, { enumerable: false });
  });

  Object.defineProperty(g, 'application', { value: app, writable: false, enumerable: false, configurable: false });

  // --- events --------------------------------------------------------------------------------------------

  S.handlers.start = function (ev) {
    if (ev.secure) {
      S.enterSecureMode();
      try {
        S.runScript(ev.secure.code, ev.secure.filename);
      } catch (err) {
        S.reportError(err);
      }
    }
    S.leaveSecureMode();
    if (ev.main) {
      try {
        S.runScript(ev.main.code, ev.main.filename);
      } catch (err) {
        S.reportError(err);
      }
    }
    if (typeof app.onAppStart === 'function') S.safeCall(app, app.onAppStart, []);
    return true;
  };

  S.handlers.connect = function (ev) {
    var client = makeClient(ev.cid, ev.client);
    var args = S.fromHost(ev.args) || [];
    if (typeof app.onConnect !== 'function') {
      decide(client, { op: 'accept' });
      return 'accept';
    }
    connecting = ev.cid;
    decided = false;
    var r;
    try {
      r = S.safeCall(app, app.onConnect, [client].concat(args));
    } finally {
      connecting = null;
    }
    if (decided) return 'decided';
    if (r.threw) {
      decide(client, { op: 'reject', application: S.toHost({ message: r.info.description }) });
      return 'reject';
    }
    // Only the Booleans decide; 1/0, null, undefined and objects leave the client pending (FMS rule).
    if (r.value === true) decide(client, { op: 'accept' });
    else if (r.value === false) decide(client, { op: 'reject' });
    return 'pending';
  };

  S.handlers.disconnect = function (ev) {
    var client = clients.get(ev.cid);
    if (!client) return;
    var i = clientList.indexOf(client);
    if (i >= 0) {
      clientList.splice(i, 1);
      if (typeof app.onDisconnect === 'function') S.safeCall(app, app.onDisconnect, [client]);
    }
    clients.delete(ev.cid);
    raw.delete(ev.cid);
    decidedIds.delete(ev.cid);
  };

  /** Finds the function a client call names: own/prototype/__resolve, then dotted or slashed paths. */
  function findMethod(client, name, target) {
    // The facade's get trap sends names the client lacks to __resolve; names it has are read as the trap
    // would read them (receiver = the facade), without going through the Proxy.
    var fn = target !== undefined && name in target ? Reflect.get(target, name, client) : client[name];
    if (typeof fn === 'function') return { self: client, fn: fn };
    var parts = name.split(/[./]/);
    if (parts.length < 2) return null;
    var self = client;
    for (var i = 0; i < parts.length - 1; i++) {
      self = self[parts[i]];
      if (self === null || self === undefined || (typeof self !== 'object' && typeof self !== 'function')) return null;
    }
    fn = self[parts[parts.length - 1]];
    return typeof fn === 'function' ? { self: self, fn: fn } : null;
  }

  S.handlers.call = function (ev) {
    var client = clients.get(ev.cid);
    if (!client) return { notFound: true };
    var m = findMethod(client, ev.name);
    if (!m) return { notFound: true };
    var r = S.safeCall(m.self, m.fn, S.fromHost(ev.args) || []);
    if (r.threw) return { error: { level: 'error', code: 'NetConnection.Call.Failed', description: r.info.description } };
    return { value: S.toHost(r.value) };
  };

  /**
   * A run of client calls that arrive as records in the dispatch's packed buffer (see ScriptRuntime.rawCall):
   * the arguments are the AMF0 bytes the client sent, decoded here when sandbox/amf.js can, else by the
   * host's codec; a plain-data result is encoded here (the host frames the bytes), anything else goes back
   * as a value like handlers.call's. Every call moves the watchdog's progress counter, as an event does.
   */
  S.handlers.rcalls = function (ev) {
    var p = ev.o - S.callBase;
    var stop = p + ev.n;
    var first = true;
    while (p < stop) {
      if (!first) Atomics.add(S.progress, 0, 1);
      first = false;
      var rec = S.amf.readCallRecord(p);
      p = rec.next;
      var seq = rec.seq;
      var value;
      try {
        value = rcall(rec);
      } catch (err) {
        // What handlers.call does when it throws (dispatch.js): this call fails, the run goes on.
        if (S.isTermination(err)) throw err;
        value = S.internalFailure(err);
      }
      if (value !== S.HANDLED) S.emit({ op: 'done', seq: seq, value: value });
    }
    return S.HANDLED;
  };

  function rcall(rec) {
    var client = clients.get(rec.cid);
    if (!client) return { notFound: true };
    var m = findMethod(client, rec.name, raw.get(rec.cid));
    if (!m) return { notFound: true };
    var args = S.amf.decodeArgs(rec.args, rec.argsLength);
    if (args === null) {
      try {
        args = S.hostCall({ t: 'decodeArgs', b: S.amf.argBytes(rec.args, rec.argsLength) });
      } catch (err) {
        // Malformed bytes: the host codec's coded error closes the caller's connection, as when the session
        // decodes them. Anything else (converting the values for the script) fails this call only.
        var code = err && err.code;
        if (typeof code === 'string' && code.indexOf('ERR_AMF_') === 0) return { badArgs: { code: code, message: String(err.message) } };
        throw err;
      }
    }
    var r = S.safeCall(m.self, m.fn, args);
    if (r.threw) return { error: { level: 'error', code: 'NetConnection.Call.Failed', description: r.info.description } };
    if (S.amf.writeResult(rec.seq, r.value)) return S.HANDLED;
    return { value: S.toHost(r.value) };
  }

  S.handlers.response = function (ev) {
    var resp = responders.get(ev.rid);
    if (!resp) return;
    responders.delete(ev.rid);
    var value = S.fromHost(ev.value);
    var fn = ev.ok ? resp.onResult : resp.onStatus;
    if (typeof fn === 'function') S.safeCall(resp, fn, [value]);
    else if (!ev.ok) S.statusFallback(value);
  };

  /** Status events nobody handles go to application.onStatus (FMS fallback rule). */
  S.statusFallback = function (info) {
    if (typeof app.onStatus === 'function') S.safeCall(app, app.onStatus, [info]);
    else S.emit({ op: 'unhandledStatus', info: S.toHost(info) });
  };

  S.handlers.lowMemory = function (ev) {
    var info = {
      code: 'Application.Resource.LowMemory',
      level: 'warning',
      description: 'The script runtime is low on memory (' + Math.round(ev.used / 1048576) + ' of ' + Math.round(ev.limit / 1048576) + ' MB).',
    };
    if (typeof app.onStatus === 'function') S.safeCall(app, app.onStatus, [info]);
  };

  /** A dispatch the host started only so that the sandbox's own S.later events run (op 'wake'). */
  S.handlers.wake = function () {};

  /** Answers once the events queued before it have run (the host's ScriptLogic.settle). */
  S.handlers.settle = function () {
    return true;
  };

  S.handlers.stop = function (ev) {
    if (typeof app.onAppStop !== 'function') return true;
    var r = S.safeCall(app, app.onAppStop, [{ code: ev.code, level: 'status' }]);
    return !(r.value === false);
  };

  S.clientFacade = function (cid) {
    return clients.get(cid) || null;
  };
}
