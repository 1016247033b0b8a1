/**
 * Arguments typed after a dot-command (`.call sendMessage "hi there" 42 {to: 'bob'} [1,2]`): a sequence of
 * JSON-ish values separated by spaces or commas. Strings may use single or double quotes, object keys may
 * be bare, and a bare word that is no literal is taken as a string (`.connect chat alice` sends "alice").
 */
import type { AmfValue } from '../amf';
import { ConfigError } from '../errors';

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new ConfigError('ERR_REPL_BAD_ARGUMENT', `${what} at column ${this.pos + 1} of: ${this.text}`);
  }

  skipSpace(commas: boolean): void {
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!;
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || (commas && ch === ',')) this.pos++;
      else break;
    }
  }

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  value(top: boolean): AmfValue {
    const ch = this.text[this.pos];
    if (ch === '{') return this.object();
    if (ch === '[') return this.array();
    if (ch === '"' || ch === "'") return this.string(ch);
    return this.word(top);
  }

  string(quote: string): string {
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos++]!;
      if (ch === quote) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const esc = this.text[this.pos++];
      switch (esc) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'u': {
          const hex = this.text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        case undefined:
          this.fail('unterminated string');
          break;
        default:
          out += esc;
      }
    }
    return this.fail('unterminated string');
  }

  /** A literal, a number, or (at top level, or as an object key) a bare word taken as a string. */
  word(top: boolean): AmfValue {
    const start = this.pos;
    const stop = top ? /[\s,]/ : /[\s,:}\]]/;
    while (this.pos < this.text.length && !stop.test(this.text[this.pos]!)) this.pos++;
    const w = this.text.slice(start, this.pos);
    if (w === '') this.fail('value expected');
    if (w === 'true') return true;
    if (w === 'false') return false;
    if (w === 'null') return null;
    if (w === 'undefined') return undefined;
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(w) || /^[+-]?(0x[0-9a-f]+|Infinity|NaN)$/i.test(w)) return Number(w);
    if (!top && !/^[A-Za-z_$][\w$.-]*$/.test(w)) this.fail(`unexpected "${w}"`);
    return w;
  }

  key(): string {
    const ch = this.text[this.pos];
    if (ch === '"' || ch === "'") return this.string(ch);
    const m = /^[A-Za-z_$0-9][\w$-]*/.exec(this.text.slice(this.pos));
    if (!m) this.fail('property name expected');
    this.pos += m[0].length;
    return m[0];
  }

  object(): AmfValue {
    this.pos++;
    const out: Record<string, AmfValue> = {};
    for (;;) {
      this.skipSpace(true);
      if (this.done) this.fail('unterminated object');
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const k = this.key();
      this.skipSpace(false);
      if (this.text[this.pos] !== ':') this.fail('":" expected');
      this.pos++;
      this.skipSpace(false);
      out[k] = this.value(false);
    }
  }

  array(): AmfValue {
    this.pos++;
    const out: AmfValue[] = [];
    for (;;) {
      this.skipSpace(true);
      if (this.done) this.fail('unterminated array');
      if (this.text[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value(false));
    }
  }
}

/** Parses `text` into its values. Throws ConfigError ERR_REPL_BAD_ARGUMENT on malformed input. */
export function parseValues(text: string): AmfValue[] {
  const p = new Parser(text);
  const out: AmfValue[] = [];
  for (;;) {
    p.skipSpace(true);
    if (p.done) return out;
    out.push(p.value(true));
  }
}

/** The first whitespace-separated word and the rest of the text. */
export function splitWord(text: string): [string, string] {
  const t = text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(t);
  return m ? [m[1]!, m[2]!] : ['', ''];
}
