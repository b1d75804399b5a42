import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { formatIpAddress, parseIpAddress } from '../../lib/certificate/ip-address.js';

const v6 = (text: string): Uint8Array => {
  // Test-side parser for full 8-group notation only.
  const out = new Uint8Array(16);
  text.split(':').forEach((group, i) => {
    const value = parseInt(group, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  return out;
};

test('IPv4 dotted decimal', () => {
  assert.equal(formatIpAddress(Uint8Array.from([192, 0, 2, 1])), '192.0.2.1');
  assert.equal(formatIpAddress(Uint8Array.from([0, 0, 0, 0])), '0.0.0.0');
  assert.equal(formatIpAddress(Uint8Array.from([255, 255, 255, 255])), '255.255.255.255');
});

test('IPv6 in RFC 5952 form', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'], // the longest run
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['fe80:0000:0000:0000:0000:0000:0000:0000', 'fe80::'],
    ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2:3:4:5:6'],
    ['0000:0000:0000:0000:0000:0000:c000:0201', '::c000:201'], // IPv4-compatible: not mixed
    ['0064:ff9b:0000:0000:0000:0000:c000:0201', '64:ff9b::c000:201'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [input, expected] of cases) assert.equal(formatIpAddress(v6(input)), expected, input);
});

test('IPv4-mapped IPv6 in mixed notation (RFC 5952 section 5)', () => {
  assert.equal(formatIpAddress(v6('0000:0000:0000:0000:0000:ffff:c000:0201')), '::ffff:192.0.2.1');
  assert.equal(formatIpAddress(v6('0000:0000:0000:0000:0000:ffff:0000:0000')), '::ffff:0.0.0.0');
});

test('other lengths give undefined', () => {
  for (const length of [0, 1, 3, 5, 8, 15, 17, 32]) assert.equal(formatIpAddress(new Uint8Array(length)), undefined);
});

test('property: every 16-byte address round-trips through Node and is canonical', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }).chain((bytes) =>
      // Bias towards zero groups so compression is exercised.
      fc.array(fc.nat(7), { maxLength: 6 }).map((zeros) => {
        for (const group of zeros) bytes[group * 2] = bytes[group * 2 + 1] = 0;
        return bytes;
      })), (bytes) => {
      const text = formatIpAddress(bytes)!;
      assert.ok(isIPv6(text), text);
      assert.equal(text, text.toLowerCase());
      assert.ok(!/(^|:)0[0-9a-f]/.test(text), text);
      // Node's URL parser serializes IPv6 per the WHATWG URL standard, which is RFC 5952 except
      // for IPv4-mapped addresses (written in hex there).
      if (!text.startsWith('::ffff:') || !text.includes('.')) {
        assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`);
      }
    }),
    { numRuns: 1000, seed: 7 },
  );
});

/**
 * The straightforward formatter, pieces joined, kept as the oracle for the byte-writing one:
 * Node has no formatter that writes IPv4-mapped addresses in mixed notation.
 */
function referenceFormat(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = Math.max(j, i + 1);
  }
  const text = (part: number[]) => part.map((group) => group.toString(16)).join(':');
  if (bestStart < 0) return text(groups);
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLength))}`;
}

test('property: formatIpAddress writes what the reference formatter writes', () => {
  // Mostly zero groups, so runs of every length and position (and ties) are common; a share of
  // IPv4-mapped prefixes, and groups of every digit count.
  const group = fc.oneof(
    { arbitrary: fc.constant(0), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 2 },
    { arbitrary: fc.constantFrom(1, 0xf, 0x10, 0xff, 0x100, 0xfff, 0x1000, 0xffff), weight: 1 },
  );
  const mapped = fc.tuple(fc.constant([0, 0, 0, 0, 0, 0xffff]), fc.array(group, { minLength: 2, maxLength: 2 })).map(([head, tail]) => [...head, ...tail]);
  const address = fc.oneof({ arbitrary: fc.array(group, { minLength: 8, maxLength: 8 }), weight: 9 }, { arbitrary: mapped, weight: 1 }).map((groups) =>
    Uint8Array.from(groups.flatMap((value) => [value >> 8, value & 0xff])),
  );
  fc.assert(
    fc.property(address, (bytes) => {
      assert.equal(formatIpAddress(bytes), referenceFormat(bytes));
    }),
    { numRuns: 200_000, seed: 5 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
      assert.equal(formatIpAddress(bytes), referenceFormat(bytes));
    }),
    { numRuns: 10_000, seed: 5 },
  );
});

const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');

test('parseIpAddress: IPv4 becomes IPv4-mapped IPv6', () => {
  assert.equal(hex(parseIpAddress('127.0.0.1')), '00000000000000000000ffff7f000001');
  assert.equal(hex(parseIpAddress('::ffff:127.0.0.1')), '00000000000000000000ffff7f000001');
  assert.equal(hex(parseIpAddress('::ffff:7f00:1')), '00000000000000000000ffff7f000001');
});

test('parseIpAddress: IPv6 forms', () => {
  assert.equal(hex(parseIpAddress('::1')), '00000000000000000000000000000001');
  assert.equal(hex(parseIpAddress('::')), '00000000000000000000000000000000');
  assert.equal(hex(parseIpAddress('2001:db8::')), '20010db8000000000000000000000000');
  assert.equal(hex(parseIpAddress('2001:DB8:0:0:0:0:0:1')), '20010db8000000000000000000000001');
  assert.equal(hex(parseIpAddress('fe80::1%eth0')), 'fe800000000000000000000000000001');
  assert.equal(hex(parseIpAddress('1:2:3:4:5:6:1.2.3.4')), '00010002000300040005000601020304');
  assert.equal(hex(parseIpAddress('64:ff9b::192.0.2.33')), '0064ff9b0000000000000000c0000221');
  assert.equal(hex(parseIpAddress('::1.2.3.4')), '00000000000000000000000001020304');
});

test('parseIpAddress: rejects malformed addresses', () => {
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ':::',
    '1::2::3',
    ':1',
    '1:',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    '12345::',
    'g::1',
    '::1.2.3.4.5',
    '1.2.3.4::',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1::2:3:4:5:6:1.2.3.4',
    '1.2.3.4:1::',
    'localhost',
  ]) {
    assert.equal(parseIpAddress(bad), undefined, bad);
  }
});

test('property: parseIpAddress never throws and accepts every IPv6 address fast-check makes', () => {
  fc.assert(
    fc.property(fc.ipV6(), (address) => {
      assert.notEqual(parseIpAddress(address), undefined, address);
    }),
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      parseIpAddress(text);
    }),
  );
});

test('property: parseIpAddress reads back every address formatIpAddress writes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      assert.deepEqual(parseIpAddress(formatIpAddress(bytes)!), bytes);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
      assert.deepEqual(parseIpAddress(formatIpAddress(bytes)!), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...bytes]));
    }),
  );
});
