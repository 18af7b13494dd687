import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_DEPTH, PlistError, parsePlist } from '../../../protocol/plist';

const CAPTURES = join(__dirname, '../../../fixtures/captures/nanomdm');

const HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';

/** Wrap a value's XML in the standard prolog and <plist>. */
function doc(body: string): string {
  return `${HEAD}<plist version="1.0">\n${body}\n</plist>\n`;
}

/** The PlistError thrown by parsing `input` (fails the test if it parses or throws anything else). */
function errorOf(input: string | Buffer): PlistError {
  try {
    parsePlist(input);
  } catch (err) {
    expect(err).toBeInstanceOf(PlistError);
    return err as PlistError;
  }
  throw new Error('expected a PlistError, but the input parsed');
}

describe('parsePlist: real captures', () => {
  it('reads a TokenUpdate check-in with its data fields', () => {
    const v = parsePlist(readFileSync(join(CAPTURES, 'mdm_testdata_TokenUpdate.2.plist')));
    expect(v).toEqual({
      AwaitingConfiguration: false,
      MessageType: 'TokenUpdate',
      PushMagic: '888CEB39-BFFA-40F6-89FA-B60752EB63C2',
      Token: Buffer.from('G6fJAGbFD3domiTzpCXK9oowD3KeiORgqUFgItXWQsw=', 'base64'),
      Topic: 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9',
      UDID: '66ADE930-5FDF-5EC4-8429-15640684C489',
    });
  });

  it('reads a multi-line base64 UnlockToken exactly', () => {
    const src = readFileSync(join(CAPTURES, 'mdm_testdata_TokenUpdate.1.plist'), 'utf8');
    const v = parsePlist(src) as Record<string, unknown>;
    const b64 = /<key>UnlockToken<\/key>\s*<data>([^<]*)<\/data>/.exec(src)![1]!.replace(/\s+/g, '');
    expect(v.UnlockToken).toEqual(Buffer.from(b64, 'base64'));
    expect((v.UnlockToken as Buffer).length).toBe(1288);
  });

  it('reads a DeviceInformation response with a nested dict', () => {
    const v = parsePlist(readFileSync(join(CAPTURES, 'mdm_testdata_DeviceInformation.1.plist')));
    expect(v).toMatchObject({
      QueryResponses: { HostName: 'fruit.example.com', UDID: '66ADE930-5FDF-5EC4-8429-15640684C489' },
      RequestType: 'DeviceInformation',
      Status: 'Acknowledged',
    });
  });

  it('reads the enrollment profile: arrays of dicts, integers, booleans, keys with spaces', () => {
    const v = parsePlist(readFileSync(join(CAPTURES, 'docs_enroll.mobileconfig'))) as any;
    expect(v.PayloadType).toBe('Configuration');
    expect(v.PayloadContent).toHaveLength(2);
    expect(v.PayloadContent[0].PayloadContent).toEqual({
      'Key Type': 'RSA',
      Challenge: 'SCEP-CHALLENGE-HERE',
      'Key Usage': 5,
      Keysize: 2048,
      URL: 'https://mdm.example.org/scep',
    });
    expect(v.PayloadContent[1]).toMatchObject({
      AccessRights: 8191,
      CheckOutWhenRemoved: true,
      SignMessage: true,
      ServerCapabilities: ['com.apple.mdm.per-user-connections', 'com.apple.mdm.bootstraptoken', 'com.apple.mdm.token'],
    });
  });

  it('parses every capture the same from a Buffer and from a string', () => {
    const files = readdirSync(CAPTURES).filter((f) => f.endsWith('.plist') || f.endsWith('.mobileconfig'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const buf = readFileSync(join(CAPTURES, f));
      expect(parsePlist(buf)).toEqual(parsePlist(buf.toString('utf8')));
    }
  });

  it('keeps dict keys in document order', () => {
    const v = parsePlist(readFileSync(join(CAPTURES, 'mdm_testdata_Authenticate.2.plist'))) as object;
    expect(Object.keys(v)).toEqual([
      'BuildVersion', 'Challenge', 'DeviceName', 'MessageType', 'Model', 'ModelName',
      'OSVersion', 'ProductName', 'SerialNumber', 'Topic', 'UDID',
    ]);
  });
});

describe('parsePlist: value types', () => {
  const one = (xml: string) => parsePlist(doc(xml));

  it('strings, keys and their empty forms', () => {
    expect(one('<string>hello world</string>')).toBe('hello world');
    expect(one('<string></string>')).toBe('');
    expect(one('<string/>')).toBe('');
    expect(one('<string>  padded\t\n </string>')).toBe('  padded\t\n ');
    expect(one('<dict><key/><string>v</string><key></key><string>w</string></dict>')).toEqual({ '': 'w' });
    expect(one('<string>héllo – 日本 🎉</string>')).toBe('héllo – 日本 🎉');
  });

  it('integers: decimal, signs, hex, 64-bit range, bigint beyond a double', () => {
    expect(one('<integer>42</integer>')).toBe(42);
    expect(one('<integer>-17</integer>')).toBe(-17);
    expect(one('<integer>+17</integer>')).toBe(17);
    expect(one('<integer>007</integer>')).toBe(7);
    expect(Object.is(one('<integer>-0</integer>'), 0)).toBe(true);
    expect(one('<integer> 12 </integer>')).toBe(12);
    expect(one('<integer>0x1F</integer>')).toBe(31);
    expect(one('<integer>-0x10</integer>')).toBe(-16);
    expect(one('<integer>9007199254740993</integer>')).toBe(9007199254740993n);
    expect(one('<integer>1152921504606846976</integer>')).toBe(2 ** 60); // exact as a double
    expect(one('<integer>-9223372036854775808</integer>')).toBe(-(2 ** 63));
    expect(one('<integer>18446744073709551615</integer>')).toBe(18446744073709551615n);
    expect(one('<integer>0xFFFFFFFFFFFFFFFF</integer>')).toBe(18446744073709551615n);
  });

  it('reals: decimals, exponents, nan and the infinities', () => {
    expect(one('<real>3.25</real>')).toBe(3.25);
    expect(one('<real>-1.5e-7</real>')).toBe(-1.5e-7);
    expect(one('<real>1E+21</real>')).toBe(1e21);
    expect(one('<real>.5</real>')).toBe(0.5);
    expect(one('<real>5.</real>')).toBe(5);
    expect(one('<real>2</real>')).toBe(2);
    expect(Object.is(one('<real>-0.0</real>'), -0)).toBe(true);
    expect(one('<real>nan</real>')).toBeNaN();
    expect(one('<real>NaN</real>')).toBeNaN();
    expect(one('<real>inf</real>')).toBe(Infinity);
    expect(one('<real>+infinity</real>')).toBe(Infinity);
    expect(one('<real>-infinity</real>')).toBe(-Infinity);
    expect(one('<real>-INF</real>')).toBe(-Infinity);
  });

  it('booleans in both forms', () => {
    expect(one('<true/>')).toBe(true);
    expect(one('<false/>')).toBe(false);
    expect(one('<true></true>')).toBe(true);
    expect(one('<false> </false>')).toBe(false);
  });

  it('dates in Apple form, with optional fraction; leap days are real', () => {
    expect(one('<date>2024-02-29T23:59:59Z</date>')).toEqual(new Date('2024-02-29T23:59:59Z'));
    expect(one('<date>1969-07-20T20:17:40Z</date>')).toEqual(new Date('1969-07-20T20:17:40Z'));
    expect(one('<date>0050-01-01T00:00:00Z</date>')).toEqual(new Date('0050-01-01T00:00:00Z'));
    expect(one('<date>2001-01-01T00:00:00.25Z</date>')).toEqual(new Date('2001-01-01T00:00:00.250Z'));
    expect(one('<date>\n\t2001-01-01T00:00:00Z\n</date>')).toEqual(new Date('2001-01-01T00:00:00Z'));
  });

  it('data: whitespace anywhere, missing padding, empty forms', () => {
    expect(one('<data>YXBw\n\tbGU=</data>')).toEqual(Buffer.from('apple'));
    expect(one('<data> Y X B w b G U </data>')).toEqual(Buffer.from('apple'));
    expect(one('<data></data>')).toEqual(Buffer.alloc(0));
    expect(one('<data/>')).toEqual(Buffer.alloc(0));
    expect(one('<data>\n\t</data>')).toEqual(Buffer.alloc(0));
  });

  it('containers and their empty forms', () => {
    expect(one('<array/>')).toEqual([]);
    expect(one('<dict/>')).toEqual({});
    expect(one('<array></array>')).toEqual([]);
    expect(one('<dict>\n</dict>')).toEqual({});
    expect(one('<array><dict/><array/><string>x</string><integer>1</integer></array>')).toEqual([{}, [], 'x', 1]);
  });

  it('duplicate keys: the last value wins, in the first position', () => {
    const v = one('<dict><key>a</key><integer>1</integer><key>b</key><integer>2</integer><key>a</key><integer>3</integer></dict>');
    expect(v).toEqual({ a: 3, b: 2 });
    expect(Object.keys(v as object)).toEqual(['a', 'b']);
  });

  it('a "__proto__" key is an ordinary entry and cannot change the prototype', () => {
    const v = one('<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(v['__proto__']).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parsePlist: XML syntax', () => {
  it('decodes predefined entities and character references', () => {
    expect(parsePlist(doc('<string>&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos;</string>'))).toBe('<a> & "b" \'c\'');
    expect(parsePlist(doc('<string>&#233;&#xE9;&#x1F389;&#10;</string>'))).toBe('éé🎉\n');
    expect(parsePlist(doc('<dict><key>a&amp;b</key><string>x</string></dict>'))).toEqual({ 'a&b': 'x' });
  });

  it('takes CDATA literally and joins it with the surrounding text', () => {
    expect(parsePlist(doc('<string>a<![CDATA[<b> & ]]>c</string>'))).toBe('a<b> & c');
    expect(parsePlist(doc('<string><![CDATA[]]></string>'))).toBe('');
    expect(parsePlist(doc('<string><![CDATA[x]]]]><![CDATA[>]]></string>'))).toBe('x]]>');
  });

  it('allows comments and processing instructions anywhere', () => {
    const xml =
      '<!-- before --><?xml-stylesheet href="x"?>' +
      '<plist version="1.0"><!-- a --><dict><!-- b --><key>k<!-- c --></key><!-- d -->' +
      '<string>v<!-- e -->w</string><key>n</key><integer><!-- f -->5</integer></dict><!-- g --></plist><!-- after -->\n';
    expect(parsePlist(xml)).toEqual({ k: 'vw', n: 5 });
  });

  it('normalizes line endings as XML requires, but keeps &#13;', () => {
    expect(parsePlist(doc('<string>a\r\nb\rc&#13;d</string>'))).toBe('a\nb\nc\rd');
  });

  it('accepts a bare root value without <plist>, as CoreFoundation does', () => {
    expect(parsePlist('<dict><key>a</key><true/></dict>')).toEqual({ a: true });
    expect(parsePlist(`${HEAD}<string>x</string>`)).toBe('x');
    expect(parsePlist('  <integer>1</integer>  ')).toBe(1);
  });

  it('accepts a BOM, single quotes, spaces in tags and other plist versions', () => {
    expect(parsePlist(`\uFEFF${doc('<true/>')}`)).toBe(true);
    expect(parsePlist(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('<true/>'))]))).toBe(true);
    expect(parsePlist("<?xml version='1.0' encoding='utf-8' ?><plist version = '0.9' ><string >x</string ></plist >")).toBe('x');
    expect(parsePlist('<plist><dict foo="bar"><key>a</key><string>b</string></dict></plist>')).toEqual({ a: 'b' });
  });

  it('allows a DOCTYPE with an external id, which is never fetched', () => {
    const xml = '<!DOCTYPE plist SYSTEM "http://attacker.invalid/evil.dtd"><plist><string>x</string></plist>';
    expect(parsePlist(xml)).toBe('x');
  });
});

describe('parsePlist: hostile documents', () => {
  it('rejects billion laughs (entity expansion)', () => {
    const lol =
      '<?xml version="1.0"?>\n<!DOCTYPE plist [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">\n`).join('') +
      ']>\n<plist version="1.0"><string>&lol9;</string></plist>';
    const err = errorOf(lol);
    expect(err.message).toMatch(/internal subset/);
    expect(err.message).toMatch(/billion laughs/);
    expect(err.line).toBe(2);
  });

  it('rejects XXE (external entity)', () => {
    const xxe =
      '<?xml version="1.0"?>\n<!DOCTYPE plist [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' +
      '<plist version="1.0"><string>&xxe;</string></plist>';
    expect(errorOf(xxe).message).toMatch(/internal subset.*XXE/);
  });

  it('rejects entity references without any DOCTYPE', () => {
    const err = errorOf(doc('<string>&xxe;</string>'));
    expect(err.message).toMatch(/unknown entity &xxe;/);
    expect(err.line).toBe(4);
    expect(errorOf(doc('<string>&nbsp;</string>')).message).toMatch(/unknown entity &nbsp;/);
  });

  it('rejects <!ENTITY> outside a DOCTYPE', () => {
    expect(errorOf('<!ENTITY x "y"><plist><string>&x;</string></plist>').message).toMatch(/<!ENTITY> declarations are refused/);
  });

  it(`rejects nesting deeper than ${MAX_DEPTH} without touching the JS stack`, () => {
    const ok = '<array>'.repeat(MAX_DEPTH) + '</array>'.repeat(MAX_DEPTH);
    expect(() => parsePlist(ok)).not.toThrow();
    const deep = '<array>'.repeat(100_000) + '</array>'.repeat(100_000);
    const err = errorOf(deep);
    expect(err.message).toMatch(/nesting deeper than 256/);
    expect(err.offset).toBe(MAX_DEPTH * '<array>'.length);
    const deepDicts = '<dict><key>k</key>'.repeat(MAX_DEPTH + 1);
    expect(errorOf(deepDicts).message).toMatch(/nesting deeper/);
  });

  it('handles a large flat document quickly (no quadratic scans)', () => {
    const n = 200_000;
    const xml = `<array>${'<string>a&amp;b</string>'.repeat(n)}</array>`;
    const start = Date.now();
    expect((parsePlist(xml) as unknown[]).length).toBe(n);
    expect(Date.now() - start).toBeLessThan(2000);
    const amps = `<string>${'&'.repeat(1_000_000)}</string>`;
    expect(errorOf(amps).message).toMatch(/bare "&"/);
  });
});

describe('parsePlist: errors say what and where', () => {
  type Case = [name: string, input: string, message: RegExp, line?: number, column?: number];
  const cases: Case[] = [
    ['empty input', '', /expected a plist value/],
    ['only a prolog', HEAD, /unexpected end of input/],
    ['text instead of a plist', 'hello', /unexpected text "hello"/, 1, 1],
    ['empty plist', '<plist version="1.0">\n</plist>', /<plist> is empty/],
    ['self-closing plist', '<plist/>', /<plist\/> is empty/],
    ['two values in plist', '<plist><true/><false/></plist>', /exactly one value/, 1, 15],
    ['trailing garbage', `${doc('<true/>')}junk`, /unexpected content after the end of the plist: "junk"/, 6, 1],
    ['a second root', '<true/><false/>', /unexpected content after the end/],
    ['mismatched tags', doc('<dict>\n<key>a</key><string>b</dict>'), /<\/dict> does not match <string> opened at line 5, column 13/, 5, 22],
    ['wrong container close', doc('<array>\n</dict>'), /<\/dict> does not match <array> opened at line 4/, 5, 1],
    ['unclosed dict', '<plist><dict><key>a</key><true/>', /<dict> opened at line 1, column 8 is not closed/],
    ['unclosed string', '<plist><string>abc', /<string> opened at line 1, column 8 is not closed/],
    ['key without value', doc('<dict>\n\t<key>lonely</key>\n</dict>'), /key "lonely" has no value/, 5, 2],
    ['key followed by key', doc('<dict><key>a</key><key>b</key><true/></dict>'), /key "a" has no value/],
    ['value without key', doc('<dict>\n\t<string>orphan</string>\n</dict>'), /<string> inside a <dict> must come after a <key>/, 5, 2],
    ['empty container without key', doc('<dict><array/></dict>'), /<array> inside a <dict> must come after a <key>/],
    ['container without key', doc('<dict><dict></dict></dict>'), /<dict> inside a <dict> must come after a <key>/],
    ['key outside dict', doc('<array><key>a</key></array>'), /<key> is only allowed directly inside a <dict>/],
    ['text inside dict', doc('<dict>stray<key>a</key><true/></dict>'), /unexpected text "stray" inside <dict>/],
    ['unknown element', doc('<null/>'), /unknown plist element <null>/],
    ['nested plist', doc('<array><plist/></array>'), /<plist> may only be the outermost element/],
    ['element inside string', doc('<string>a<b>c</b></string>'), /<string> may only hold text/],
    ['content in true', doc('<true>yes</true>'), /<true> must be empty/],
    ['empty integer', doc('<integer></integer>'), /empty <integer>/],
    ['self-closing integer', doc('<integer/>'), /empty <integer\/>/],
    ['float as integer', doc('<integer>1.5</integer>'), /<integer> must be a decimal or 0x-hex integer, got "1.5"/],
    ['integer out of range', doc('<integer>18446744073709551616</integer>'), /outside the 64-bit range/],
    ['negative integer out of range', doc('<integer>-9223372036854775809</integer>'), /outside the 64-bit range/],
    ['bad real', doc('<real>1.2.3</real>'), /<real> is not a number: "1.2.3"/],
    ['empty real', doc('<real/>'), /empty <real\/>/],
    ['bad date', doc('<date>2024-01-01 10:00:00</date>'), /<date> must look like 2024-01-31T12:00:00Z/],
    ['impossible date', doc('<date>2023-02-29T00:00:00Z</date>'), /not a real calendar date/],
    ['date with offset', doc('<date>2024-01-01T10:00:00+02:00</date>'), /must look like/],
    ['bad base64 character', doc('<data>YXBw*bGU=</data>'), /<data> holds "\*", which is not a base64 character/],
    ['base64url alphabet', doc('<data>ab-_</data>'), /not a base64 character/],
    ['data after padding', doc('<data>YQ==YQ==</data>'), /after "=" padding/],
    ['impossible base64 length', doc('<data>YXBwb</data>'), /wrong length or padding/],
    ['bare ampersand', doc('<string>fish & chips</string>'), /bare "&" in text must be written as &amp;/],
    ['malformed char ref', doc('<string>&#xZZ;</string>'), /malformed character reference &#xZZ;/],
    ['NUL char ref', doc('<string>&#0;</string>'), /&#0; is not a character XML allows/],
    ['surrogate char ref', doc('<string>&#xD800;</string>'), /is not a character XML allows/],
    ['char ref beyond Unicode', doc('<string>&#x110000;</string>'), /is not a character XML allows/],
    ['unterminated comment', doc('<!-- forever'), /unterminated comment/],
    ['unterminated CDATA', doc('<string><![CDATA[abc</string>'), /unterminated CDATA/],
    ['CDATA outside text', doc('<array><![CDATA[x]]></array>'), /CDATA sections are only allowed inside text elements/],
    ['late DOCTYPE', '<plist><!DOCTYPE plist><true/></plist>', /<!DOCTYPE> is only allowed before the root element/],
    ['late XML declaration', '<plist><?xml version="1.0"?><true/></plist>', /XML declaration is only allowed at the start/],
    ['malformed XML declaration', '<?xml encoding="UTF-8"?><plist><true/></plist>', /malformed XML declaration/],
    ['unquoted attribute', '<plist version=1.0><true/></plist>', /attribute version of <plist> must be quoted/],
    ['attribute without value', '<plist version><true/></plist>', /attribute version of <plist> has no value/],
    ['unterminated tag', '<plist version="1.0"', /unterminated <plist> tag/],
    ['lone <', doc('<'), /unexpected end of input after "<"|malformed tag/],
  ];

  // Rest parameters keep the callback's arity at 0, so jest never mistakes a missing
  // line/column for its `done` callback.
  it.each(cases)('%s', (...[, input, message, line, column]: Case) => {
    const err = errorOf(input);
    expect(err.message).toMatch(message);
    expect(typeof err.offset).toBe('number');
    expect(err.line).toBeGreaterThanOrEqual(1);
    expect(err.column).toBeGreaterThanOrEqual(1);
    if (line !== undefined) expect(err.line).toBe(line);
    if (column !== undefined) expect(err.column).toBe(column);
    expect(err.message).toMatch(/\(line \d+, column \d+\)$/);
  });

  it('refuses bytes that are not UTF-8, UTF-16 bodies and other declared encodings', () => {
    expect(errorOf(Buffer.from([0x3c, 0x73, 0xff, 0x3e])).message).toMatch(/not valid UTF-8/);
    expect(errorOf(Buffer.from('\uFEFF<plist/>', 'utf16le')).message).toMatch(/UTF-16 plists are not supported/);
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><plist><string>x</string></plist>');
    expect(errorOf(latin1).message).toMatch(/encoding="ISO-8859-1", but plists are read as UTF-8/);
    // A string is already decoded: its declaration is informational.
    expect(parsePlist(latin1.toString())).toBe('x');
  });

  it('refuses inputs that are not text or bytes', () => {
    expect(errorOf(undefined as unknown as string).message).toMatch(/pass a Buffer or a string/);
    expect(errorOf(42 as unknown as string).message).toMatch(/from number/);
  });

  it('accepts any Uint8Array, not only Buffer', () => {
    const bytes = new TextEncoder().encode(doc('<string>é</string>'));
    expect(parsePlist(bytes as Buffer)).toBe('é');
  });
});
