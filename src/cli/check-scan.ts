/**
 * What `ssas check` reads in a script, without running it: a tokenizer that knows where strings, comments,
 * regular expressions, template literals and E4X literals are (so nothing inside them is mistaken for
 * code), and a scanner over its tokens that finds
 *  - the Server-Side ActionScript APIs used (ssas-api.md: globals, application, Client, Stream,
 *    SharedObject, NetConnection, NetStream, File, XML, LoadVars, XMLSocket, WebService...),
 *  - syntax V8 cannot run (ActionScript 3 and SpiderMonkey extensions: type annotations, package/import,
 *    access modifiers, E4X, `for each`, conditional catch, old getter/setter syntax),
 *  - SpiderMonkey-only methods (toSource, uneval, watch...),
 *  - load() calls with literal paths (followed by the command).
 * Whether an API is supported is not decided here: the command asks a sandbox what it defines.
 * Pure: text in, findings out.
 */

export interface Token {
  t: 'id' | 'num' | 'str' | 'tpl' | 're' | 'op' | 'xml';
  v: string;
  line: number;
}

const PUNCTUATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '&&=',
  '||=',
  '??=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '<<',
  '>>',
  '**',
  '::',
  '..',
];

/** Keywords after which `/` starts a regular expression and `<` an E4X literal. */
const EXPRESSION_KEYWORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

function expressionExpected(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.t === 'id') return EXPRESSION_KEYWORDS.has(prev.v);
  if (prev.t !== 'op') return false;
  return !(prev.v === ')' || prev.v === ']' || prev.v === '++' || prev.v === '--');
}

const ID_START = /[A-Za-z_$\u00aa-\uffff]/;
const ID_PART = /[\w$\u00aa-\uffff]/;

/**
 * Splits source text into tokens (comments dropped). Never throws: unterminated literals end at the end of
 * the input, and anything unexpected becomes a one-character `op` token.
 */
export function tokenize(code: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = code.length;
  // Open template literals: the brace depth inside each `${` where the template resumes.
  const templates: number[] = [];
  let braces = 0;
  const push = (t: Token['t'], v: string, at: number): void => void out.push({ t, v, line: at });
  const prev = (): Token | undefined => out[out.length - 1];

  const templatePart = (start: number): void => {
    // i is just after ` or }; reads to the closing ` or to ${.
    const at = line;
    while (i < n) {
      const ch = code[i]!;
      if (ch === '\\') {
        i += 2;
        continue;
      }
      if (ch === '\n') line++;
      if (ch === '`') {
        i++;
        push('tpl', code.slice(start, i), at);
        return;
      }
      if (ch === '$' && code[i + 1] === '{') {
        i += 2;
        push('tpl', code.slice(start, i), at);
        templates.push(braces);
        braces++;
        return;
      }
      i++;
    }
    push('tpl', code.slice(start), at);
  };

  const skipXml = (): void => {
    // An E4X literal: tags nest until the first one closes; {expressions} and comments/CDATA are skipped.
    let depth = 0;
    while (i < n) {
      if (code.startsWith('<!--', i)) {
        const e = code.indexOf('-->', i + 4);
        i = e < 0 ? n : e + 3;
      } else if (code.startsWith('<![CDATA[', i)) {
        const e = code.indexOf(']]>', i + 9);
        i = e < 0 ? n : e + 3;
      } else if (code[i] === '<') {
        const close = code[i + 1] === '/';
        let j = i + 1;
        let inner = 0;
        while (j < n && !(code[j] === '>' && inner === 0)) {
          if (code[j] === '{') inner++;
          else if (code[j] === '}') inner--;
          else if (code[j] === '\n') line++;
          j++;
        }
        const selfClosing = code[j - 1] === '/';
        i = Math.min(n, j + 1);
        if (close) depth--;
        else if (!selfClosing) depth++;
        if (depth <= 0) return;
        continue;
      } else if (code[i] === '{') {
        let inner = 1;
        i++;
        while (i < n && inner > 0) {
          if (code[i] === '{') inner++;
          else if (code[i] === '}') inner--;
          else if (code[i] === '\n') line++;
          i++;
        }
        continue;
      } else {
        if (code[i] === '\n') line++;
        i++;
        continue;
      }
      if (depth <= 0) return;
    }
  };

  while (i < n) {
    const ch = code[i]!;
    if (ch === '\n') {
      line++;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v' || ch === '\u00a0' || ch === '\ufeff') {
      i++;
      continue;
    }
    const start = i;
    const at = line;
    if (ch === '/' && code[i + 1] === '/') {
      while (i < n && code[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && code[i + 1] === '*') {
      const e = code.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      for (let k = i; k < end; k++) if (code[k] === '\n') line++;
      i = end;
      continue;
    }
    if (ID_START.test(ch)) {
      i++;
      while (i < n && ID_PART.test(code[i]!)) i++;
      push('id', code.slice(start, i), at);
      continue;
    }
    if (/\d/.test(ch) || (ch === '.' && /\d/.test(code[i + 1] ?? ''))) {
      if (ch === '0' && /[xXoObB]/.test(code[i + 1] ?? '')) {
        i += 2;
        while (i < n && /[\da-fA-F_]/.test(code[i]!)) i++;
      } else {
        while (i < n && /[\d_]/.test(code[i]!)) i++;
        if (code[i] === '.') {
          i++;
          while (i < n && /[\d_]/.test(code[i]!)) i++;
        }
        if (/[eE]/.test(code[i] ?? '') && /[\d+-]/.test(code[i + 1] ?? '')) {
          i += 2;
          while (i < n && /\d/.test(code[i]!)) i++;
        }
      }
      if (code[i] === 'n') i++;
      push('num', code.slice(start, i), at);
      continue;
    }
    if (ch === '"' || ch === "'") {
      i++;
      while (i < n && code[i] !== ch) {
        if (code[i] === '\\') {
          if (code[i + 1] === '\n') line++;
          i += 2;
          continue;
        }
        if (code[i] === '\n') break;
        i++;
      }
      i = Math.min(n, i + 1);
      push('str', code.slice(start, i), at);
      continue;
    }
    if (ch === '`') {
      i++;
      templatePart(start);
      continue;
    }
    if (ch === '}' && templates.length > 0 && braces - 1 === templates[templates.length - 1]) {
      templates.pop();
      braces--;
      i++;
      templatePart(start);
      continue;
    }
    if (ch === '/' && expressionExpected(prev())) {
      i++;
      let inClass = false;
      while (i < n && code[i] !== '\n') {
        const c = code[i]!;
        if (c === '\\') {
          i += 2;
          continue;
        }
        if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
        i++;
      }
      i = Math.min(n, i + 1);
      while (i < n && /[a-z]/i.test(code[i]!)) i++;
      push('re', code.slice(start, i), at);
      continue;
    }
    if (ch === '<' && expressionExpected(prev()) && /[A-Za-z_!>]/.test(code[i + 1] ?? '')) {
      skipXml();
      push('xml', code.slice(start, i), at);
      continue;
    }
    const p = PUNCTUATORS.find((q) => code.startsWith(q, i));
    if (p === '..' && !ID_START.test(code[i + 2] ?? '')) {
      i++;
      push('op', '.', at);
      continue;
    }
    const v = p ?? ch;
    i += v.length;
    if (v === '{') braces++;
    else if (v === '}') braces--;
    push('op', v, at);
  }
  return out;
}

// ----- the SSAS API catalogue (ssas-api.md sections 1-8, 12) ---------------------------------------------

export interface ClassApi {
  statics: string[];
  members: string[];
  events: string[];
}

/** SSAS global functions. */
export const SSAS_GLOBALS = ['trace', 'load', 'setInterval', 'clearInterval', 'getGlobal', 'protectObject', 'setAttributes'];
/** Globals legacy code expects that SSAS never had (scripts define their own). */
export const NON_SSAS_GLOBALS = ['setTimeout', 'clearTimeout'];

export const SSAS_CLASSES: Record<string, ClassApi> = {
  application: {
    statics: [],
    members: [
      'allowDebug',
      'clients',
      'config',
      'hostname',
      'name',
      'server',
      'acceptConnection',
      'rejectConnection',
      'redirectConnection',
      'broadcastMsg',
      'clearSharedObjects',
      'clearStreams',
      'disconnect',
      'gc',
      'getStats',
      'registerClass',
      'registerProxy',
      'shutdown',
    ],
    events: ['onAppStart', 'onAppStop', 'onConnect', 'onConnectAccept', 'onConnectReject', 'onDisconnect', 'onPublish', 'onUnpublish', 'onStatus'],
  },
  Client: {
    statics: [],
    members: [
      'agent',
      'ip',
      'protocol',
      'referrer',
      'pageUrl',
      'uri',
      'id',
      'secure',
      'readAccess',
      'writeAccess',
      'audioSampleAccess',
      'videoSampleAccess',
      'virtualKey',
      'call',
      'ping',
      'getBandwidthLimit',
      'setBandwidthLimit',
      'getStats',
      'checkBandwidth',
      '__resolve',
    ],
    events: [],
  },
  Stream: {
    statics: ['get', 'length', 'destroy'],
    members: ['play', 'record', 'send', 'setBufferTime', 'clear', 'flush', 'getOnMetaData', 'setVirtualPath', 'bufferTime', 'name', 'syncWrite', 'publishQueryString', 'maxQueueDelay', 'maxQueueSize', 'time'],
    events: ['onStatus'],
  },
  SharedObject: {
    statics: ['get', 'commit'],
    members: ['getProperty', 'setProperty', 'getPropertyNames', 'size', 'lock', 'unlock', 'mark', 'send', 'clear', 'close', 'flush', 'purge', 'autoCommit', 'isDirty', 'name', 'version', 'resyncDepth'],
    events: ['onSync', 'onStatus'],
  },
  NetConnection: { statics: [], members: ['connect', 'call', 'close', 'addHeader', 'isConnected', 'uri', 'objectEncoding'], events: ['onStatus'] },
  NetStream: { statics: [], members: ['attach', 'publish', 'send', 'setBufferTime', 'bufferTime', 'time'], events: ['onStatus'] },
  File: {
    statics: [],
    members: [
      'canAppend',
      'canRead',
      'canReplace',
      'canWrite',
      'creationTime',
      'lastModified',
      'exists',
      'isDirectory',
      'isFile',
      'isOpen',
      'length',
      'mode',
      'name',
      'position',
      'type',
      'open',
      'close',
      'eof',
      'flush',
      'read',
      'readln',
      'readAll',
      'readChar',
      'readByte',
      'write',
      'writeln',
      'writeAll',
      'writeByte',
      'seek',
      'copyTo',
      'renameTo',
      'remove',
      'mkdir',
      'createDirectory',
      'list',
      'readBytes',
      'writeBytes',
    ],
    events: [],
  },
  XML: {
    statics: [],
    members: [
      'attributes',
      'childNodes',
      'contentType',
      'docTypeDecl',
      'firstChild',
      'ignoreWhite',
      'lastChild',
      'loaded',
      'nextSibling',
      'nodeName',
      'nodeType',
      'nodeValue',
      'parentNode',
      'previousSibling',
      'status',
      'xmlDecl',
      'addRequestHeader',
      'appendChild',
      'cloneNode',
      'createElement',
      'createTextNode',
      'getBytesLoaded',
      'getBytesTotal',
      'hasChildNodes',
      'insertBefore',
      'load',
      'parseXML',
      'removeNode',
      'send',
      'sendAndLoad',
    ],
    events: ['onData', 'onHTTPStatus', 'onLoad'],
  },
  XMLNode: {
    statics: [],
    members: [
      'attributes',
      'childNodes',
      'firstChild',
      'lastChild',
      'localName',
      'namespaceURI',
      'nextSibling',
      'nodeName',
      'nodeType',
      'nodeValue',
      'parentNode',
      'prefix',
      'previousSibling',
      'appendChild',
      'cloneNode',
      'getNamespaceForPrefix',
      'getPrefixForNamespace',
      'hasChildNodes',
      'insertBefore',
      'removeNode',
      'toString',
    ],
    events: [],
  },
  LoadVars: {
    statics: [],
    members: ['contentType', 'loaded', 'addRequestHeader', 'decode', 'getBytesLoaded', 'getBytesTotal', 'load', 'send', 'sendAndLoad'],
    events: ['onData', 'onHTTPStatus', 'onLoad'],
  },
  XMLSocket: { statics: [], members: ['connect', 'send', 'close'], events: ['onConnect', 'onData', 'onXML', 'onClose'] },
  XMLStreams: { statics: [], members: ['connect', 'send', 'close'], events: ['onConnect', 'onData', 'onXML', 'onClose'] },
  WebService: { statics: [], members: [], events: ['onLoad', 'onFault'] },
  SOAPCall: { statics: [], members: ['request', 'response'], events: ['onResult', 'onFault'] },
  SOAPFault: { statics: [], members: ['faultcode', 'faultstring', 'detail', 'element', 'faultactor'], events: [] },
  Log: { statics: ['BRIEF', 'VERBOSE', 'DEBUG'], members: ['logInfo', 'logDebug'], events: ['onLog'] },
  ByteArray: {
    statics: ['defaultObjectEncoding'],
    members: [
      'length',
      'position',
      'bytesAvailable',
      'objectEncoding',
      'endian',
      'readBoolean',
      'readByte',
      'readUnsignedByte',
      'readShort',
      'readUnsignedShort',
      'readInt',
      'readUnsignedInt',
      'readFloat',
      'readDouble',
      'readMultiByte',
      'readUTF',
      'readUTFBytes',
      'readBytes',
      'readObject',
      'writeBoolean',
      'writeByte',
      'writeShort',
      'writeInt',
      'writeUnsignedInt',
      'writeFloat',
      'writeDouble',
      'writeMultiByte',
      'writeUTF',
      'writeUTFBytes',
      'writeBytes',
      'writeObject',
      'compress',
      'uncompress',
      'clear',
      'toString',
    ],
    events: [],
  },
  SHA256: { statics: ['computeDigest', 'TYPE_ID'], members: [], events: [] },
};

/** The instance name used in reports for a class (`client.call`, `stream.play`). */
export function instanceName(cls: string): string {
  if (cls === 'application') return 'application';
  if (/^[A-Z]{2,}/.test(cls)) return cls.replace(/^[A-Z]+(?=[A-Z][a-z])|^[A-Z]+$/, (m) => m.toLowerCase());
  return cls[0]!.toLowerCase() + cls.slice(1);
}

// ----- scanning --------------------------------------------------------------------------------------------

export type ApiKind = 'global' | 'class' | 'static' | 'member' | 'event';

export interface ApiUse {
  /** As printed: `setInterval`, `new File`, `Stream.get`, `client.call`, `application.onConnect`. */
  api: string;
  kind: ApiKind;
  /** The class (or "application") the API belongs to; null for globals. */
  cls: string | null;
  name: string;
  line: number;
}

export type Severity = 'error' | 'unsupported' | 'warning';

export interface Finding {
  severity: Severity;
  line: number;
  message: string;
}

export interface ScanResult {
  uses: ApiUse[];
  findings: Finding[];
  /** load("literal") calls; `topLevel` when outside every block (it runs when the script loads). */
  loads: { path: string; line: number; topLevel: boolean }[];
  /** load(expression) calls that cannot be followed. */
  dynamicLoads: number[];
  /** Global functions the script defines itself (function declarations and assignments). */
  defines: Set<string>;
}

/** Handler parameters whose class is known: application.onConnect = function (client, ...). */
const HANDLER_PARAMS: Record<string, string[]> = {
  onConnect: ['Client'],
  onConnectAccept: ['Client'],
  onConnectReject: ['Client'],
  onDisconnect: ['Client'],
  onPublish: ['Client', 'Stream'],
  onUnpublish: ['Client', 'Stream'],
};

const MODIFIERS = new Set(['public', 'private', 'protected', 'internal', 'override', 'final', 'dynamic', 'static']);
const DECLARES = new Set(['function', 'var', 'const', 'class', 'namespace', 'interface']);
const SPIDERMONKEY_METHODS: Record<string, string> = {
  toSource: 'Object.prototype',
  watch: 'Object.prototype',
  unwatch: 'Object.prototype',
  toLocaleFormat: 'Date.prototype',
};
const SPIDERMONKEY_MAGIC = new Set(['__noSuchMethod__', '__count__', '__parent__']);

function unquote(s: string): string | null {
  if (!/^(["']).*\1$/s.test(s)) return null;
  return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * `xmlClass`: the sandbox has the SSAS XML class, so an E4X literal can be advised to use it (without one,
 * the advice would send people to something `ssas check` itself reports as unsupported).
 */
export function scanScript(code: string, opts: { xmlClass?: boolean } = {}): ScanResult {
  const tokens = tokenize(code);
  const uses: ApiUse[] = [];
  const findings: Finding[] = [];
  const loads: { path: string; line: number; topLevel: boolean }[] = [];
  let depth = 0;
  const dynamicLoads: number[] = [];
  const defines = new Set<string>();
  const vars = new Map<string, string>();
  const classes = SSAS_CLASSES;
  const tok = (k: number): Token | undefined => tokens[k];
  const isOp = (k: number, v: string): boolean => tokens[k]?.t === 'op' && tokens[k]!.v === v;
  const isId = (k: number, v?: string): boolean => tokens[k]?.t === 'id' && (v === undefined || tokens[k]!.v === v);
  const error = (line: number, message: string): void => void findings.push({ severity: 'error', line, message });
  const warn = (line: number, message: string): void => void findings.push({ severity: 'warning', line, message });
  const use = (u: Omit<ApiUse, 'api'>): void => {
    const api =
      u.kind === 'global'
        ? u.name
        : u.kind === 'class'
          ? `new ${u.name}`
          : u.kind === 'static'
            ? `${u.cls}.${u.name}`
            : `${instanceName(u.cls!)}.${u.name}`;
    uses.push({ ...u, api });
  };

  /** Index of the token after the parenthesised group starting at `k` (which is `(`). */
  const skipParens = (k: number): number => {
    let depth = 0;
    for (let j = k; j < tokens.length; j++) {
      if (isOp(j, '(')) depth++;
      else if (isOp(j, ')') && --depth === 0) return j + 1;
    }
    return tokens.length;
  };

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const afterDot = isOp(k - 1, '.') || isOp(k - 1, '?.');
    if (t.t === 'xml') {
      error(t.line, `E4X XML literal: V8 has no E4X (build the XML as a string${opts.xmlClass ? ', or use the XML class' : ''})`);
      continue;
    }
    if (t.t === 'op') {
      if (t.v === '{') depth++;
      else if (t.v === '}') depth = Math.max(0, depth - 1);
      if (t.v === '::') error(t.line, 'ActionScript 3 / E4X namespace qualifier "::"');
      else if (t.v === '..' && isId(k + 1)) error(t.line, `E4X descendant access "..${tok(k + 1)!.v}"`);
      else if (t.v === '.' && isOp(k + 1, '@')) error(t.line, 'E4X attribute access ".@"');
      continue;
    }
    if (t.t !== 'id') continue;
    const v = t.v;

    // --- syntax V8 cannot run -------------------------------------------------------------------------
    if (!afterDot) {
      if (v === 'for' && isId(k + 1, 'each') && isOp(k + 2, '(')) error(t.line, '"for each (...)" is SpiderMonkey/E4X syntax: use for (... in ...) and read obj[key]');
      if (v === 'catch' && isOp(k + 1, '(') && isId(k + 2) && isId(k + 3, 'if')) error(t.line, 'conditional catch "catch (e if ...)" is SpiderMonkey-only: test inside one catch block');
      if ((v === 'var' || v === 'const' || v === 'let') && isId(k + 1) && isOp(k + 2, ':')) {
        error(t.line, `type annotation "${v} ${tok(k + 1)!.v}:${tok(k + 3)?.v ?? ''}" is ActionScript 3: remove ":Type"`);
      }
      if (v === 'function') {
        const open = isId(k + 1) ? k + 2 : k + 1;
        if (isOp(open, '(')) {
          const end = skipParens(open);
          let depth = 0;
          for (let j = open; j < end; j++) {
            if (isOp(j, '(') || isOp(j, '[') || isOp(j, '{')) depth++;
            else if (isOp(j, ')') || isOp(j, ']') || isOp(j, '}')) depth--;
            else if (depth === 1 && isId(j) && isOp(j + 1, ':') && (isOp(j - 1, '(') || isOp(j - 1, ','))) {
              error(tokens[j]!.line, `parameter type annotation "${tokens[j]!.v}:${tok(j + 2)?.v ?? ''}" is ActionScript 3`);
            }
          }
          if (isOp(end, ':') && isId(end + 1)) error(tokens[end]!.line, `return type annotation "):${tok(end + 1)!.v}" is ActionScript 3`);
        }
        if (isId(k + 1)) defines.add(tok(k + 1)!.v);
      }
      if (v === 'package' && (isId(k + 1) || isOp(k + 1, '{'))) error(t.line, '"package" is ActionScript 3: SSAS scripts are plain scripts');
      if (v === 'import' && isId(k + 1) && !isOp(k + 1, '(')) error(t.line, `"import ${tok(k + 1)!.v}..." is ActionScript 3 (or an ES module): use load("file.asc")`);
      if (v === 'interface' && isId(k + 1) && (isOp(k + 2, '{') || isId(k + 2, 'extends'))) error(t.line, '"interface" is ActionScript 3');
      if (MODIFIERS.has(v) && tok(k + 1)?.t === 'id' && DECLARES.has(tok(k + 1)!.v)) error(t.line, `access modifier "${v} ${tok(k + 1)!.v}" is ActionScript 3`);
      if (v === 'class' && isId(k + 1) && !isOp(k - 1, '.')) {
        warn(t.line, `"class ${tok(k + 1)!.v}": classes are ES2015/ActionScript 3, not SSAS; V8 runs ES2015 classes only`);
      }
      if ((v === 'getter' || v === 'setter') && (isOp(k + 1, '=') || isId(k + 1, 'function')) && (tok(k - 1)?.t === 'id' || isOp(k - 1, ']'))) {
        error(t.line, `old SpiderMonkey "${v}" syntax: use __define${v === 'getter' ? 'Getter' : 'Setter'}__ or Object.defineProperty`);
      }
    }

    // --- SpiderMonkey-only names --------------------------------------------------------------------------
    if (afterDot && Object.prototype.hasOwnProperty.call(SPIDERMONKEY_METHODS, v) && isOp(k + 1, '(')) {
      uses.push({ api: `.${v}()`, kind: 'member', cls: SPIDERMONKEY_METHODS[v]!, name: v, line: t.line });
    }
    if (SPIDERMONKEY_MAGIC.has(v)) warn(t.line, `"${v}" is SpiderMonkey magic that V8 does not have`);
    if (!afterDot && v === 'uneval' && isOp(k + 1, '(')) uses.push({ api: 'uneval', kind: 'global', cls: null, name: 'uneval', line: t.line });

    // --- definitions of globals by the script -------------------------------------------------------------
    if (!afterDot && isOp(k + 1, '=') && !isOp(k + 2, '=')) defines.add(v);

    // --- load() -----------------------------------------------------------------------------------------
    if (!afterDot && v === 'load' && isOp(k + 1, '(')) {
      const arg = tok(k + 2);
      const path = arg && arg.t === 'str' && isOp(k + 3, ')') ? unquote(arg.v) : null;
      if (path !== null) loads.push({ path, line: t.line, topLevel: depth === 0 });
      else dynamicLoads.push(t.line);
    }

    // --- API use -------------------------------------------------------------------------------------------
    if (afterDot) continue;
    if (SSAS_GLOBALS.includes(v) || NON_SSAS_GLOBALS.includes(v)) {
      if (isOp(k + 1, '(') && !isId(k - 1, 'function')) use({ kind: 'global', cls: null, name: v, line: t.line });
      continue;
    }
    if (v === 'application') {
      if (isOp(k + 1, '.') && isId(k + 2)) {
        const m = tok(k + 2)!.v;
        const api = classes.application!;
        if (api.events.includes(m)) {
          use({ kind: 'event', cls: 'application', name: m, line: t.line });
          // application.onConnect = function (client, stream): the parameters are a Client and a Stream.
          const params = HANDLER_PARAMS[m];
          if (params && isOp(k + 3, '=') && isId(k + 4, 'function')) {
            let j = isOp(k + 5, '(') ? k + 6 : isOp(k + 6, '(') ? k + 7 : -1;
            for (let p = 0; j > 0 && p < params.length && isId(j); p++) {
              vars.set(tokens[j]!.v, params[p]!);
              j += isOp(j + 1, ',') ? 2 : 1;
            }
          }
        } else if (api.members.includes(m)) {
          use({ kind: 'member', cls: 'application', name: m, line: t.line });
        }
      }
      continue;
    }
    // Own names only: `toString`, `constructor`... are not classes.
    const cls = Object.prototype.hasOwnProperty.call(classes, v) ? v : null;
    if (cls) {
      if (isId(k - 1, 'new')) {
        use({ kind: 'class', cls, name: cls, line: t.line });
      } else if (isOp(k + 1, '.') && isId(k + 2, 'prototype') && isOp(k + 3, '.') && isId(k + 4)) {
        const m = tok(k + 4)!.v;
        const api = classes[cls]!;
        if (api.members.includes(m) || api.events.includes(m)) use({ kind: api.events.includes(m) ? 'event' : 'member', cls, name: m, line: t.line });
        else use({ kind: 'static', cls, name: 'prototype.*', line: t.line });
      } else if (isOp(k + 1, '.') && isId(k + 2)) {
        const m = tok(k + 2)!.v;
        use({ kind: 'static', cls, name: m, line: t.line });
      } else if (!isOp(k + 1, ':')) {
        use({ kind: 'class', cls, name: cls, line: t.line });
      }
      continue;
    }
    // x = new Cls(...), x = Cls.get(...): later x.member is a Cls member.
    if (isOp(k + 1, '=') && !isOp(k + 2, '=')) {
      const a = tok(k + 2);
      const b = tok(k + 3);
      if (a && a.t === 'id' && a.v === 'new' && b && b.t === 'id' && Object.prototype.hasOwnProperty.call(classes, b.v)) vars.set(v, b.v);
      else if (a && a.t === 'id' && Object.prototype.hasOwnProperty.call(classes, a.v) && isOp(k + 3, '.') && isId(k + 4, 'get')) vars.set(v, a.v);
      else vars.delete(v);
    }
    const known = vars.get(v);
    if (known && isOp(k + 1, '.') && isId(k + 2)) {
      const m = tok(k + 2)!.v;
      const api = classes[known]!;
      if (api.members.includes(m)) use({ kind: 'member', cls: known, name: m, line: t.line });
      else if (api.events.includes(m)) use({ kind: 'event', cls: known, name: m, line: t.line });
    }
  }
  return { uses, findings, loads, dynamicLoads, defines };
}

// ----- judging against what the sandbox defines ------------------------------------------------------------

/** What a sandbox defines (sandbox/inspect.js `apis` event) and its source text. */
export interface SandboxApis {
  globals: Record<string, string>;
  /** Own names of each global constructor ("Stream") and of its prototype chain ("Stream.prototype"), and "application". */
  members: Record<string, string[]>;
  /** The sandbox's source: instance properties and event handlers it deals with are named in it. */
  source: string;
}

function mentions(source: string, name: string): boolean {
  return new RegExp(`(^|[^\\w$])${name.replace(/\$/g, '\\$')}([^\\w$]|$)`).test(source);
}

/** True when ssas runs this API use; false when it is missing from the sandbox. */
export function isSupported(u: ApiUse, apis: SandboxApis): boolean {
  const has = (key: string, name: string): boolean => (apis.members[key] ?? []).includes(name);
  const classExists = (c: string): boolean => c === 'application' || apis.globals[c] === 'function' || apis.globals[c] === 'object';
  switch (u.kind) {
    case 'global':
      return apis.globals[u.name] === 'function' || (SSAS_GLOBALS.includes(u.name) && mentions(apis.source, u.name));
    case 'class':
      return classExists(u.cls!);
    case 'static':
      if (!classExists(u.cls!)) return false;
      if (u.name === 'prototype.*') return true;
      return has(u.cls!, u.name) || !(SSAS_CLASSES[u.cls!]?.statics ?? []).includes(u.name);
    case 'member':
      if (u.cls === 'Object.prototype' || u.cls === 'Date.prototype') return has(u.cls, u.name);
      if (!classExists(u.cls!)) return false;
      return has(u.cls === 'application' ? 'application' : `${u.cls}.prototype`, u.name) || mentions(apis.source, u.name);
    case 'event':
      return classExists(u.cls!) && mentions(apis.source, u.name);
  }
}

/** Whether a use runs: supported by the sandbox, or provided by the application's own scripts. */
export function useSupported(u: ApiUse, defines: Set<string>, apis: SandboxApis): boolean {
  // Events the component framework raises: there when the application loads a framework (ssas's or FMS's).
  if (u.cls === 'application' && (u.name === 'onConnectAccept' || u.name === 'onConnectReject')) return defines.has('gFrameworkFC');
  if (u.kind === 'global' && (defines.has(u.name) || apis.globals[u.name] === 'function')) return true;
  if (u.kind === 'global' && NON_SSAS_GLOBALS.includes(u.name)) return false;
  if (u.cls && defines.has(u.cls)) return true;
  return isSupported(u, apis);
}

/**
 * Findings for uses ssas does not run (and for SSAS-absent globals the scripts do not define themselves).
 * `defines` holds the globals every script of the application defines (a script may bring its own `Log`).
 */
export function judge(uses: ApiUse[], defines: Set<string>, apis: SandboxApis): Finding[] {
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const u of uses) {
    if (NON_SSAS_GLOBALS.includes(u.name) && u.kind === 'global') {
      if (!defines.has(u.name) && apis.globals[u.name] !== 'function' && !reported.has(u.api)) {
        reported.add(u.api);
        out.push({ severity: 'warning', line: u.line, message: `${u.name}() is not an SSAS global (FMS had none) and the script does not define it` });
      }
      continue;
    }
    if (useSupported(u, defines, apis)) continue;
    const spider = u.cls === 'Object.prototype' || u.cls === 'Date.prototype' || u.name === 'uneval';
    const key = spider ? u.api : u.cls && u.kind !== 'global' && !isClassPresent(u.cls, apis) ? `class:${u.cls}` : u.api;
    if (reported.has(key)) continue;
    reported.add(key);
    if (spider) out.push({ severity: 'warning', line: u.line, message: `${u.api} is SpiderMonkey-only: V8 does not have it` });
    else if (key.startsWith('class:')) out.push({ severity: 'unsupported', line: u.line, message: `${u.cls} is not supported by ssas yet (first use: ${u.api})` });
    else out.push({ severity: 'unsupported', line: u.line, message: `${u.api} is not supported by ssas yet` });
  }
  return out;
}

function isClassPresent(cls: string, apis: SandboxApis): boolean {
  return cls === 'application' || cls.endsWith('.prototype') || apis.globals[cls] === 'function' || apis.globals[cls] === 'object';
}
