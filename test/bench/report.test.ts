/**
 * The bench's own logic, without a run: the ratios it reads from measured windows, its verdicts,
 * its printed report and its flags.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CostKey } from '../../bench/in-process.js';
import { formatReport, peerRatios, ratioVerdict, tabulate, verdicts, type Results, type Window } from '../../bench/report.js';
import { parseOptions } from '../../bench/run.js';
import { formatTable, halfIqr, median, percentile, rotate } from '../../bench/stats.js';
import type { ModeName, VariantName } from '../../bench/variants.js';

/** A window that served 1,000 requests at `cpuPerRequest` µs each. */
function window(round: number, mode: ModeName, variant: VariantName, cpuPerRequest: number, extra: Partial<Window> = {}): Window {
  return { round, mode, variant, requests: 1000, errors: 0, elapsedMs: 500, cpuMicros: cpuPerRequest * 1000, parses: 0, connections: 0, resumed: 0, ...extra };
}

/** Three rounds of keep-alive: the reference at 100 µs, and each variant at its own costs per round. */
function keepAlive(costs: Partial<Record<VariantName, readonly number[]>>): Window[] {
  return Object.entries({ ref: [100, 100, 100], ...costs }).flatMap(([variant, perRound]) =>
    perRound.map((cpu, round) => window(round, 'keepalive', variant as VariantName, cpu)),
  );
}

const results = (windows: Window[], extra: Partial<Results> = {}): Results => ({
  startedAt: '2026-12-02T00:00:00.000Z',
  environment: 'node v20',
  settings: 'test',
  windows,
  problems: [],
  ...extra,
});

describe('bench statistics', () => {
  test('median, percentile, half the interquartile range', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([1, Number.NaN, 3]), 2);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
    assert.equal(halfIqr([1, 2, 3, 4, 5]), 1);
    assert.ok(Number.isNaN(halfIqr([1])));
  });

  test('rotate: over n rounds every item takes every position once', () => {
    assert.deepEqual([0, 1, 2].map((r) => rotate(['a', 'b', 'c'], r).join('')), ['abc', 'bca', 'cab']);
  });

  test('formatTable right-aligns numeric columns', () => {
    assert.equal(formatTable(['name', 'n'], [['a', '1.00x'], ['bbb', '12.5']]), 'name |     n\n-----|------\na    | 1.00x\nbbb  |  12.5');
  });
});

describe('ratios from windows', () => {
  test('a variant\'s ratio is the median over rounds of reference ÷ variant CPU per request', () => {
    const cells = tabulate(keepAlive({ mtls: [125, 100, 80], control: [100, 100, 100] }));
    const mtls = cells.find((c) => c.variant === 'mtls')!;
    assert.equal(mtls.ratio, 1);
    assert.equal(mtls.spread, (1.125 - 0.9) / 2);
    assert.equal(mtls.cpuMicrosPerRequest, 100);
    assert.equal(mtls.rps, 2000);
    assert.equal(mtls.requests, 3000);
    assert.ok(Number.isNaN(cells.find((c) => c.variant === 'control')!.parsesPerRequest));
    assert.equal(mtls.parsesPerRequest, 0);
  });

  test('rounds where only one side served are left out', () => {
    const windows = [...keepAlive({ mtls: [50, 50, 50] }), window(3, 'keepalive', 'mtls', 1)];
    assert.equal(tabulate(windows).find((c) => c.variant === 'mtls')!.ratio, 2);
  });

  test('the library against a peer: peer CPU ÷ library CPU, per mode', () => {
    const ratios = peerRatios(keepAlive({ mtls: [100, 100, 100], handTokens: [130, 120, 110] }));
    assert.deepEqual(ratios, [{ mode: 'keepalive', peer: 'handTokens', ratio: 1.2, spread: 0.050000000000000044 }]);
  });
});

describe('verdicts', () => {
  test('firm only when the A/A control is within 2% and further from 1 than the ratio from its bar', () => {
    assert.deepEqual(ratioVerdict('x', 1.1, 1, 1.01), { met: true, firm: true, text: 'x: 1.100x (bar 1.00x, A/A 1.010x)' });
    assert.equal(ratioVerdict('x', 1.1, 1, 1.03).firm, false);
    assert.equal(ratioVerdict('x', 1.005, 1, 0.99).firm, false);
    assert.deepEqual(ratioVerdict('x', 0.9, 0.95, Number.NaN), { met: false, firm: false, text: 'x: 0.900x (bar 0.95x, no A/A control)' });
  });

  test('in-process goals: keep-alive net of morgan\'s own tokens, the others on their medians; memory from 1,000 certificates on', () => {
    const row = (key: CostKey, medianMicros: number, spreadMicros = 0.1) => ({ key, label: key, medianMicros, spreadMicros, maxMicros: 9000, samples: 1, timing: 't' });
    const v = verdicts(
      results([], {
        inProcess: { rows: [row('keepalive', 4.5), row('morganCombined', 2.75), row('newConnectionKnownCert', 125, 20), row('getPeerCertificate', 80), row('newCertWorst', 990, 30)], notes: [] },
        memory: {
          series: [{ label: 'typical', certificateBytes: 600, points: [{ count: 0, heapMB: 5 }, { count: 1000, heapMB: 10 }, { count: 100_000, heapMB: 13 }] }],
          cache: { entries: 1000, maxEntries: 1000 },
          notes: [],
        },
      }),
    );
    assert.deepEqual(
      v.map((x) => [x.met, x.firm, x.text]),
      [
        [true, true, "in-process keepalive: 4.50 µs − morgan's combined 2.75 µs = 1.75 µs (goal ≤ 2 µs, ± 0.10)"],
        [false, true, "in-process newConnectionKnownCert: 125.00 µs, of which Node's getPeerCertificate() 80.00 µs (goal ≤ 60 µs, ± 20.00)"],
        [true, false, 'in-process newCertWorst: 990.00 µs (goal ≤ 1000 µs, ± 30.00)'],
        [true, true, 'memory, typical: heap after 100000 +3.00 MB against after 1000 (goal ≤ 4 MB)'],
        [true, true, 'memory: certificate cache 1000 ≤ 1000 entries'],
      ],
    );
  });

  test('library variants against 0.95x of the reference, and the library against each peer', () => {
    const v = verdicts(results(keepAlive({ control: [101, 100, 99], mtls: [104, 104, 104], mtlsMetrics: [110, 110, 110], naivePkijs: [400, 400, 400] })));
    assert.deepEqual(
      v.map((x) => [x.met, x.firm, x.text]),
      [
        [true, true, 'keep-alive: + mtlsIdentity() + mtls-combined vs the reference: 0.962x (bar 0.95x, A/A 1.000x)'],
        [false, true, 'keep-alive: + mtlsIdentity() + mtls-combined + metrics vs the reference: 0.909x (bar 0.95x, A/A 1.000x)'],
        [true, true, 'keep-alive: the library beats naivePkijs (peer CPU ÷ library CPU): 3.846x (bar 1.00x, A/A 1.000x)'],
      ],
    );
  });

  test('the report prints every section, the A/A line and one verdict per goal', () => {
    const text = formatReport(results(keepAlive({ control: [100, 100, 100], mtls: [100, 100, 100], handTokens: [150, 150, 150] })), 12);
    const lines = text.split('\n');
    assert.ok(lines.includes('A/A control (ideal 1.000x): keep-alive 1.000x ± 0.000'), text);
    assert.ok(lines.includes('keep-alive | + mtlsIdentity() + mtls-combined                 |  2000 |      100.0 | 1.000x | 0.000 |      1.000x |       0.00'), text);
    assert.ok(lines.includes('keep-alive | peer: morgan tokens calling getPeerCertificate() | 1.500x | 0.000'), text);
    assert.ok(lines.includes('  MET    firm      keep-alive: the library beats handTokens (peer CPU ÷ library CPU): 1.500x (bar 1.00x, A/A 1.000x)'), text);
    assert.equal(lines.at(-1), '(12 s)');
  });
});

describe('bench flags', () => {
  test('defaults, and the reference and the A/A control are always run', () => {
    const o = parseOptions(['--variants', 'mtls', '--modes', 'keepalive,resume', '--rounds', '3']);
    assert.deepEqual(o.variants, ['ref', 'control', 'mtls']);
    assert.deepEqual(o.modes, ['keepalive', 'resume']);
    assert.equal(o.rounds, 3);
    assert.deepEqual(parseOptions([]).sections, ['in-process', 'end-to-end', 'memory']);
    assert.equal(parseOptions(['--quick']).rounds, 1);
  });

  test('unknown names and flags are refused with the known list', () => {
    assert.throws(() => parseOptions(['--modes', 'keepalve']), { message: 'bench: --modes takes a list of keepalive, handshakeSame, handshakeDistinct, resume; got "keepalve"' });
    assert.throws(() => parseOptions(['--rounds', '0']), { message: 'bench: --rounds takes a whole number ≥ 1; got "0"' });
    assert.throws(() => parseOptions(['--pairing', 'turns']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});
