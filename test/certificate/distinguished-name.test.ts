import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attributeShortName, decodeDirectoryString, decodeName, escapeAttributeValue } from '../../lib/certificate/distinguished-name.js';
import { readElement, validateDerTree } from '../../lib/certificate/der.js';
import { isMtlsError } from '../../lib/errors.js';
import { hasLogUnsafe, isLogUnsafeAt } from '../../lib/internal/log-safe.js';
import { tlv } from '../helpers/certificate-vectors.js';

const CN = [0x55, 0x04, 0x03];
const OU = [0x55, 0x04, 0x0b];
const UID = [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
const ava = (oid: number[], value: Uint8Array) => tlv(0x30, tlv(0x06, oid), value);
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));

function decode(name: Uint8Array, withAttributes = true) {
  validateDerTree(name, 0, name.length);
  return decodeName(name, readElement(name, 0, name.length), 'subject', withAttributes);
}

function value(tag: number, content: number[] | Uint8Array): string | undefined {
  const der = tlv(tag, content);
  return decodeDirectoryString(der, readElement(der, 0, der.length));
}

test('escapeAttributeValue: RFC 4514 section 2.4', () => {
  assert.equal(escapeAttributeValue('plain value'), 'plain value');
  assert.equal(escapeAttributeValue('a"b+c,d;e<f>g\\h=i'), 'a\\"b\\+c\\,d\\;e\\<f\\>g\\\\h=i');
  assert.equal(escapeAttributeValue('#x'), '\\#x');
  assert.equal(escapeAttributeValue('x#'), 'x#');
  assert.equal(escapeAttributeValue('#'), '\\#');
  assert.equal(escapeAttributeValue(' x '), '\\ x\\ ');
  assert.equal(escapeAttributeValue(' '), '\\ ');
  assert.equal(escapeAttributeValue('  '), '\\ \\ ');
  assert.equal(escapeAttributeValue('a b'), 'a b');
  assert.equal(escapeAttributeValue(''), '');
});

test('escapeAttributeValue: log-unsafe characters as \\XX per UTF-8 byte', () => {
  assert.equal(escapeAttributeValue('a\nb'), 'a\\0Ab');
  assert.equal(escapeAttributeValue('\x00\x1f\x7f\x80\x9f'), '\\00\\1F\\7F\\C2\\80\\C2\\9F');
  assert.equal(escapeAttributeValue('\u2028\u2029'), '\\E2\\80\\A8\\E2\\80\\A9');
  assert.equal(escapeAttributeValue('\u200b\u200c\u200d\u200e\u200f'), '\\E2\\80\\8B\\E2\\80\\8C\\E2\\80\\8D\\E2\\80\\8E\\E2\\80\\8F');
  assert.equal(escapeAttributeValue('\u202a\u202b\u202c\u202d\u202e'), '\\E2\\80\\AA\\E2\\80\\AB\\E2\\80\\AC\\E2\\80\\AD\\E2\\80\\AE');
  assert.equal(escapeAttributeValue('\u2066\u2067\u2068\u2069'), '\\E2\\81\\A6\\E2\\81\\A7\\E2\\81\\A8\\E2\\81\\A9');
  assert.equal(escapeAttributeValue('\ufeff'), '\\EF\\BB\\BF');
  // Neighbours of the ranges stay as they are.
  const neighbours = '\u00a0\u00ac\u00ae\u061b\u061d\u115e\u1161\u180d\u180f\u200a\u2010\u2027\u202f\u205f\u2070\u3163\u3165\ufefe\uff9f\uffa1\ufff8\ufffc\u{dffff}\u{e0080} é 日 🔐';
  assert.equal(escapeAttributeValue(neighbours), neighbours);
});

test('escapeAttributeValue: the whole log-safe set of lib/internal/log-safe.ts, surrogate pairs as one character', () => {
  assert.equal(escapeAttributeValue('a\u00adb'), 'a\\C2\\ADb'); // soft hyphen
  assert.equal(escapeAttributeValue('\u061c'), '\\D8\\9C'); // Arabic letter mark
  assert.equal(escapeAttributeValue('\u115f\u1160\u3164\uffa0'), '\\E1\\85\\9F\\E1\\85\\A0\\E3\\85\\A4\\EF\\BE\\A0'); // Hangul fillers
  assert.equal(escapeAttributeValue('\u180e'), '\\E1\\A0\\8E');
  assert.equal(escapeAttributeValue('\u2060\u2064\u2065\u206f'), '\\E2\\81\\A0\\E2\\81\\A4\\E2\\81\\A5\\E2\\81\\AF');
  assert.equal(escapeAttributeValue('\ufff9\ufffb'), '\\EF\\BF\\B9\\EF\\BF\\BB');
  // Tag characters: one escape of four bytes per surrogate pair.
  assert.equal(escapeAttributeValue('x\u{e0001}\u{e0041}\u{e007f}y'), 'x\\F3\\A0\\80\\81\\F3\\A0\\81\\81\\F3\\A0\\81\\BFy');
  // Lone surrogates have no UTF-8 form: written as U+FFFD's bytes.
  assert.equal(escapeAttributeValue('a\ud800b\udc00c\udbff'), 'a\\EF\\BF\\BDb\\EF\\BF\\BDc\\EF\\BF\\BD');
  // RFC 4514 and log-safe escapes together, with a trailing space after an escape.
  assert.equal(escapeAttributeValue(' \u{e0041},\u00ad '), '\\ \\F3\\A0\\81\\81\\,\\C2\\AD\\ ');
});

test('escapeAttributeValue: exactly the characters lib/internal/log-safe.ts calls unsafe are hex-escaped', () => {
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const character = String.fromCodePoint(code);
    // Inside a value, so the RFC 4514 leading/trailing rules do not apply.
    const escaped = escapeAttributeValue(`a${character}b`);
    const hex = escaped.startsWith('a\\') && escaped !== `a\\${character}b`;
    assert.equal(hex, isLogUnsafeAt(character, 0), `U+${code.toString(16)}: ${JSON.stringify(escaped)}`);
  }
});

test('property: an escaped value has no raw control, separator or bidi character', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
      const escaped = escapeAttributeValue(text);
      assert.ok(!hasLogUnsafe(escaped), JSON.stringify(escaped));
      // Unescaping gives the value back (RFC 4514 section 3 grammar for pairs and hex pairs).
      const unescaped = Buffer.from(
        escaped.replace(/\\([0-9A-F]{2})|\\(.)/gsu, (_m, hex: string | undefined, ch: string | undefined) => (hex ? `\u0000HEX${hex}` : ch!)),
        'utf8',
      );
      const bytes: number[] = [];
      for (let i = 0; i < unescaped.length; i++) {
        if (unescaped[i] === 0 && unescaped.subarray(i + 1, i + 4).toString() === 'HEX') {
          bytes.push(parseInt(unescaped.subarray(i + 4, i + 6).toString(), 16));
          i += 5;
        } else bytes.push(unescaped[i]!);
      }
      assert.equal(Buffer.from(bytes).toString('utf8'), Buffer.from(text, 'utf8').toString('utf8'));
    }),
    { numRuns: 1000, seed: 11 },
  );
});

test('decodeDirectoryString: every string type', () => {
  assert.equal(value(0x0c, Buffer.from('Zoë 日本 🔐')), 'Zoë 日本 🔐');
  assert.equal(value(0x0c, Buffer.from('\ufeffbom')), '\ufeffbom'); // a BOM is content, not stripped
  assert.equal(value(0x13, Buffer.from('Printable')), 'Printable');
  assert.equal(value(0x16, Buffer.from('ia5@example.org')), 'ia5@example.org');
  assert.equal(value(0x14, [0x5a, 0x6f, 0xeb]), 'Zoë'); // TeletexString as Latin-1, like OpenSSL
  assert.equal(value(0x12, Buffer.from('0123')), '0123');
  assert.equal(value(0x1e, [0x65, 0xe5, 0x67, 0x2c, 0x00, 0x41]), '日本A');
  assert.equal(value(0x1c, [0x00, 0x01, 0xf5, 0x10, 0x00, 0x00, 0x00, 0x41]), '🔐A');
});

test('decodeDirectoryString: invalid content or other types give undefined', () => {
  assert.equal(value(0x0c, [0xc3]), undefined); // truncated UTF-8
  assert.equal(value(0x0c, [0xed, 0xa0, 0x80]), undefined); // UTF-8-encoded surrogate
  assert.equal(value(0x1e, [0x00, 0x41, 0x00]), undefined); // odd BMPString length
  assert.equal(value(0x1e, [0xd8, 0x3d, 0xdd, 0x10]), undefined); // surrogates are not UCS-2
  assert.equal(value(0x1c, [0x00, 0x00, 0x41]), undefined);
  assert.equal(value(0x1c, [0x00, 0x11, 0x00, 0x00]), undefined); // above U+10FFFF
  assert.equal(value(0x1c, [0x00, 0x00, 0xd8, 0x00]), undefined);
  assert.equal(value(0x02, [0x01]), undefined); // INTEGER
  // Types OpenSSL refuses in a Name.
  assert.equal(value(0x1b, Buffer.from('general')), undefined); // GeneralString
  assert.equal(value(0x1a, Buffer.from('visible')), undefined); // VisibleString
  assert.equal(value(0x17, Buffer.from('260101000000Z')), undefined); // UTCTime
});

test('decodeName: RDN order, multi-valued RDNs, attributes', () => {
  const name = tlv(
    0x30,
    tlv(0x31, ava([0x55, 0x04, 0x06], tlv(0x13, Buffer.from('US')))),
    tlv(0x31, ava(CN, utf8('bob')), ava(UID, utf8('1234'))),
    tlv(0x31, ava(OU, utf8('#'))),
  );
  assert.deepEqual(decode(name), {
    text: 'OU=\\#,CN=bob+UID=1234,C=US',
    rdns: [
      [{ type: 'C', oid: '2.5.4.6', value: 'US' }],
      [{ type: 'CN', oid: '2.5.4.3', value: 'bob' }, { type: 'UID', oid: '0.9.2342.19200300.100.1.1', value: '1234' }],
      [{ type: 'OU', oid: '2.5.4.11', value: '#' }],
    ],
  });
  assert.deepEqual(decode(name, false), { text: 'OU=\\#,CN=bob+UID=1234,C=US', rdns: [] });
  assert.deepEqual(decode(tlv(0x30)), { text: '', rdns: [] });
});

test('decodeName: values dumped as #hex of their DER', () => {
  const name = tlv(
    0x30,
    tlv(0x31, ava([0x2a, 0x03, 0x04], utf8('hi'))), // unknown OID 1.2.3.4
    tlv(0x31, ava(CN, tlv(0x0c, [0xff]))), // invalid UTF-8
    tlv(0x31, ava(OU, tlv(0x02, [0x05]))), // not a string type
  );
  assert.deepEqual(decode(name), {
    text: 'OU=#020105,CN=#0C01FF,1.2.3.4=#0C026869',
    rdns: [
      [{ type: '1.2.3.4', oid: '1.2.3.4', value: 'hi' }],
      [{ type: 'CN', oid: '2.5.4.3', value: '#0C01FF' }],
      [{ type: 'OU', oid: '2.5.4.11', value: '#020105' }],
    ],
  });
});

test('decodeName: malformed structure', () => {
  const rejects = (name: Uint8Array, message: string) =>
    assert.throws(() => decode(name), (error: unknown) => isMtlsError(error) && error.message === message);
  rejects(tlv(0x30, tlv(0x31)), 'empty RDN in subject at offset 2');
  rejects(tlv(0x30, tlv(0x30, ava(CN, utf8('x')))), 'expected subject RDN SET (tag 0x31) at offset 2, found tag 0x30');
  rejects(tlv(0x30, tlv(0x31, tlv(0x31, tlv(0x06, CN), utf8('x')))), 'expected subject AttributeTypeAndValue (tag 0x30) at offset 4, found tag 0x31');
  rejects(tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x0c, [0x61]), utf8('x')))), 'expected subject attribute type (tag 0x06) at offset 6, found tag 0x0C');
  rejects(tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, CN)))), 'DER element expected at offset 11, but the data ends there');
  rejects(tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, CN), utf8('x'), utf8('y')))), 'extra data in subject attribute at offset 14');
});

test('attributeShortName: OpenSSL short names', () => {
  const expected: [string, string][] = [
    ['2.5.4.3', 'CN'], ['2.5.4.4', 'SN'], ['2.5.4.5', 'serialNumber'], ['2.5.4.6', 'C'], ['2.5.4.7', 'L'], ['2.5.4.8', 'ST'],
    ['2.5.4.9', 'street'], ['2.5.4.10', 'O'], ['2.5.4.11', 'OU'], ['2.5.4.12', 'title'], ['2.5.4.42', 'GN'],
    ['2.5.4.97', 'organizationIdentifier'], ['0.9.2342.19200300.100.1.1', 'UID'], ['0.9.2342.19200300.100.1.25', 'DC'],
    ['1.2.840.113549.1.9.1', 'emailAddress'], ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionC'],
  ];
  for (const [oid, name] of expected) assert.equal(attributeShortName(oid), name);
  assert.equal(attributeShortName('1.2.3.4'), undefined);
});
