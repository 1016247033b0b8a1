/**
 * XML / XMLNode and LoadVars (issue 14) in an FMS-style application driven by our RTMP client, against a
 * real HTTP server on loopback: the Flash DOM (navigation, editing, toString as Flash wrote it, status codes
 * for malformed input without exceptions, XMLNode.prototype extensions), load/send/sendAndLoad with
 * headers and byte counts, and every way a request can fail (404, 500, slow, huge, cut off, redirect loop,
 * refused, not in the allow-list) ending in the documented callbacks, never an uncaught error.
 */
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { misbehaving, startHttpPeer, type HttpPeer } from '../support/http-peer';
import { freePort, until } from '../support';
import { AmfXmlDocument } from '../../src/amf';
import type { RtmpClient } from '../../src/net/rtmp-client';

const MAIN = String.raw`
var results = {};
function done(key, value) { results[key] = value; }
Client.prototype.result = function (key) { return results[key] === undefined ? null : results[key]; };

XMLNode.prototype.countElements = function () {
  var n = this.nodeType == 1 && this.nodeName != null ? 1 : 0;
  for (var c = this.firstChild; c != null; c = c.nextSibling) n += c.countElements();
  return n;
};

Client.prototype.parse = function (src, ignoreWhite) {
  var x = new XML();
  x.ignoreWhite = ignoreWhite;
  x.parseXML(src);
  return { status: x.status, text: x.toString(), count: x.countElements(), decl: String(x.xmlDecl), doctype: String(x.docTypeDecl) };
};

Client.prototype.dom = function () {
  var x = new XML('<?xml version="1.0"?><root a="1" b="x&amp;y"><item id="1">one</item><item id="2">two &lt;2&gt;</item><ns:e xmlns:ns="urn:n"/></root>');
  var root = x.firstChild;
  var out = [];
  out.push(root.nodeName, root.attributes.a, root.attributes.b, root.childNodes.length);
  out.push(root.firstChild.firstChild.nodeValue, root.firstChild.nextSibling.attributes.id, root.lastChild.previousSibling.firstChild.nodeValue);
  out.push(root.lastChild.localName, root.lastChild.prefix, root.lastChild.namespaceURI, root.lastChild.getPrefixForNamespace("urn:n"));
  out.push(root.firstChild.parentNode === root, x.firstChild.parentNode === x, root.hasChildNodes(), root.lastChild.hasChildNodes());
  // Editing: create, append, insertBefore, move (appendChild of a node in the tree moves it), remove, clone.
  var added = x.createElement("added");
  added.attributes.q = "it's \"quoted\" <&>";
  added.appendChild(x.createTextNode("a < b & 'c'"));
  root.insertBefore(added, root.firstChild);
  root.appendChild(root.childNodes[1]);
  root.childNodes[1].removeNode();
  var copy = root.cloneNode(true);
  copy.firstChild.attributes.q = "changed";
  out.push(x.toString(), copy.toString(), copy.parentNode === null, root.countElements());
  // A node cannot be appended inside itself (no cycles).
  root.firstChild.appendChild(root);
  out.push(root.parentNode === x);
  var made = new XMLNode(1, "made");
  made.appendChild(new XMLNode(3, "t"));
  out.push(made.toString(), made instanceof XMLNode, x instanceof XMLNode, x instanceof XML);
  return out;
};

Client.prototype.deep = function (n) {
  var src = "";
  for (var i = 0; i < n; i++) src += "<d>";
  src += "x";
  for (var j = 0; j < n; j++) src += "</d>";
  var x = new XML(src);
  if (x.status != 0) return { status: x.status };
  var copy = x.cloneNode(true);
  var depth = 0;
  for (var c = copy.firstChild; c != null && c.nodeType == 1; c = c.firstChild) depth++;
  return { status: x.status, length: x.toString().length, depth: depth };
};

Client.prototype.echoXml = function (doc) {
  // An XMLDocument from the client arrives as an XML object, and goes back as one.
  return [doc instanceof XML, doc.firstChild.nodeName, doc.firstChild.attributes.k, doc];
};

function watch(key, x) {
  var events = [];
  x.onHTTPStatus = function (code) { events.push("status " + code); };
  x.onLoad = function (ok) {
    events.push("load " + ok);
    done(key, { events: events, status: x.status, text: x.toString(), loaded: x.loaded, bytes: [x.getBytesLoaded(), x.getBytesTotal()] });
  };
  return x;
}

Client.prototype.loadXml = function (key, url) {
  var x = watch(key, new XML());
  x.ignoreWhite = true;
  return x.load(url);
};

Client.prototype.rawData = function (key, url) {
  var x = new XML();
  x.onData = function (src) { done(key, { src: src === undefined ? "undefined" : src, status: x.status }); };
  return x.load(url);
};

Client.prototype.sendAndLoadXml = function (key, url) {
  var out = new XML('<login user="bob" pass="p&amp;w"/>');
  out.contentType = "text/xml";
  out.addRequestHeader("X-Token", "abc");
  out.addRequestHeader(["X-One", "1", "X-Two", "2"]);
  var reply = watch(key, new XML());
  reply.ignoreWhite = true;
  return out.sendAndLoad(url, reply);
};

Client.prototype.sendXml = function (url) {
  return new XML("<ping/>").send(url);
};

Client.prototype.vars = function () {
  var lv = new LoadVars();
  lv.name = "Ruth Y.";
  lv.sum = "1+1=2&more";
  lv.utf = "é€";
  lv.fn = function () {};
  var back = new LoadVars();
  back.decode(lv.toString());
  var d = new LoadVars();
  d.decode("a=1&b=two+words&c=%E2%82%AC&d&&e=%ZZ");
  return [lv.toString(), back.name, back.sum, back.utf, d.a, d.b, d.c, d.d, d.e, lv.contentType, lv.loaded];
};

function watchVars(key, lv) {
  var events = [];
  lv.onHTTPStatus = function (code) { events.push("status " + code); };
  lv.onLoad = function (ok) {
    events.push("load " + ok);
    var props = {};
    for (var k in lv) if (typeof lv[k] != "function") props[k] = lv[k];
    done(key, { events: events, props: props, loaded: lv.loaded, bytes: [lv.getBytesLoaded(), lv.getBytesTotal()] });
  };
  return lv;
}

Client.prototype.loadVars = function (key, url) {
  return watchVars(key, new LoadVars()).load(url);
};

Client.prototype.sendAndLoadVars = function (key, url, method) {
  var lv = new LoadVars();
  lv.user = "bob smith";
  lv.token = "t&k";
  lv.addRequestHeader("X-App", "auth");
  return lv.sendAndLoad(url, watchVars(key, new LoadVars()), method);
};

Client.prototype.sendVars = function (url) {
  var lv = new LoadVars();
  lv.event = "connect";
  return [lv.send(url), lv.send(url, "_blank", "GET"), lv.load(""), new XML().load(null)];
};
`;

let peer: HttpPeer;
let apps: ScriptApps;
let c: RtmpClient;

async function loadOutcome(method: string, key: string, path: string, client = c): Promise<Record<string, unknown>> {
  expect(await client.call(method, key, path.startsWith('http') ? path : peer.url + path)).toBe(true);
  return (await apps.poll(client, 'result', 15_000, key)) as Record<string, unknown>;
}

beforeAll(async () => {
  peer = await startHttpPeer({
    ...misbehaving,
    '/ok.xml': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<auth>\n  <ok user="bob">yes é</ok>\n</auth>\n');
    },
    '/latin1.xml': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=iso-8859-1' });
      res.end(Buffer.from('<a>caf\u00e9</a>', 'latin1'));
    },
    '/malformed.xml': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<auth><ok>yes</auth>');
    },
    '/redirect': (_req, res) => {
      res.writeHead(302, { location: '/ok.xml' }).end();
    },
    '/echo': (req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      const h = req.headers;
      res.end(`<echo method="${req.method}" type="${h['content-type']}" token="${h['x-token'] ?? ''}" one="${h['x-one'] ?? ''}" two="${h['x-two'] ?? ''}"><![CDATA[${req.body.toString()}]]></echo>`);
    },
    '/vars': (req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
      res.end(`ok=1&method=${req.method}&query=${encodeURIComponent(req.url.split('?')[1] ?? '')}&body=${encodeURIComponent(req.body.toString())}&app=${req.headers['x-app'] ?? ''}`);
    },
  });
  apps = await startScriptApps({
    'xmlapp/main.asc': MAIN,
    // One second per request and 256 KB per answer for this application; only loopback may be reached.
    'xmlapp/Application.xml':
      '<Application><JSEngine><NetworkAccess><Allow>127.0.0.1</Allow><Timeout>1</Timeout><MaxResponseSize>256</MaxResponseSize><MaxRedirects>3</MaxRedirects></NetworkAccess></JSEngine></Application>',
  });
  c = await apps.connect('xmlapp');
});

afterAll(async () => {
  await apps?.close();
  await peer?.close();
});

describe('XML DOM', () => {
  it('navigates, edits and writes documents as Flash did; XMLNode.prototype extensions apply to parsed nodes', async () => {
    const out = (await c.call('dom')) as unknown[];
    expect(out.slice(0, 4)).toEqual(['root', '1', 'x&y', 3]);
    expect(out.slice(4, 7)).toEqual(['one', '2', 'two <2>']);
    expect(out.slice(7, 11)).toEqual(['e', 'ns', 'urn:n', 'ns']);
    expect(out.slice(11, 15)).toEqual([true, true, true, false]);
    expect(out[15]).toBe(
      '<?xml version="1.0"?><root a="1" b="x&amp;y"><added q="it&apos;s &quot;quoted&quot; &lt;&amp;&gt;">a &lt; b &amp; &apos;c&apos;</added><ns:e xmlns:ns="urn:n" /><item id="1">one</item></root>',
    );
    expect(out[16]).toBe('<root a="1" b="x&amp;y"><added q="changed">a &lt; b &amp; &apos;c&apos;</added><ns:e xmlns:ns="urn:n" /><item id="1">one</item></root>');
    expect(out.slice(17, 19)).toEqual([true, 4]);
    expect(out[19]).toBe(true);
    expect(out.slice(20)).toEqual(['<made>t</made>', true, true, true]);
  });

  it.each([
    ['<a><b>x</b></a>', 0],
    ['<a><![CDATA[x', -2],
    ['<?xml version="1.0"', -3],
    ['<!DOCTYPE a [', -4],
    ['<a><!-- x', -5],
    ['<a><b c=1/></a>', -6],
    ['<a b="x><c/>', -8],
    ['<a><b></b>', -9],
    ['<a></b>', -10],
    ['', 0],
    ['just text', 0],
  ])('parseXML(%j): status %d, no exception', async (src, status) => {
    const r = (await c.call('parse', src, false)) as { status: number };
    expect(r.status).toBe(status);
  });

  it('keeps what was parsed before an error, ignoreWhite, the declarations, CDATA as text, comments dropped', async () => {
    expect(await c.call('parse', '<a><b>kept</b><c>', false)).toMatchObject({ status: -9, text: '<a><b>kept</b><c /></a>', count: 3 });
    const src = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE a SYSTEM "a.dtd">\n<a>\n  <b> x </b>\n  <!-- note -->\n  <c><![CDATA[<raw> & ]]></c>\n</a>\n';
    const iw = (await c.call('parse', src, true)) as Record<string, unknown>;
    expect(iw).toMatchObject({
      status: 0,
      decl: '<?xml version="1.0" encoding="UTF-8"?>',
      doctype: '<!DOCTYPE a SYSTEM "a.dtd">',
      text: '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE a SYSTEM "a.dtd"><a><b> x </b><c>&lt;raw&gt; &amp; </c></a>',
    });
    const kept = (await c.call('parse', '<a>\n <b/>\n</a>', false)) as Record<string, unknown>;
    expect(kept.text).toBe('<a>\n <b />\n</a>');
  });

  it('a document nested 50,000 deep is parsed, cloned and written without recursion; past the limits, status -7', async () => {
    expect(await c.call('deep', 50_000)).toEqual({ status: 0, length: 50_000 * 7 + 1, depth: 50_000 });
    expect(await c.call('deep', 100_001)).toEqual({ status: -7 });
  });

  it('an XMLDocument crosses AMF both ways as an XML object', async () => {
    const r = (await c.call('echoXml', new AmfXmlDocument('<doc k="v"><x/></doc>'))) as unknown[];
    expect(r.slice(0, 3)).toEqual([true, 'doc', 'v']);
    expect(r[3]).toBeInstanceOf(AmfXmlDocument);
    expect((r[3] as AmfXmlDocument).xml).toBe('<doc k="v"><x /></doc>');
  });
});

describe('XML over HTTP', () => {
  it('load: onHTTPStatus, then the parsed document in onLoad(true), byte counts, charset', async () => {
    const r = await loadOutcome('loadXml', 'ok', '/ok.xml');
    expect(r).toMatchObject({ events: ['status 200', 'load true'], status: 0, loaded: true });
    expect(r.text).toBe('<?xml version="1.0" encoding="UTF-8"?><auth><ok user="bob">yes é</ok></auth>');
    const size = Buffer.byteLength('<?xml version="1.0" encoding="UTF-8"?>\n<auth>\n  <ok user="bob">yes é</ok>\n</auth>\n');
    expect(r.bytes).toEqual([size, size]);
    expect((await loadOutcome('loadXml', 'latin1', '/latin1.xml')).text).toBe('<a>café</a>');
    expect((await loadOutcome('loadXml', 'redirected', '/redirect')).events).toEqual(['status 200', 'load true']);
  });

  it('a malformed answer still loads (onLoad(true)) with the status saying what is wrong', async () => {
    expect(await loadOutcome('loadXml', 'malformed', '/malformed.xml')).toMatchObject({ events: ['status 200', 'load true'], status: -10 });
  });

  it('onData gets the raw text; a failed request gives onData(undefined)', async () => {
    expect(await loadOutcome('rawData', 'raw', '/malformed.xml')).toEqual({ src: '<auth><ok>yes</auth>', status: 0 });
    expect(await loadOutcome('rawData', 'raw404', '/nothing')).toEqual({ src: 'undefined', status: 0 });
  });

  it.each([
    ['404', '/nothing', 'status 404'],
    ['500', '/fail', 'status 500'],
    ['slow (past the 1 s Timeout)', '/slow', 'status 200'],
    ['huge (past MaxResponseSize)', '/huge', 'status 200'],
    ['declared huge', '/huge-declared', 'status 200'],
    ['cut off', '/cut', 'status 200'],
    ['redirect loop (past MaxRedirects)', '/loop', 'status 0'],
  ])('%s: onHTTPStatus then onLoad(false), nothing thrown', async (key, path, status) => {
    const r = await loadOutcome('loadXml', key, path);
    expect(r).toMatchObject({ events: [status, 'load false'], loaded: false });
  });

  it('refused connections and hosts outside the allow-list fail the same way', async () => {
    const closed = await freePort();
    expect(await loadOutcome('loadXml', 'refused', `http://127.0.0.1:${closed}/x`)).toMatchObject({ events: ['status 0', 'load false'] });
    expect(await loadOutcome('loadXml', 'denied', `http://localhost:${peer.port}/ok.xml`)).toMatchObject({ events: ['status 0', 'load false'] });
    expect(await loadOutcome('loadXml', 'notHttp', 'ftp://127.0.0.1/x')).toMatchObject({ events: ['status 0', 'load false'] });
    expect(peer.requests.some((r) => r.headers.host?.startsWith('localhost'))).toBe(false);
  });

  it('sendAndLoad POSTs the document with contentType and request headers; the answer goes to the target', async () => {
    const r = await loadOutcome('sendAndLoadXml', 'sent', '/echo');
    expect(r.events).toEqual(['status 200', 'load true']);
    expect(r.text).toBe('<echo method="POST" type="text/xml" token="abc" one="1" two="2">&lt;login user=&quot;bob&quot; pass=&quot;p&amp;amp;w&quot; /&gt;</echo>');
  });

  it('send POSTs and drops the answer', async () => {
    const before = peer.requests.length;
    expect(await c.call('sendXml', `${peer.url}/echo`)).toBe(true);
    await until(() => peer.requests.slice(before).some((r) => r.body.toString() === '<ping />'), 5000, 'the POST');
    const sent = peer.requests.slice(before).find((r) => r.body.toString() === '<ping />');
    expect(sent?.method).toBe('POST');
    expect(sent?.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });
});

describe('LoadVars', () => {
  it('toString encodes as Flash escape() did; decode reads it back; bad %-sequences are kept', async () => {
    const r = (await c.call('vars')) as unknown[];
    expect(r[0]).toBe('name=Ruth%20Y%2E&sum=1%2B1%3D2%26more&utf=%C3%A9%E2%82%AC');
    expect(r.slice(1, 4)).toEqual(['Ruth Y.', '1+1=2&more', 'é€']);
    expect(r.slice(4, 9)).toEqual(['1', 'two words', '€', '', '%ZZ']);
    expect(r[9]).toBe('application/x-www-form-urlencoded');
    expect(r[10]).toBeUndefined();
  });

  it('load decodes the answer into the object; sendAndLoad POSTs or GETs the variables with headers', async () => {
    const loaded = await loadOutcome('loadVars', 'lv', '/vars');
    expect(loaded).toMatchObject({ events: ['status 200', 'load true'], loaded: true, props: { ok: '1', method: 'GET' } });
    expect((loaded.bytes as number[])[0]).toBeGreaterThan(0);
    expect(await c.call('sendAndLoadVars', 'post', `${peer.url}/vars`, 'POST')).toBe(true);
    expect(await apps.poll(c, 'result', 10_000, 'post')).toMatchObject({ props: { method: 'POST', body: 'user=bob%20smith&token=t%26k', app: 'auth', query: '' } });
    expect(await c.call('sendAndLoadVars', 'get', `${peer.url}/vars`, 'GET')).toBe(true);
    expect(await apps.poll(c, 'result', 10_000, 'get')).toMatchObject({ props: { method: 'GET', query: 'user=bob%20smith&token=t%26k', body: '' } });
  });

  it('a failed load calls onHTTPStatus and onLoad(false); send needs a URL', async () => {
    expect(await loadOutcome('loadVars', 'lv500', '/fail')).toMatchObject({ events: ['status 500', 'load false'], loaded: false });
    expect(await c.call('sendVars', `${peer.url}/vars`)).toEqual([true, true, false, false]);
  });
});
