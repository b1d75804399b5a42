/**
 * `npm run bench -- --quick` runs every section and prints every row, the A/A line and the
 * verdicts (`npm run test:bench`; `npm test` checks the bench's logic without this run). Figures
 * of a smoke run mean nothing, so only what the run must do is asserted: requests served without
 * errors, certificates parsed where they must be, sessions resumed.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COST_GOALS, tabulate, verdicts, type Results } from '../../bench/report.js';
import { MODES, MODE_NAMES, VARIANTS, VARIANT_NAMES } from '../../bench/variants.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

describe('npm run bench -- --quick', () => {
  let stdout = '';
  let results: Results;

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtls-bench-test-'));
    try {
      const file = join(dir, 'results.json');
      stdout = await new Promise<string>((done, fail) => {
        execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), '--quick', '--json', file], { cwd: ROOT, timeout: 300_000, maxBuffer: 16 << 20 }, (error, out, err) =>
          error ? fail(new Error(`bench failed: ${error.message}\n${err}`)) : done(out),
        );
      });
      results = JSON.parse(await readFile(file, 'utf8')) as Results;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('every section ran', () => {
    assert.deepEqual(results.problems, []);
    for (const heading of ["1. The library's own cost", '2. End to end', '3. The library', '4. Heap after']) {
      assert.ok(stdout.split('\n').some((l) => l.startsWith(heading)), `no section "${heading}" in:\n${stdout}`);
    }
  });

  test('the in-process section has every cost that has a goal', () => {
    const keys = results.inProcess!.rows.map((r) => r.key);
    for (const key of Object.keys(COST_GOALS)) assert.ok(keys.includes(key as never), key);
    for (const r of results.inProcess!.rows) assert.ok(r.samples > 0 && Number.isFinite(r.medianMicros), JSON.stringify(r));
  });

  test('one row per mode and variant, every request answered 200', () => {
    const cells = tabulate(results.windows);
    assert.equal(cells.length, MODE_NAMES.length * VARIANT_NAMES.length);
    for (const c of cells) {
      assert.ok(c.requests > 0, `${c.mode}/${c.variant} served no request`);
      assert.equal(c.errors, 0, `${c.mode}/${c.variant}`);
      assert.ok(stdout.includes(`${MODES[c.mode]}`) && stdout.includes(`| ${VARIANTS[c.variant]} `));
    }
    assert.match(stdout, /^errors: 0$/m);
    assert.match(stdout, /^A\/A control \(ideal 1\.000x\): keep-alive \d\.\d{3}x/m);
  });

  test('the library parses no certificate on a known connection or a known certificate', () => {
    for (const c of tabulate(results.windows).filter((x) => Number.isFinite(x.parsesPerRequest))) {
      if (c.mode !== 'handshakeDistinct') assert.equal(c.parsesPerRequest, 0, `${c.mode}/${c.variant}`);
      else assert.ok(c.parsesPerRequest <= 1, `${c.mode}/${c.variant}: ${c.parsesPerRequest}`);
    }
  });

  test('resumption mode resumes TLS sessions, the others do not', () => {
    for (const c of tabulate(results.windows)) {
      if (c.mode === 'resume') assert.ok(c.resumedShare > 0.9, `${c.variant}: ${c.resumedShare}`);
      if (c.mode === 'handshakeDistinct' || c.mode === 'handshakeSame') assert.equal(c.resumedShare, 0);
    }
  });

  test('memory: both series, and the cache within its bound', () => {
    const m = results.memory!;
    assert.equal(m.series.length, 2);
    assert.equal(m.cache.entries <= m.cache.maxEntries, true);
  });

  test('prints one verdict line per goal', () => {
    const lines = stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('verdicts '));
    const printed = lines.slice(at + 1).filter((l) => l.startsWith('  '));
    assert.equal(printed.length, verdicts(results).length);
    assert.match(lines[at + 1 + printed.length]!, /^\(\d+ s\)$/);
    for (const line of printed) assert.match(line, /^ {2}(MET {4}|MISSED )(firm {6}|not firm {2})\S/);
  });
});
