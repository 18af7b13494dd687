/**
 * A single-pass parser for XML property lists.
 *
 * Why hand-written: every MDM check-in and command result goes through here, and the `plist`
 * package builds a full DOM first (tens of µs per message). This parser walks the text once
 * with an explicit stack of open containers, so no input can recurse the JS stack, and it only
 * understands the XML that plists use. In particular it never expands anything but the five
 * predefined entities and character references, and refuses a DOCTYPE internal subset
 * outright: that is where entity-expansion ("billion laughs") and external-entity (XXE)
 * attacks live, and no real plist has one.
 *
 * Leniencies, chosen to match CoreFoundation rather than a validating XML parser: a bare root
 * value without <plist>, attributes on any element are ignored, whitespace around
 * integer/real/date text is allowed, base64 padding may be missing. Duplicate keys in a dict:
 * the last value wins (the key keeps the position where it first appeared).
 */
import { errorAt, describePosition, snippet } from './position';
import { parseDate } from './dates';
import { Invalid, isXmlSpace, parseData, parseInteger, parseReal } from './scalars';
import type { PlistDict, PlistValue } from './types';

/** Open <dict>/<array> levels allowed; deeper input is refused, whatever its size. */
export const MAX_DEPTH = 256;

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f;
const BANG = 0x21;
const QMARK = 0x3f;
const AMP = 0x26;
const CR = 0x0d;
const LF = 0x0a;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const LBRACKET = 0x5b;

/** A <dict> or <array> that is still open. */
interface Frame {
  isDict: boolean;
  container: PlistDict | PlistValue[];
  /** The key waiting for its value (dicts only). */
  key: string | undefined;
  keyAt: number;
  openedAt: number;
}

/**
 * Parse XML plist text. `fromBytes` says the text was decoded from UTF-8 bytes by us, in which
 * case an XML declaration naming another encoding is a real mismatch worth refusing.
 */
export function parseXmlPlist(src: string, fromBytes: boolean, asciiBytes?: Buffer): PlistValue {
  return new XmlPlistParser(src, fromBytes, asciiBytes).document();
}

/**
 * V8's `slice()` of 13 or more characters is a view that keeps its whole parent string
 * alive. A UDID or CommandUUID that storage keeps for days must not pin the entire request
 * body it came from (measured: a 36-character UDID held 5 KB), so text we hand out is a
 * copy: straight from the bytes when the document is ASCII (offsets are then byte offsets),
 * else re-built so that it references only itself.
 */
const SLICED_STRING_MIN = 13;

function detach(s: string): string {
  // Flattening the concatenation copies it; the result is a view of that small copy alone.
  return (s + ' ').slice(0, -1);
}

class XmlPlistParser {
  private pos: number;
  /** One vectorized scan up front spares every text run a search for CR. */
  private readonly hasCR: boolean;

  constructor(
    private readonly src: string,
    private readonly fromBytes: boolean,
    /** The same document as bytes, when it is pure ASCII. */
    private readonly ascii?: Buffer,
  ) {
    this.pos = src.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
    this.hasCR = src.indexOf('\r') !== -1;
  }

  document(): PlistValue {
    const src = this.src;
    this.skipSpaces();
    if (src.startsWith('<?xml', this.pos) && isXmlSpace(src.charCodeAt(this.pos + 5))) this.xmlDeclaration();
    this.skipMisc();
    if (src.startsWith('<!DOCTYPE', this.pos)) {
      this.doctype();
      this.skipMisc();
    }
    let value: PlistValue;
    if (src.startsWith('<plist', this.pos) && !isNameChar(src.charCodeAt(this.pos + 6))) {
      const openedAt = this.pos;
      this.pos += 6;
      if (this.tagRest('plist', openedAt)) this.fail('<plist/> is empty: it must hold one value', openedAt);
      value = this.value(true);
      this.skipMisc();
      if (src.charCodeAt(this.pos) === LT && src.charCodeAt(this.pos + 1) !== SLASH) {
        this.fail('<plist> must hold exactly one value, but a second one starts here');
      }
      this.endTag('plist', openedAt);
    } else {
      value = this.value(false);
    }
    this.skipMisc();
    if (this.pos < src.length) {
      this.fail(`unexpected content after the end of the plist: ${snippet(src.slice(this.pos, this.pos + 30))}`);
    }
    return value;
  }

  /** Read exactly one value, however deeply nested, without recursing. */
  private value(inPlist: boolean): PlistValue {
    const src = this.src;
    const stack: Frame[] = [];
    let top: Frame | undefined;
    for (;;) {
      this.skipMisc();
      const tagAt = this.pos;
      if (src.charCodeAt(tagAt) !== LT) this.unexpectedText(top);
      let value: PlistValue;
      let name: string;
      if (src.charCodeAt(tagAt + 1) === SLASH) {
        if (top === undefined) {
          this.fail(inPlist ? '<plist> is empty: it must hold one value' : 'expected a value, found a closing tag');
        }
        this.endTag(top.isDict ? 'dict' : 'array', top.openedAt);
        if (top.key !== undefined) this.fail(`key ${snippet(top.key)} has no value`, top.keyAt);
        value = top.container;
        name = top.isDict ? 'dict' : 'array';
        stack.pop();
        top = stack.length === 0 ? undefined : stack[stack.length - 1];
      } else {
        this.pos = tagAt + 1;
        name = this.name();
        if (name === '') this.badMarkup(tagAt);
        const selfClosing = this.tagRest(name, tagAt);
        switch (name) {
          case 'key':
            if (top === undefined || !top.isDict) this.fail('<key> is only allowed directly inside a <dict>', tagAt);
            if (top.key !== undefined) this.fail(`key ${snippet(top.key)} has no value`, top.keyAt);
            top.key = selfClosing ? '' : this.text('key', tagAt);
            top.keyAt = tagAt;
            continue;
          case 'string':
            value = selfClosing ? '' : this.text('string', tagAt);
            break;
          case 'dict':
          case 'array':
            if (selfClosing) {
              value = name === 'dict' ? {} : [];
              break;
            }
            if (top !== undefined && top.isDict && top.key === undefined) this.valueWithoutKey(name, tagAt);
            if (stack.length >= MAX_DEPTH) this.fail(`<dict>/<array> nesting deeper than ${MAX_DEPTH} levels`, tagAt);
            top = { isDict: name === 'dict', container: name === 'dict' ? {} : [], key: undefined, keyAt: 0, openedAt: tagAt };
            stack.push(top);
            continue;
          case 'integer':
            value = this.scalar(parseInteger(this.requiredText(name, tagAt, selfClosing)), tagAt);
            break;
          case 'real':
            value = this.scalar(parseReal(this.requiredText(name, tagAt, selfClosing)), tagAt);
            break;
          case 'true':
          case 'false':
            if (!selfClosing) this.emptyContent(name, tagAt);
            value = name === 'true';
            break;
          case 'data':
            value = this.scalar(parseData(selfClosing ? '' : this.text('data', tagAt)), tagAt);
            break;
          case 'date':
            value = this.scalar(parseDate(this.requiredText(name, tagAt, selfClosing)), tagAt);
            break;
          case 'plist':
            return this.fail('<plist> may only be the outermost element', tagAt);
          default:
            return this.fail(`unknown plist element <${name}>`, tagAt);
        }
      }
      if (top === undefined) return value;
      if (top.isDict) {
        if (top.key === undefined) this.valueWithoutKey(name, tagAt);
        setEntry(top.container as PlistDict, top.key, value);
        top.key = undefined;
      } else {
        (top.container as PlistValue[]).push(value);
      }
    }
  }

  // ── tags ────────────────────────────────────────────────────────────────────────────────

  private name(): string {
    const src = this.src;
    const start = this.pos;
    let p = start;
    while (isNameChar(src.charCodeAt(p))) p++;
    this.pos = p;
    return src.slice(start, p);
  }

  /**
   * The rest of a start tag after its name: attributes (checked, then ignored) and `>` or
   * `/>`. Returns true for a self-closing tag.
   */
  private tagRest(name: string, tagAt: number, attributes?: Map<string, string>): boolean {
    const src = this.src;
    let c = src.charCodeAt(this.pos);
    if (c === GT) {
      this.pos++;
      return false;
    }
    for (;;) {
      const hadSpace = isXmlSpace(c);
      this.skipSpaces();
      c = src.charCodeAt(this.pos);
      if (c === GT) {
        this.pos++;
        return false;
      }
      if (c === SLASH && src.charCodeAt(this.pos + 1) === GT) {
        this.pos += 2;
        return true;
      }
      if (!hadSpace || !isNameChar(c)) {
        if (this.pos >= src.length) this.fail(`unterminated <${name}> tag`, tagAt);
        this.fail(`malformed <${name}> tag`);
      }
      const attrName = this.name();
      this.skipSpaces();
      if (src.charCodeAt(this.pos) !== EQUALS) this.fail(`attribute ${attrName} of <${name}> has no value`);
      this.pos++;
      this.skipSpaces();
      const quote = src.charCodeAt(this.pos);
      if (quote !== DQUOTE && quote !== SQUOTE) this.fail(`attribute ${attrName} of <${name}> must be quoted`);
      const valueAt = this.pos + 1;
      const end = src.indexOf(quote === DQUOTE ? '"' : "'", valueAt);
      if (end === -1) this.fail(`unterminated attribute ${attrName} of <${name}>`, this.pos);
      let value = src.slice(valueAt, end);
      if (value.indexOf('<') !== -1) this.fail(`"<" is not allowed in attribute ${attrName}`, valueAt + value.indexOf('<'));
      if (this.needsDecoding(value)) value = this.decode(value, valueAt);
      attributes?.set(attrName, value);
      this.pos = end + 1;
      c = src.charCodeAt(this.pos);
    }
  }

  /** `</name>` (whitespace before `>` allowed); anything else is a mismatch. */
  private endTag(name: string, openedAt: number): void {
    const src = this.src;
    const at = this.pos;
    if (src.charCodeAt(at) === LT && src.charCodeAt(at + 1) === SLASH && src.startsWith(name, at + 2)) {
      let p = at + 2 + name.length;
      if (src.charCodeAt(p) === GT) {
        this.pos = p + 1;
        return;
      }
      if (!isNameChar(src.charCodeAt(p))) {
        while (isXmlSpace(src.charCodeAt(p))) p++;
        if (src.charCodeAt(p) === GT) {
          this.pos = p + 1;
          return;
        }
      }
    }
    const opened = `<${name}> opened at ${describePosition(src, openedAt)}`;
    if (at >= src.length) this.fail(`unexpected end of input: ${opened} is not closed`);
    if (src.charCodeAt(at + 1) === SLASH) {
      this.pos = at + 2;
      this.fail(`</${this.name()}> does not match ${opened}`, at);
    }
    this.fail(`expected </${name}> to close ${opened}`, at);
  }

  /** Content of <true></true> and friends: nothing but whitespace and comments. */
  private emptyContent(name: string, tagAt: number): void {
    this.skipMisc();
    if (this.src.charCodeAt(this.pos) !== LT || this.src.charCodeAt(this.pos + 1) !== SLASH) {
      this.fail(`<${name}> must be empty`);
    }
    this.endTag(name, tagAt);
  }

  // ── text ────────────────────────────────────────────────────────────────────────────────

  /** src.slice(start, end), as a string that does not keep the document alive. */
  private sub(start: number, end: number): string {
    if (end - start < SLICED_STRING_MIN) return this.src.slice(start, end);
    return this.ascii ? this.ascii.toString('latin1', start, end) : detach(this.src.slice(start, end));
  }

  private requiredText(name: string, tagAt: number, selfClosing: boolean): string {
    if (selfClosing) this.fail(`empty <${name}/>`, tagAt);
    return this.text(name, tagAt);
  }

  /** Character data up to and including `</name>`: entities decoded, CDATA and comments handled. */
  private text(name: string, tagAt: number): string {
    const src = this.src;
    const start = this.pos;
    const lt = src.indexOf('<', start);
    if (lt === -1) this.fail(`unexpected end of input: <${name}> opened at ${describePosition(src, tagAt)} is not closed`);
    // Almost all plist text is one plain run straight up to its end tag.
    if (src.charCodeAt(lt + 1) === SLASH) {
      let text = this.sub(start, lt);
      if (this.needsDecoding(text)) text = this.decode(text, start);
      this.pos = lt;
      this.endTag(name, tagAt);
      return text;
    }
    return this.mixedText(name, tagAt, start, lt);
  }

  /** Text interleaved with comments, CDATA sections or processing instructions. */
  private mixedText(name: string, tagAt: number, start: number, firstLt: number): string {
    const src = this.src;
    let out = '';
    let runStart = start;
    let lt = firstLt;
    for (;;) {
      const run = this.sub(runStart, lt);
      out += this.needsDecoding(run) ? this.decode(run, runStart) : run;
      let next: number;
      if (src.charCodeAt(lt + 1) === SLASH) break;
      if (src.startsWith('<!--', lt)) {
        next = this.commentEnd(lt);
      } else if (src.startsWith('<![CDATA[', lt)) {
        const end = src.indexOf(']]>', lt + 9);
        if (end === -1) this.fail('unterminated CDATA section', lt);
        // CDATA is taken literally, but line endings are still normalized, as for all XML text.
        out += this.sub(lt + 9, end).replace(/\r\n?/g, '\n');
        next = end + 3;
      } else if (src.charCodeAt(lt + 1) === QMARK) {
        next = this.piEnd(lt);
      } else {
        this.fail(`<${name}> may only hold text, but an element starts here`, lt);
      }
      runStart = next;
      lt = src.indexOf('<', next);
      if (lt === -1) this.fail(`unexpected end of input: <${name}> opened at ${describePosition(src, tagAt)} is not closed`);
    }
    this.pos = lt;
    this.endTag(name, tagAt);
    return out;
  }

  private needsDecoding(text: string): boolean {
    return text.indexOf('&') !== -1 || (this.hasCR && text.indexOf('\r') !== -1);
  }

  /** Decode entity and character references and normalize line endings in one text run. */
  private decode(text: string, base: number): string {
    let out = '';
    let last = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === CR) {
        out += `${text.slice(last, i)}\n`;
        if (text.charCodeAt(i + 1) === LF) i++;
        last = i + 1;
      } else if (c === AMP) {
        const semi = text.indexOf(';', i + 1);
        out += text.slice(last, i) + this.reference(semi === -1 ? undefined : text.slice(i + 1, semi), base + i);
        i = semi;
        last = semi + 1;
      }
    }
    return last === 0 ? text : out + text.slice(last);
  }

  private reference(ref: string | undefined, at: number): string {
    switch (ref) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    if (ref !== undefined && ref.startsWith('#')) {
      let cp = NaN;
      if (/^#x[0-9a-fA-F]+$/.test(ref)) cp = parseInt(ref.slice(2), 16);
      else if (/^#[0-9]+$/.test(ref)) cp = parseInt(ref.slice(1), 10);
      else this.fail(`malformed character reference &${ref};`, at);
      if (!isXmlChar(cp)) this.fail(`character reference &${ref}; is not a character XML allows`, at);
      return String.fromCodePoint(cp);
    }
    if (ref === undefined || !/^[A-Za-z_:][A-Za-z0-9._:-]*$/.test(ref)) {
      this.fail('a bare "&" in text must be written as &amp;', at);
    }
    return this.fail(
      `unknown entity &${ref.length > 30 ? `${ref.slice(0, 30)}…` : ref}; — plists may only use &amp; &lt; &gt; &quot; &apos; ` +
        'and character references such as &#233; (entity definitions are never read)',
      at,
    );
  }

  // ── prolog and misc ─────────────────────────────────────────────────────────────────────

  private xmlDeclaration(): void {
    const src = this.src;
    const at = this.pos;
    const end = src.indexOf('?>', at);
    if (end === -1) this.fail('unterminated XML declaration', at);
    const decl = src.slice(at, end + 2);
    if (!/^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1/.test(decl)) this.fail('malformed XML declaration', at);
    const encoding = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(decl)?.[2];
    if (this.fromBytes && encoding !== undefined && !/^(?:utf-?8|us-ascii|ascii)$/i.test(encoding)) {
      this.fail(`the XML declaration says encoding="${encoding}", but plists are read as UTF-8: re-encode the body as UTF-8`, at);
    }
    this.pos = end + 2;
  }

  private doctype(): void {
    const src = this.src;
    const at = this.pos;
    let p = at + 9;
    if (!isXmlSpace(src.charCodeAt(p))) this.fail('malformed <!DOCTYPE>', at);
    for (;;) {
      const c = src.charCodeAt(p);
      if (c === GT) break;
      if (c === DQUOTE || c === SQUOTE) {
        const end = src.indexOf(c === DQUOTE ? '"' : "'", p + 1);
        if (end === -1) this.fail('unterminated <!DOCTYPE>', at);
        p = end + 1;
        continue;
      }
      if (c === LBRACKET) {
        this.fail(
          '<!DOCTYPE> with an internal subset ("[ ... ]") is refused: plists never need one, and entity ' +
            'declarations there are how entity-expansion ("billion laughs") and external-entity (XXE) attacks work',
          p,
        );
      }
      if (p >= src.length) this.fail('unterminated <!DOCTYPE>', at);
      p++;
    }
    this.pos = p + 1;
  }

  /** Whitespace, comments and processing instructions, which may appear between elements. */
  private skipMisc(): void {
    const src = this.src;
    let p = this.pos;
    for (;;) {
      const c = src.charCodeAt(p);
      if (c === 0x20 || c === LF || c === 0x09 || c === CR) {
        p++;
      } else if (c === LT && src.charCodeAt(p + 1) === BANG && src.startsWith('<!--', p)) {
        p = this.commentEnd(p);
      } else if (c === LT && src.charCodeAt(p + 1) === QMARK) {
        p = this.piEnd(p);
      } else {
        break;
      }
    }
    this.pos = p;
  }

  private skipSpaces(): void {
    const src = this.src;
    let p = this.pos;
    while (isXmlSpace(src.charCodeAt(p))) p++;
    this.pos = p;
  }

  private commentEnd(at: number): number {
    const end = this.src.indexOf('-->', at + 4);
    if (end === -1) this.fail('unterminated comment', at);
    return end + 3;
  }

  private piEnd(at: number): number {
    const src = this.src;
    if (src.startsWith('<?xml', at) && !isNameChar(src.charCodeAt(at + 5))) {
      this.fail('the XML declaration is only allowed at the start of the document', at);
    }
    const end = src.indexOf('?>', at + 2);
    if (end === -1) this.fail('unterminated processing instruction', at);
    return end + 2;
  }

  // ── errors ──────────────────────────────────────────────────────────────────────────────

  private fail(message: string, at: number = this.pos): never {
    throw errorAt(this.src, at, message);
  }

  private scalar<T>(result: T | Invalid, tagAt: number): T {
    if (result instanceof Invalid) this.fail(result.reason, tagAt);
    return result;
  }

  private valueWithoutKey(element: string, tagAt: number): never {
    this.fail(`<${element}> inside a <dict> must come after a <key>`, tagAt);
  }

  private badMarkup(at: number): never {
    const src = this.src;
    if (src.startsWith('<!ENTITY', at)) {
      this.fail('<!ENTITY> declarations are refused: plists never define entities', at);
    }
    if (src.startsWith('<!DOCTYPE', at)) this.fail('<!DOCTYPE> is only allowed before the root element', at);
    if (src.startsWith('<![CDATA[', at)) this.fail('CDATA sections are only allowed inside text elements such as <string>', at);
    if (at + 1 >= src.length) this.fail('unexpected end of input after "<"', at);
    this.fail('malformed tag', at);
  }

  private unexpectedText(top: Frame | undefined): never {
    const src = this.src;
    const at = this.pos;
    if (at >= src.length) {
      this.fail(
        top === undefined
          ? 'unexpected end of input: expected a plist value'
          : `unexpected end of input: <${top.isDict ? 'dict' : 'array'}> opened at ${describePosition(src, top.openedAt)} is not closed`,
      );
    }
    const lt = src.indexOf('<', at);
    const text = src.slice(at, lt === -1 ? at + 30 : Math.min(lt, at + 30));
    const where = top === undefined ? 'where a plist value was expected' : `inside <${top.isDict ? 'dict' : 'array'}>`;
    this.fail(`unexpected text ${snippet(text)} ${where}`);
  }
}

/** Put a key in a parsed dict without letting `__proto__` replace the object's prototype. */
function setEntry(dict: PlistDict, key: string, value: PlistValue): void {
  if (key === '__proto__') {
    Object.defineProperty(dict, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    dict[key] = value;
  }
}


function isNameChar(c: number): boolean {
  // ASCII letters, digits, - . _ : and anything non-ASCII (XML allows most of it in names).
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x3a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c >= 0x80
  );
}

/** The XML 1.0 `Char` production: what a character reference may produce. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}
