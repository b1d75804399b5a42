/**
 * The README's `mtlsIdentity()` options table states the ranges the factory enforces: every
 * `(min to max)` in it is checked against the factory, both ends accepted, one past each end
 * refused with a TypeError naming the option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mtlsIdentity, type MtlsIdentityOptions } from '../lib/index.js';

const README = new URL('../README.md', import.meta.url);

/** What a group needs besides the option under test to be valid. */
const REQUIRED_WITH: Readonly<Record<string, Record<string, unknown>>> = {
  proxy: { format: 'nginx', trustedProxies: ['127.0.0.1'] },
  'metrics.clients': { label: 'subject-cn' },
  expected: { mode: 'observe', spiffeIds: ['spiffe://example.org/*'] },
};

/** Options with `value` at a dotted path (`metrics.clients.maxClients`), each group with what it needs. */
function optionsWith(path: string, value: number): MtlsIdentityOptions {
  const keys = path.split('.');
  let options: unknown = value;
  for (let depth = keys.length - 1; depth >= 0; depth--) {
    const group = keys.slice(0, depth).join('.');
    options = { ...(depth > 0 ? REQUIRED_WITH[group] : {}), [keys[depth]!]: options };
  }
  return options as MtlsIdentityOptions;
}

test('README options table: every stated range is the enforced one', async () => {
  const readme = await readFile(README, 'utf8');
  const table = readme.slice(readme.indexOf('## `mtlsIdentity(options?)` options'), readme.indexOf('## `PeerIdentity`'));
  const ranges = [...table.matchAll(/^\| `([\w.]+)` \| `number` \(([\d ]+) to ([\d ]+)\) \|/gm)].map(
    ([, path, min, max]) => [path!, Number(min!.replace(/ /g, '')), Number(max!.replace(/ /g, ''))] as const,
  );
  assert.deepEqual(
    ranges.map(([path]) => path),
    [
      'certificates.cacheSize',
      'certificates.maxBytes',
      'proxy.maxHeaderBytes',
      'proxy.maxChainLength',
      'metrics.expiryWarningSeconds',
      'metrics.recentCertificateSeconds',
      'metrics.clients.maxClients',
      'expected.reportWindowSeconds',
      'audit.maxEntries',
    ],
  );
  for (const [path, min, max] of ranges) {
    for (const ok of [min, max]) assert.doesNotThrow(() => mtlsIdentity(optionsWith(path, ok)), `${path}: ${ok}`);
    for (const bad of [min - 1, max + 1]) {
      assert.throws(
        () => mtlsIdentity(optionsWith(path, bad)),
        (err: unknown) => err instanceof TypeError && err.message.startsWith(`mtlsIdentity(): option "${path}" must be an integer from ${min} to ${max}, got ${bad}`),
        `${path}: ${bad}`,
      );
    }
  }
});
