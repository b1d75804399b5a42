import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate } from '../../lib/certificate/parse.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import { HOSTILE_COMMON_NAME, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { failedIdentity, missingIdentity, verifiedIdentity, type PeerIdentity } from '../../lib/identity/peer-identity.js';
import { hasLogUnsafe, TRUNCATION_MARKER } from '../../lib/internal/log-safe.js';
import {
  CLIENT_METRICS_OPTIONS,
  ClientLabels,
  DEFAULT_MAX_CLIENTS,
  MAX_CLIENT_ID_LENGTH,
  MAX_MAX_CLIENTS,
} from '../../lib/outputs/client-labels.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { getTestPki } from '../helpers/pki.js';
import { captureWarnings } from '../helpers/warnings.js';

let pki: DevCertificateSet;
let alice: PeerCertificate;
/** Verified clients CN=client-0 .. client-4, issued by the trusted test CA. */
const clients: PeerCertificate[] = [];

before(async () => {
  pki = await getTestPki();
  alice = parseCertificate(pki.clients.valid.der);
  const keyPair = pki.clients.valid.keyPair;
  for (let i = 0; i < 5; i++) {
    clients.push(parseCertificate((await pki.ca.issue({ subject: [{ type: 'O', value: 'team' }, { type: 'CN', value: `client-${i}` }], keyPair })).der));
  }
});

const verified = (certificate?: PeerCertificate): PeerIdentity => verifiedIdentity('tls', certificate);

test('defaults and bounds: 100 clients by default, at most 10000, values of at most 256 characters', () => {
  assert.deepEqual([DEFAULT_MAX_CLIENTS, MAX_MAX_CLIENTS, MAX_CLIENT_ID_LENGTH], [100, 10_000, 256]);
  assert.equal(new ClientLabels({ label: 'subject' }).maxClients, 100);
});

test('the three built-in labels of a verified identity', () => {
  assert.equal(new ClientLabels({ label: 'spiffe-id' }).labelOf(verified(alice)), 'spiffe://example.org/ns/demo/sa/alice');
  assert.equal(new ClientLabels({ label: 'subject-cn' }).labelOf(verified(alice)), 'alice');
  assert.equal(new ClientLabels({ label: 'subject' }).labelOf(verified(alice)), 'CN=alice,O=mtls-observability demo');
  // No SPIFFE ID, no certificate (a proxy that verified without forwarding one): no label, no slot.
  const spiffe = new ClientLabels({ label: 'spiffe-id' });
  assert.equal(spiffe.labelOf(verified(clients[0])), undefined);
  assert.equal(spiffe.labelOf(verified()), undefined);
  assert.deepEqual([...spiffe.ids()], []);
});

test('unverified identities are never labelled and never take a slot, whatever certificate they carry', () => {
  const table = new ClientLabels({ label: 'subject-cn', maxClients: 1 });
  const forged = parseCertificate(pki.clients.selfSigned.der);
  assert.equal(table.labelOf(failedIdentity('tls', 'DEPTH_ZERO_SELF_SIGNED_CERT', forged)), undefined);
  assert.equal(table.labelOf(failedIdentity('tls', 'CERT_HAS_EXPIRED', parseCertificate(pki.clients.expired.der))), undefined);
  assert.equal(table.labelOf(missingIdentity('tls')), undefined);
  assert.deepEqual([...table.ids()], []);
  assert.equal(table.labelOf(verified(alice)), 'alice');
});

test('past maxClients new clients fold into _OTHER; the first ones keep their labels; reconnects take no slot', () => {
  const table = new ClientLabels({ label: 'subject-cn', maxClients: 3 });
  assert.deepEqual(clients.map((c) => table.labelOf(verified(c))), ['client-0', 'client-1', 'client-2', '_OTHER', '_OTHER']);
  // Each connection is a new identity object: a client that reconnects a thousand times is one value.
  for (let i = 0; i < 1000; i++) assert.equal(table.labelOf(verified(clients[1])), 'client-1');
  assert.equal(table.labelOf(verified(clients[4])), '_OTHER');
  assert.deepEqual([...table.ids()], ['client-0', 'client-1', 'client-2']);
});

test('a client whose value is "_OTHER" is counted as the overflow and takes no slot', () => {
  const table = new ClientLabels({ label: () => '_OTHER', maxClients: 2 });
  assert.equal(table.labelOf(verified(alice)), '_OTHER');
  assert.deepEqual([...table.ids()], []);
});

test('values are log-safe and bounded: a hostile CN is escaped, a long value cut without splitting an escape', () => {
  const hostile = parseCertificate(pki.clients.hostile.der);
  const label = new ClientLabels({ label: 'subject-cn' }).labelOf(verified(hostile))!;
  assert.equal(hasLogUnsafe(label), false);
  assert.equal(label, HOSTILE_COMMON_NAME.replace('\n', '\\0A'));
  const long = new ClientLabels({ label: () => 'a'.repeat(255) + '\n' + 'b'.repeat(1000) }).labelOf(verified(alice))!;
  assert.equal(long, 'a'.repeat(255) + TRUNCATION_MARKER);
  const uri = new ClientLabels({ label: 'spiffe-id' });
  assert.equal(uri.labelOf(verified({ ...alice, spiffeId: 'spiffe://example.org/\u202Eevil' })), 'spiffe://example.org/%E2%80%AEevil');
});

test('a label function: called for verified identities only; non-strings and "" are no label; a throw is one warning', async () => {
  const seen: PeerIdentity[] = [];
  const values: unknown[] = ['svc-a', 42, '', undefined];
  const table = new ClientLabels({
    label: (identity) => {
      seen.push(identity);
      return values.shift() as string | undefined;
    },
  });
  const ids = [verified(alice), verified(alice), verified(alice), verified(alice)];
  assert.equal(table.labelOf(failedIdentity('tls', 'CERT_HAS_EXPIRED', alice)), undefined);
  assert.deepEqual(ids.map((id) => table.labelOf(id)), ['svc-a', undefined, undefined, undefined]);
  assert.deepEqual(seen, ids);

  const throwing = new ClientLabels({
    label: () => {
      throw new Error('label bug');
    },
  });
  const warnings = await captureWarnings(async () => {
    assert.equal(throwing.labelOf(verified(alice)), undefined);
    assert.equal(throwing.labelOf(verified(alice)), undefined);
    await Promise.resolve();
  });
  assert.deepEqual(
    warnings.map((w) => [w.code, w.message]),
    [['MTLS_OBSERVER_ERROR', 'mtlsIdentity(): option "metrics.clients.label" threw and was skipped: label bug']],
  );
});

test('option checks at factory time name the full path', () => {
  assert.equal(CLIENT_METRICS_OPTIONS.allowFalse, true);
  const cases: [unknown, string][] = [
    [
      {},
      'mtlsIdentity(): option "metrics.clients.label" is required with "metrics.clients": say how a verified client becomes a label: "spiffe-id", "subject-cn", "subject" or a function.',
    ],
    [
      { label: 'cn' },
      'mtlsIdentity(): option "metrics.clients.label" must be "spiffe-id", "subject-cn", "subject" or a function (identity) => string | undefined, got "cn".',
    ],
    [{ label: 'subject', maxClients: 0 }, 'mtlsIdentity(): option "metrics.clients.maxClients" must be an integer from 1 to 10000, got 0.'],
    [{ label: 'subject', maxClients: 10_001 }, 'mtlsIdentity(): option "metrics.clients.maxClients" must be an integer from 1 to 10000, got 10001.'],
    [
      { label: 'subject', max: 5 },
      'mtlsIdentity(): unknown option "metrics.clients.max". Known options of "metrics.clients": label, maxClients.',
    ],
    [
      true,
      'mtlsIdentity(): option "metrics.clients" must be false (off) or an object such as { label: "spiffe-id", maxClients: 100 }, got true.',
    ],
  ];
  for (const [clientsOption, message] of cases) {
    assert.throws(() => mtlsIdentity({ metrics: { clients: clientsOption as never } }), { name: 'TypeError', message });
  }
  assert.equal(typeof mtlsIdentity({ metrics: { clients: false } }), 'function');
  assert.equal(typeof mtlsIdentity({ metrics: { clients: { label: (id) => id.certificate?.subject, maxClients: 10_000 } } }), 'function');
});
