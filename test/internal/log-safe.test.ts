import assert from 'node:assert/strict';
import test from 'node:test';
import { hasLogUnsafe, hexEscapeLogUnsafe, isLogUnsafeAt, logUnsafePatternWith, MAX_LOG_FIELD_LENGTH, percentEncodeCharacter, replaceLogUnsafe, stringifyLogSafe, TRUNCATION_MARKER, truncateLogField, truncatePercentEncoded, unicodeEscapeCharacter } from '../../lib/internal/log-safe.js';

const UNSAFE_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x61c, 0x61c],
  [0x115f, 0x1160],
  [0x180e, 0x180e],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0x3164, 0x3164],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0xfff9, 0xfffb],
  [0xe0000, 0xe007f],
];

test('the unsafe set is exactly the documented ranges, by both the scanner and the regex', () => {
  const found: number[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const text = String.fromCodePoint(code);
    const byIndex = isLogUnsafeAt(text, 0);
    assert.equal(hasLogUnsafe(text), byIndex, `U+${code.toString(16)}`);
    if (byIndex) found.push(code);
  }
  const expected = UNSAFE_RANGES.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i));
  assert.deepEqual(found, expected);
});

test('lone surrogates are unsafe, pairs are not', () => {
  assert.equal(isLogUnsafeAt('\ud800x', 0), true);
  assert.equal(isLogUnsafeAt('x\udc00', 1), true);
  assert.equal(isLogUnsafeAt('\ud83d\ude00', 0), false);
  assert.equal(isLogUnsafeAt('\ud83d\ude00', 1), false);
  assert.equal(hexEscapeLogUnsafe('a\ud800b'), 'a\\EF\\BF\\BDb');
});

test('hexEscapeLogUnsafe writes each UTF-8 byte as \\XX and leaves safe text alone', () => {
  assert.equal(hexEscapeLogUnsafe('plain é 😀'), 'plain é 😀');
  assert.equal(hexEscapeLogUnsafe('a\nb\u{e0041}c\u00ad\u2066'), 'a\\0Ab\\F3\\A0\\81\\81c\\C2\\AD\\E2\\81\\A6');
});

test('stringifyLogSafe escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
  const value = { a: 'x\u2028\u{e0041}\u0085\u061c', b: 'é' };
  const line = stringifyLogSafe(value);
  assert.equal(line, '{"a":"x\\u2028\\udb40\\udc41\\u0085\\u061c","b":"é"}');
  assert.deepEqual(JSON.parse(line), value);
});

test('truncateLogField cuts at a whole character or escape and marks the cut', () => {
  assert.equal(MAX_LOG_FIELD_LENGTH, 1024);
  assert.equal(TRUNCATION_MARKER, '...[truncated]');
  assert.equal(truncateLogField('short'), 'short');
  assert.equal(truncateLogField('x'.repeat(1024)), 'x'.repeat(1024));
  assert.equal(truncateLogField('x'.repeat(1025)), `${'x'.repeat(1024)}...[truncated]`);
  assert.equal(truncateLogField('abc\\0Adef', 4), 'abc...[truncated]');
  assert.equal(truncateLogField('abc\\0Adef', 6), 'abc\\0A...[truncated]');
  assert.equal(truncateLogField('ab\\,cd', 3), 'ab...[truncated]');
  assert.equal(truncateLogField('ab\\\\cd', 4), 'ab\\\\...[truncated]');
  assert.equal(truncateLogField('a\ud83d\ude00b', 2), 'a...[truncated]');
});

test('replaceLogUnsafe applies a format\'s own escape to exactly the unsafe characters', () => {
  assert.equal(replaceLogUnsafe('plain é', () => 'X'), 'plain é');
  assert.equal(replaceLogUnsafe('a\u0085b\u00adc\u{e0041}d\ud800', unicodeEscapeCharacter), 'a\\u0085b\\u00adc\\udb40\\udc41d\\ud800');
  assert.equal(replaceLogUnsafe('a\nb\u2060', percentEncodeCharacter), 'a%0Ab%E2%81%A0');
  assert.equal(percentEncodeCharacter('\ud800'), '%EF%BF%BD');
});

test('truncatePercentEncoded never splits a %XX escape or a surrogate pair', () => {
  assert.equal(truncatePercentEncoded('x'.repeat(1024)), 'x'.repeat(1024));
  assert.equal(truncatePercentEncoded('x'.repeat(1025)), `${'x'.repeat(1024)}...[truncated]`);
  assert.equal(truncatePercentEncoded('ab%0Acd', 3), 'ab...[truncated]');
  assert.equal(truncatePercentEncoded('ab%0Acd', 5), 'ab%0A...[truncated]');
  // A `%` that starts no escape is one character, as is a backslash here.
  assert.equal(truncatePercentEncoded('a%zz\\b', 3), 'a%z...[truncated]');
  assert.equal(truncatePercentEncoded('a\ud83d\ude00b', 2), 'a...[truncated]');
});

test('logUnsafePatternWith matches the shared set and the extra characters, nothing else', () => {
  const pattern = logUnsafePatternWith(String.raw`"\\`, 'gu');
  assert.equal('a"b\\c\u00add\u{e0041}é x'.replace(pattern, (ch) => `<${ch.codePointAt(0)!.toString(16)}>`), 'a<22>b<5c>c<ad>d<e0041>é x');
  assert.equal(logUnsafePatternWith('x', 'u').test('\u2060'), true);
  assert.equal(logUnsafePatternWith('x', 'u').test('é'), false);
});
