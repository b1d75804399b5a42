/**
 * State shared by every copy of the library loaded in one process (ESM and CommonJS builds, two
 * installed versions): kept on `globalThis` under a registered symbol, the way
 * `@opentelemetry/api` shares its global providers, so an identity one copy resolved is seen by
 * another copy's morgan tokens and `getPeerIdentity`.
 *
 * Copies trust each other's entries (a shared identity is served as is, never re-read), so a copy
 * must only see entries written under the same rules. The key therefore carries
 * {@link PROCESS_WIDE_STATE_VERSION}: bump it whenever the shape or the meaning of any shared entry
 * changes (a new field, a different verification rule, when an entry is invalidated). Copies with
 * another version then keep separate state instead of serving identities they would not have
 * produced. Releases that only change other code keep the version, so their copies keep sharing.
 */

/**
 * Version of the shared state's format, part of every key. `1` stands for the unversioned key
 * `mtls-observability.<name>`, whose entries follow other rules, so it is never reused.
 */
export const PROCESS_WIDE_STATE_VERSION = 2;

/** The registered symbol of shared state `name` in this state version. */
export function processWideKey(name: string): symbol {
  return Symbol.for(`mtls-observability.v${PROCESS_WIDE_STATE_VERSION}.${name}`);
}

/** The shared value `name`, created by the first copy (of this state version) that asks. */
export function processWide<T extends object>(name: string, create: () => T): T {
  const key = processWideKey(name);
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[key];
  if (typeof existing === 'object' && existing !== null) return existing as T;
  const created = create();
  Object.defineProperty(holder, key, { value: created, enumerable: false, configurable: false, writable: false });
  return created;
}
