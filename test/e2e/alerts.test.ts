/**
 * docs/alerts.yml checked and unit-tested with Debian's promtool (installed by test/e2e/setup.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rules = path.join(root, 'docs/alerts.yml');
const unitTests = path.join(root, 'test/e2e/alerts.test.yml');

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

test('promtool check rules: docs/alerts.yml is valid and has the seven alerts', async () => {
  const { code, output } = await promtool('check', 'rules', rules);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: 7 rules found/);
  const text = await readFile(rules, 'utf8');
  assert.deepEqual(
    [...text.matchAll(/- alert: (\S+)/g)].map((m) => m[1]),
    [
      'MtlsRejectedHandshakesSpike',
      'MtlsClientCertificateExpiringSoon',
      'MtlsRequestsWithoutIdentity',
      'MtlsVerifiedShareDrop',
      'MtlsUnexpectedIdentities',
      'MtlsLabelledClientCertificateExpiringSoon',
      'MtlsServerCertificateExpiringSoon',
    ],
  );
});

test('promtool test rules: every alert fires when it should and stays quiet otherwise', async () => {
  const { code, output } = await promtool('test', 'rules', unitTests);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS/);
});

test('the unit tests can fail: a wrong expectation is reported', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mtls-alerts-'));
  try {
    const broken = (await readFile(unitTests, 'utf8'))
      .replace('../../docs/alerts.yml', rules)
      .replace('error_type: CERT_HAS_EXPIRED', 'error_type: UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const file = path.join(dir, 'broken.test.yml');
    await writeFile(file, broken);
    const { code, output } = await promtool('test', 'rules', file);
    assert.notEqual(code, 0);
    assert.match(output, /FAILED/);
    assert.match(output, /MtlsRejectedHandshakesSpike/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
