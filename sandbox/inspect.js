// @ts-check
/**
 * Evaluation and inspection for the interactive shell (ssas repl) and `ssas check`:
 *  - `eval` runs code at global scope in the instance: { ok: true, value: <description> } or
 *    { ok: false, error: <S.errorInfo(err)>, thrown: <description> }. A REPL error is the person's, not the
 *    application's: it is not reported to application.onStatus.
 *  - `complete` lists property names along a path of property names, for tab completion.
 *  - `apis` lists what the sandbox defines (globals, their statics and prototype members), so that
 *    `ssas check` decides what is supported from the running code, not from a table.
 *
 * A description is a plain-data tree the host prints (src/repl/format.ts). Nodes:
 *   { t: 'undefined' | 'null' }                   { t: 'boolean', v }
 *   { t: 'number' | 'bigint' | 'symbol', v: text } { t: 'string', v, cut?: number of characters left out }
 *   { t: 'function', name, cls: 'Function' | 'class', entries?, more? }
 *   { t: 'object', cls, kind, ref?, len?, items?, entries?, pairs?, more?, text?, where? }
 *        kind: object | array | map | set | date | regexp | error | boxed | typed | host
 *   { t: 'circular', ref }   { t: 'elided', cls, kind }   { t: 'accessor', get, set }   { t: 'hole' }
 * `entries` are [key, node] pairs, `pairs` [key node, value node] of a Map; `ref` numbers an object that a
 * `circular` node points back to; host nodes carry the Client's `id` or the Stream's `name` so the host can
 * add what only it knows (a stream's state).
 * Getters are not run (a getter may loop or call the host), except the host facades' own properties.
 */
function ssasInspect(S) {
  var g = S.global;
  // The facades as the sandbox made them, even if a script replaces the globals later.
  var ClientCtor = g.Client;
  var StreamCtor = g.Stream;
  var objToString = Object.prototype.toString;
  var fnToString = Function.prototype.toString;

  var LIMITS = { depth: 2, entries: 100, items: 100, string: 10000, nestedString: 1000 };
  // What a Client / Stream description shows first; the facades' other properties are left out. They are
  // the non-configurable ones (sandbox/application.js, stream.js define them so); the script's own are not.
  var CLIENT_SHOWN = ['id', 'ip', 'agent'];
  var STREAM_SHOWN = ['name', 'bufferTime'];

  S.handlers.eval = function (ev) {
    var value;
    try {
      value = S.runScript(String(ev.code), String(ev.filename || 'repl'));
    } catch (err) {
      if (err && typeof err === 'object' && err.__ssasFatal === true) throw err;
      var info;
      try {
        info = S.errorInfo(err);
      } catch (infoErr) {
        info = { level: 'error', code: 'Application.Script.Error', description: 'an uninspectable value was thrown' };
      }
      return { ok: false, error: info, thrown: safeDescribe(err) };
    }
    return { ok: true, value: safeDescribe(value) };
  };

  /** A hostile value (a Proxy whose traps throw) must not turn an answer into a sandbox failure. */
  function safeDescribe(v) {
    try {
      return describe(v);
    } catch (err) {
      return { t: 'elided', cls: 'uninspectable value', kind: 'object' };
    }
  }

  S.handlers.complete = function (ev) {
    var prefix = String(ev.prefix || '');
    var target = g;
    var path = Array.isArray(ev.path) ? ev.path : [];
    for (var i = 0; i < path.length; i++) {
      target = readProperty(target, String(path[i]));
      if (target === undefined || target === null) return { ok: true, names: [] };
    }
    return { ok: true, names: propertyNames(target, prefix) };
  };

  S.handlers.apis = function () {
    var globals = {};
    var members = {};
    var names = Object.getOwnPropertyNames(g);
    for (var i = 0; i < names.length; i++) {
      var name = names[i];
      var d = Object.getOwnPropertyDescriptor(g, name);
      var v = d && 'value' in d ? d.value : undefined;
      globals[name] = typeof v;
      if (typeof v === 'function' && /^[A-Z]/.test(name)) {
        members[name] = Object.getOwnPropertyNames(v);
        if (v.prototype && typeof v.prototype === 'object') members[name + '.prototype'] = chainNames(v.prototype, null);
      } else if (v !== null && typeof v === 'object' && /^[A-Z]/.test(name)) {
        // Static-only classes (SHA256).
        members[name] = Object.getOwnPropertyNames(v);
      }
    }
    members.application = chainNames(S.application, null);
    return { ok: true, globals: globals, members: members };
  };

  // --- property access without surprises --------------------------------------------------------------

  /**
   * obj[key] for completion, following the prototype chain through data properties only: a getter could
   * loop or call the host, and pressing Tab must never cost the instance its life.
   */
  function readProperty(obj, key) {
    if (obj === null || obj === undefined) return undefined;
    var o = typeof obj === 'object' || typeof obj === 'function' ? obj : Object(obj);
    try {
      for (var hops = 0; o !== null && hops < 64; hops++) {
        var d = Object.getOwnPropertyDescriptor(o, key);
        if (d) return 'value' in d ? d.value : undefined;
        o = Object.getPrototypeOf(o);
      }
    } catch (err) {
      return undefined;
    }
    return undefined;
  }

  function visibleName(name) {
    return typeof name === 'string' && name.indexOf('__ssas') !== 0 && name !== '\u0001';
  }

  /** Own and inherited property names (stopping before `stop`), hidden bridge names left out. */
  function chainNames(obj, stop) {
    var seen = Object.create(null);
    var out = [];
    var o = obj;
    var hops = 0;
    while (o !== null && o !== undefined && o !== stop && hops++ < 64) {
      var names;
      try {
        names = Object.getOwnPropertyNames(o);
      } catch (err) {
        break;
      }
      for (var i = 0; i < names.length; i++) {
        var n = names[i];
        if (!visibleName(n) || seen[n]) continue;
        seen[n] = true;
        out.push(n);
      }
      try {
        o = Object.getPrototypeOf(o);
      } catch (err2) {
        break;
      }
    }
    return out.sort();
  }

  function propertyNames(target, prefix) {
    var o = typeof target === 'object' || typeof target === 'function' ? target : Object(target);
    var names = chainNames(o, null);
    var out = [];
    for (var i = 0; i < names.length; i++) {
      var n = names[i];
      if (n.indexOf(prefix) === 0 && /^[A-Za-z_$][\w$]*$/.test(n)) out.push(n);
    }
    return out;
  }

  // --- descriptions -----------------------------------------------------------------------------------

  function className(v) {
    var registered = S.classNames.get(v && v.constructor);
    if (registered !== undefined) return registered;
    var proto;
    try {
      proto = Object.getPrototypeOf(v);
    } catch (err) {
      return 'Object';
    }
    if (proto === null) return 'Object: null prototype';
    var d = Object.getOwnPropertyDescriptor(proto, 'constructor');
    var ctor = d && 'value' in d ? d.value : undefined;
    if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') return ctor.name;
    var tag = objToString.call(v).slice(8, -1);
    return tag || 'Object';
  }

  function isClient(v) {
    return typeof ClientCtor === 'function' && v instanceof ClientCtor;
  }

  function isStream(v) {
    return typeof StreamCtor === 'function' && v instanceof StreamCtor;
  }

  function describe(value) {
    var ctx = { ancestors: [], nodes: [], nextRef: 1 };
    return node(value, 0, ctx, true);
  }

  function node(v, depth, ctx, top) {
    if (v === null) return { t: 'null' };
    var t = typeof v;
    if (t === 'undefined') return { t: 'undefined' };
    if (t === 'boolean') return { t: 'boolean', v: v };
    if (t === 'number') return { t: 'number', v: Object.is(v, -0) ? '-0' : String(v) };
    if (t === 'bigint') return { t: 'bigint', v: String(v) + 'n' };
    if (t === 'symbol') return { t: 'symbol', v: String(v) };
    if (t === 'string') return stringNode(v, top ? LIMITS.string : LIMITS.nestedString);
    var at = ctx.ancestors.indexOf(v);
    if (at >= 0) {
      var target = ctx.nodes[at];
      if (target.ref === undefined) target.ref = ctx.nextRef++;
      return { t: 'circular', ref: target.ref };
    }
    if (t === 'function') return functionNode(v, depth, ctx);
    return objectNode(v, depth, ctx);
  }

  function stringNode(s, limit) {
    if (s.length <= limit) return { t: 'string', v: s };
    return { t: 'string', v: s.slice(0, limit), cut: s.length - limit };
  }

  function functionNode(fn, depth, ctx) {
    var src = '';
    try {
      src = fnToString.call(fn);
    } catch (err) {
      src = '';
    }
    var n = { t: 'function', name: typeof fn.name === 'string' ? fn.name : '', cls: /^class[\s{]/.test(src) ? 'class' : 'Function' };
    var keys = ownEnumerable(fn);
    if (keys.length > 0 && depth < LIMITS.depth) {
      enter(fn, n, ctx);
      fill(n, fn, keys, depth, ctx);
      leave(ctx);
    }
    return n;
  }

  function enter(v, n, ctx) {
    ctx.ancestors.push(v);
    ctx.nodes.push(n);
  }

  function leave(ctx) {
    ctx.ancestors.pop();
    ctx.nodes.pop();
  }

  function ownEnumerable(o) {
    try {
      return Object.keys(o).filter(visibleName);
    } catch (err) {
      return [];
    }
  }

  /** Adds [key, node] entries for `keys`; accessors are shown as such unless `run` says to read them. */
  function fill(n, o, keys, depth, ctx, run) {
    var entries = [];
    var limit = Math.min(keys.length, LIMITS.entries);
    for (var i = 0; i < limit; i++) {
      var k = keys[i];
      var d;
      try {
        d = Object.getOwnPropertyDescriptor(o, k);
      } catch (err) {
        d = undefined;
      }
      if (d && !('value' in d) && !(run && run.indexOf(k) >= 0)) {
        entries.push([k, { t: 'accessor', get: !!d.get, set: !!d.set }]);
        continue;
      }
      var v;
      try {
        v = o[k];
      } catch (err2) {
        entries.push([k, { t: 'string', v: '<threw: ' + String(err2 && err2.message) + '>' }]);
        continue;
      }
      entries.push([k, node(v, depth + 1, ctx, false)]);
    }
    n.entries = entries;
    if (keys.length > limit) n.more = keys.length - limit;
  }

  function objectNode(o, depth, ctx) {
    var cls = className(o);
    var tag = objToString.call(o);
    var kind = 'object';
    if (Array.isArray(o)) kind = 'array';
    else if (isClient(o) || isStream(o)) kind = 'host';
    else if (tag === '[object Date]') kind = 'date';
    else if (tag === '[object RegExp]') kind = 'regexp';
    else if (tag === '[object Error]' || o instanceof Error) kind = 'error';
    else if (tag === '[object Map]') kind = 'map';
    else if (tag === '[object Set]') kind = 'set';
    else if (ArrayBuffer.isView(o) && !(tag === '[object DataView]')) kind = 'typed';
    else if (tag === '[object Number]' || tag === '[object String]' || tag === '[object Boolean]') kind = 'boxed';

    var n = { t: 'object', cls: cls, kind: kind };
    if (kind === 'date') {
      var time = Date.prototype.getTime.call(o);
      n.text = isNaN(time) ? 'Invalid Date' : Date.prototype.toISOString.call(o);
    } else if (kind === 'regexp') {
      n.text = RegExp.prototype.toString.call(o);
    } else if (kind === 'error') {
      var info = S.errorInfo(o);
      n.text = info.description;
      if (info.filename) n.where = info.filename + ':' + info.lineno;
    } else if (kind === 'boxed') {
      n.text = String(o.valueOf());
    }
    if (depth > LIMITS.depth) return { t: 'elided', cls: cls, kind: kind };
    enter(o, n, ctx);
    try {
      if (kind === 'array') arrayBody(n, o, depth, ctx);
      else if (kind === 'typed') typedBody(n, o);
      else if (kind === 'map') mapBody(n, o, depth, ctx);
      else if (kind === 'set') setBody(n, o, depth, ctx);
      else if (kind === 'host') hostBody(n, o, depth, ctx);
      else {
        var keys = ownEnumerable(o);
        if (kind === 'error') keys = keys.filter(function (k) {
          return k !== 'stack' && k !== 'message';
        });
        fill(n, o, keys, depth, ctx);
      }
    } finally {
      leave(ctx);
    }
    return n;
  }

  function arrayBody(n, a, depth, ctx) {
    var len = a.length;
    var limit = Math.min(len, LIMITS.items);
    var items = [];
    for (var i = 0; i < limit; i++) {
      if (!(i in a)) {
        items.push({ t: 'hole' });
        continue;
      }
      items.push(node(a[i], depth + 1, ctx, false));
    }
    n.len = len;
    n.items = items;
    if (len > limit) n.more = len - limit;
    var named = ownEnumerable(a).filter(function (k) {
      return String(Number(k) >>> 0) !== k;
    });
    if (named.length > 0) {
      var holder = { entries: [] };
      fill(holder, a, named, depth, ctx);
      n.entries = holder.entries;
    }
  }

  function typedBody(n, t) {
    var len = t.length;
    var limit = Math.min(len, LIMITS.items);
    var items = [];
    for (var i = 0; i < limit; i++) items.push({ t: 'number', v: String(t[i]) });
    n.len = len;
    n.items = items;
    if (len > limit) n.more = len - limit;
  }

  function mapBody(n, m, depth, ctx) {
    var pairs = [];
    var count = 0;
    m.forEach(function (v, k) {
      if (count++ < LIMITS.entries) pairs.push([node(k, depth + 1, ctx, false), node(v, depth + 1, ctx, false)]);
    });
    n.len = m.size;
    n.pairs = pairs;
    if (m.size > pairs.length) n.more = m.size - pairs.length;
  }

  function setBody(n, s, depth, ctx) {
    var items = [];
    var count = 0;
    s.forEach(function (v) {
      if (count++ < LIMITS.items) items.push(node(v, depth + 1, ctx, false));
    });
    n.len = s.size;
    n.items = items;
    if (s.size > items.length) n.more = s.size - items.length;
  }

  /** A Client shows who it is, a Stream its name; then whatever the script added to them. */
  function hostBody(n, o, depth, ctx) {
    var client = isClient(o);
    var shown = client ? CLIENT_SHOWN : STREAM_SHOWN;
    var own = ownEnumerable(o).filter(function (k) {
      if (shown.indexOf(k) >= 0) return false;
      var d = Object.getOwnPropertyDescriptor(o, k);
      return !d || d.configurable;
    });
    fill(n, o, shown.concat(own), depth, ctx, shown);
    if (client) n.id = String(o.id);
    else n.name = String(o.name);
  }
}
