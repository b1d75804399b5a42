import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeValue, isBoolean, isIntegerInRange, isOneOf, optionGroup, validateOptions } from '../../lib/internal/options.js';

type Options = {
  readonly on?: boolean;
  readonly group?: false | { readonly kind: 'a' | 'b'; readonly size?: number; readonly onlyA?: string; readonly x?: number; readonly y?: number };
};

const CHECKS = {
  on: isBoolean,
  group: optionGroup<Exclude<Options['group'], false | undefined>>({
    expected: 'false or an object such as { kind: "a" }',
    allowFalse: true,
    checks: { kind: isOneOf(['a', 'b']), size: isIntegerInRange(1, 9), onlyA: (v) => (typeof v === 'string' ? undefined : 'a string'), x: isBoolean, y: isBoolean },
    required: { kind: 'the kind, "a" or "b"' },
    exclusive: [{ key: 'x', excludes: ['y'], fix: 'choose one' }],
    onlyWhen: { onlyA: { key: 'kind', values: ['a'] } },
  }),
};

const check = (options: unknown): unknown => validateOptions<Options>('f()', options, CHECKS);
const refuses = (options: unknown, message: string): void => {
  assert.throws(() => check(options), { name: 'TypeError', message });
};

test('validateOptions: nested groups are checked with the full path', () => {
  assert.deepEqual(check(undefined), {});
  const ok = { on: true, group: { kind: 'a', size: 3, onlyA: 'yes', x: true } };
  assert.equal(check(ok), ok);
  assert.deepEqual(check({ group: false }), { group: false });
  assert.deepEqual(check({ group: undefined }), { group: undefined });
  refuses({ group: true }, 'f(): option "group" must be false or an object such as { kind: "a" }, got true.');
  refuses({ group: [] }, 'f(): option "group" must be false or an object such as { kind: "a" }, got an array of length 0.');
  refuses({ group: new Map() }, 'f(): option "group" must be false or an object such as { kind: "a" }, got a Map instance.');
  refuses({ group: { kind: 'c' } }, 'f(): option "group.kind" must be one of "a", "b", got "c".');
  refuses({ group: { kind: 'a', size: 10 } }, 'f(): option "group.size" must be an integer from 1 to 9, got 10.');
  refuses({ group: { kind: 'a', sise: 1 } }, 'f(): unknown option "group.sise". Known options of "group": kind, size, onlyA, x, y.');
  refuses({ grop: {} }, 'f(): unknown option "grop". Known options: on, group.');
  refuses({ group: { size: 1 } }, 'f(): option "group.kind" is required with "group": the kind, "a" or "b".');
  refuses({ group: { kind: 'a', x: true, y: false } }, 'f(): options "group.x" and "group.y" exclude each other; choose one.');
  refuses({ group: { kind: 'b', onlyA: 'no' } }, 'f(): option "group.onlyA" only applies when "group.kind" is "a", not "b"; remove it.');
  assert.deepEqual(check({ group: { kind: 'a', y: true } }), { group: { kind: 'a', y: true } });
  const bare = Object.assign(Object.create(null) as object, { on: false });
  assert.equal(check(bare), bare);
  refuses(new Date(0), 'f(): options must be an object, got a Date instance.');
});

test('describeValue: short and safe', () => {
  assert.equal(describeValue('x'.repeat(70)), JSON.stringify(`${'x'.repeat(60)}...`));
  assert.equal(describeValue({}), 'an object');
  assert.equal(describeValue(Object.create(null)), 'an object');
  assert.equal(describeValue(new (class Cache {})()), 'a Cache instance');
  assert.equal(describeValue(function named() {}), 'a function (named)');
  assert.equal(describeValue(12n), '12n');
});
