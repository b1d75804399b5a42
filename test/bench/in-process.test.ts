/** The pure parts of bench/in-process.ts: its statistics and the certificates it measures with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate, DEFAULT_MAX_CERTIFICATE_BYTES } from 'mtls-observability';
import { addedCostRow, costRow, derVariant, hostileCertificates, largestUnder, serialSpan, timeBatch } from '../../bench/in-process.js';

test('costRow: median, half the interquartile range, max and count of the samples', () => {
  assert.deepEqual(costRow('keepalive', 'l', 't', [4, 1, 100, 3, 2]), {
    key: 'keepalive', label: 'l', timing: 't', medianMicros: 3, spreadMicros: 1, maxMicros: 100, samples: 5,
  });
});

test('addedCostRow: difference of the medians; spread and max of the per-round differences', () => {
  assert.deepEqual(addedCostRow('metricsAdded', 'l', 't', [3, 5, 4, 10, 99], [1, 2, 2, 3]), {
    key: 'metricsAdded', label: 'l', timing: 't', medianMicros: 5 - 2, spreadMicros: 1, maxMicros: 7, samples: 4,
  });
});

test('timeBatch calls once per index, in order, and returns a time per call', () => {
  const seen: number[] = [];
  const micros = timeBatch(5, (i) => seen.push(i));
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.equal(typeof micros, 'number');
  assert.ok(micros >= 0);
});

test('largestUnder finds the largest n whose build fits, and refuses when none does', () => {
  assert.deepEqual(largestUnder(10, (n) => new Uint8Array(3 * n)), { n: 3, der: new Uint8Array(9) });
  assert.equal(largestUnder(12, (n) => new Uint8Array(3 * n)).n, 4);
  assert.throws(() => largestUnder(2, (n) => new Uint8Array(3 * n)), /even the smallest is over 2 bytes/);
});

test('hostile certificates: ten kinds, each just under the default size cap, each parsing', () => {
  const hostile = hostileCertificates();
  assert.deepEqual(
    hostile.map((h) => [h.kind, h.n, h.der.length]),
    [
      ['1024 DNS SANs', 9, 15578],
      ['IPv6 SANs', 893, 16378],
      ['URI SANs of log-unsafe characters', 735, 16364],
      ['CN of newlines', 8045, 16383],
      ['CN of U+202E', 2681, 16379],
      ['BMPString CN of U+2028', 4022, 16381],
      ['128 RDNs of escapes', 12, 15363],
      ['attribute OIDs of 128-bit arcs', 423, 16365],
      ['unknown extensions', 1006, 16383],
      ['long serial', 16118, 16384],
    ],
  );
  assert.equal(DEFAULT_MAX_CERTIFICATE_BYTES, 16384);
  const parsed = hostile.map((h) => parseCertificate(h.der));
  assert.deepEqual(parsed.map((c) => [c.san.dns.length, c.san.ip.length, c.san.uri.length, c.subjectAttributes.length]), [
    [1024, 0, 0, 1], [0, 893, 0, 1], [0, 0, 735, 1], [0, 0, 0, 1], [0, 0, 0, 1],
    [0, 0, 0, 1], [0, 0, 0, 128], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1],
  ]);
  assert.equal(parsed[1]!.san.ip[892], '2001:db8::37c:1');
  assert.equal(parsed[3]!.subject, `CN=${'\\0A'.repeat(8045)}`);
  assert.equal(parsed[3]!.issuer, parsed[3]!.subject);
  assert.equal(parsed[9]!.serialNumber, `01${'23'.repeat(16118)}`);
});

test('derVariant writes the counter into the last 4 bytes of the serial and of the signature, nothing else', () => {
  const template = hostileCertificates()[0]!.der;
  const serial = serialSpan(template);
  assert.deepEqual(serial, { offset: 15, length: 16 });
  const variant = derVariant(template, serial, 0x01020304);
  assert.equal(variant.length, template.length);
  const changed = [...variant.keys()].filter((i) => variant[i] !== template[i]);
  const tail = template.length - 4;
  assert.deepEqual(changed, [27, 28, 29, 30, tail, tail + 1, tail + 2, tail + 3]);
  assert.deepEqual([...variant.subarray(27, 31)], [1, 2, 3, 4]);
  assert.deepEqual([...variant.subarray(tail)], [1, 2, 3, 4]);
  assert.equal(parseCertificate(variant).serialNumber, `015A5A5A5A5A5A5A5A5A5A5A01020304`);
  assert.deepEqual(serialSpan(hostileCertificates()[9]!.der), { offset: 17, length: 16119 });
});
