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

/** Options with `value` at a dotted path, plus what the path's group needs to be valid. */
function optionsWith(path: string, value: number): MtlsIdentityOptions {
  const [group, key] = path.split('.') as [string, string | undefined];
  if (key === undefined) return { [group]: value };
  const required = group === 'proxy' ? { format: 'nginx', trustedProxies: ['127.0.0.1'] } : {};
  return { [group]: { ...required, [key]: value } };
}

test('README options table: every stated range is the enforced one', async () => {
  const readme = await readFile(README, 'utf8');
  const table = readme.slice(readme.indexOf('## `mtlsIdentity(options?)` options'), readme.indexOf('## `PeerIdentity`'));
  const ranges = [...table.matchAll(/^\| `([\w.]+)` \| `number` \(([\d ]+) to ([\d ]+)\) \|/gm)].map(
    ([, path, min, max]) => [path!, Number(min!.replace(/ /g, '')), Number(max!.replace(/ /g, ''))] as const,
  );
  assert.deepEqual(
    ranges.map(([path]) => path),
    ['certificates.cacheSize', 'certificates.maxBytes', 'proxy.maxHeaderBytes', 'proxy.maxChainLength', 'metrics.expiryWarningSeconds', 'metrics.recentCertificateSeconds'],
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
