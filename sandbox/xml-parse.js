// @ts-check
/**
 * The one XML parser of ssas: saxes (a strict, streaming, well-kept parser) underneath, with the outcome
 * mapped to Flash's `XML.status` codes (ActionScript 2.0 Language Reference, XML.status):
 *
 *    0 no error                      -2 CDATA section not terminated      -3 XML declaration not terminated
 *   -4 DOCTYPE not terminated        -5 comment not terminated            -6 element malformed
 *   -7 out of memory (a limit)       -8 attribute value not terminated    -9 start tag not matched by end tag
 *  -10 end tag without a matching start tag
 *
 * The same file serves the sandbox's XML class (concatenated into the sandbox like every sandbox/*.js file,
 * saxes loaded there too) and the host's reading of Application.xml and Vhost.xml (src/util/xml.ts
 * evaluates this file): one parser, one mapping. Nothing here knows what a node is: `build` makes them.
 *
 * Like Flash, parsing never throws: it stops at the first real problem, keeps what was built before it and
 * reports the status. Flash's parser was lenient where XML is strict, and so is this one (saxes reports
 * these and goes on; they never change the status):
 *  - several top-level elements, text outside them, no element at all (an AS2 XML object is a fragment);
 *  - unknown entities (`&nbsp;`) and malformed character references stay as written;
 *  - a bare `&` (`a & b`, `?x=1&y=2`) is text: it is escaped before saxes sees it (outside CDATA sections
 *    and comments), so the references after it still decode;
 *  - a repeated attribute: the last value wins;
 *  - characters XML 1.0 forbids (control characters) and `]]>` in text are kept;
 *  - whitespace or a BOM before `<?xml ...?>`.
 */

/**
 * @typedef {{ ignoreWhite?: boolean, keepComments?: boolean, keepInstructions?: boolean, cdataAsText?: boolean,
 *   maxNodes?: number, maxDepth?: number, maxAttributes?: number }} XmlParseOpts
 * @typedef {{ element(parent: any, name: string, attributes: Record<string, string>): any,
 *   text(parent: any, value: string, cdata: boolean): void, comment?(parent: any, value: string): void,
 *   instruction?(parent: any, target: string, body: string): void }} XmlBuilder
 * @typedef {{ status: number, xmlDecl: string | undefined, docTypeDecl: string | undefined,
 *   error: { offset: number, message: string } | undefined }} XmlParseOutcome
 */

var XML_DEFAULT_MAX_NODES = 2000000;
var XML_DEFAULT_MAX_DEPTH = 1000000;
var XML_DEFAULT_MAX_ATTRIBUTES = 65536;

/** saxes messages (their start) that are leniencies, not errors, in Flash's parser. */
var XML_LENIENT = [
  // saxes runs in fragment mode (any number of top-level nodes, cheaply); these are what it then says
  // about a declaration and a DOCTYPE that it cannot know to be at the document's start.
  'an XML declaration must be at the start of the document',
  'inappropriately located doctype declaration',
  'documents may contain only one root',
  'text data outside of root node',
  'document must contain a root element',
  'undefined entity',
  'disallowed character in entity name',
  'empty entity name',
  'malformed character entity',
  'duplicate attribute',
  'disallowed character.',
  'the string "]]>" is disallowed in char data',
];

/** saxes messages (their start) and the status they map to; anything else is a malformed element (-6). */
var XML_STATUS_OF = [
  ['unclosed tag', -9],
  ['unexpected close tag', -10],
  ['unmatched closing tag', -10],
  ['malformed comment', -5],
  ['XML declaration', -3],
  ['the XML declaration', -3],
  ['an XML declaration', -3],
  ['expected the name', -3],
  ['expected one of', -3],
  ['did not expect any more name/value pairs', -3],
  ['version number must match', -3],
  ['encoding value must match', -3],
  ['standalone value must match', -3],
  ['value required', -3],
  ['value must be quoted', -3],
  ['whitespace required', -3],
  ['The character ? is disallowed', -3],
  ['processing instruction', -3],
  ['disallowed character in processing instruction', -3],
];

/** A bare `&` (not starting a reference), outside CDATA sections and comments, which are skipped whole. */
var XML_BARE_AMP = /<!\[CDATA\[[\s\S]*?(?:\]\]>|$)|<!--[\s\S]*?(?:-->|$)|&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z_:][A-Za-z0-9_.:\u00b7-\uffff-]*;)/g;

/**
 * Parses `text`, calling `build` for each node in document order. `Parser` is saxes' SaxesParser.
 * @param {any} Parser
 * @param {string} text
 * @param {XmlParseOpts} opts
 * @param {XmlBuilder} build
 * @param {any} root the node top-level nodes are children of
 * @returns {XmlParseOutcome}
 */
function ssasXmlParse(Parser, text, opts, build, root) {
  var maxNodes = opts.maxNodes || XML_DEFAULT_MAX_NODES;
  var maxDepth = opts.maxDepth || XML_DEFAULT_MAX_DEPTH;
  var maxAttributes = opts.maxAttributes || XML_DEFAULT_MAX_ATTRIBUTES;
  var src = String(text);
  /** Offset in the original text of src[0] (leading whitespace before `<?xml` is dropped). */
  var base = 0;
  var lead = /^\ufeff?\s*(?=<\?xml[\s?])/.exec(src);
  if (lead !== null && lead[0].length > 0) {
    base = lead[0].length;
    src = src.slice(base);
  } else if (src.charCodeAt(0) === 0xfeff) {
    base = 1;
    src = src.slice(1);
  }
  /** Offsets (in src after escaping) where `&amp;` replaced a bare `&`: 4 characters were added at each. */
  var added = [];
  if (src.indexOf('&') >= 0) {
    var shift = 0;
    src = src.replace(XML_BARE_AMP, function (m, at) {
      if (m !== '&') return m;
      added.push(at + shift);
      shift += 4;
      return '&amp;';
    });
  }
  /** Maps an offset in src back to the caller's text. */
  function original(off) {
    var n = 0;
    while (n < added.length && added[n] < off) n++;
    return Math.max(0, off - 4 * n) + base;
  }

  var outcome = { status: 0, xmlDecl: undefined, docTypeDecl: undefined, error: undefined };
  var STOP = {};
  var parser = new Parser({ xmlns: false, position: true, fragment: true });
  var stack = [root];
  var top = root;
  var nodes = 0;
  /** Where the last complete construct ended: anything unfinished at the end starts after it. */
  var mark = 0;

  function stop(status, message, offset) {
    if (outcome.status === 0) {
      outcome.status = status;
      outcome.error = { offset: original(offset === undefined ? parser.position : offset), message: message };
    }
    throw STOP;
  }
  function count() {
    if (++nodes > maxNodes) stop(-7, 'more than ' + maxNodes + ' nodes');
  }

  parser.on('error', function (err) {
    var msg = String(err && err.message).replace(/^(?:[^:]*:)?\d+:\d+: /, '');
    for (var i = 0; i < XML_LENIENT.length; i++) if (msg.indexOf(XML_LENIENT[i]) === 0) return;
    if (msg.indexOf('unexpected end') === 0) endedInside();
    var status = -6;
    for (var j = 0; j < XML_STATUS_OF.length; j++) {
      if (msg.indexOf(/** @type {string} */ (XML_STATUS_OF[j][0])) === 0) {
        status = /** @type {number} */ (XML_STATUS_OF[j][1]);
        break;
      }
    }
    // Reported where the construct being read starts (its `<`), as Flash's parser did.
    var lt = src.lastIndexOf('<', parser.position - 1);
    stop(status, msg, lt >= 0 ? lt : parser.position);
  });
  parser.on('xmldecl', function () {
    var start = src.lastIndexOf('<?xml', parser.position);
    outcome.xmlDecl = src.slice(start < 0 ? 0 : start, parser.position);
    mark = parser.position;
  });
  parser.on('doctype', function (body) {
    outcome.docTypeDecl = '<!DOCTYPE' + body + '>';
    mark = parser.position;
  });
  parser.on('opentag', function (tag) {
    count();
    var attrs = tag.attributes;
    var n = 0;
    for (var k in attrs) if (++n > maxAttributes) stop(-7, 'more than ' + maxAttributes + ' attributes on one element');
    if (stack.length > maxDepth) stop(-7, 'elements nested deeper than ' + maxDepth);
    var node = build.element(top, tag.name, attrs);
    if (tag.isSelfClosing) {
      mark = parser.position;
      return;
    }
    stack.push(node);
    top = node;
    mark = parser.position;
  });
  parser.on('closetag', function (tag) {
    if (!tag.isSelfClosing && stack.length > 1) {
      stack.pop();
      top = stack[stack.length - 1];
    }
    mark = parser.position;
  });
  parser.on('text', function (value) {
    if (opts.ignoreWhite && /^[ \t\r\n]*$/.test(value)) return;
    count();
    build.text(top, value, false);
  });
  parser.on('cdata', function (value) {
    count();
    build.text(top, value, opts.cdataAsText !== true);
    mark = parser.position;
  });
  parser.on('comment', function (value) {
    mark = parser.position;
    if (opts.keepComments === false || !build.comment) return;
    count();
    build.comment(top, value);
  });
  parser.on('processinginstruction', function (pi) {
    mark = parser.position;
    if (opts.keepInstructions === false || !build.instruction) return;
    count();
    build.instruction(top, pi.target, pi.body);
  });

  /** Stops for a construct left open at the end, reported where it starts. */
  function endedInside() {
    var lt = src.indexOf('<', mark);
    stop(unfinished(), 'the document ended inside a construct', lt >= 0 ? lt : mark);
  }

  /** The status for a construct left open at the end of the text (it starts at the first `<` after mark). */
  function unfinished() {
    var lt = src.indexOf('<', mark);
    if (lt < 0) return -6;
    var rest = src.slice(lt, lt + 10);
    if (rest.indexOf('<![CDATA[') === 0) return -2;
    if (rest.indexOf('<!--') === 0) return -5;
    if (rest.indexOf('<!DOCTYPE') === 0) return -4;
    if (rest.indexOf('<?') === 0) return -3;
    if (rest.indexOf('</') === 0 || rest.indexOf('<!') === 0) return -6;
    // A start tag: is a quoted attribute value open?
    var quote = '';
    for (var i = lt + 1; i < src.length; i++) {
      var c = src.charAt(i);
      if (quote !== '') {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") {
        quote = c;
      }
    }
    return quote !== '' ? -8 : -6;
  }

  try {
    parser.write(src);
    if (src.indexOf('<', mark) >= 0) endedInside();
    parser.close();
  } catch (err) {
    if (err !== STOP) {
      // saxes itself failed (a bug or a hostile input it cannot take): count it as malformed, keep the nodes.
      if (outcome.status === 0) outcome = { status: -6, xmlDecl: outcome.xmlDecl, docTypeDecl: outcome.docTypeDecl, error: { offset: original(parser.position), message: String(err && /** @type {any} */ (err).message) } };
    }
  }
  return outcome;
}
