// @ts-check
/**
 * Script-side NetConnection and NetStream (ssas-api.md 6-7 and the NetStream seed document). Connections
 * and streams live in the host (src/host/net-connection.ts); these facades validate what the seed says is
 * validated synchronously (protocols, multicast property coercion, IP multicast addresses), mirror state
 * the script reads, and receive status events.
 */
function ssasNetConnection(S) {
  var g = S.global;
  var boot = S.boot;
  /** @type {Map<number, any>} */
  var connections = new Map();
  /** @type {Map<number, any>} */
  var netStreams = new Map();
  /** @type {Map<number, any>} */
  var responders = new Map();
  var nextNc = 1;
  var nextNs = 1;
  var nextRid = 1;

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  // --- NetConnection -----------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function NetConnection() {
    // @ts-ignore called without new
    if (!(this instanceof NetConnection)) return new NetConnection();
    var id = nextNc++;
    var state = { isConnected: false, uri: null, objectEncoding: boot.ncObjectEncoding === 0 ? 0 : 3, encodingSet: false, everConnected: false, protocol: '' };
    hidden(this, '__ssasNcId', id);
    hidden(this, '__ssasState', state);
    Object.defineProperty(this, 'isConnected', {
      enumerable: true,
      get: function () {
        return state.isConnected;
      },
    });
    Object.defineProperty(this, 'uri', {
      enumerable: true,
      get: function () {
        return state.uri;
      },
    });
    Object.defineProperty(this, 'objectEncoding', {
      enumerable: true,
      get: function () {
        return state.objectEncoding;
      },
      set: function (v) {
        // Settable before connect (FMS 3); 0 and 3 are the only encodings.
        var n = Number(v);
        if (n === 0 || n === 3) {
          state.objectEncoding = n;
          state.encodingSet = true;
        }
      },
    });
    connections.set(id, this);
  }

  var NCP = NetConnection.prototype;

  NCP.connect = function (uri) {
    var state = this.__ssasState;
    if (typeof uri !== 'string' || uri === '') return false;
    var m = /^([a-z0-9+.-]+):\/\//i.exec(uri);
    if (!m) return false;
    var protocol = m[1].toLowerCase();
    if (protocol === 'rtmpt' || protocol === 'rtmpe' || protocol === 'rtmpte') {
      throw new Error('NetConnection.connect(): ' + protocol.toUpperCase() + ' cannot be used to connect to a remote server; use rtmp.');
    }
    if (protocol === 'rtmps') {
      throw new Error('NetConnection.connect(): RTMPS is not offered by ssas; use rtmp.');
    }
    if (protocol === 'http' || protocol === 'https') {
      // Flash Remoting: no connection to make, calls go to the gateway as they are made. AMF0 packets (what
      // Flash Remoting gateways read) unless the script asked for AMF3 before connecting.
      state.uri = uri;
      state.protocol = protocol;
      state.isConnected = true;
      if (!state.encodingSet) state.objectEncoding = 0;
      S.emit({ op: 'ncConnect', id: this.__ssasNcId, uri: uri, objectEncoding: state.objectEncoding, args: [] });
      return true;
    }
    if (protocol !== 'rtmp' && protocol !== 'rtmfp') return false;
    state.uri = uri;
    state.protocol = protocol;
    state.isConnected = false;
    S.emit({
      op: 'ncConnect',
      id: this.__ssasNcId,
      uri: uri,
      objectEncoding: state.objectEncoding,
      args: S.toHost(Array.prototype.slice.call(arguments, 1)),
    });
    return true;
  };

  NCP.call = function (methodName, resultObj) {
    if (!this.__ssasState.isConnected) return false;
    var rid = 0;
    if (resultObj !== null && resultObj !== undefined && typeof resultObj === 'object') {
      rid = nextRid++;
      responders.set(rid, resultObj);
    }
    S.emit({ op: 'ncCall', id: this.__ssasNcId, method: String(methodName), rid: rid, args: S.toHost(Array.prototype.slice.call(arguments, 2)) });
    return true;
  };

  NCP.close = function () {
    this.__ssasState.isConnected = false;
    S.emit({ op: 'ncClose', id: this.__ssasNcId });
  };

  NCP.addHeader = function (name, mustUnderstand, object) {
    S.emit({ op: 'ncAddHeader', id: this.__ssasNcId, name: String(name), mustUnderstand: !!mustUnderstand, value: S.toHost(object) });
  };

  Object.keys(NCP).forEach(function (k) {
    Object.defineProperty(NCP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'NetConnection', { value: NetConnection, writable: true, enumerable: false, configurable: true });

  S.handlers.ncStatus = function (ev) {
    var nc = connections.get(ev.id);
    if (!nc) return;
    var inf = S.fromHost(ev.info);
    var st = nc.__ssasState;
    if (inf && inf.code === 'NetConnection.Connect.Success') {
      st.isConnected = true;
      st.everConnected = true;
    } else if (inf && typeof inf.code === 'string' && inf.code.indexOf('NetConnection.Connect.') === 0) {
      st.isConnected = false;
    }
    if (typeof nc.onStatus === 'function') S.safeCall(nc, nc.onStatus, [inf]);
    else S.statusFallback(inf);
  };

  S.handlers.ncResponse = function (ev) {
    var r = responders.get(ev.rid);
    if (!r) return;
    responders.delete(ev.rid);
    var value = S.fromHost(ev.value);
    var fn = ev.ok ? r.onResult : r.onStatus;
    if (typeof fn === 'function') S.safeCall(r, fn, [value]);
    else if (!ev.ok) S.statusFallback(value);
  };

  /** The remote server calls a method of this NetConnection object. */
  S.handlers.ncRemoteCall = function (ev) {
    var nc = connections.get(ev.id);
    if (!nc) return { notFound: true };
    var fn = nc[ev.name];
    if (typeof fn !== 'function') return { notFound: true };
    var r = S.safeCall(nc, fn, S.fromHost(ev.args) || []);
    if (r.threw) return { error: { level: 'error', code: 'NetConnection.Call.Failed', description: r.info.description } };
    return { value: S.toHost(r.value) };
  };

  S.ncId = function (nc) {
    return nc instanceof NetConnection ? /** @type {any} */ (nc).__ssasNcId : undefined;
  };

  // --- NetStream -----------------------------------------------------------------------------------------

  var MAX_SECONDS = 4294967.295;
  var MAX_COUNT = 4294967295;
  /** name -> [upper limit, default after a successful RTMFP connection] (the seed's table). */
  var MULTICAST = {
    multicastAvailabilityUpdatePeriod: [MAX_SECONDS, 0.1],
    multicastFetchPeriod: [MAX_SECONDS, 2.5],
    multicastPushNeighborLimit: [MAX_COUNT, 4],
    multicastRelayMarginDuration: [MAX_SECONDS, 2],
    multicastWindowDuration: [MAX_SECONDS, 8],
  };

  /** "Negative value assignments are treated as a 0 assignment. Values larger than the upper limit are
   *  truncated to the upper limit. No error is raised or warning logged." */
  function coerce(v, max) {
    var n = Number(v);
    if (n !== n) return 0;
    if (n < 0) return 0;
    if (n > max) return max;
    return n;
  }

  function MulticastStreamInfo(data) {
    for (var k in data) this[k] = data[k];
  }
  MulticastStreamInfo.prototype.toString = function () {
    var parts = [];
    for (var k in this) if (typeof this[k] !== 'function') parts.push(k + '=' + this[k]);
    return parts.join(' ');
  };
  Object.defineProperty(MulticastStreamInfo.prototype, 'toString', { enumerable: false });
  Object.defineProperty(g, 'MulticastStreamInfo', { value: MulticastStreamInfo, writable: true, enumerable: false, configurable: true });

  /** @constructor @this {any} */
  function NetStream(connection, groupspec) {
    if (!(this instanceof NetStream)) {
      // Called as a function, the documented failure value is possible: null.
      // @ts-ignore called without new
      return connection instanceof NetConnection ? new NetStream(connection, groupspec) : null;
    }
    var id = nextNs++;
    var nc = connection instanceof NetConnection ? connection : null;
    var spec = groupspec === undefined || groupspec === null ? null : String(groupspec);
    var state = {
      nc: nc,
      groupspec: spec,
      bufferTime: 0,
      publishing: false,
      sendToAll: false,
      values: {},
      ipMulticast: null,
      dead: nc === null,
    };
    hidden(this, '__ssasNsId', id);
    hidden(this, '__ssasState', state);
    var self = this;
    Object.defineProperty(this, 'bufferTime', {
      enumerable: true,
      get: function () {
        return state.bufferTime;
      },
    });
    Object.defineProperty(this, 'time', {
      enumerable: true,
      get: function () {
        return state.dead ? 0 : S.hostCall({ t: 'nsTime', id: id });
      },
    });
    Object.defineProperty(this, 'farID', {
      enumerable: true,
      // "Always returns the groupspec value used to construct the NetStream object" (null without one).
      get: function () {
        return state.groupspec;
      },
    });
    Object.defineProperty(this, 'nearNonce', {
      enumerable: true,
      get: function () {
        if (state.dead) return '';
        // "For RTMFP Group streaming this value is the empty string."
        if (state.groupspec !== null && rtmfpConnected(state)) return '';
        return S.hostCall({ t: 'nsNearNonce', id: id });
      },
    });
    Object.defineProperty(this, 'multicastInfo', {
      enumerable: true,
      get: function () {
        return new MulticastStreamInfo(state.dead ? {} : S.hostCall({ t: 'nsMulticastInfo', id: id }));
      },
    });
    Object.defineProperty(this, 'multicastAvailabilitySendToAll', {
      enumerable: true,
      get: function () {
        return state.sendToAll;
      },
      set: function (v) {
        state.sendToAll = !!v;
        S.emit({ op: 'nsMulticast', id: id, name: 'multicastAvailabilitySendToAll', value: state.sendToAll });
      },
    });
    Object.keys(MULTICAST).forEach(function (name) {
      Object.defineProperty(self, name, {
        enumerable: true,
        get: function () {
          if (Object.prototype.hasOwnProperty.call(state.values, name)) return state.values[name];
          // 0 unless a successful RTMFP NetConnection has been made, then the documented default.
          return rtmfpConnected(state) ? MULTICAST[name][1] : 0;
        },
        set: function (v) {
          state.values[name] = coerce(v, MULTICAST[name][0]);
          S.emit({ op: 'nsMulticast', id: id, name: name, value: state.values[name] });
        },
      });
    });
    netStreams.set(id, this);
    S.emit({ op: 'nsCreate', id: id, nc: nc ? /** @type {any} */ (nc).__ssasNcId : -1, groupspec: spec });
  }

  function rtmfpConnected(state) {
    var nst = state.nc && state.nc.__ssasState;
    return !!nst && nst.protocol === 'rtmfp' && nst.everConnected === true;
  }

  var NSP = NetStream.prototype;

  NSP.attach = function (stream) {
    var state = this.__ssasState;
    if (state.dead) return false;
    if (stream === false) {
      S.emit({ op: 'nsAttach', id: this.__ssasNsId, stream: null });
      return true;
    }
    var Stream = g.Stream;
    if (!stream || typeof stream !== 'object' || typeof Stream !== 'function' || !(stream instanceof Stream)) return false;
    S.emit({ op: 'nsAttach', id: this.__ssasNsId, stream: stream.name });
    return true;
  };

  NSP.publish = function (name, howToPublish) {
    var state = this.__ssasState;
    if (state.dead) return;
    if (name === false || name === null) {
      state.publishing = false;
      S.emit({ op: 'nsPublish', id: this.__ssasNsId, name: null });
      return;
    }
    state.publishing = true;
    S.emit({ op: 'nsPublish', id: this.__ssasNsId, name: String(name), how: howToPublish === undefined ? 'live' : String(howToPublish) });
  };

  NSP.send = function (handlerName) {
    if (this.__ssasState.dead || typeof handlerName !== 'string' || handlerName === '') return false;
    return S.hostCall({ t: 'nsSend', id: this.__ssasNsId, handler: handlerName, args: S.toHost(Array.prototype.slice.call(arguments, 1)) }) === true;
  };

  NSP.setBufferTime = function (bufferTime) {
    var n = Number(bufferTime);
    if (!(n >= 0)) return;
    this.__ssasState.bufferTime = n;
    S.emit({ op: 'nsBufferTime', id: this.__ssasNsId, value: n });
  };

  NSP.play = function () {
    // "You cannot use the server-side NetStream class to play a stream." The failure is the script's own
    // event, after the current one: ahead of any network status that arrived while this event ran.
    S.later({
      e: 'nsStatus',
      id: this.__ssasNsId,
      info: { level: 'error', code: 'NetStream.Play.Failed', description: 'A server-side NetStream can publish; it cannot play a stream.' },
    });
  };

  NSP.setIPMulticastPublishAddress = function (address, port) {
    var state = this.__ssasState;
    var parsed = parseMulticastAddress(address, port);
    if (state.publishing) throw new Error('setIPMulticastPublishAddress(): cannot change the address while the NetStream is publishing.');
    // Only RTMFP group streams use it; for any other stream the value is ignored.
    if (state.groupspec === null || !state.nc || state.nc.__ssasState.protocol !== 'rtmfp') return;
    state.ipMulticast = parsed;
    S.emit({ op: 'nsIpMulticast', id: this.__ssasNsId, address: parsed === null ? null : S.toHost(parsed) });
  };

  Object.keys(NSP).forEach(function (k) {
    Object.defineProperty(NSP, k, { enumerable: false });
  });

  /**
   * Validates as the seed describes: IPv4 "224.0.0.254" or "224.0.0.254:30000", IPv6 "ff03::ffff" or
   * "[ff03::ffff]:30000", null to clear; the port comes from `port` or from the address; an Error otherwise.
   */
  function parseMulticastAddress(address, port) {
    if (address === null) return null;
    if (typeof address !== 'string' || address === '') throw new Error('setIPMulticastPublishAddress(): invalid address ' + String(address) + '.');
    var host = address;
    var addrPort = null;
    var m6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(address);
    var m4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?$/.exec(address);
    var family;
    if (m6) {
      host = m6[1];
      addrPort = m6[2] === undefined ? null : Number(m6[2]);
      family = 6;
    } else if (m4) {
      host = m4[1];
      addrPort = m4[2] === undefined ? null : Number(m4[2]);
      family = 4;
    } else if (/^[0-9a-fA-F:]+$/.test(address) && address.indexOf(':') >= 0) {
      family = 6;
    } else {
      throw new Error('setIPMulticastPublishAddress(): invalid address ' + address + '.');
    }
    if (family === 4) {
      var octets = host.split('.').map(Number);
      if (octets.some(function (o) { return o > 255; }) || octets[0] < 224 || octets[0] > 239) {
        throw new Error('setIPMulticastPublishAddress(): ' + host + ' is not an IPv4 multicast address.');
      }
    } else if (!isIPv6(host) || !/^ff/i.test(host)) {
      throw new Error('setIPMulticastPublishAddress(): ' + host + ' is not an IPv6 multicast address.');
    }
    var p;
    if (port === null || port === undefined) {
      if (addrPort === null) throw new Error('setIPMulticastPublishAddress(): no UDP port given (in the address or the port argument).');
      p = addrPort;
    } else {
      p = Number(port);
    }
    if (!(p >= 1 && p <= 65535) || Math.floor(p) !== p) throw new Error('setIPMulticastPublishAddress(): invalid UDP port ' + String(port === null || port === undefined ? addrPort : port) + '.');
    return { host: host, port: p, family: family };
  }

  function isIPv6(h) {
    if (h.indexOf(':::') >= 0) return false;
    var doubles = h.split('::').length - 1;
    if (doubles > 1) return false;
    var groups = h.split(':').filter(function (x) { return x !== ''; });
    if (groups.length > 8 || (doubles === 0 && groups.length !== 8)) return false;
    return groups.every(function (x) { return /^[0-9a-fA-F]{1,4}$/.test(x); });
  }

  Object.defineProperty(g, 'NetStream', { value: NetStream, writable: true, enumerable: false, configurable: true });

  S.handlers.nsStatus = function (ev) {
    var ns = netStreams.get(ev.id);
    if (!ns) return;
    var inf = S.fromHost(ev.info);
    var st = ns.__ssasState;
    if (inf && (inf.code === 'NetStream.Publish.BadName' || inf.code === 'NetStream.Publish.Failed' || inf.code === 'NetStream.Unpublish.Success')) st.publishing = false;
    if (inf && inf.code === 'NetStream.Connect.Failed') st.dead = true;
    if (typeof ns.onStatus === 'function') S.safeCall(ns, ns.onStatus, [inf]);
    else S.statusFallback(inf);
  };

  // application.registerProxy(methodName, proxyConnection[, proxyMethodName])
  var registerProxy = function (methodName, proxy, proxyMethodName) {
    var target = null;
    if (proxy instanceof NetConnection) target = { nc: /** @type {any} */ (proxy).__ssasNcId };
    else if (proxy && typeof proxy.__ssasClientId === 'string') target = { cid: proxy.__ssasClientId };
    else if (proxy !== null && proxy !== undefined) throw new TypeError('registerProxy: the proxy must be a NetConnection or a Client');
    S.emit({ op: 'registerProxy', method: String(methodName), target: target, remote: proxyMethodName === undefined ? null : String(proxyMethodName) });
  };
  Object.defineProperty(Object.getPrototypeOf(S.application), 'registerProxy', { value: registerProxy, enumerable: false, writable: true });
}
