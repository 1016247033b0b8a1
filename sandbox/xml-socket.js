// @ts-check
/**
 * XMLSocket and XMLStreams (FMS 2 Server-Side ActionScript; ssas-api.md 12): TCP connections to an XML
 * server, carried out by the host (src/net/xml-socket.ts). XMLSocket exchanges documents each ended by a zero
 * byte; XMLStreams exchanges one long XML stream in fragments (the opening tag of the stream's root, then each
 * element inside it). Both have the same methods and events:
 *   connect(host, port) -> Boolean (false for arguments that cannot be an address; the outcome comes to
 *     onConnect(success)); send(object) sends String(object); close(); onConnect(success); onData(src), whose
 *     default parses src and calls onXML(doc); onXML(doc); onClose() when the server closes the connection.
 * A null or empty host means this server (127.0.0.1).
 */
function ssasXmlSocket(S) {
  var g = S.global;
  /** @type {Map<number, any>} */
  var sockets = new Map();
  var nextId = 1;

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  function define(name, kind) {
    /** @constructor @this {any} */
    function Sock() {
      // @ts-ignore called without new
      if (!(this instanceof Sock)) return new Sock();
      hidden(this, '__ssasSockId', 0);
      hidden(this, '__ssasConnected', false);
    }
    var P = Sock.prototype;

    P.connect = function (host, port) {
      var h = host === null || host === undefined || host === '' ? '127.0.0.1' : String(host);
      var p = Number(port);
      if (!(p >= 1 && p <= 65535) || Math.floor(p) !== p || /[\s/\u0000]/.test(h)) return false;
      if (this.__ssasSockId) {
        sockets.delete(this.__ssasSockId);
        S.emit({ op: 'xmlSockClose', id: this.__ssasSockId });
      }
      var id = nextId++;
      hidden(this, '__ssasSockId', id);
      hidden(this, '__ssasConnected', false);
      sockets.set(id, this);
      S.emit({ op: 'xmlSockConnect', id: id, kind: kind, host: h, port: p });
      return true;
    };

    P.send = function (obj) {
      if (!this.__ssasSockId || !this.__ssasConnected) return false;
      S.emit({ op: 'xmlSockSend', id: this.__ssasSockId, text: String(obj) });
      return true;
    };

    P.close = function () {
      if (!this.__ssasSockId) return;
      S.emit({ op: 'xmlSockClose', id: this.__ssasSockId });
      sockets.delete(this.__ssasSockId);
      hidden(this, '__ssasSockId', 0);
      hidden(this, '__ssasConnected', false);
    };

    /** Default onData: parse (with XML.prototype.ignoreWhite, as new XML(src) does) and hand the document to onXML. */
    P.onData = function (src) {
      if (typeof this.onXML !== 'function') return;
      var doc = S.makeXml(src);
      this.onXML(doc);
    };

    Object.keys(P).forEach(function (k) {
      Object.defineProperty(P, k, { enumerable: false });
    });
    Object.defineProperty(g, name, { value: Sock, writable: true, enumerable: false, configurable: true });
  }

  define('XMLSocket', 'socket');
  define('XMLStreams', 'streams');

  S.handlers.xmlSockConnect = function (ev) {
    var s = sockets.get(ev.id);
    if (!s) return;
    hidden(s, '__ssasConnected', ev.ok === true);
    if (ev.ok !== true) {
      sockets.delete(ev.id);
      hidden(s, '__ssasSockId', 0);
    }
    if (typeof s.onConnect === 'function') S.safeCall(s, s.onConnect, [ev.ok === true]);
  };

  S.handlers.xmlSockData = function (ev) {
    var s = sockets.get(ev.id);
    if (!s) return;
    if (typeof s.onData === 'function') S.safeCall(s, s.onData, [String(ev.text)]);
  };

  S.handlers.xmlSockClose = function (ev) {
    var s = sockets.get(ev.id);
    if (!s) return;
    sockets.delete(ev.id);
    hidden(s, '__ssasSockId', 0);
    hidden(s, '__ssasConnected', false);
    if (typeof s.onClose === 'function') S.safeCall(s, s.onClose, []);
  };
}
