/**
 * XML documents on the host (Application.xml, Vhost.xml, SOAP and remoting fixtures in tests), in the shape of
 * the ActionScript 2.0 XML class (XMLDocument/XMLNode: `XML.status`, `XML.xmlDecl`, `XML.docTypeDecl`,
 * `XML.ignoreWhite`). The parsing is saxes through sandbox/xml-parse.js, the same file the sandbox's XML class
 * parses with, so a configuration file and a script's XML object are read by one parser with one set of
 * leniencies and one mapping of problems to Flash's status codes (see that file).
 *
 * `parseXml` never throws for bad input: it stops at the first problem and reports it through `status`
 * (see XmlStatus), keeping the nodes built so far. `parseXmlStrict` is the throwing variant for configuration
 * files. Node, depth and attribute counts have limits; exceeding one reports -7, Flash's "out of memory".
 * saxes is a state machine and the tree is built and serialized iteratively, so a hostile document with a
 * million nested elements cannot overflow the stack. DTD entity declarations are not expanded and external
 * entities are never fetched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { SaxesParser } from 'saxes';
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

function isWhitespaceOnly(s: string): boolean {
  return /^[ \t\r\n]*$/.test(s);
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
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** The shared parser (sandbox/xml-parse.js), loaded once: plain JS the sandbox concatenates too. */
type SharedParse = (
  parser: typeof SaxesParser,
  text: string,
  opts: XmlParseOptions,
  build: {
    element(parent: XmlNode, name: string, attributes: Record<string, string>): XmlNode;
    text(parent: XmlNode, value: string, cdata: boolean): void;
    comment(parent: XmlNode, value: string): void;
    instruction(parent: XmlNode, target: string, body: string): void;
  },
  root: XmlNode,
) => { status: number; xmlDecl: string | undefined; docTypeDecl: string | undefined; error: { offset: number; message: string } | undefined };

const sharedParseFile = path.join(__dirname, '..', '..', 'sandbox', 'xml-parse.js');
const sharedParse = vm.runInThisContext(`(function () {\n${fs.readFileSync(sharedParseFile, 'utf8')}\nreturn ssasXmlParse;\n})()`, {
  filename: sharedParseFile,
  lineOffset: -1,
}) as SharedParse;

const builder = {
  element(parent: XmlNode, name: string, attributes: Record<string, string>): XmlNode {
    const node = newNode(1, name, null, parent);
    node.attributes = attributes;
    parent.childNodes.push(node);
    return node;
  },
  text(parent: XmlNode, value: string, cdata: boolean): void {
    parent.childNodes.push(newNode(cdata ? 4 : 3, null, value, parent));
  },
  comment(parent: XmlNode, value: string): void {
    parent.childNodes.push(newNode(8, null, value, parent));
  },
  instruction(parent: XmlNode, target: string, body: string): void {
    parent.childNodes.push(newNode(7, target, body, parent));
  },
};

/**
 * Parses `text` into a document. Never throws for bad input: check `doc.status` (0 means success). On an
 * error the document holds everything parsed before the problem.
 */
export function parseXml(text: string, opts: XmlParseOptions = {}): XmlDocument {
  const doc = createDocument();
  const src = String(text);
  const out = sharedParse(SaxesParser, src, opts, builder, doc);
  doc.status = out.status as XmlStatusCode;
  doc.xmlDecl = out.xmlDecl;
  doc.docTypeDecl = out.docTypeDecl;
  if (out.error) {
    const { line, column } = lineColumnAt(src, out.error.offset);
    doc.error = { offset: out.error.offset, line, column, message: `${xmlStatusMessage(out.status)} (${out.error.message})` };
  }
  return doc;
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
