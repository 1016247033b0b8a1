import { isSsasError } from '../../src/errors';
import {
  XmlNode,
  XmlStatus,
  childElements,
  createElement,
  createTextNode,
  decodeXmlEntities,
  encodeXmlEntities,
  parseXml,
  parseXmlStrict,
  serializeXml,
  textContent,
} from '../../src/util/xml';

function el(node: XmlNode, ...path: number[]): XmlNode {
  let cur = node;
  for (const i of path) cur = cur.childNodes[i];
  return cur;
}

describe('parseXml: structure', () => {
  it('builds elements, text, attributes and parent links', () => {
    const doc = parseXml('<a x="1" y=\'two\'><b>hi</b><c/></a>');
    expect(doc.status).toBe(0);
    expect(doc.nodeType).toBe(1);
    expect(doc.nodeName).toBeNull();
    const a = el(doc, 0);
    expect(a.nodeName).toBe('a');
    expect(a.nodeValue).toBeNull();
    expect({ ...a.attributes }).toEqual({ x: '1', y: 'two' });
    expect(a.parentNode).toBe(doc);
    expect(a.childNodes.map((n) => n.nodeName)).toEqual(['b', 'c']);
    const text = el(a, 0, 0);
    expect(text).toMatchObject({ nodeType: 3, nodeName: null, nodeValue: 'hi' });
    expect(text.parentNode).toBe(el(a, 0));
    expect(el(a, 1).childNodes).toHaveLength(0);
  });

  it('keeps xmlDecl and docTypeDecl verbatim, out of the tree', () => {
    const src =
      '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE note [<!ELEMENT note (#PCDATA)> <!ENTITY a "x>y">]><note>n</note>';
    const doc = parseXml(src, { ignoreWhite: true });
    expect(doc.status).toBe(0);
    expect(doc.xmlDecl).toBe('<?xml version="1.0" encoding="UTF-8"?>');
    expect(doc.docTypeDecl).toBe('<!DOCTYPE note [<!ELEMENT note (#PCDATA)> <!ENTITY a "x>y">]>');
    expect(doc.childNodes.map((n) => n.nodeName)).toEqual(['note']);
  });

  it('decodes entities in text and attributes; unknown entities stay literal', () => {
    const doc = parseXml('<a t="&lt;&amp;&quot;&apos;&gt;&#65;&#x42;">&lt;x&gt; &amp;amp; &#233; &#x1F600; &nbsp; & bare</a>');
    const a = el(doc, 0);
    expect(a.attributes.t).toBe('<&"\'>AB');
    expect(el(a, 0).nodeValue).toBe('<x> &amp; é 😀 &nbsp; & bare');
  });

  it('keeps invalid numeric references literally', () => {
    expect(decodeXmlEntities('&#0;&#xD800;&#x110000;&#99999999;')).toBe('&#0;&#xD800;&#x110000;&#99999999;');
  });

  it('parses CDATA, comments and processing instructions', () => {
    const doc = parseXml('<a><![CDATA[<b>&amp;</b>]]><!-- note --><?php echo 1 ?></a>');
    expect(doc.status).toBe(0);
    const [cdata, comment, pi] = el(doc, 0).childNodes;
    expect(cdata).toMatchObject({ nodeType: 4, nodeValue: '<b>&amp;</b>' });
    expect(comment).toMatchObject({ nodeType: 8, nodeValue: ' note ' });
    expect(pi).toMatchObject({ nodeType: 7, nodeName: 'php', nodeValue: 'echo 1 ' });
  });

  it('options: cdataAsText, keepComments=false', () => {
    const doc = parseXml('<a><![CDATA[x]]><!--c--></a>', { cdataAsText: true, keepComments: false });
    expect(el(doc, 0).childNodes).toHaveLength(1);
    expect(el(doc, 0, 0)).toMatchObject({ nodeType: 3, nodeValue: 'x' });
  });

  it('ignoreWhite drops whitespace-only text nodes only', () => {
    const src = '<a>\n  <b> x </b>\r\n\t<c>  </c>\n</a>\n';
    const kept = parseXml(src);
    expect(kept.childNodes).toHaveLength(2); // <a> and the trailing "\n"
    expect(el(kept, 0).childNodes).toHaveLength(5);
    const dropped = parseXml(src, { ignoreWhite: true });
    expect(dropped.childNodes).toHaveLength(1);
    const a = el(dropped, 0);
    expect(a.childNodes.map((n) => n.nodeName)).toEqual(['b', 'c']);
    expect(el(a, 0, 0).nodeValue).toBe(' x ');
    expect(el(a, 1).childNodes).toHaveLength(0);
  });

  it('keeps namespace prefixes as plain names, several roots and top-level text', () => {
    const doc = parseXml('lead<soap:Envelope xmlns:soap="urn:x"><soap:Body/></soap:Envelope><b/>tail');
    expect(doc.status).toBe(0);
    expect(doc.childNodes.map((n) => n.nodeName ?? n.nodeValue)).toEqual(['lead', 'soap:Envelope', 'b', 'tail']);
    expect(el(doc, 1).attributes['xmlns:soap']).toBe('urn:x');
    expect(el(doc, 1, 0).nodeName).toBe('soap:Body');
  });

  it('accepts whitespace around = and inside end tags, a BOM, and attributes named __proto__', () => {
    const doc = parseXml('\ufeff<a  x = "1"\n __proto__="p" ></a >');
    expect(doc.status).toBe(0);
    const a = el(doc, 0);
    expect(a.attributes.x).toBe('1');
    expect(Object.keys(a.attributes)).toEqual(['x', '__proto__']);
    expect(a.attributes['__proto__']).toBe('p');
  });

  it('duplicate attributes: the last one wins', () => {
    expect(el(parseXml('<a x="1" x="2"/>'), 0).attributes.x).toBe('2');
  });
});

describe('parseXml: AS2 status codes', () => {
  const cases: Array<[string, number]> = [
    ['<a><![CDATA[never ends</a>', XmlStatus.CDATA_NOT_TERMINATED],
    ['<?xml version="1.0"<a/>', XmlStatus.XML_DECL_NOT_TERMINATED],
    ['<?pi never ends', XmlStatus.XML_DECL_NOT_TERMINATED],
    ['<!DOCTYPE a [ <!ELEMENT a ANY> <a/>', XmlStatus.DOCTYPE_NOT_TERMINATED],
    ['<!DOCTYPE a "unterminated', XmlStatus.DOCTYPE_NOT_TERMINATED],
    ['<a><!-- no end </a>', XmlStatus.COMMENT_NOT_TERMINATED],
    ['<a>1 < 2</a>', XmlStatus.MALFORMED_ELEMENT],
    ['<a b></a>', XmlStatus.MALFORMED_ELEMENT],
    ['<a b=c></a>', XmlStatus.MALFORMED_ELEMENT],
    ['<a / >', XmlStatus.MALFORMED_ELEMENT],
    ['<a', XmlStatus.MALFORMED_ELEMENT],
    ['<a></a', XmlStatus.MALFORMED_ELEMENT],
    ['<!FOO>', XmlStatus.MALFORMED_ELEMENT],
    ['<a b="never ends/>', XmlStatus.ATTRIBUTE_NOT_TERMINATED],
    ["<a b='x>", XmlStatus.ATTRIBUTE_NOT_TERMINATED],
    ['<a><b></b>', XmlStatus.START_TAG_NOT_MATCHED],
    ['<BOOK>Colin Moock</AUTHOR></BOOK>', XmlStatus.END_TAG_NOT_MATCHED],
    ['</a>', XmlStatus.END_TAG_NOT_MATCHED],
    ['<a></A>', XmlStatus.END_TAG_NOT_MATCHED],
  ];
  it.each(cases)('%j -> %d', (src, status) => {
    const doc = parseXml(src);
    expect(doc.status).toBe(status);
    expect(doc.error).toBeDefined();
    expect(doc.error?.message.length).toBeGreaterThan(0);
  });

  it('keeps the nodes parsed before the error', () => {
    const doc = parseXml('<a><b>ok</b><c x="1"></d></c></a>');
    expect(doc.status).toBe(-10);
    expect(el(doc, 0, 0, 0).nodeValue).toBe('ok');
    expect(el(doc, 0, 1).nodeName).toBe('c');
  });

  it('reports the line and column of the problem', () => {
    const doc = parseXml('<a>\r\n  <b>\n    </c>\n</a>');
    expect(doc.status).toBe(-10);
    expect(doc.error).toMatchObject({ line: 3, column: 5 });
  });

  it('limits report -7 (out of memory)', () => {
    expect(parseXml('<a><a><a></a></a></a>', { maxDepth: 2 }).status).toBe(-7);
    expect(parseXml('<a><a></a></a>', { maxDepth: 2 }).status).toBe(0);
    expect(parseXml('<a/><b/><c/>', { maxNodes: 2 }).status).toBe(-7);
    expect(parseXml('<a x="1" y="2" z="3"/>', { maxAttributes: 2 }).status).toBe(-7);
  });
});

describe('parseXml: hostile input is bounded', () => {
  it('parses and serializes 100k nested levels without recursion', () => {
    const depth = 100_000;
    const src = '<d>'.repeat(depth) + 'x' + '</d>'.repeat(depth);
    const doc = parseXml(src);
    expect(doc.status).toBe(0);
    expect(serializeXml(doc)).toBe(src);
    expect(textContent(doc)).toBe('x');
  });

  it('unclosed deep nesting ends with -9, fast', () => {
    const t0 = Date.now();
    const doc = parseXml('<d>'.repeat(200_000));
    expect(doc.status).toBe(-9);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('huge attribute counts and unterminated constructs stay linear', () => {
    const attrs = Array.from({ length: 50_000 }, (_, i) => `a${i}="${i}"`).join(' ');
    const t0 = Date.now();
    const doc = parseXml(`<e ${attrs}/>`);
    expect(doc.status).toBe(0);
    expect(Object.keys(el(doc, 0).attributes)).toHaveLength(50_000);
    expect(parseXml(`<e ${attrs}`).status).toBe(-6);
    expect(parseXml('<a b="' + 'x'.repeat(2_000_000)).status).toBe(-8);
    expect(parseXml('<!--' + '-'.repeat(2_000_000)).status).toBe(-5);
    expect(parseXml('<![CDATA[' + ']'.repeat(2_000_000)).status).toBe(-2);
    expect(parseXml('<!DOCTYPE x [' + '['.repeat(2_000_000)).status).toBe(-4);
    expect(parseXml('&'.repeat(2_000_000)).status).toBe(0);
    expect(parseXml('<a/>'.repeat(300_000)).status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('serializeXml', () => {
  it('round-trips a document with declaration, escapes and empty elements (AS2 style)', () => {
    const src = '<?xml version="1.0"?><!DOCTYPE r><r a="&lt;&quot;&amp;"><e /><t>a &lt; b &amp; c</t><![CDATA[<raw>]]><!--c--><?pi d?></r>';
    const doc = parseXml(src);
    expect(doc.status).toBe(0);
    expect(serializeXml(doc)).toBe(src);
    expect(serializeXml(doc, { spaceBeforeSelfClose: false })).toContain('<e/>');
  });

  it('escapes quotes in text and splits CDATA containing ]]>', () => {
    const r = createElement('r');
    const t = createTextNode(`"it's" <ok> & done`);
    r.childNodes.push(t);
    t.parentNode = r;
    expect(serializeXml(r)).toBe('<r>&quot;it&apos;s&quot; &lt;ok&gt; &amp; done</r>');
    const c: XmlNode = { ...createTextNode('a]]>b'), nodeType: 4 };
    expect(serializeXml(c)).toBe('<![CDATA[a]]]]><![CDATA[>b]]>');
    const back = parseXml(serializeXml(c));
    expect(back.childNodes.map((n) => n.nodeValue).join('')).toBe('a]]>b');
  });

  it('serializes a subtree only', () => {
    const doc = parseXml('<a><b x="1">t</b></a>');
    expect(serializeXml(el(doc, 0, 0))).toBe('<b x="1">t</b>');
  });

  it('encodeXmlEntities / decodeXmlEntities are inverse', () => {
    const s = `<tag attr="v" other='w'> & &amp; </tag>`;
    expect(decodeXmlEntities(encodeXmlEntities(s))).toBe(s);
  });
});

describe('helpers', () => {
  it('textContent concatenates text and CDATA in document order', () => {
    const doc = parseXml('<a>1<b>2<![CDATA[3]]></b><!--x-->4</a>');
    expect(textContent(doc)).toBe('1234');
  });

  it('childElements filters by name, optionally ignoring case', () => {
    const a = el(parseXml('<a><B/>t<b/><c/></a>'), 0);
    expect(childElements(a).map((n) => n.nodeName)).toEqual(['B', 'b', 'c']);
    expect(childElements(a, 'b').map((n) => n.nodeName)).toEqual(['b']);
    expect(childElements(a, 'b', true).map((n) => n.nodeName)).toEqual(['B', 'b']);
  });
});

describe('parseXmlStrict', () => {
  function strictError(src: string): { code: string; message: string; details?: Record<string, unknown> } {
    try {
      parseXmlStrict(src, 'Application.xml');
    } catch (e) {
      if (isSsasError(e)) return e;
      throw e;
    }
    throw new Error('expected an error');
  }

  it('returns the document for well-formed input', () => {
    const doc = parseXmlStrict('<?xml version="1.0"?>\n<Application>\n</Application>\n', 'f');
    expect(childElements(doc)).toHaveLength(1);
  });

  it('throws ERR_XML_MALFORMED with file, line and column', () => {
    const e = strictError('<Application>\n  <JSEngine>\n</Application>');
    expect(e.code).toBe('ERR_XML_MALFORMED');
    expect(e.message).toMatch(/^Application\.xml:3:1: /);
    expect(e.details).toMatchObject({ file: 'Application.xml', line: 3, column: 1, status: -10 });
  });

  it('rejects several roots, no root and stray text', () => {
    expect(strictError('<a/><b/>').code).toBe('ERR_XML_MALFORMED');
    expect(strictError('  \n').code).toBe('ERR_XML_MALFORMED');
    expect(strictError('<a/>\n oops').details).toMatchObject({ line: 2 });
  });
});

describe('parseXml on saxes: leniencies Flash had', () => {
  it('a bare & is text and the references after it still decode', () => {
    const doc = parseXml('<a href="x?a=1&b=2&amp;c=3">x & y &lt; z <![CDATA[p & q]]></a>');
    expect(doc.status).toBe(0);
    const a = el(doc, 0);
    expect(a.attributes.href).toBe('x?a=1&b=2&c=3');
    expect(el(a, 0).nodeValue).toBe('x & y < z ');
    expect(el(a, 1).nodeValue).toBe('p & q');
  });

  it('whitespace and a BOM before the XML declaration are accepted; line numbers still count them', () => {
    const doc = parseXml('\ufeff\n  <?xml version="1.0"?>\n<a><b></a>');
    expect(doc.xmlDecl).toBe('<?xml version="1.0"?>');
    expect(doc.status).toBe(-10);
    expect(doc.error).toMatchObject({ line: 3, column: 7 });
  });

  it('a bare & before an error does not shift the reported column', () => {
    const doc = parseXml('<a>1 & 2 & 3</b>');
    expect(doc.status).toBe(-10);
    expect(doc.error).toMatchObject({ line: 1, column: 13 });
  });

  it('a repeated attribute keeps the last value', () => {
    expect(el(parseXml('<a x="1" x="2"/>'), 0).attributes.x).toBe('2');
  });

  it.each([
    ['<a>x <![CDATA[y', -2],
    ['<?xml version="1.0"', -3],
    ['<!DOCTYPE a [', -4],
    ['<a><!-- never closed', -5],
    ['<a x="1><b/>', -8],
    ['<a x=1/>', -6],
    ['<a><b>', -9],
  ])('%j ends inside a construct: %d', (src, status) => {
    expect(parseXml(src).status).toBe(status);
  });
});
