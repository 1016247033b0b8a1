// @ts-check
/**
 * The script-side Stream class (ssas-api.md 4): Stream.get(name) returns the one facade of that name; its
 * methods become ops carried out by src/host/stream.ts. Status events arrive as `streamStatus` events and go
 * to the stream's onStatus, else to application.onStatus.
 */
function ssasStream(S) {
  var g = S.global;
  /** @type {Map<string, any>} */
  var streams = new Map();

  function Stream() {
    throw new Error('Stream objects are created with Stream.get(name)');
  }

  function validName(name) {
    return typeof name === 'string' && name !== '' && name.indexOf('\0') < 0;
  }

  function facade(name) {
    var s = streams.get(name);
    if (s) return s;
    s = Object.create(Stream.prototype);
    var state = { bufferTime: 2, syncWrite: false, maxQueueDelay: 0, maxQueueSize: 0 };
    Object.defineProperty(s, 'name', { value: name, enumerable: true });
    Object.defineProperty(s, '__ssasState', { value: state, enumerable: false });
    Object.defineProperty(s, 'bufferTime', {
      enumerable: true,
      get: function () {
        return state.bufferTime;
      },
    });
    Object.defineProperty(s, 'time', {
      enumerable: true,
      get: function () {
        return S.hostCall({ t: 'streamTime', name: name });
      },
    });
    Object.defineProperty(s, 'publishQueryString', {
      enumerable: true,
      get: function () {
        return S.hostCall({ t: 'streamQuery', name: name });
      },
    });
    ['syncWrite', 'maxQueueDelay', 'maxQueueSize'].forEach(function (k) {
      Object.defineProperty(s, k, {
        enumerable: true,
        get: function () {
          return state[k];
        },
        set: function (v) {
          state[k] = k === 'syncWrite' ? !!v : Number(v) || 0;
          S.emit({ op: 'streamSet', name: name, key: k, value: state[k] });
        },
      });
    });
    streams.set(name, s);
    return s;
  }

  Stream.get = function get(name) {
    if (!validName(name)) return null;
    return facade(name);
  };

  // Stream.length is a static method in SSAS; a function's own `length` is read-only, so redefine it.
  Object.defineProperty(Stream, 'length', {
    value: function length(name, virtualKey) {
      if (!validName(name)) return 0;
      return S.hostCallAsync({ t: 'streamLength', name: name, virtualKey: virtualKey == null ? '' : String(virtualKey) });
    },
    writable: true,
    configurable: true,
  });

  Stream.destroy = function destroy(stream) {
    if (!stream || typeof stream.name !== 'string' || streams.get(stream.name) !== stream) return false;
    streams.delete(stream.name);
    S.emit({ op: 'streamDestroy', name: stream.name });
    return true;
  };

  Stream.getOnMetaData = function getOnMetaData(stream) {
    return stream && typeof stream.getOnMetaData === 'function' ? stream.getOnMetaData() : null;
  };

  var P = Stream.prototype;
  P.play = function (streamName, startTime, length, reset, remoteConnection, virtualKey) {
    if (streamName === false || streamName === null) {
      S.emit({ op: 'streamStop', name: this.name });
      return true;
    }
    if (!validName(streamName)) return false;
    var start = startTime === undefined ? -2 : Number(startTime);
    if (isNaN(start)) start = -2;
    var len = length === undefined ? -1 : Number(length);
    if (isNaN(len)) len = -1;
    var r = reset === undefined ? true : reset;
    if (r === 2 || r === 3) r = Number(r);
    else r = r === true || r === 1;
    var nc = remoteConnection && remoteConnection.__ssasNcId !== undefined ? remoteConnection.__ssasNcId : undefined;
    var item = { name: streamName, start: start, len: len, virtualKey: virtualKey == null ? '' : String(virtualKey) };
    S.emit({ op: 'streamPlay', name: this.name, item: item, reset: r, nc: nc });
    return true;
  };

  P.record = function (flag, maxDuration, maxSize) {
    var mode = flag === undefined || flag === true ? 'record' : flag;
    if (mode !== false && mode !== 'record' && mode !== 'append' && mode !== 'appendWithGap') return false;
    S.emit({
      op: 'streamRecord',
      name: this.name,
      mode: mode,
      maxDuration: maxDuration === undefined ? undefined : Number(maxDuration),
      maxSize: maxSize === undefined ? undefined : Number(maxSize),
    });
    return true;
  };

  P.send = function (handlerName) {
    if (typeof handlerName !== 'string' || handlerName === '') return false;
    S.emit({ op: 'streamSend', name: this.name, handler: handlerName, args: S.toHost(Array.prototype.slice.call(arguments, 1)) });
    return true;
  };

  P.setBufferTime = function (secs) {
    var n = Number(secs);
    if (!(n >= 0)) return;
    this.__ssasState.bufferTime = n;
    S.emit({ op: 'streamSet', name: this.name, key: 'bufferTime', value: n });
  };

  P.clear = function () {
    S.emit({ op: 'streamClear', name: this.name });
    return true;
  };

  P.flush = function () {
    return S.hostCallAsync({ t: 'streamFlush', name: this.name }) === true;
  };

  P.getOnMetaData = function () {
    return S.hostCall({ t: 'streamMeta', name: this.name });
  };

  // myStream.setVirtualPath(virtualPath, directory, virtualKey): maps a virtual path to a folder for clients
  // with that key, server-wide (FMS changed its Vhost.xml VirtualDirectory); an empty directory removes it.
  P.setVirtualPath = function (virtualPath, directory, virtualKey) {
    S.emit({
      op: 'streamVirtualPath',
      path: virtualPath == null ? '' : String(virtualPath),
      directory: directory == null ? '' : String(directory),
      key: virtualKey == null ? '' : String(virtualKey),
    });
  };

  Object.keys(P).forEach(function (k) {
    Object.defineProperty(P, k, { enumerable: false });
  });
  Object.defineProperty(g, 'Stream', { value: Stream, writable: true, enumerable: false, configurable: true });

  S.streamFacade = facade;

  S.handlers.streamStatus = function (ev) {
    var s = streams.get(ev.name);
    var inf = S.fromHost(ev.info);
    if (s && typeof s.onStatus === 'function') S.safeCall(s, s.onStatus, [inf]);
    else S.statusFallback(inf);
  };

  S.handlers.publish = function (ev) {
    var app = S.application;
    var client = S.clientFacade(ev.cid);
    if (client && typeof app.onPublish === 'function') S.safeCall(app, app.onPublish, [client, facade(ev.stream)]);
  };

  S.handlers.unpublish = function (ev) {
    var app = S.application;
    var client = S.clientFacade(ev.cid);
    if (client && typeof app.onUnpublish === 'function') S.safeCall(app, app.onUnpublish, [client, facade(ev.stream)]);
  };

  var clearStreams = function (path) {
    return S.hostCallAsync({ t: 'clearStreams', path: String(path) }) === true;
  };
  Object.defineProperty(Object.getPrototypeOf(S.application), 'clearStreams', { value: clearStreams, enumerable: false, writable: true });
}
