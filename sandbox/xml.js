// @ts-check
/**
 * The XML and XMLNode classes SSAS has: Flash Player 6-8's ActionScript 2.0 XML DOM (ActionScript 2.0
 * Language Reference, XML and XMLNode classes; ssas-api.md 12). Parsing runs here in the isolate (saxes
 * through xml-parse.js, the parser the host reads Application.xml with), so a large document never holds up
 * the event loop; loading and sending go through the host's HTTP client (http.js).
 *
 * As Flash did: parsing never throws (`status` says what went wrong, the nodes before it are kept), CDATA
 * sections become text nodes, comments and processing instructions are dropped (the XML declaration goes to
 * `xmlDecl`, the DOCTYPE to `docTypeDecl`), `ignoreWhite` (own or inherited, `XML.prototype.ignoreWhite =
 * true` included) drops whitespace-only text nodes, and `toString()` writes `<a />` for an empty element and
 * escapes `& < > " '` in text and attribute values. Parsed nodes are XMLNode instances, so methods scripts add
 * to `XMLNode.prototype` apply to them. Attributes keep their document order (SpiderMonkey's for-in order).
 */
function ssasXml(S) {
  var g = S.global;
  var Parser = null;
  // Tree links, kept out of sight of for-in and Object.keys.
  var KIDS = Symbol('ssas.xml.children');
  var PARENT = Symbol('ssas.xml.parent');
  var PREV = Symbol('ssas.xml.prev');
  var NEXT = Symbol('ssas.xml.next');

  function saxes() {
    if (Parser === null) Parser = S.vendor('saxes').SaxesParser;
    return Parser;
  }

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  /** A plain attributes object (saxes gives null-prototype ones; scripts call hasOwnProperty on them). */
  function plainAttributes(src) {
    var o = {};
    for (var k in src) {
      if (k === '__proto__') Object.defineProperty(o, k, { value: src[k], enumerable: true, writable: true, configurable: true });
      else o[k] = src[k];
    }
    return o;
  }

  function init(node, type, name, value) {
    node.nodeType = type;
    node.nodeName = type === 1 ? (name === undefined ? null : name) : null;
    node.nodeValue = type === 1 ? null : value === undefined || value === null ? '' : String(value);
    node.attributes = {};
    node[KIDS] = [];
    node[PARENT] = null;
    node[PREV] = null;
    node[NEXT] = null;
  }

  // --- XMLNode -------------------------------------------------------------------------------------------

  /** new XMLNode(type, value): type 1 makes an element named `value`, 3 a text node holding `value`. */
  /** @constructor @this {any} */
  function XMLNode(type, value) {
    // @ts-ignore called without new
    if (!(this instanceof XMLNode)) return new XMLNode(type, value);
    var t = Number(type) === 3 ? 3 : 1;
    init(this, t, t === 1 ? (value === undefined ? null : String(value)) : null, t === 3 ? value : null);
  }
  var NP = XMLNode.prototype;

  function kids(node) {
    var k = node[KIDS];
    if (k === undefined) {
      // An object made with Object.create(XMLNode.prototype) or a subclass that skipped the constructor.
      k = node[KIDS] = [];
      node[PARENT] = node[PREV] = node[NEXT] = null;
    }
    return k;
  }

  function accessor(name, get) {
    Object.defineProperty(NP, name, { get: get, enumerable: false, configurable: true });
  }
  accessor('childNodes', function () {
    return kids(this);
  });
  accessor('firstChild', function () {
    var k = kids(this);
    return k.length > 0 ? k[0] : null;
  });
  accessor('lastChild', function () {
    var k = kids(this);
    return k.length > 0 ? k[k.length - 1] : null;
  });
  accessor('parentNode', function () {
    return this[PARENT] || null;
  });
  accessor('nextSibling', function () {
    return this[NEXT] || null;
  });
  accessor('previousSibling', function () {
    return this[PREV] || null;
  });
  // Flash 8 namespace support: prefix:localName, namespaceURI from the xmlns attributes in scope.
  accessor('prefix', function () {
    var n = this.nodeName;
    if (typeof n !== 'string') return null;
    var i = n.indexOf(':');
    return i < 0 ? '' : n.slice(0, i);
  });
  accessor('localName', function () {
    var n = this.nodeName;
    if (typeof n !== 'string') return null;
    var i = n.indexOf(':');
    return i < 0 ? n : n.slice(i + 1);
  });
  accessor('namespaceURI', function () {
    if (this.nodeType !== 1 || typeof this.nodeName !== 'string') return null;
    var uri = this.getNamespaceForPrefix(this.prefix);
    return uri === null || uri === undefined ? '' : uri;
  });

  NP.getNamespaceForPrefix = function (prefix) {
    var key = prefix === '' || prefix === null || prefix === undefined ? 'xmlns' : 'xmlns:' + prefix;
    for (var n = this; n; n = n[PARENT]) {
      var a = n.attributes;
      if (a && Object.prototype.hasOwnProperty.call(a, key)) return a[key];
    }
    return null;
  };

  NP.getPrefixForNamespace = function (uri) {
    for (var n = this; n; n = n[PARENT]) {
      var a = n.attributes;
      if (!a) continue;
      for (var k in a) {
        if (a[k] !== uri) continue;
        if (k === 'xmlns') return '';
        if (k.indexOf('xmlns:') === 0) return k.slice(6);
      }
    }
    return null;
  };

  NP.hasChildNodes = function () {
    return kids(this).length > 0;
  };

  function isAncestor(node, of) {
    for (var n = of; n; n = n[PARENT]) if (n === node) return true;
    return false;
  }

  function detach(child) {
    var p = child[PARENT];
    if (!p) return;
    var k = kids(p);
    var i = k.indexOf(child);
    if (i >= 0) k.splice(i, 1);
    if (child[PREV]) child[PREV][NEXT] = child[NEXT];
    if (child[NEXT]) child[NEXT][PREV] = child[PREV];
    child[PARENT] = child[PREV] = child[NEXT] = null;
  }

  /** Puts child into parent's children at index i (links kept). */
  function attach(parent, child, i) {
    var k = kids(parent);
    kids(child);
    var prev = i > 0 ? k[i - 1] : null;
    var next = i < k.length ? k[i] : null;
    k.splice(i, 0, child);
    child[PARENT] = parent;
    child[PREV] = prev;
    child[NEXT] = next;
    if (prev) prev[NEXT] = child;
    if (next) next[PREV] = child;
  }

  /** appendChild(node): moves node (out of any tree it is in) to the end of this node's children. */
  NP.appendChild = function (child) {
    if (!(child instanceof XMLNode) || child === this || isAncestor(child, this)) return;
    detach(child);
    attach(this, child, kids(this).length);
  };

  /** insertBefore(node, beforeNode): beforeNode must be a child of this node, else nothing happens. */
  NP.insertBefore = function (child, before) {
    if (!(child instanceof XMLNode) || child === this || isAncestor(child, this)) return;
    if (!(before instanceof XMLNode) || before[PARENT] !== this || child === before) return;
    detach(child);
    attach(this, child, kids(this).indexOf(before));
  };

  NP.removeNode = function () {
    detach(this);
  };

  /** cloneNode(deep): a copy without a parent; with deep, of the whole subtree (iterative). */
  NP.cloneNode = function (deep) {
    var self = this;
    function copyOf(n) {
      var c = Object.create(Object.getPrototypeOf(n));
      init(c, n.nodeType === 3 ? 3 : 1, n.nodeName, n.nodeValue);
      c.nodeName = n.nodeName === undefined ? null : n.nodeName;
      c.nodeValue = n.nodeValue === undefined ? null : n.nodeValue;
      var a = n.attributes;
      var ca = {};
      if (a) for (var k in a) ca[k] = a[k];
      c.attributes = ca;
      return c;
    }
    var root = copyOf(self);
    if (deep) {
      var work = [[self, root]];
      while (work.length > 0) {
        var pair = work.pop();
        var src = kids(pair[0]);
        for (var i = 0; i < src.length; i++) {
          var cc = copyOf(src[i]);
          attach(pair[1], cc, i);
          work.push([src[i], cc]);
        }
      }
    }
    return root;
  };

  var ESC = /[&<>"']/g;
  var ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
  function escape(s) {
    return s.replace(ESC, function (c) {
      return ESCAPES[c];
    });
  }

  /** Flash's serialization of a subtree (iterative: a document nested a million deep does not overflow). */
  function serialize(node) {
    var out = [];
    var work = [node];
    while (work.length > 0) {
      var item = work.pop();
      if (typeof item === 'string') {
        out.push(item);
        continue;
      }
      if (item.nodeType === 3) {
        var v = item.nodeValue;
        out.push(v === null || v === undefined ? '' : escape(String(v)));
        continue;
      }
      var k = kids(item);
      var name = item.nodeName;
      if (name === null || name === undefined || name === '') {
        for (var i = k.length - 1; i >= 0; i--) work.push(k[i]);
        continue;
      }
      var open = '<' + name;
      var a = item.attributes;
      if (a) {
        for (var an in a) {
          var av = a[an];
          if (typeof av === 'function') continue;
          open += ' ' + an + '="' + escape(String(av)) + '"';
        }
      }
      if (k.length === 0) {
        out.push(open + ' />');
        continue;
      }
      out.push(open + '>');
      work.push('</' + name + '>');
      for (var j = k.length - 1; j >= 0; j--) work.push(k[j]);
    }
    return out.join('');
  }

  NP.toString = function () {
    return serialize(this);
  };

  // Crossing to the host (client.call arguments, shared object values): an XMLDocument (AMF0 0x0F).
  NP.__ssasToHost = function () {
    var t = {};
    t['\u0001'] = 'X';
    t.s = String(this.toString());
    return t;
  };

  Object.keys(NP).forEach(function (k) {
    Object.defineProperty(NP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'XMLNode', { value: XMLNode, writable: true, enumerable: false, configurable: true });

  // --- XML -----------------------------------------------------------------------------------------------

  /** new XML([source]): an empty document, or one parsed from source (with the inherited ignoreWhite). */
  /** @constructor @this {any} */
  function XML(source) {
    /** @type {any} */
    var self = this;
    // @ts-ignore called without new
    if (!(self instanceof XML)) return new XML(source);
    init(self, 1, null, null);
    self.xmlDecl = undefined;
    self.docTypeDecl = undefined;
    self.status = 0;
    if (source !== undefined && source !== null) XP.parseXML.call(self, source);
  }
  var XP = (XML.prototype = Object.create(NP));
  hidden(XP, 'constructor', XML);
  XP.ignoreWhite = false;
  XP.contentType = 'application/x-www-form-urlencoded';
  XP.loaded = undefined;

  /** Builds parsed nodes straight into the tree (no appendChild checks: they are fresh). */
  var builder = {
    element: function (parent, name, attributes) {
      var n = Object.create(XMLNode.prototype);
      n.nodeType = 1;
      n.nodeName = name;
      n.nodeValue = null;
      n.attributes = plainAttributes(attributes);
      n[KIDS] = [];
      link(parent, n);
      return n;
    },
    text: function (parent, value) {
      var n = Object.create(XMLNode.prototype);
      n.nodeType = 3;
      n.nodeName = null;
      n.nodeValue = value;
      n.attributes = {};
      n[KIDS] = [];
      link(parent, n);
    },
  };

  function link(parent, n) {
    var k = parent[KIDS];
    var prev = k.length > 0 ? k[k.length - 1] : null;
    k.push(n);
    n[PARENT] = parent;
    n[PREV] = prev;
    n[NEXT] = null;
    if (prev) prev[NEXT] = n;
  }

  /** Parses text into `doc` (its children replaced); returns the status. */
  function parseInto(doc, source) {
    var k = kids(doc);
    while (k.length > 0) detach(k[k.length - 1]);
    // Limits for a script's documents (status -7, Flash's "out of memory"): below what the isolate's memory
    // holds, far above what a real document has.
    var out = ssasXmlParse(
      saxes(),
      String(source),
      { ignoreWhite: !!doc.ignoreWhite, cdataAsText: true, keepComments: false, keepInstructions: false, maxNodes: 1000000, maxDepth: 100000 },
      builder,
      doc,
    );
    doc.xmlDecl = out.xmlDecl;
    doc.docTypeDecl = out.docTypeDecl;
    doc.status = out.status;
    return out.status;
  }

  /** @this {any} */
  XP.parseXML = function (source) {
    parseInto(this, source);
  };

  XP.createElement = function (name) {
    return new XMLNode(1, name);
  };

  XP.createTextNode = function (text) {
    return new XMLNode(3, text);
  };

  XP.toString = function () {
    var s = '';
    if (this.xmlDecl !== undefined && this.xmlDecl !== null) s += String(this.xmlDecl);
    if (this.docTypeDecl !== undefined && this.docTypeDecl !== null) s += String(this.docTypeDecl);
    return s + serialize(this);
  };

  XP.addRequestHeader = function (a, b) {
    S.httpLoad.addRequestHeader(this, a, b);
  };
  XP.getBytesLoaded = function () {
    return S.httpLoad.bytesLoaded.call(this);
  };
  XP.getBytesTotal = function () {
    return S.httpLoad.bytesTotal.call(this);
  };

  /** Default onData: parse the text and call onLoad(true), or onLoad(false) when nothing came. @this {any} */
  XP.onData = function (src) {
    if (src === undefined) {
      this.loaded = false;
      if (typeof this.onLoad === 'function') this.onLoad(false);
      return;
    }
    this.parseXML(src);
    this.loaded = true;
    if (typeof this.onLoad === 'function') this.onLoad(true);
  };

  function loadInto(target, req) {
    target.loaded = false;
    S.httpLoad.setBytes(target, 0, undefined);
    S.http.request(req, function (res) {
      S.httpLoad.deliver(target, res);
    }, S.httpLoad.progressOf(target));
  }

  /** load(url): GET the URL; the answer is parsed into this document (onData, then onLoad). */
  XP.load = function (url) {
    var u = S.httpLoad.urlOf(url);
    if (u === null) return false;
    loadInto(this, { method: 'GET', url: u, headers: S.httpLoad.headersOf(this, false) });
    return true;
  };

  /** send(url[, target]): POSTs the document; on a server the answer is read and dropped. */
  XP.send = function (url) {
    var u = S.httpLoad.urlOf(url);
    if (u === null) return false;
    S.http.request({ method: 'POST', url: u, headers: S.httpLoad.headersOf(this, true), body: String(this.toString()) }, function () {});
    return true;
  };

  /** sendAndLoad(url, targetXML): POSTs the document; the answer goes to targetXML. */
  XP.sendAndLoad = function (url, target) {
    var u = S.httpLoad.urlOf(url);
    if (u === null || target === null || typeof target !== 'object') return false;
    loadInto(target, { method: 'POST', url: u, headers: S.httpLoad.headersOf(this, true), body: String(this.toString()) });
    return true;
  };

  Object.keys(XP).forEach(function (k) {
    Object.defineProperty(XP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'XML', { value: XML, writable: true, enumerable: false, configurable: true });

  /** An XML document that arrived in AMF (client call arguments, shared object values). */
  S.makeXml = function (text) {
    return new XML(text);
  };
  S.parseXmlText = function (text, ignoreWhite) {
    var doc = /** @type {any} */ (new XML());
    doc.ignoreWhite = ignoreWhite === true;
    doc.parseXML(text);
    return doc;
  };
  S.xmlParseInto = parseInto;
}
