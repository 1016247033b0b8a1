// @ts-check
/**
 * WebService, SOAPCall, SOAPFault and Log (FMS 2 Server-Side ActionScript, modelled on Flash's AS2
 * mx.services classes; ssas-api.md 12): SOAP 1.1 over the host's HTTP client, the WSDL and the envelopes
 * read and written with the XML class.
 *
 *   var ws = new WebService(wsdlUrl[, log]);   ws.onLoad(wsdlDocument), ws.onFault(fault)
 *   var call = ws.someOperation(arg1, arg2);   call.onResult(result), call.onFault(fault)
 *   call.request / call.response               the SOAP envelopes sent and received (XML objects)
 *   fault.faultcode, faultstring, detail, element, faultactor
 *   var log = new Log(Log.VERBOSE, "name");    log.onLog(message); Log.BRIEF, Log.VERBOSE, Log.DEBUG
 *
 * Calls made before the WSDL has arrived wait for it. Operations of the first SOAP 1.1 port are callable
 * (document/literal, wrapped or not, and rpc, literal or encoded); arguments are positional in the order of
 * the operation's parameters (one object argument whose keys are the parameter names works too). Results
 * are ActionScript values: a part with one simple value comes back as that value (xsd numbers as Number,
 * xsd:boolean as Boolean), an element with children as an Object (repeated children as an Array), several
 * output parts as an Object of them. A SOAP Fault, an HTTP failure or a response that is not SOAP reaches
 * onFault as a SOAPFault (faultcode "Client.HTTP" / "Client.BadResponse" for the latter two, ours).
 */
function ssasWebService(S) {
  var g = S.global;
  var SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
  var SOAP_ENC = 'http://schemas.xmlsoap.org/soap/encoding/';
  var XSD = 'http://www.w3.org/2001/XMLSchema';
  var XSI = 'http://www.w3.org/2001/XMLSchema-instance';
  var WSDL_SOAP = 'http://schemas.xmlsoap.org/wsdl/soap/';

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  // --- Log -------------------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function Log(level, name) {
    // @ts-ignore called without new
    if (!(this instanceof Log)) return new Log(level, name);
    this.level = level === undefined ? Log.BRIEF : Number(level);
    this.name = name === undefined ? '' : String(name);
  }
  Log.NONE = -1;
  Log.BRIEF = 0;
  Log.VERBOSE = 1;
  Log.DEBUG = 2;
  var LGP = Log.prototype;
  function stamp() {
    var d = new Date();
    var p = function (n) {
      return (n < 10 ? '0' : '') + n;
    };
    return d.getMonth() + 1 + '/' + d.getDate() + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  LGP.logInfo = function (msg, level) {
    var l = level === undefined ? Log.BRIEF : Number(level);
    if (l > this.level) return;
    var text = stamp() + ' ' + (this.name ? this.name + ': ' : '') + String(msg);
    if (typeof this.onLog === 'function') this.onLog(text);
  };
  LGP.logDebug = function (msg) {
    this.logInfo(msg, Log.DEBUG);
  };
  /** Default onLog: the instance's log, as trace() writes it. */
  LGP.onLog = function (message) {
    S.emit({ op: 'trace', msg: String(message) });
  };
  Object.keys(LGP).forEach(function (k) {
    Object.defineProperty(LGP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'Log', { value: Log, writable: true, enumerable: false, configurable: true });

  function logTo(log, msg, level) {
    if (log && typeof log.logInfo === 'function') {
      try {
        log.logInfo(msg, level);
      } catch (err) {
        S.reportError(err);
      }
    }
  }

  // --- SOAPFault -------------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function SOAPFault(faultcode, faultstring, detail, element, faultactor) {
    // @ts-ignore called without new
    if (!(this instanceof SOAPFault)) return new SOAPFault(faultcode, faultstring, detail, element, faultactor);
    this.faultcode = faultcode === undefined ? null : faultcode;
    this.faultstring = faultstring === undefined ? null : faultstring;
    this.detail = detail === undefined ? null : detail;
    this.element = element === undefined ? null : element;
    this.faultactor = faultactor === undefined ? null : faultactor;
  }
  SOAPFault.prototype.toString = function () {
    return '[SOAPFault ' + this.faultcode + ': ' + this.faultstring + ']';
  };
  Object.defineProperty(SOAPFault.prototype, 'toString', { enumerable: false });
  Object.defineProperty(g, 'SOAPFault', { value: SOAPFault, writable: true, enumerable: false, configurable: true });

  // --- SOAPCall --------------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function SOAPCall(operation) {
    // @ts-ignore called without new
    if (!(this instanceof SOAPCall)) return new SOAPCall(operation);
    this.request = null;
    this.response = null;
    hidden(this, '__ssasOperation', operation === undefined ? null : operation);
  }
  Object.defineProperty(g, 'SOAPCall', { value: SOAPCall, writable: true, enumerable: false, configurable: true });

  function fire(target, name, args) {
    var fn = target && target[name];
    if (typeof fn === 'function') S.safeCall(target, fn, args);
    else if (name === 'onFault') {
      var app = S.application;
      var f = args[0];
      S.emit({ op: 'trace', msg: 'WebService fault not handled: ' + (f && f.faultcode) + ' ' + (f && f.faultstring) });
      if (app && typeof app.onStatus === 'function') S.safeCall(app, app.onStatus, [{ level: 'error', code: 'WebService.Fault', description: String(f && f.faultstring), details: f }]);
    }
  }

  // --- XML helpers -------------------------------------------------------------------------------------

  function elements(node) {
    var out = [];
    if (!node) return out;
    for (var c = node.firstChild; c !== null; c = c.nextSibling) if (c.nodeType === 1) out.push(c);
    return out;
  }
  function local(n) {
    var name = String(n.nodeName);
    var i = name.indexOf(':');
    return i < 0 ? name : name.slice(i + 1);
  }
  function uriOf(n) {
    var p = String(n.nodeName);
    var i = p.indexOf(':');
    var ns = n.getNamespaceForPrefix(i < 0 ? '' : p.slice(0, i));
    return ns === null || ns === undefined ? '' : ns;
  }
  function is(n, ns, name) {
    return n && n.nodeType === 1 && local(n) === name && (ns === null || uriOf(n) === ns);
  }
  function child(n, ns, name) {
    var e = elements(n);
    for (var i = 0; i < e.length; i++) if (is(e[i], ns, name)) return e[i];
    return null;
  }
  function children(n, ns, name) {
    return elements(n).filter(function (e) {
      return is(e, ns, name);
    });
  }
  function text(n) {
    var s = '';
    var work = [n];
    while (work.length > 0) {
      var x = work.pop();
      if (x.nodeType === 3) s += x.nodeValue;
      else for (var i = x.childNodes.length - 1; i >= 0; i--) work.push(x.childNodes[i]);
    }
    return s;
  }
  /** A QName attribute value ("tns:Add") as { ns, name } in the scope of `n`. */
  function qname(n, value) {
    if (value === undefined || value === null) return null;
    var v = String(value);
    var i = v.indexOf(':');
    var prefix = i < 0 ? '' : v.slice(0, i);
    var ns = n.getNamespaceForPrefix(prefix);
    return { ns: ns === null || ns === undefined ? '' : ns, name: i < 0 ? v : v.slice(i + 1) };
  }
  var ESC = /[&<>"']/g;
  var ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
  function esc(s) {
    return String(s).replace(ESC, function (c) {
      return ESCAPES[c];
    });
  }

  // --- WSDL --------------------------------------------------------------------------------------------

  /** The operations of a WSDL 1.1 document (first SOAP port), or a string saying why there are none. */
  function readWsdl(doc) {
    var defs = null;
    for (var c = doc.firstChild; c !== null; c = c.nextSibling) if (c.nodeType === 1 && local(c) === 'definitions') defs = c;
    if (!defs) return 'the document is not a WSDL (no definitions element)';
    var tns = defs.attributes.targetNamespace || '';
    var schemaElements = {};
    var schemaTypes = {};
    var qualified = {};
    elements(child(defs, null, 'types')).forEach(function (schema) {
      if (local(schema) !== 'schema') return;
      var stns = schema.attributes.targetNamespace || tns;
      qualified[stns] = schema.attributes.elementFormDefault === 'qualified';
      elements(schema).forEach(function (e) {
        if (local(e) === 'element' && e.attributes.name) schemaElements[stns + ' ' + e.attributes.name] = { node: e, ns: stns };
        if (local(e) === 'complexType' && e.attributes.name) schemaTypes[stns + ' ' + e.attributes.name] = { node: e, ns: stns };
      });
    });
    var messages = {};
    children(defs, null, 'message').forEach(function (m) {
      messages[m.attributes.name] = children(m, null, 'part').map(function (p) {
        return { name: p.attributes.name, element: qname(p, p.attributes.element), type: qname(p, p.attributes.type) };
      });
    });
    var portTypes = {};
    children(defs, null, 'portType').forEach(function (pt) {
      var ops = {};
      children(pt, null, 'operation').forEach(function (op) {
        var input = child(op, null, 'input');
        var output = child(op, null, 'output');
        ops[op.attributes.name] = {
          input: input ? qname(input, input.attributes.message) : null,
          output: output ? qname(output, output.attributes.message) : null,
          order: op.attributes.parameterOrder ? String(op.attributes.parameterOrder).split(/\s+/) : null,
        };
      });
      portTypes[pt.attributes.name] = ops;
    });
    var bindings = {};
    children(defs, null, 'binding').forEach(function (b) {
      var sb = child(b, WSDL_SOAP, 'binding');
      if (!sb) return;
      var ops = {};
      children(b, null, 'operation').forEach(function (op) {
        var so = child(op, WSDL_SOAP, 'operation');
        var input = child(op, null, 'input');
        var body = input ? child(input, WSDL_SOAP, 'body') : null;
        ops[op.attributes.name] = {
          action: so && so.attributes.soapAction !== undefined ? so.attributes.soapAction : '',
          style: (so && so.attributes.style) || sb.attributes.style || 'document',
          use: (body && body.attributes.use) || 'literal',
          namespace: (body && body.attributes.namespace) || tns,
        };
      });
      bindings[b.attributes.name] = { type: qname(b, b.attributes.type), ops: ops };
    });
    var endpoint = null;
    /** @type {any} */
    var binding = null;
    children(defs, null, 'service').forEach(function (svc) {
      children(svc, null, 'port').forEach(function (port) {
        var addr = child(port, WSDL_SOAP, 'address');
        var bq = qname(port, port.attributes.binding);
        if (endpoint === null && addr && bq && bindings[bq.name]) {
          endpoint = addr.attributes.location;
          binding = bindings[bq.name];
        }
      });
    });
    if (!binding || !endpoint) return 'the WSDL has no SOAP 1.1 port';
    var pt = portTypes[binding.type ? binding.type.name : ''] || {};
    var operations = {};
    Object.keys(binding.ops).forEach(function (name) {
      var b = binding.ops[name];
      var p = pt[name] || {};
      var inParts = p.input ? messages[p.input.name] || [] : [];
      var outParts = p.output ? messages[p.output.name] || [] : [];
      var params = [];
      var wrapper = null;
      if (b.style === 'document' && inParts.length === 1 && inParts[0].element) {
        // Wrapped document/literal: the element's sequence children are the parameters.
        var el = schemaElements[inParts[0].element.ns + ' ' + inParts[0].element.name];
        wrapper = { name: inParts[0].element.name, ns: inParts[0].element.ns, qualified: !!(el && qualified[el.ns]) };
        if (el) params = sequenceOf(el.node, schemaTypes).map(function (e) {
          return { name: e.name, type: e.type };
        });
      } else {
        params = inParts.map(function (part) {
          return { name: part.name, type: part.type, element: part.element };
        });
        if (p.order) {
          params.sort(function (a, c) {
            return p.order.indexOf(a.name) - p.order.indexOf(c.name);
          });
        }
      }
      // Simple types of the output element's children (document/literal answers carry no xsi:type).
      var outTypes = {};
      if (outParts.length === 1 && outParts[0].element) {
        var oel = schemaElements[outParts[0].element.ns + ' ' + outParts[0].element.name];
        if (oel) sequenceOf(oel.node, schemaTypes).forEach(function (e) {
          if (e.type) outTypes[e.name] = e.type.name;
        });
      }
      operations[name] = { name: name, action: b.action, style: b.style, use: b.use, namespace: b.namespace, params: params, wrapper: wrapper, outParts: outParts, outTypes: outTypes, tns: tns };
    });
    return { endpoint: endpoint, operations: operations, tns: tns };
  }

  /** The elements of a schema element's (or its named type's) sequence: [{ name, type }]. */
  function sequenceOf(el, types) {
    var ct = child(el, XSD, 'complexType');
    if (!ct && el.attributes.type) {
      var tq = qname(el, el.attributes.type);
      var t = tq ? types[tq.ns + ' ' + tq.name] : null;
      if (t) ct = t.node;
    }
    var seq = ct ? child(ct, XSD, 'sequence') || child(ct, XSD, 'all') : null;
    if (!seq) return [];
    return children(seq, XSD, 'element').map(function (e) {
      return { name: e.attributes.name, type: qname(e, e.attributes.type) };
    });
  }

  // --- envelopes ---------------------------------------------------------------------------------------

  function xsdTypeOf(v) {
    if (typeof v === 'number') return Math.floor(v) === v && Math.abs(v) < 2147483648 ? 'xsd:int' : 'xsd:double';
    if (typeof v === 'boolean') return 'xsd:boolean';
    if (v instanceof Date) return 'xsd:dateTime';
    return 'xsd:string';
  }

  /** A value as XML content: objects become child elements, arrays repeated <item> elements. */
  function valueXml(name, v, typed, depth) {
    if (depth > 64) return '';
    if (v === null || v === undefined) return '<' + name + (typed ? ' xsi:nil="true"' : '') + ' />';
    if (v instanceof Date) return '<' + name + (typed ? ' xsi:type="xsd:dateTime"' : '') + '>' + v.toISOString() + '</' + name + '>';
    if (Array.isArray(v)) {
      var items = '';
      for (var i = 0; i < v.length; i++) items += valueXml('item', v[i], typed, depth + 1);
      return '<' + name + '>' + items + '</' + name + '>';
    }
    if (typeof v === 'object') {
      if (typeof v.toString === 'function' && g.XMLNode && v instanceof g.XMLNode) return '<' + name + '>' + v.toString() + '</' + name + '>';
      var inner = '';
      for (var k in v) if (typeof v[k] !== 'function') inner += valueXml(k, v[k], typed, depth + 1);
      return '<' + name + '>' + inner + '</' + name + '>';
    }
    return '<' + name + (typed ? ' xsi:type="' + xsdTypeOf(v) + '"' : '') + '>' + esc(v) + '</' + name + '>';
  }

  function envelope(op, args) {
    var values = args;
    if (args.length === 1 && op.params.length > 0 && args[0] !== null && typeof args[0] === 'object' && !Array.isArray(args[0]) && !(args[0] instanceof Date)) {
      var o = args[0];
      var named = op.params.some(function (p) {
        return Object.prototype.hasOwnProperty.call(o, p.name);
      });
      if (named && (op.params.length > 1 || Object.prototype.hasOwnProperty.call(o, op.params[0].name))) {
        values = op.params.map(function (p) {
          return o[p.name];
        });
      }
    }
    var encoded = op.use === 'encoded';
    var body;
    if (op.style === 'rpc') {
      var inner = '';
      for (var i = 0; i < op.params.length; i++) inner += valueXml(op.params[i].name, values[i], encoded, 0);
      body = '<ns:' + op.name + ' xmlns:ns="' + esc(op.namespace) + '"' + (encoded ? ' soapenv:encodingStyle="' + SOAP_ENC + '"' : '') + '>' + inner + '</ns:' + op.name + '>';
    } else if (op.wrapper) {
      var kids = '';
      for (var j = 0; j < op.params.length; j++) {
        var pn = op.wrapper.qualified ? 'ns:' + op.params[j].name : op.params[j].name;
        if (values[j] !== undefined) kids += valueXml(pn, values[j], false, 0);
      }
      body = '<ns:' + op.wrapper.name + ' xmlns:ns="' + esc(op.wrapper.ns) + '">' + kids + '</ns:' + op.wrapper.name + '>';
    } else {
      body = '';
      for (var m = 0; m < op.params.length; m++) {
        var p = op.params[m];
        var en = p.element ? p.element.name : p.name;
        var ens = p.element ? p.element.ns : op.tns;
        body += valueXml('ns' + m + ':' + en, values[m], false, 0).replace(/^<ns(\d+):([^\s/>]+)/, '<ns$1:$2 xmlns:ns$1="' + esc(ens) + '"');
      }
    }
    return (
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="' + SOAP_ENV + '" xmlns:xsd="' + XSD + '" xmlns:xsi="' + XSI + '"><soapenv:Body>' +
      body +
      '</soapenv:Body></soapenv:Envelope>'
    );
  }

  var NUMERIC = /^(int|integer|long|short|byte|double|float|decimal|unsignedInt|unsignedLong|unsignedShort|unsignedByte|nonNegativeInteger|positiveInteger|negativeInteger|nonPositiveInteger)$/;

  /** An element as an ActionScript value (see the module comment). */
  function decode(el, depth) {
    var kids = elements(el);
    var nil = el.attributes['xsi:nil'];
    if (kids.length === 0) {
      if (nil === 'true' || nil === '1') return null;
      var t = text(el);
      var xt = el.attributes['xsi:type'] ? qname(el, el.attributes['xsi:type']) : null;
      var tn = xt ? xt.name : '';
      if (NUMERIC.test(tn)) return Number(t);
      if (tn === 'boolean') return t === 'true' || t === '1';
      if (tn === 'dateTime') return new Date(t);
      return t;
    }
    if (depth > 64) return null;
    var out = {};
    var many = {};
    var repeated = kids.length > 1 && kids.every(function (k) {
      return local(k) === local(kids[0]);
    });
    if (repeated || String(el.attributes['xsi:type'] || '').indexOf('Array') >= 0 || el.attributes['soapenc:arrayType'] !== undefined) {
      return kids.map(function (k) {
        return decode(k, depth + 1);
      });
    }
    kids.forEach(function (k) {
      var n = local(k);
      var v = decode(k, depth + 1);
      if (Object.prototype.hasOwnProperty.call(out, n)) {
        if (many[n] !== true) {
          out[n] = [out[n]];
          many[n] = true;
        }
        out[n].push(v);
      } else out[n] = v;
    });
    return out;
  }

  /** Output parts with simple types convert to them even without xsi:type (document/literal answers). */
  function decodeResult(op, wrapperEl) {
    var kids = elements(wrapperEl);
    if (kids.length === 0) return text(wrapperEl) === '' ? undefined : decode(wrapperEl, 0);
    var typed = function (k) {
      var v = decode(k, 0);
      if (typeof v === 'string' && !k.attributes['xsi:type']) {
        var t = typeOfPart(op, local(k));
        if (t && NUMERIC.test(t)) return Number(v);
        if (t === 'boolean') return v === 'true' || v === '1';
      }
      return v;
    };
    if (kids.length === 1) return typed(kids[0]);
    var out = {};
    kids.forEach(function (k) {
      out[local(k)] = typed(k);
    });
    return out;
  }

  function typeOfPart(op, name) {
    for (var i = 0; i < op.outParts.length; i++) if (op.outParts[i].name === name && op.outParts[i].type) return op.outParts[i].type.name;
    return op.outTypes ? op.outTypes[name] : undefined;
  }

  function faultOf(faultEl) {
    var detail = child(faultEl, null, 'detail');
    return new SOAPFault(
      text(child(faultEl, null, 'faultcode') || faultEl),
      text(child(faultEl, null, 'faultstring') || faultEl),
      detail ? (elements(detail).length > 0 ? elements(detail).map(String).join('') : text(detail)) : null,
      faultEl,
      child(faultEl, null, 'faultactor') ? text(child(faultEl, null, 'faultactor')) : null,
    );
  }

  // --- WebService --------------------------------------------------------------------------------------

  /** @constructor @this {any} */
  function WebService(wsdlUrl, log) {
    // @ts-ignore called without new
    if (!(this instanceof WebService)) return new WebService(wsdlUrl, log);
    var self = this;
    var state = { url: String(wsdlUrl), log: log || null, wsdl: null, failed: null, queue: [] };
    hidden(this, '__ssasState', state);
    logTo(state.log, 'Loading the WSDL ' + state.url, Log.BRIEF);
    S.http.request({ method: 'GET', url: state.url, headers: [] }, function (res) {
      var fault = null;
      if (res.error || !(res.status >= 200 && res.status < 300)) {
        fault = new SOAPFault('Client.WSDL', 'The WSDL could not be loaded from ' + state.url + ': ' + (res.error ? res.error.message : 'HTTP status ' + res.status));
      } else {
        var doc = S.parseXmlText(String(res.body), true);
        var w = doc.status === 0 ? readWsdl(doc) : 'the WSDL is not well-formed XML (status ' + doc.status + ')';
        if (typeof w === 'string') fault = new SOAPFault('Client.WSDL', 'Bad WSDL at ' + state.url + ': ' + w);
        else {
          state.wsdl = w;
          // The document/literal output elements' simple children, for typing the answers.
          logTo(state.log, 'WSDL loaded: ' + Object.keys(w.operations).join(', '), Log.VERBOSE);
          fire(proxy, 'onLoad', [doc]);
        }
      }
      if (fault) {
        state.failed = fault;
        logTo(state.log, fault.faultstring, Log.BRIEF);
        fire(proxy, 'onFault', [fault]);
      }
      var q = state.queue;
      state.queue = [];
      q.forEach(function (item) {
        if (state.failed) fire(item.call, 'onFault', [state.failed]);
        else invoke(self, item.name, item.args, item.call);
      });
    });
    var proxy = new Proxy(this, {
      get: function (target, name, receiver) {
        if (typeof name !== 'string' || name in target || name.indexOf('__') === 0 || name === 'then' || name === 'toJSON') return Reflect.get(target, name, receiver);
        return function () {
          return callOperation(target, name, Array.prototype.slice.call(arguments));
        };
      },
    });
    return proxy;
  }

  function callOperation(ws, name, args) {
    var state = ws.__ssasState;
    var call = new SOAPCall(name);
    // A WSDL that failed: the call's onFault runs after this event (the script sets it after the call).
    if (state.failed) S.later({ e: 'wsFault', call: call, fault: state.failed });
    else if (state.wsdl === null) state.queue.push({ name: name, args: args, call: call });
    else invoke(ws, name, args, call);
    return call;
  }

  S.handlers.wsFault = function (ev) {
    fire(ev.call, 'onFault', [ev.fault]);
  };

  function invoke(ws, name, args, call) {
    var state = ws.__ssasState;
    var op = state.wsdl.operations[name];
    if (!op) {
      fire(call, 'onFault', [new SOAPFault('Client.NoSuchMethod', 'The WSDL has no operation ' + name)]);
      return;
    }
    var xml = envelope(op, args);
    call.request = S.parseXmlText(xml, false);
    logTo(state.log, 'Calling ' + name, Log.VERBOSE);
    logTo(state.log, 'Request: ' + xml, Log.DEBUG);
    S.http.request(
      {
        method: 'POST',
        url: state.wsdl.endpoint,
        headers: [
          ['Content-Type', 'text/xml; charset=utf-8'],
          ['SOAPAction', '"' + op.action + '"'],
        ],
        body: xml,
      },
      function (res) {
        var body = res.body === undefined ? '' : String(res.body);
        logTo(state.log, 'Response ' + res.status + ': ' + body, Log.DEBUG);
        if (res.error) {
          fire(call, 'onFault', [new SOAPFault('Client.HTTP', 'The request to ' + state.wsdl.endpoint + ' failed: ' + res.error.message)]);
          return;
        }
        var doc = S.parseXmlText(body, true);
        call.response = doc;
        var env = doc.firstChild;
        while (env && env.nodeType !== 1) env = env.nextSibling;
        var bodyEl = env && is(env, null, 'Envelope') ? child(env, null, 'Body') : null;
        if (!bodyEl) {
          fire(call, 'onFault', [new SOAPFault('Client.BadResponse', 'The answer from ' + state.wsdl.endpoint + ' (HTTP ' + res.status + ') is not a SOAP envelope')]);
          return;
        }
        var first = elements(bodyEl)[0] || null;
        if (first && is(first, null, 'Fault')) {
          fire(call, 'onFault', [faultOf(first)]);
          return;
        }
        if (!(res.status >= 200 && res.status < 300)) {
          fire(call, 'onFault', [new SOAPFault('Client.HTTP', 'HTTP status ' + res.status + ' from ' + state.wsdl.endpoint)]);
          return;
        }
        var result = first ? decodeResult(op, first) : undefined;
        logTo(state.log, name + ' answered', Log.VERBOSE);
        fire(call, 'onResult', [result]);
      },
    );
  }

  Object.defineProperty(g, 'WebService', { value: WebService, writable: true, enumerable: false, configurable: true });
}
