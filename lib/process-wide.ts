/**
 * State shared by every copy of the library loaded in one process (ESM and CommonJS builds, two
 * installed versions): kept on `globalThis` under a registered symbol, the way
 * `@opentelemetry/api` shares its global providers, so an identity one copy resolved is seen by
 * another copy's morgan tokens and `getPeerIdentity`.
 */
export function processWide<T extends object>(name: string, create: () => T): T {
  const key = Symbol.for(`mtls-observability.${name}`);
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[key];
  if (typeof existing === 'object' && existing !== null) return existing as T;
  const created = create();
  Object.defineProperty(holder, key, { value: created, enumerable: false, configurable: false, writable: false });
  return created;
}
