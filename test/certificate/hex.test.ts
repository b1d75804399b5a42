import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hexByte, toHex } from '../../lib/certificate/hex.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

test('toHex: uppercase, two digits per octet, over a range or the whole input', () => {
  assert.equal(toHex(bytes(0x00, 0x0f, 0xab, 0xff), 1, 4), '0FABFF');
  assert.equal(toHex(bytes(0x00, 0x0f, 0xab, 0xff)), '000FABFF');
  assert.equal(toHex(bytes(0x00, 0x0f, 0xab, 0xff), 2), 'ABFF');
  assert.equal(toHex(bytes(), 0, 0), '');
  assert.equal(toHex(Buffer.from([0x7f, 0x80, 0x01]), 0, 2), '7F80');
});

test('hexByte: two uppercase digits', () => {
  assert.deepEqual([0x00, 0x0a, 0x30, 0xa3, 0xff].map(hexByte), ['00', '0A', '30', 'A3', 'FF']);
});

test('property: a Buffer and a plain Uint8Array give the same text, which is Node\'s hex uppercased', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      const expected = Buffer.from(input).toString('hex').toUpperCase();
      assert.equal(toHex(input), expected);
      assert.equal(toHex(Buffer.from(input)), expected);
    }),
  );
});
