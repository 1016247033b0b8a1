/**
 * A small, tolerant, dependency-free XML parser and serializer shaped after the ActionScript 2.0 XML class
 * (XMLDocument/XMLNode as documented in the Flash 5-8 ActionScript references: `XML.status`, `XML.xmlDecl`,
 * `XML.docTypeDecl`, `XML.ignoreWhite`), used for Application.xml and as the model of the SSAS `XML` class.
 *
 * Like Flash, parsing never throws: it stops at the first problem and reports it through the numeric
 * `status` codes of AS2 `XML.status` (see XmlStatus), keeping the nodes built so far. `parseXmlStrict` is
 * the throwing variant for configuration files.
 *
 * The parser and the serializer are iterative (an explicit stack, no recursion), so a hostile document with
 * a million nested elements cannot overflow the JS stack; every scan is a forward indexOf or a single pass,
 * so unterminated constructs cost linear time. Node, depth and attribute counts have limits; exceeding one
 * reports -7, Flash's "out of memory".
 *
 * Deliberate leniencies (Flash accepted them too, or they cost nothing): several top-level elements and
 * top-level text (an AS2 XML object is a fragment), unknown entities kept literally (`&nbsp;` stays
 * `&nbsp;`), a bare `&` kept, attributes without whitespace between them, any non-delimiter character in
 * names, `xmlns`/prefixes kept as plain names. Not supported: DTD entity declarations, external entities
 * (never fetched), encodings other than the JS string given.
 */
import { ConfigError } from '../errors';

/** AS2 `XML.status` values. */
export const XmlStatus = {
  OK: 0,
  CDATA_NOT_TERMINATED: -2,
  XML_DECL_NOT_TERMINATED: -3,
  DOCTYPE_NOT_TERMINATED: -4,
  COMMENT_NOT_TERMINATED: -5,
  MALFORMED_ELEMENT: -6,
  OUT_OF_MEMORY: -7,
  ATTRIBUTE_NOT_TERMINATED: -8,
  START_TAG_NOT_MATCHED: -9,
  END_TAG_NOT_MATCHED: -10,
} as const;

export type XmlStatusCode = (typeof XmlStatus)[keyof typeof XmlStatus];

const statusText: Record<number, string> = {
  0: 'no error',
  [-2]: 'a CDATA section was not terminated',
  [-3]: 'the XML declaration (or a processing instruction) was not terminated',
  [-4]: 'the DOCTYPE declaration was not terminated',
  [-5]: 'a comment was not terminated',
  [-6]: 'an element was malformed',
  [-7]: 'out of memory (a parser limit was exceeded)',
  [-8]: 'an attribute value was not terminated',
  [-9]: 'a start tag was not matched by an end tag',
  [-10]: 'an end tag was encountered without a matching start tag',
};

/** Human description of an AS2 `XML.status` value. */
export function xmlStatusMessage(status: number): string {
  return statusText[status] ?? `unknown status ${status}`;
}

export const XmlNodeType = {
  ELEMENT: 1,
  TEXT: 3,
  CDATA: 4,
  PROCESSING_INSTRUCTION: 7,
  COMMENT: 8,
} as const;

export type XmlNodeTypeCode = 1 | 3 | 4 | 7 | 8;

export interface XmlNode {
  nodeType: XmlNodeTypeCode;
  /** Element tag (with any prefix) or PI target; null for text, CDATA, comments and the document. */
  nodeName: string | null;
  /** Decoded text for text/CDATA/comment nodes, PI data; null for elements. */
  nodeValue: string | null;
  /** Null-prototype map (an attribute named `__proto__` is a plain entry); insertion-ordered. */
  attributes: Record<string, string>;
  childNodes: XmlNode[];
  parentNode: XmlNode | null;
}

/** The document: an element node with a null name (as AS2's XML object is) plus the parse outcome. */
export interface XmlDocument extends XmlNode {
  nodeType: 1;
  nodeName: null;
  /** Verbatim `<?xml ...?>` text (undefined when absent), like AS2 `XML.xmlDecl`. */
  xmlDecl: string | undefined;
  /** Verbatim `<!DOCTYPE ...>` text (undefined when absent), like AS2 `XML.docTypeDecl`. */
  docTypeDecl: string | undefined;
  /** AS2 `XML.status`: 0 or the first problem found (parsing stopped there). */
  status: XmlStatusCode;
  /** Where the problem was found (offset into the input and 1-based line/column); absent when status is 0. */
  error?: { offset: number; line: number; column: number; message: string };
}

export interface XmlParseOptions {
  /** Drop text nodes made only of whitespace (AS2 `XML.ignoreWhite`). CDATA is always kept. */
  ignoreWhite?: boolean;
  /** Keep comment nodes (default true; Flash itself dropped them). */
  keepComments?: boolean;
  /** Turn CDATA sections into plain text nodes (Flash's behaviour; default false). */
  cdataAsText?: boolean;
  /** Most nodes of all kinds (default 2,000,000). */
  maxNodes?: number;
  /** Deepest element nesting (default 1,000,000). */
  maxDepth?: number;
  /** Most attributes on one element (default 65,536). */
  maxAttributes?: number;
}

const DEFAULT_MAX_NODES = 2_000_000;
const DEFAULT_MAX_DEPTH = 1_000_000;
const DEFAULT_MAX_ATTRIBUTES = 65_536;

/** Character codes the scanner compares against. */
const Ch = {
  Tab: 9,
  Lf: 10,
  Cr: 13,
  Space: 32,
  Bang: 33,
  DQuote: 34,
  Amp: 38,
  SQuote: 39,
  Slash: 47,
  Lt: 60,
  Eq: 61,
  Gt: 62,
  Question: 63,
  LBracket: 91,
  RBracket: 93,
} as const;

function isWs(c: number): boolean {
  return c === Ch.Space || c === Ch.Lf || c === Ch.Tab || c === Ch.Cr;
}

/** Characters that end a name; everything else may appear in one (tolerant). */
function isNameChar(c: number): boolean {
  return !(
    isWs(c) ||
    c === Ch.Slash ||
    c === Ch.Gt ||
    c === Ch.Lt ||
    c === Ch.Eq ||
    c === Ch.DQuote ||
    c === Ch.SQuote ||
    c === Ch.Bang ||
    c === Ch.Question ||
    c === Ch.Amp ||
    Number.isNaN(c)
  );
}

function isWhitespaceOnly(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isWs(s.charCodeAt(i))) return false;
  return true;
}

const entityRe = /&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(lt|gt|amp|quot|apos));/g;
const namedEntities: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five predefined entities and numeric character references; anything else stays literal. */
export function decodeXmlEntities(s: string): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(entityRe, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return namedEntities[name];
    const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec as string, 10);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return whole;
    return String.fromCodePoint(cp);
  });
}

const escapeRe = /[&<>"']/g;
const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes `& < > " '` (AS2's toString escaped all five, in text and attribute values alike). */
export function encodeXmlEntities(s: string): string {
  return s.replace(escapeRe, (c) => escapes[c]);
}

function newNode(
  nodeType: XmlNodeTypeCode,
  nodeName: string | null,
  nodeValue: string | null,
  parent: XmlNode | null,
): XmlNode {
  return { nodeType, nodeName, nodeValue, attributes: Object.create(null), childNodes: [], parentNode: parent };
}

export function createDocument(): XmlDocument {
  return {
    nodeType: 1,
    nodeName: null,
    nodeValue: null,
    attributes: Object.create(null),
    childNodes: [],
    parentNode: null,
    xmlDecl: undefined,
    docTypeDecl: undefined,
    status: XmlStatus.OK,
  };
}

export function createElement(name: string): XmlNode {
  return newNode(1, name, null, null);
}

export function createTextNode(text: string): XmlNode {
  return newNode(3, null, text, null);
}

/** 1-based line and column of `offset` (CRLF, CR and LF each end a line). */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === Ch.Lf || (c === Ch.Cr && text.charCodeAt(i + 1) !== Ch.Lf)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** Thrown internally to stop the parse with a status; never escapes parseXml. */
class Stop {
  constructor(
    readonly status: XmlStatusCode,
    readonly offset: number,
    readonly detail: string,
  ) {}
}

/**
 * Parses `text` into a document. Never throws for bad input: check `doc.status` (0 means success). On an
 * error the document holds everything parsed before the problem.
 */
export function parseXml(text: string, opts: XmlParseOptions = {}): XmlDocument {
  const doc = createDocument();
  const src = String(text);
  const n = src.length;
  const ignoreWhite = opts.ignoreWhite === true;
  const keepComments = opts.keepComments !== false;
  const cdataAsText = opts.cdataAsText === true;
  const maxNodes = opts.maxNodes ?? DEFAULT_MAX_NODES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxAttributes = opts.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;

  const stack: XmlNode[] = [doc];
  let current: XmlNode = doc;
  let nodeCount = 0;

  const append = (node: XmlNode, at: number): void => {
    if (++nodeCount > maxNodes) throw new Stop(XmlStatus.OUT_OF_MEMORY, at, `more than ${maxNodes} nodes`);
    node.parentNode = current;
    current.childNodes.push(node);
  };
  const addText = (raw: string, at: number): void => {
    if (raw.length === 0) return;
    if (ignoreWhite && isWhitespaceOnly(raw)) return;
    append(newNode(3, null, decodeXmlEntities(raw), null), at);
  };
  const skipWs = (p: number): number => {
    while (p < n && isWs(src.charCodeAt(p))) p++;
    return p;
  };
  const readName = (p: number): number => {
    while (p < n && isNameChar(src.charCodeAt(p))) p++;
    return p;
  };

  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  try {
    while (i < n) {
      const lt = src.indexOf('<', i);
      if (lt === -1) {
        addText(src.slice(i), i);
        i = n;
        break;
      }
      if (lt > i) addText(src.slice(i, lt), i);
      const c1 = src.charCodeAt(lt + 1);

      if (c1 === Ch.Bang) {
        if (src.startsWith('<!--', lt)) {
          const end = src.indexOf('-->', lt + 4);
          if (end === -1) throw new Stop(XmlStatus.COMMENT_NOT_TERMINATED, lt, 'comment without -->');
          if (keepComments) append(newNode(8, null, src.slice(lt + 4, end), null), lt);
          i = end + 3;
        } else if (src.startsWith('<![CDATA[', lt)) {
          const end = src.indexOf(']]>', lt + 9);
          if (end === -1) throw new Stop(XmlStatus.CDATA_NOT_TERMINATED, lt, 'CDATA section without ]]>');
          append(newNode(cdataAsText ? 3 : 4, null, src.slice(lt + 9, end), null), lt);
          i = end + 3;
        } else if (src.slice(lt + 2, lt + 9).toUpperCase() === 'DOCTYPE') {
          const end = findDoctypeEnd(src, lt + 9);
          if (end === -1) throw new Stop(XmlStatus.DOCTYPE_NOT_TERMINATED, lt, 'DOCTYPE without closing >');
          doc.docTypeDecl = src.slice(lt, end + 1);
          i = end + 1;
        } else {
          throw new Stop(XmlStatus.MALFORMED_ELEMENT, lt, 'unknown markup declaration after <!');
        }
      } else if (c1 === Ch.Question) {
        const end = src.indexOf('?>', lt + 2);
        if (end === -1) throw new Stop(XmlStatus.XML_DECL_NOT_TERMINATED, lt, 'processing instruction without ?>');
        const targetEnd = readName(lt + 2);
        const target = src.slice(lt + 2, targetEnd);
        if (target.toLowerCase() === 'xml') {
          doc.xmlDecl = (doc.xmlDecl ?? '') + src.slice(lt, end + 2);
        } else {
          const data = src.slice(skipWs(targetEnd), end);
          append(newNode(7, target, data, null), lt);
        }
        i = end + 2;
      } else if (c1 === Ch.Slash) {
        const nameEnd = readName(lt + 2);
        const name = src.slice(lt + 2, nameEnd);
        const p = skipWs(nameEnd);
        if (name.length === 0 || src.charCodeAt(p) !== Ch.Gt) {
          throw new Stop(XmlStatus.MALFORMED_ELEMENT, lt, `malformed end tag </${name}`);
        }
        if (current === doc || current.nodeName !== name) {
          throw new Stop(XmlStatus.END_TAG_NOT_MATCHED, lt, `end tag </${name}> does not match an open element`);
        }
        stack.pop();
        current = stack[stack.length - 1];
        i = p + 1;
      } else {
        i = parseStartTag(lt);
      }
    }
    if (stack.length > 1) {
      throw new Stop(XmlStatus.START_TAG_NOT_MATCHED, n, `<${current.nodeName}> is never closed`);
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    doc.status = e.status;
    const { line, column } = lineColumnAt(src, e.offset);
    doc.error = { offset: e.offset, line, column, message: `${xmlStatusMessage(e.status)}: ${e.detail}` };
  }
  return doc;

  /** Parses `<name attr="v" ...>` or `.../>` starting at `lt`; returns the offset after it. */
  function parseStartTag(lt: number): number {
    const nameEnd = readName(lt + 1);
    if (nameEnd === lt + 1) throw new Stop(XmlStatus.MALFORMED_ELEMENT, lt, 'a < not followed by a tag name');
    const el = newNode(1, src.slice(lt + 1, nameEnd), null, null);
    let attrCount = 0;
    let p = nameEnd;
    for (;;) {
      p = skipWs(p);
      if (p >= n) throw new Stop(XmlStatus.MALFORMED_ELEMENT, lt, `<${el.nodeName}> tag not closed`);
      const c = src.charCodeAt(p);
      if (c === Ch.Gt) {
        append(el, lt);
        if (stack.length > maxDepth) {
          throw new Stop(XmlStatus.OUT_OF_MEMORY, lt, `elements nested more than ${maxDepth} deep`);
        }
        stack.push(el);
        current = el;
        return p + 1;
      }
      if (c === Ch.Slash) {
        if (src.charCodeAt(p + 1) !== Ch.Gt) throw new Stop(XmlStatus.MALFORMED_ELEMENT, p, 'a / not followed by >');
        append(el, lt);
        return p + 2;
      }
      const attrEnd = readName(p);
      if (attrEnd === p) {
        throw new Stop(XmlStatus.MALFORMED_ELEMENT, p, `unexpected character in <${el.nodeName}> tag`);
      }
      const attrName = src.slice(p, attrEnd);
      p = skipWs(attrEnd);
      if (src.charCodeAt(p) !== Ch.Eq) {
        throw new Stop(XmlStatus.MALFORMED_ELEMENT, p, `attribute ${attrName} without =`);
      }
      p = skipWs(p + 1);
      const q = src.charCodeAt(p);
      if (q !== Ch.DQuote && q !== Ch.SQuote) {
        if (p >= n) throw new Stop(XmlStatus.ATTRIBUTE_NOT_TERMINATED, p, `attribute ${attrName} has no value`);
        throw new Stop(XmlStatus.MALFORMED_ELEMENT, p, `attribute ${attrName} value is not quoted`);
      }
      const close = src.indexOf(q === Ch.DQuote ? '"' : "'", p + 1);
      if (close === -1) throw new Stop(XmlStatus.ATTRIBUTE_NOT_TERMINATED, p, `attribute ${attrName} value not closed`);
      if (++attrCount > maxAttributes) {
        throw new Stop(XmlStatus.OUT_OF_MEMORY, p, `more than ${maxAttributes} attributes on <${el.nodeName}>`);
      }
      // Later duplicates win, as assignment to the AS2 attributes object would.
      el.attributes[attrName] = decodeXmlEntities(src.slice(p + 1, close));
      p = close + 1;
    }
  }
}

/** Finds the `>` closing a DOCTYPE, skipping an internal subset `[...]` and quoted literals. */
function findDoctypeEnd(src: string, from: number): number {
  let inSubset = false;
  for (let p = from; p < src.length; p++) {
    const c = src.charCodeAt(p);
    if (c === Ch.DQuote || c === Ch.SQuote) {
      const close = src.indexOf(c === Ch.DQuote ? '"' : "'", p + 1);
      if (close === -1) return -1;
      p = close;
    } else if (c === Ch.LBracket) {
      inSubset = true;
    } else if (c === Ch.RBracket) {
      inSubset = false;
    } else if (c === Ch.Gt && !inSubset) {
      return p;
    }
  }
  return -1;
}

/**
 * Parses a configuration file: any non-zero status, more than one top-level element, no element at all or
 * non-whitespace text outside the root is a ConfigError ERR_XML_MALFORMED naming the file, line and column.
 */
export function parseXmlStrict(text: string, file = '<xml>', opts: XmlParseOptions = {}): XmlDocument {
  const doc = parseXml(text, opts);
  const fail = (offset: number, message: string): never => {
    const { line, column } = lineColumnAt(String(text), offset);
    throw new ConfigError('ERR_XML_MALFORMED', `${file}:${line}:${column}: ${message}`, {
      file,
      line,
      column,
      status: doc.status,
    });
  };
  if (doc.status !== XmlStatus.OK && doc.error) {
    fail(doc.error.offset, doc.error.message);
  }
  let roots = 0;
  for (const child of doc.childNodes) {
    if (child.nodeType === 1) roots++;
    else if ((child.nodeType === 3 || child.nodeType === 4) && !isWhitespaceOnly(child.nodeValue ?? '')) {
      fail(locate(String(text), child.nodeValue ?? ''), 'text outside the root element');
    }
  }
  if (roots === 0) fail(String(text).length, 'no root element');
  if (roots > 1) fail(0, `${roots} root elements (one expected)`);
  return doc;
}

function locate(text: string, needle: string): number {
  const at = text.indexOf(needle.trim());
  return at === -1 ? 0 : at;
}

export interface XmlSerializeOptions {
  /** Write empty elements as `<a />` (AS2's style, default) or `<a/>` when false. */
  spaceBeforeSelfClose?: boolean;
}

/**
 * Serializes a node (or a whole document, with its xmlDecl and docTypeDecl first) back to text. Elements
 * without a name (the document, or nodes AS2 scripts built oddly) contribute only their children.
 */
export function serializeXml(node: XmlNode, opts: XmlSerializeOptions = {}): string {
  const selfClose = opts.spaceBeforeSelfClose === false ? '/>' : ' />';
  const out: string[] = [];
  const doc = node as Partial<XmlDocument>;
  if (node.nodeType === 1 && node.nodeName === null) {
    if (typeof doc.xmlDecl === 'string') out.push(doc.xmlDecl);
    if (typeof doc.docTypeDecl === 'string') out.push(doc.docTypeDecl);
  }
  // Work items: a node to open, or a string to emit once its children are done.
  const work: Array<XmlNode | string> = [node];
  while (work.length > 0) {
    const item = work.pop() as XmlNode | string;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    switch (item.nodeType) {
      case 3:
        out.push(encodeXmlEntities(item.nodeValue ?? ''));
        break;
      case 4:
        out.push('<![CDATA[' + (item.nodeValue ?? '').split(']]>').join(']]]]><![CDATA[>') + ']]>');
        break;
      case 8:
        out.push('<!--' + (item.nodeValue ?? '') + '-->');
        break;
      case 7:
        out.push('<?' + (item.nodeName ?? '') + (item.nodeValue ? ' ' + item.nodeValue : '') + '?>');
        break;
      default: {
        const kids = item.childNodes;
        if (item.nodeName === null) {
          for (let k = kids.length - 1; k >= 0; k--) work.push(kids[k]);
          break;
        }
        let open = '<' + item.nodeName;
        for (const name of Object.keys(item.attributes)) {
          open += ' ' + name + '="' + encodeXmlEntities(String(item.attributes[name])) + '"';
        }
        if (kids.length === 0) {
          out.push(open + selfClose);
          break;
        }
        out.push(open + '>');
        work.push('</' + item.nodeName + '>');
        for (let k = kids.length - 1; k >= 0; k--) work.push(kids[k]);
      }
    }
  }
  return out.join('');
}

/** Concatenated text of all text and CDATA descendants, in document order (iterative). */
export function textContent(node: XmlNode): string {
  if (node.nodeType === 3 || node.nodeType === 4) return node.nodeValue ?? '';
  const parts: string[] = [];
  const work: XmlNode[] = [node];
  while (work.length > 0) {
    const cur = work.pop() as XmlNode;
    if (cur.nodeType === 3 || cur.nodeType === 4) parts.push(cur.nodeValue ?? '');
    else if (cur.nodeType === 1) for (let k = cur.childNodes.length - 1; k >= 0; k--) work.push(cur.childNodes[k]);
  }
  return parts.join('');
}

/** Child elements of `node`, optionally only those named `name` (compared case-insensitively when asked). */
export function childElements(node: XmlNode, name?: string, ignoreCase = false): XmlNode[] {
  const want = name !== undefined && ignoreCase ? name.toLowerCase() : name;
  const result: XmlNode[] = [];
  for (const child of node.childNodes) {
    if (child.nodeType !== 1 || child.nodeName === null) continue;
    if (want === undefined) result.push(child);
    else if ((ignoreCase ? child.nodeName.toLowerCase() : child.nodeName) === want) result.push(child);
  }
  return result;
}
