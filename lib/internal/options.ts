/**
 * Factory-time option validation shared by every public factory. Programmer mistakes throw a
 * `TypeError` that names the factory, the option, the value received and the fix; bad options
 * never silently fall back to a default.
 */

/** Returns a description of what is expected when `value` is not acceptable, else `undefined`. */
export type OptionCheck = (value: unknown) => string | undefined;

/** Short, safe rendering of a received value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
    case 'function':
      return `a function${value.name ? ` (${value.name})` : ''}`;
    case 'object': {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      return isPlainObject(value) || typeof name !== 'string' || name === '' ? 'an object' : `a ${name} instance`;
    }
    case 'bigint':
      return `${value}n`;
    default:
      // Only number, boolean, symbol and undefined are left (objects and functions are handled
      // above), but the type stays `unknown`, so the rule cannot see that.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      return String(value);
  }
}

/**
 * A nested object of options (one concern, such as `proxy` or `metrics`), checked key by key like
 * the top level; errors name the full path (`proxy.format`). Built with {@link optionGroup}.
 */
export interface OptionGroup {
  /** What the value must be, for the error message (e.g. `'an object such as { format, trustedProxies }'`). */
  readonly expected: string;
  readonly checks: OptionChecks;
  /** Whether `false` is accepted (the concern turned off). Default: `false`. */
  readonly allowFalse?: boolean;
  /** Keys that must be set, each with what to set it to (the fix printed in the error). */
  readonly required?: Readonly<Record<string, string>>;
  /** Keys that cannot be set with `key`, and the fix printed in the error. */
  readonly exclusive?: readonly { readonly key: string; readonly excludes: readonly string[]; readonly fix: string }[];
  /** Keys that may be set only when another key of the group has one of `values`. */
  readonly onlyWhen?: Readonly<Record<string, { readonly key: string; readonly values: readonly string[] }>>;
}

/** Checks for each key: a value check, or a nested group. */
export type OptionChecks = { readonly [key: string]: OptionCheck | OptionGroup };

/** Every key of every member of a union (`keyof` of a union gives only the common ones). */
type KeysOf<T> = T extends unknown ? keyof T : never;

/** The checks of every option of `T`, none left out. */
export type OptionSchema<T> = { readonly [K in KeysOf<T>]-?: OptionCheck | OptionGroup };

/** A nested option group (see {@link OptionGroup}). */
export function optionGroup<T>(group: Omit<OptionGroup, 'checks'> & { readonly checks: OptionSchema<T> }): OptionGroup {
  return group;
}

/**
 * Validates `options` against `checks`: rejects anything but a plain object, unknown keys (listing
 * the known ones) and values a check refuses, at every level of nesting. `undefined` values count
 * as absent.
 */
export function validateOptions<T extends object>(
  factory: string,
  options: unknown,
  checks: OptionSchema<T>,
): Partial<T> {
  if (options === undefined) return {};
  if (!isPlainObject(options)) {
    throw new TypeError(`${factory}: options must be an object, got ${describeValue(options)}.`);
  }
  checkKeys(factory, '', options, checks);
  return options as Partial<T>;
}

/** An object literal (or `Object.create(null)`): not an array, not an instance of a class. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function checkKeys(factory: string, prefix: string, options: Record<string, unknown>, checks: OptionChecks): void {
  for (const [key, value] of Object.entries(options)) {
    const path = prefix + key;
    if (!Object.hasOwn(checks, key)) {
      const where = prefix === '' ? '' : ` of "${prefix.slice(0, -1)}"`;
      throw new TypeError(
        `${factory}: unknown option ${JSON.stringify(path)}. Known options${where}: ${Object.keys(checks).join(', ')}.`,
      );
    }
    if (value === undefined) continue;
    const check = checks[key]!;
    if (typeof check !== 'function') {
      checkGroup(factory, path, value, check);
      continue;
    }
    const expected = check(value);
    if (expected !== undefined) {
      throw new TypeError(`${factory}: option "${path}" must be ${expected}, got ${describeValue(value)}.`);
    }
  }
}

function checkGroup(factory: string, path: string, value: unknown, group: OptionGroup): void {
  if (value === false && group.allowFalse === true) return;
  if (!isPlainObject(value)) {
    throw new TypeError(`${factory}: option "${path}" must be ${group.expected}, got ${describeValue(value)}.`);
  }
  const prefix = `${path}.`;
  checkKeys(factory, prefix, value, group.checks);
  for (const [key, fix] of Object.entries(group.required ?? {})) {
    if (value[key] === undefined) {
      throw new TypeError(`${factory}: option "${prefix}${key}" is required with "${path}": ${fix}.`);
    }
  }
  for (const { key, excludes, fix } of group.exclusive ?? []) {
    if (value[key] === undefined) continue;
    const other = excludes.find((name) => value[name] !== undefined);
    if (other !== undefined) {
      throw new TypeError(`${factory}: options "${prefix}${key}" and "${prefix}${other}" exclude each other; ${fix}.`);
    }
  }
  for (const [key, { key: on, values }] of Object.entries(group.onlyWhen ?? {})) {
    if (value[key] === undefined || values.includes(value[on] as string)) continue;
    throw new TypeError(
      `${factory}: option "${prefix}${key}" only applies when "${prefix}${on}" is ` +
        `${values.map((v) => JSON.stringify(v)).join(' or ')}, not ${describeValue(value[on])}; remove it.`,
    );
  }
}

/**
 * Catches `app.use(factory)` (the factory passed instead of called): Express then calls it with
 * `(req, res, next)`.
 */
export function assertFactoryCalled(factory: string, firstArgument: unknown): void {
  if (
    typeof firstArgument === 'object' &&
    firstArgument !== null &&
    'socket' in firstArgument &&
    'headers' in firstArgument &&
    'method' in firstArgument
  ) {
    throw new TypeError(
      `${factory} was called with a request object: it is a factory. ` +
        `Use app.use(${factory.replace(/\(\)$/, '')}()) instead of app.use(${factory.replace(/\(\)$/, '')}).`,
    );
  }
}

export const isBoolean: OptionCheck = (v) => (typeof v === 'boolean' ? undefined : 'a boolean');
export const isFunction: OptionCheck = (v) => (typeof v === 'function' ? undefined : 'a function');
export const isNonEmptyString: OptionCheck = (v) =>
  typeof v === 'string' && v.length > 0 ? undefined : 'a non-empty string';
export function isIntegerInRange(min: number, max: number): OptionCheck {
  return (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `an integer from ${min} to ${max}`;
}
export function isOneOf(values: readonly string[]): OptionCheck {
  return (v) =>
    typeof v === 'string' && values.includes(v)
      ? undefined
      : `one of ${values.map((s) => JSON.stringify(s)).join(', ')}`;
}
