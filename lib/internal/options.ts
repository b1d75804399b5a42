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
    case 'object':
      return 'an object';
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
 * Validates `options` against `checks`: rejects anything but a plain object, unknown keys (listing
 * the known ones) and values a check refuses. `undefined` values count as absent.
 */
export function validateOptions<T extends object>(
  factory: string,
  options: unknown,
  checks: { readonly [K in keyof T]-?: OptionCheck },
): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${factory}: options must be an object, got ${describeValue(options)}.`);
  }
  const known = Object.keys(checks);
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(checks, key)) {
      throw new TypeError(
        `${factory}: unknown option ${JSON.stringify(key)}. Known options: ${known.join(', ')}.`,
      );
    }
    if (value === undefined) continue;
    const expected = (checks as Record<string, OptionCheck>)[key]!(value);
    if (expected !== undefined) {
      throw new TypeError(
        `${factory}: option "${key}" must be ${expected}, got ${describeValue(value)}.`,
      );
    }
  }
  return options;
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
