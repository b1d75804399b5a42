import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileTrustedProxies } from '../../../lib/sources/proxy/trust.js';

test('compileTrustedProxies: IPv4, IPv6 and IPv4-mapped peers', () => {
  const trusted = compileTrustedProxies(['127.0.0.1/32', '10.0.0.0/8', '2001:db8::/32', '::1']);
  assert.equal(trusted('127.0.0.1'), true);
  assert.equal(trusted('::ffff:127.0.0.1'), true);
  assert.equal(trusted('127.0.0.2'), false);
  assert.equal(trusted('::ffff:127.0.0.2'), false);
  assert.equal(trusted('10.255.3.4'), true);
  assert.equal(trusted('11.0.0.0'), false);
  assert.equal(trusted('2001:db8:ffff::1'), true);
  assert.equal(trusted('2001:db9::1'), false);
  assert.equal(trusted('::1'), true);
  assert.equal(trusted('::2'), false);
  assert.equal(trusted(undefined), false);
  assert.equal(trusted('not an address'), false);
  // Repeated lookups (cached) give the same answers.
  assert.equal(trusted('127.0.0.2'), false);
  assert.equal(trusted('::ffff:127.0.0.1'), true);
});

test('compileTrustedProxies: odd prefix lengths and IPv4-mapped CIDRs', () => {
  const trusted = compileTrustedProxies(['192.168.0.0/23', '::ffff:172.16.0.0/108']);
  assert.equal(trusted('192.168.1.255'), true);
  assert.equal(trusted('192.168.2.0'), false);
  assert.equal(trusted('172.16.9.9'), true);
  assert.equal(trusted('172.31.255.255'), true);
  assert.equal(trusted('172.32.0.0'), false);
  const all = compileTrustedProxies(['0.0.0.0/0']);
  assert.equal(all('8.8.8.8'), true);
  assert.equal(all('::1'), false);
});

test('compileTrustedProxies: refuses bad configuration with a TypeError', () => {
  assert.throws(() => compileTrustedProxies([]), {
    name: 'TypeError',
    message: /trustedProxies must be a non-empty array/,
  });
  assert.throws(() => compileTrustedProxies(['10.0.0.1/8']), {
    name: 'TypeError',
    message:
      'trustedProxies: "10.0.0.1/8" is not a valid CIDR: it has host bits set after the prefix; write the network address. Use forms such as "10.0.0.0/8", "127.0.0.1", "2001:db8::/32", "::1/128" or "fe80::1%eth0".',
  });
  assert.throws(() => compileTrustedProxies(['10.0.0.0/33']), { message: /prefix length/ });
  assert.throws(() => compileTrustedProxies(['::/129']), { message: /prefix length/ });
  assert.throws(() => compileTrustedProxies(['10.0.0.0/08']), { message: /prefix length/ });
  assert.throws(() => compileTrustedProxies(['10.0.0.1%eth0']), { message: /zone index \(%\.\.\.\) must follow an IPv6 address/ });
  assert.throws(() => compileTrustedProxies(['fe80::1%']), { message: /zone index/ });
  assert.throws(() => compileTrustedProxies(['fe80::1%a b']), { message: /zone index/ });
  assert.throws(() => compileTrustedProxies(['example.com']), { message: /not an IPv4 or IPv6/ });
  assert.throws(() => compileTrustedProxies([42 as unknown as string]), { name: 'TypeError' });
});

test('property: every IPv4 address matches its own /32 and its /24 and nothing else of a different /24', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
      const own = compileTrustedProxies([a]);
      assert.equal(own(a), true);
      assert.equal(own(`::ffff:${a}`), true);
      const net = a.split('.').slice(0, 3).join('.');
      const subnet = compileTrustedProxies([`${net}.0/24`]);
      assert.equal(subnet(b), b.split('.').slice(0, 3).join('.') === net);
    }),
  );
});

test('compileTrustedProxies: an IPv6 range that contains ::ffff:0:0/96 is refused (it would trust every IPv4 peer)', () => {
  for (const entry of ['::/64', '::/0', '::/80', '::ffff:0:0/96', '::fffe:0:0/95']) {
    assert.throws(() => compileTrustedProxies([entry]), {
      name: 'TypeError',
      message: `trustedProxies: ${JSON.stringify(entry)} is not a valid CIDR: this IPv6 range contains ::ffff:0:0/96 and would trust every IPv4 peer; list IPv4 ranges in IPv4 form (e.g. "10.0.0.0/8", or "0.0.0.0/0" for all of IPv4). Use forms such as "10.0.0.0/8", "127.0.0.1", "2001:db8::/32", "::1/128" or "fe80::1%eth0".`,
    });
  }
  // Ranges beside the mapped block, and IPv4-mapped ranges inside it, are still fine.
  const trusted = compileTrustedProxies(['::/97', '::1', '::ffff:10.0.0.0/104', '2001:db8::/32']);
  assert.equal(trusted('127.0.0.1'), false);
  assert.equal(trusted('::ffff:8.8.8.8'), false);
  assert.equal(trusted('10.1.2.3'), true);
  assert.equal(trusted('::1'), true);
});

test('compileTrustedProxies: a zoned peer matches only an entry with the same zone', () => {
  const plain = compileTrustedProxies(['fe80::1', 'fe80::/64']);
  assert.equal(plain('fe80::1'), true);
  assert.equal(plain('fe80::1%eth0'), false);
  assert.equal(plain('fe80::2%eth1'), false);
  const zoned = compileTrustedProxies(['fe80::1%eth0', 'fe80::%2/64']);
  assert.equal(zoned('fe80::1%eth0'), true);
  assert.equal(zoned('fe80::1%eth1'), false);
  assert.equal(zoned('fe80::1'), false);
  assert.equal(zoned('fe80::9%2'), true);
  assert.equal(zoned('fe80::9%eth0'), false);
});
