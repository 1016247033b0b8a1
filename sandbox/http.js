// @ts-check
/**
 * HTTP from scripts, and LoadVars (ssas-api.md 12; Flash's LoadVars as the ActionScript 2.0 reference
 * describes it). Requests go to the host's one HTTP client (src/net/http-client.ts: timeouts, a response size
 * cap, bounded redirects, the Application.xml allow-list) as fire-and-forget ops; the outcome comes back as an
 * `httpDone` event, so a slow server never holds the script up. A failed request (refused, timed out, too
 * large, not allowed, an HTTP error status) reaches the script as the documented callbacks: onHTTPStatus with
 * the status (0 when there was no HTTP answer), then onData(undefined), whose default calls onLoad(false).
 * Nothing is thrown at the script.
 */
function ssasHttp(S) {
  var g = S.global;
  /** @type {Map<number, { done: Function, progress?: Function }>} */
  var pending = new Map();
  var nextId = 1;

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  // Headers Flash Player refused to let scripts set (they are the transport's business).
  var RESTRICTED = /^(accept-charset|accept-encoding|accept-ranges|age|allow|connection|content-length|content-transfer-encoding|date|expect|host|keep-alive|location|max-forwards|proxy-connection|referer|te|trailer|transfer-encoding|upgrade|via|warning|www-authenticate)$/i;

  /**
   * Starts a request; `done(res)` runs as its own event with { status, body (string or bytes), bytesLoaded,
   * bytesTotal, headers, error? }. `binary`: the body is delivered as bytes.
   */
  S.http = {
    request: function (req, done, progress) {
      var id = nextId++;
      pending.set(id, { done: done, progress: progress });
      S.emit({
        op: 'httpRequest',
        id: id,
        method: req.method || 'GET',
        url: String(req.url),
        headers: req.headers || [],
        body: req.body === undefined ? null : req.body,
        binary: req.binary === true,
      });
      return id;
    },
  };

  S.handlers.httpProgress = function (ev) {
    var p = pending.get(ev.id);
    if (p && p.progress) p.progress(ev.loaded, ev.total);
  };

  S.handlers.httpDone = function (ev) {
    var p = pending.get(ev.id);
    if (!p) return;
    pending.delete(ev.id);
    p.done(ev);
  };

  /** addRequestHeader(name, value) or addRequestHeader([name1, value1, name2, value2, ...]). */
  function addRequestHeader(obj, a, b) {
    if (!Object.prototype.hasOwnProperty.call(obj, '__ssasHeaders')) hidden(obj, '__ssasHeaders', []);
    var list = obj.__ssasHeaders;
    var pairs = [];
    if (Array.isArray(a)) {
      for (var i = 0; i + 1 < a.length; i += 2) pairs.push([a[i], a[i + 1]]);
    } else {
      pairs.push([a, b]);
    }
    pairs.forEach(function (p) {
      var name = String(p[0]);
      if (name === '' || RESTRICTED.test(name) || /[\r\n:]/.test(name)) return;
      var value = String(p[1]).replace(/[\r\n]+/g, ' ');
      // A second header of the same name replaces the first, as in Flash Player.
      for (var j = 0; j < list.length; j++) {
        if (list[j][0].toLowerCase() === name.toLowerCase()) {
          list[j] = [name, value];
          return;
        }
      }
      list.push([name, value]);
    });
  }

  /** The request headers of a LoadVars or XML object: its own, then Content-Type for a body. */
  function headersOf(obj, withBody) {
    var list = (obj.__ssasHeaders || []).slice();
    if (withBody && !list.some(function (h) { return /^content-type$/i.test(h[0]); })) {
      list.push(['Content-Type', String(obj.contentType === undefined ? 'application/x-www-form-urlencoded' : obj.contentType)]);
    }
    return list;
  }

  /**
   * Runs the load sequence of LoadVars and XML on `target` for a finished request: bytes counted, then
   * onHTTPStatus(status), then onData(body), or onData(undefined) when the request failed.
   */
  function deliver(target, res) {
    setBytes(target, res.bytesLoaded, res.bytesTotal);
    if (typeof target.onHTTPStatus === 'function') S.safeCall(target, target.onHTTPStatus, [res.status]);
    var ok = !res.error && res.status >= 200 && res.status < 300;
    if (typeof target.onData === 'function') S.safeCall(target, target.onData, [ok ? res.body : undefined]);
  }

  function setBytes(target, loaded, total) {
    hidden(target, '__ssasBytes', [loaded, total]);
  }

  function bytesLoaded() {
    var b = this.__ssasBytes;
    return b ? b[0] : undefined;
  }
  function bytesTotal() {
    var b = this.__ssasBytes;
    return b ? b[1] : undefined;
  }

  function progressOf(target) {
    return function (loaded, total) {
      setBytes(target, loaded, total);
    };
  }

  /** A URL the script gave: a string that is not empty, else the request is refused (false). */
  function urlOf(url) {
    if (url === undefined || url === null) return null;
    var s = String(url);
    return s === '' ? null : s;
  }

  S.httpLoad = {
    addRequestHeader: addRequestHeader,
    headersOf: headersOf,
    deliver: deliver,
    bytesLoaded: bytesLoaded,
    bytesTotal: bytesTotal,
    progressOf: progressOf,
    setBytes: setBytes,
    urlOf: urlOf,
  };

  // --- URL encoding as Flash did ------------------------------------------------------------------------

  /** Flash's escape(): every character but letters and digits becomes %XX of its UTF-8 bytes. */
  function flashEscape(s) {
    var out = '';
    var str = String(s);
    for (var i = 0; i < str.length; i++) {
      var c = str.charCodeAt(i);
      if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
        out += str.charAt(i);
        continue;
      }
      var chunk = str.charAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        var d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          chunk += str.charAt(i + 1);
          i++;
        }
      }
      var enc;
      try {
        enc = encodeURIComponent(chunk);
      } catch (err) {
        enc = encodeURIComponent('\ufffd');
      }
      // encodeURIComponent leaves some punctuation alone; Flash did not.
      out += enc.replace(/[!'()*\-._~]/g, function (ch) {
        return '%' + ch.charCodeAt(0).toString(16).toUpperCase();
      });
    }
    return out;
  }

  /** Flash's unescape() for URL-encoded variables: `+` is a space, %XX sequences are UTF-8 (else Latin-1). */
  function flashUnescape(s) {
    var str = String(s).replace(/\+/g, ' ');
    try {
      return decodeURIComponent(str);
    } catch (err) {
      return str.replace(/%([0-9A-Fa-f]{2})/g, function (_m, hex) {
        return String.fromCharCode(parseInt(hex, 16));
      });
    }
  }

  S.flashEscape = flashEscape;
  S.flashUnescape = flashUnescape;

  // --- LoadVars ------------------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function LoadVars() {
    // @ts-ignore called without new
    if (!(this instanceof LoadVars)) return new LoadVars();
  }
  var LP = LoadVars.prototype;
  LP.contentType = 'application/x-www-form-urlencoded';

  LP.addRequestHeader = function (a, b) {
    addRequestHeader(this, a, b);
  };

  /** Adds the variables of a URL-encoded string ("a=1&b=two") to this object. */
  LP.decode = function (query) {
    var s = String(query);
    if (s === '') return;
    var parts = s.split('&');
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === '') continue;
      var eq = part.indexOf('=');
      var name = flashUnescape(eq < 0 ? part : part.slice(0, eq));
      var value = eq < 0 ? '' : flashUnescape(part.slice(eq + 1));
      if (name === '' || name === '__proto__') continue;
      this[name] = value;
    }
  };

  /** The enumerable variables, URL-encoded as Flash's escape() does ("name=Ruth%20Y&age=3"). */
  LP.toString = function () {
    var parts = [];
    for (var k in this) {
      var v = this[k];
      if (typeof v === 'function' || k.indexOf('__ssas') === 0) continue;
      parts.push(flashEscape(k) + '=' + flashEscape(v === undefined ? 'undefined' : v === null ? 'null' : v));
    }
    return parts.join('&');
  };

  LP.getBytesLoaded = bytesLoaded;
  LP.getBytesTotal = bytesTotal;

  /** Default onData: decode the variables and call onLoad(true), or onLoad(false) when nothing came. */
  LP.onData = function (src) {
    if (src === undefined) {
      hidden(this, 'loaded', false);
      if (typeof this.onLoad === 'function') this.onLoad(false);
      return;
    }
    this.decode(src);
    hidden(this, 'loaded', true);
    if (typeof this.onLoad === 'function') this.onLoad(true);
  };

  function startLoad(target, url, method, from) {
    hidden(target, 'loaded', false);
    setBytes(target, 0, undefined);
    var m = String(method === undefined ? 'POST' : method).toUpperCase() === 'GET' ? 'GET' : 'POST';
    var req = { method: 'GET', url: url, headers: headersOf(from === null ? target : from, false) };
    if (from !== null && m === 'POST') {
      req.method = 'POST';
      req.body = String(from.toString());
      req.headers = headersOf(from, true);
    } else if (from !== null) {
      var q = String(from.toString());
      if (q !== '') req.url = url + (url.indexOf('?') >= 0 ? '&' : '?') + q;
    }
    S.http.request(req, function (res) {
      deliver(target, res);
    }, progressOf(target));
  }

  /** load(url): GET the URL and decode its variables into this object. */
  LP.load = function (url) {
    var u = urlOf(url);
    if (u === null) return false;
    startLoad(this, u, 'GET', null);
    return true;
  };

  /**
   * send(url[, target[, method]]): sends the variables (POST by default, GET on request). There is no browser
   * window to show the answer in on a server: the response is read and dropped.
   */
  LP.send = function (url, target, method) {
    var u = urlOf(url);
    if (u === null) return false;
    var self = this;
    var m = String(method === undefined ? 'POST' : method).toUpperCase() === 'GET' ? 'GET' : 'POST';
    var req = { method: m, url: u, headers: headersOf(self, m === 'POST') };
    if (m === 'POST') req.body = String(self.toString());
    else {
      var q = String(self.toString());
      if (q !== '') req.url = u + (u.indexOf('?') >= 0 ? '&' : '?') + q;
    }
    S.http.request(req, function () {});
    return true;
  };

  /** sendAndLoad(url, targetObject[, method]): sends the variables, the answer goes to targetObject. */
  LP.sendAndLoad = function (url, target, method) {
    var u = urlOf(url);
    if (u === null || target === null || typeof target !== 'object') return false;
    startLoad(target, u, method, this);
    return true;
  };

  Object.keys(LP).forEach(function (k) {
    Object.defineProperty(LP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'LoadVars', { value: LoadVars, writable: true, enumerable: false, configurable: true });
}
