import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readElement, validateDerTree, expectElement, decodeObjectIdentifier, MAX_DER_DEPTH } from '../../lib/certificate/der.js';
import { isMtlsError } from '../../lib/errors.js';
import { nestedSequences, tlv } from '../helpers/certificate-vectors.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function rejects(action: () => unknown, message: string): void {
  assert.throws(action, (error: unknown) => isMtlsError(error) && error.code === 'ERR_MTLS_CERT_PARSE' && error.message === message);
}

test('readElement: short and long definite lengths', () => {
  assert.deepEqual(readElement(bytes(0x02, 0x01, 0x05), 0, 3), { tag: 0x02, tagNumber: 2, constructed: false, start: 0, contentStart: 2, end: 3 });
  const long = new Uint8Array(3 + 200);
  long.set([0x04, 0x81, 200]);
  assert.deepEqual(readElement(long, 0, long.length), { tag: 0x04, tagNumber: 4, constructed: false, start: 0, contentStart: 3, end: 203 });
  const twoOctets = new Uint8Array(4 + 300);
  twoOctets.set([0x30, 0x82, 0x01, 0x2c]);
  assert.deepEqual(readElement(twoOctets, 0, twoOctets.length), { tag: 0x30, tagNumber: 16, constructed: true, start: 0, contentStart: 4, end: 304 });
});

test('readElement: high tag number form', () => {
  assert.deepEqual(readElement(bytes(0x9f, 0x20, 0x00), 0, 3), { tag: 0x9f, tagNumber: 32, constructed: false, start: 0, contentStart: 3, end: 3 });
  assert.deepEqual(readElement(bytes(0xbf, 0x81, 0x00, 0x00), 0, 4), { tag: 0xbf, tagNumber: 128, constructed: true, start: 0, contentStart: 4, end: 4 });
  rejects(() => readElement(bytes(0x9f, 0x1e, 0x00), 0, 3), 'DER tag at offset 0 is not minimally encoded');
  rejects(() => readElement(bytes(0x9f, 0x80, 0x01, 0x00), 0, 4), 'DER tag at offset 0 is not minimally encoded');
  rejects(() => readElement(bytes(0x9f, 0x81), 0, 2), 'DER tag at offset 0 is truncated');
  rejects(() => readElement(bytes(0x9f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00), 0, 7), 'DER tag number at offset 0 is too large');
});

test('readElement: malformed headers', () => {
  rejects(() => readElement(bytes(), 0, 0), 'DER element expected at offset 0, but the data ends there');
  rejects(() => readElement(bytes(0x30), 0, 1), 'DER length at offset 1 is missing');
  rejects(() => readElement(bytes(0x30, 0x80, 0x00, 0x00), 0, 4), 'indefinite DER length at offset 1');
  rejects(() => readElement(bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0, 8), 'DER length at offset 1 is not minimally encoded');
  rejects(() => readElement(bytes(0x04, 0x82, 0x00, 0x80), 0, 4), 'DER length at offset 1 is not minimally encoded');
  rejects(() => readElement(bytes(0x04, 0x82, 0x01), 0, 3), 'DER length at offset 1 is truncated');
  rejects(() => readElement(bytes(0x04, 0x85, 0, 0, 0, 0, 1), 0, 7), 'DER length at offset 1 uses 5 octets');
  rejects(() => readElement(bytes(0x04, 0x84, 0xff, 0xff, 0xff, 0xff), 0, 6), 'DER length at offset 1 exceeds input');
  rejects(() => readElement(bytes(0x04, 0x03, 1, 2, 3), 0, 4), 'DER length at offset 1 exceeds the enclosing element');
  rejects(() => readElement(bytes(0x00, 0x00), 0, 2), 'unexpected end-of-contents marker at offset 0');
});

test('expectElement checks the tag before the length', () => {
  rejects(() => expectElement(bytes(0x31, 0x80), 0, 2, 0x30, 'Name SEQUENCE'), 'expected Name SEQUENCE (tag 0x30) at offset 0, found tag 0x31');
  rejects(() => expectElement(bytes(0x30, 0x00), 2, 2, 0x30, 'subject'), 'subject is missing at offset 2');
  assert.equal(expectElement(bytes(0x30, 0x00), 0, 2, 0x30, 'x').end, 2);
});

test('validateDerTree: whole tree, nesting bound, no recursion', () => {
  const name = tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, [0x55, 0x04, 0x03]), tlv(0x0c, [0x61]))));
  validateDerTree(name, 0, name.length);
  validateDerTree(nestedSequences(MAX_DER_DEPTH), 0, nestedSequences(MAX_DER_DEPTH).length);
  const tooDeep = nestedSequences(MAX_DER_DEPTH + 1);
  rejects(() => validateDerTree(tooDeep, 0, tooDeep.length), `DER nesting deeper than ${MAX_DER_DEPTH} levels at offset ${MAX_DER_DEPTH * 2}`);
  const hostile = nestedSequences(10_000);
  rejects(() => validateDerTree(hostile, 0, hostile.length), 'DER nesting deeper than 32 levels at offset 128');
  // An inner length that runs past its parent.
  rejects(() => validateDerTree(bytes(0x30, 0x03, 0x04, 0x05, 0x00, 0x00, 0x00, 0x00), 0, 8), 'DER length at offset 3 exceeds the enclosing element');
  // Several top-level elements in a range.
  validateDerTree(bytes(0x05, 0x00, 0x05, 0x00), 0, 4);
  rejects(() => validateDerTree(bytes(0x05, 0x00, 0x05), 0, 3), 'DER length at offset 3 is missing');
});

test('decodeObjectIdentifier', () => {
  const oid = (...octets: number[]) => decodeObjectIdentifier(Uint8Array.from(octets), 0, octets.length);
  assert.equal(oid(0x55, 0x04, 0x03), '2.5.4.3');
  assert.equal(oid(0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19), '0.9.2342.19200300.100.1.25');
  assert.equal(oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01), '1.2.840.113549.1.9.1');
  assert.equal(oid(0x88, 0x37), '2.999');
  // 2.25 UUID arc (128 bits) goes through BigInt.
  const uuid = [0x69, 0x83, ...new Array<number>(17).fill(0xff), 0x7f]; // 2 + 18 * 7 = 128 one-bits
  assert.equal(oid(...uuid), `2.25.${(1n << 128n) - 1n}`);
  rejects(() => oid(), 'empty OBJECT IDENTIFIER at offset 0');
  rejects(() => oid(0x55, 0x84), 'OBJECT IDENTIFIER at offset 0 is truncated');
  rejects(() => oid(0x55, 0x80, 0x04), 'OBJECT IDENTIFIER at offset 0 is not minimally encoded');
  rejects(() => oid(0x55, ...new Array<number>(20).fill(0x81), 0x01), 'OBJECT IDENTIFIER at offset 0 has a sub-identifier longer than 20 octets');
});

test('property: readElement and validateDerTree only ever throw ERR_MTLS_CERT_PARSE', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      try {
        validateDerTree(input, 0, input.length);
      } catch (error) {
        assert.ok(isMtlsError(error) && error.code === 'ERR_MTLS_CERT_PARSE');
      }
    }),
    { numRuns: 3000, seed: 3 },
  );
});
