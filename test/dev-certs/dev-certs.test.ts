import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { connect } from 'node:net';
import { once } from 'node:events';
import * as asn1js from 'asn1js';
import { createCertificateAuthority, createSelfSignedCertificate, generateDevKeyPair, writeDevCertificates, HOSTILE_COMMON_NAME, type CertificateOptions, type DevCertificate, type NameInput, type StringEncoding } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { startHttpsServer, httpsRequest, keepAliveAgent } from '../helpers/https.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function x509(cert: DevCertificate): X509Certificate {
  return new X509Certificate(cert.der);
}

/** The TBSCertificate's fields as asn1js blocks: [version, serial, sigAlg, issuer, validity, subject, ...]. */
function tbsFields(der: Uint8Array): asn1js.AsnType[] {
  const parsed = asn1js.fromBER(der);
  assert.equal(parsed.offset, der.byteLength, 'no trailing bytes');
  const cert = parsed.result as asn1js.Sequence;
  const tbs = cert.valueBlock.value[0] as asn1js.Sequence;
  return tbs.valueBlock.value;
}

/** Subject RDNs as [[{ oid, tag, bytes }]] in DER order. */
function subjectAvas(der: Uint8Array): { oid: string; tag: number; bytes: string }[][] {
  const subject = tbsFields(der)[5] as asn1js.Sequence;
  return subject.valueBlock.value.map((set) =>
    (set as asn1js.Set).valueBlock.value.map((ava) => {
      const [oid, value] = (ava as asn1js.Sequence).valueBlock.value as [asn1js.ObjectIdentifier, asn1js.BaseBlock];
      return {
        oid: oid.valueBlock.toString(),
        tag: value.idBlock.tagNumber,
        bytes: Buffer.from(value.valueBeforeDecodeView.subarray(value.idBlock.blockLength + value.lenBlock.blockLength)).toString('hex'),
      };
    }),
  );
}

function serialContent(der: Uint8Array): string {
  const serial = tbsFields(der)[1] as asn1js.Integer;
  return Buffer.from(serial.valueBlock.valueHexView).toString('hex');
}

function validityTags(der: Uint8Array): number[] {
  const validity = tbsFields(der)[4] as asn1js.Sequence;
  return validity.valueBlock.value.map((t) => t.idBlock.tagNumber);
}

function pemCount(pem: string): number {
  return pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
}

describe('createDevCertificates (via getTestPki)', () => {
  test('CA: self-signed root with CA:TRUE and the documented subject', async () => {
    const { ca, untrustedCa } = await getTestPki();
    const x = x509(ca);
    assert.equal(x.subject, 'CN=mtls-observability development CA');
    assert.equal(x.issuer, 'CN=mtls-observability development CA');
    assert.equal(x.ca, true);
    assert.equal(x.checkIssued(x), true);
    assert.equal(x.verify(x.publicKey), true);
    assert.equal(x.publicKey.asymmetricKeyType, 'ec');
    assert.equal(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime(), 3650 * DAY + HOUR);
    assert.equal(x509(untrustedCa).subject, 'CN=mtls-observability untrusted CA');
    assert.equal(ca.chainPem, ca.certPem);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  });

  test('server: CN=localhost, SAN, serverAuth, issued by the CA', async () => {
    const { ca, server } = await getTestPki();
    const x = x509(server);
    assert.equal(x.subject, 'CN=localhost');
    assert.equal(x.issuer, 'CN=mtls-observability development CA');
    assert.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(x.keyUsage, [SERVER_AUTH]);
    assert.equal(x.ca, false);
    assert.equal(x.checkIssued(x509(ca)), true);
    assert.equal(x.verify(x509(ca).publicKey), true);
    assert.equal(x.checkHost('localhost'), 'localhost');
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x.checkIP('::1'), '::1');
  });

  test('clients: exact subjects, issuers, SANs, EKUs and validity', async () => {
    const { ca, untrustedCa, clients } = await getTestPki();
    const caX = x509(ca);
    const expected: Record<keyof typeof clients, { cn: string; issuer: DevCertificate; eku: string }> = {
      valid: { cn: 'alice', issuer: ca, eku: CLIENT_AUTH },
      expired: { cn: 'expired', issuer: ca, eku: CLIENT_AUTH },
      notYetValid: { cn: 'not-yet-valid', issuer: ca, eku: CLIENT_AUTH },
      untrusted: { cn: 'untrusted', issuer: untrustedCa, eku: CLIENT_AUTH },
      selfSigned: { cn: 'self-signed', issuer: clients.selfSigned, eku: CLIENT_AUTH },
      wrongEku: { cn: 'wrong-eku', issuer: ca, eku: SERVER_AUTH },
      hostile: { cn: 'mallory\\"\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\+0000] \\"GET /admin HTTP/1.1\\" 200 0 \\"\\\\', issuer: ca, eku: CLIENT_AUTH },
    };
    for (const [name, want] of Object.entries(expected) as [keyof typeof clients, (typeof expected)['valid']][]) {
      const x = x509(clients[name]);
      const issuer = x509(want.issuer);
      assert.equal(x.subject, `O=mtls-observability demo\nCN=${want.cn}`, name);
      assert.equal(x.issuer, issuer.subject, name);
      assert.equal(x.checkIssued(issuer), true, name);
      assert.equal(x.verify(issuer.publicKey), true, name);
      assert.equal(x.verify(caX.publicKey), want.issuer === ca, name);
      assert.deepEqual(x.keyUsage, [want.eku], name);
      assert.equal(x.ca, false, name);
      assert.match(x.serialNumber, /^[0-7][0-9A-F]{31}$/, name);
      assert.notEqual(x.serialNumber.slice(0, 2), '00', name);
    }
    assert.equal(x509(clients.valid).subjectAltName, 'DNS:alice.example.org, URI:spiffe://example.org/ns/demo/sa/alice');
    assert.equal(x509(clients.expired).subjectAltName, undefined);

    const validX = x509(clients.valid);
    assert.equal(new Date(validX.validTo).getTime() - new Date(validX.validFrom).getTime(), 365 * DAY + HOUR);
    const now = Date.now();
    assert.ok(new Date(x509(clients.expired).validTo).getTime() < now);
    assert.ok(new Date(x509(clients.notYetValid).validFrom).getTime() > now);
    // The hostile CN is stored raw (UTF8String): the bytes are the constant, newline included.
    const cn = subjectAvas(clients.hostile.der)[1]![0]!;
    assert.equal(cn.tag, 12);
    assert.equal(Buffer.from(cn.bytes, 'hex').toString('utf8'), HOSTILE_COMMON_NAME);
  });

  test('serial numbers differ between certificates', async () => {
    const { ca, untrustedCa, server, clients } = await getTestPki();
    const serials = [ca, untrustedCa, server, ...Object.values(clients)].map((c) => x509(c).serialNumber);
    assert.equal(new Set(serials).size, serials.length);
  });
});

describe('real TLS handshakes against the development CA', () => {
  test('each client gives the exact authorized / authorizationError', async () => {
    const pki = await getTestPki();
    const server = await startHttpsServer((req, res) => {
      const socket = req.socket as TLSSocket;
      res.end(JSON.stringify({ authorized: socket.authorized, error: socket.authorizationError ?? null }));
    });
    try {
      const expected: Record<string, { authorized: boolean; error: string | null }> = {
        valid: { authorized: true, error: null },
        expired: { authorized: false, error: 'CERT_HAS_EXPIRED' },
        notYetValid: { authorized: false, error: 'CERT_NOT_YET_VALID' },
        untrusted: { authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
        selfSigned: { authorized: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
        wrongEku: { authorized: false, error: 'INVALID_PURPOSE' },
        hostile: { authorized: true, error: null },
      };
      for (const [name, want] of Object.entries(expected)) {
        const client = pki.clients[name as keyof typeof pki.clients];
        for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
          const res = await httpsRequest({ port: server.port, client, maxVersion });
          assert.equal(res.status, 200);
          assert.deepEqual(JSON.parse(res.body), want, `${name} ${maxVersion}`);
        }
      }
      const none = await httpsRequest({ port: server.port });
      assert.deepEqual(JSON.parse(none.body), { authorized: false, error: 'UNABLE_TO_GET_ISSUER_CERT' });
    } finally {
      await server.close();
    }
  });

  test('a leaf under an intermediate verifies when its chain is sent, not when only the leaf is', async () => {
    const pki = await getTestPki();
    const intermediate = await pki.ca.issueIntermediate({ subject: 'mtls-observability issuing CA' });
    const leaf = await intermediate.issue({ subject: 'bob' });
    assert.equal(pemCount(leaf.chainPem), 2);
    assert.equal(leaf.chainPem, leaf.certPem + intermediate.certPem);
    assert.equal(x509(intermediate).ca, true);
    assert.equal(x509(intermediate).issuer, 'CN=mtls-observability development CA');
    const server = await startHttpsServer((req, res) => {
      const socket = req.socket as TLSSocket;
      res.end(`${socket.authorized} ${socket.authorizationError ?? '-'}`);
    });
    try {
      assert.equal((await httpsRequest({ port: server.port, client: leaf })).body, 'true -');
      const leafOnly = { ...leaf, chainPem: leaf.certPem };
      assert.equal((await httpsRequest({ port: server.port, client: leafOnly })).body, 'false UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      await server.close();
    }
  });

  test('a second-level intermediate: chain holds both intermediates, not the root', async () => {
    const pki = await getTestPki();
    const level1 = await pki.ca.issueIntermediate({ subject: 'level 1' });
    const level2 = await level1.issueIntermediate({ subject: 'level 2' });
    const leaf = await level2.issue({ subject: 'deep' });
    assert.equal(leaf.chainPem, leaf.certPem + level2.certPem + level1.certPem);
    // pathLenConstraint 0 on level 1 forbids level 2 as a CA: OpenSSL must refuse this chain.
    const server = await startHttpsServer((req, res) => {
      res.end(String((req.socket as TLSSocket).authorizationError));
    });
    try {
      assert.equal((await httpsRequest({ port: server.port, client: leaf })).body, 'PATH_LENGTH_EXCEEDED');
    } finally {
      await server.close();
    }
  });

  test('RSA-2048 CA and leaves work end to end', async () => {
    const rsaCa = await createCertificateAuthority({ keyType: 'rsa-2048', subject: 'rsa root' });
    const [server, client] = await Promise.all([
      rsaCa.issue({ subject: 'localhost', keyType: 'rsa-2048', extendedKeyUsage: ['serverAuth'], san: { dns: ['localhost'] } }),
      rsaCa.issue({ subject: 'rsa client', keyType: 'rsa-2048' }),
    ]);
    assert.equal(x509(client).publicKey.asymmetricKeyType, 'rsa');
    assert.equal(x509(client).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(x509(client).verify(x509(rsaCa).publicKey), true);
    const pki = { ...(await getTestPki()), ca: rsaCa, server };
    const started = await startHttpsServer(
      (req, res) => res.end(`${(req.socket as TLSSocket).authorized}`),
      { pki },
    );
    try {
      const res = await httpsRequest({ port: started.port, client, ca: rsaCa.certPem });
      assert.equal(res.body, 'true');
    } finally {
      await started.close();
    }
  });

  test('keepAliveAgent reuses one TLS connection', async () => {
    const pki = await getTestPki();
    const server = await startHttpsServer((req, res) => res.end(String(req.socket.remotePort)));
    const agent = keepAliveAgent(pki.clients.valid);
    try {
      const first = await httpsRequest({ port: server.port, agent });
      const second = await httpsRequest({ port: server.port, agent });
      assert.equal(first.body, second.body);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test('close() ends idle keep-alive and half-open connections', async () => {
    const pki = await getTestPki();
    const server = await startHttpsServer((_req, res) => res.end('ok'));
    const agent = keepAliveAgent(pki.clients.valid);
    assert.equal((await httpsRequest({ port: server.port, agent })).body, 'ok');
    // A TCP connection that never starts a handshake (a health check, a scanner).
    const raw = connect(server.port, '127.0.0.1');
    await once(raw, 'connect');
    const rawClosed = once(raw, 'close');
    await server.close();
    await rawClosed;
    assert.equal(server.server.listening, false);
    agent.destroy();
  });

  test('rejectUnauthorized: true makes the handshake fail for a bad client', async () => {
    const pki = await getTestPki();
    const server = await startHttpsServer((_req, res) => res.end('ok'), { rejectUnauthorized: true });
    try {
      assert.equal((await httpsRequest({ port: server.port, client: pki.clients.valid })).body, 'ok');
      await assert.rejects(httpsRequest({ port: server.port, client: pki.clients.expired, maxVersion: 'TLSv1.2' }), {
        code: 'ECONNRESET',
      });
    } finally {
      await server.close();
    }
  });
});

describe('names', () => {
  const cases: { encoding: StringEncoding; value: string; tag: number; bytes: string }[] = [
    { encoding: 'utf8', value: 'Zoë', tag: 12, bytes: '5a6fc3ab' },
    { encoding: 'printable', value: "A-z 0'()+,./:=?", tag: 19, bytes: Buffer.from("A-z 0'()+,./:=?").toString('hex') },
    { encoding: 'ia5', value: 'a@b\n', tag: 22, bytes: '6140620a' },
    { encoding: 'teletex', value: 'Zoë Ltd', tag: 20, bytes: '5a6feb204c7464' },
    { encoding: 'bmp', value: '日本', tag: 30, bytes: '65e5672c' },
    { encoding: 'universal', value: 'a😀', tag: 28, bytes: '000000610001f600' },
  ];
  for (const c of cases) {
    test(`${c.encoding} is written with tag ${c.tag} and the right bytes`, async () => {
      const cert = await createSelfSignedCertificate({ subject: [{ type: 'O', value: c.value, encoding: c.encoding }] });
      assert.deepEqual(subjectAvas(cert.der), [[{ oid: '2.5.4.10', tag: c.tag, bytes: c.bytes }]]);
    });
  }

  test('default encodings: C printable, DC and emailAddress IA5, others UTF8String; a string is a CN', async () => {
    const cert = await createSelfSignedCertificate({
      subject: [
        { type: 'C', value: 'DE' },
        { type: 'DC', value: 'org' },
        { type: 'emailAddress', value: 'x@example.org' },
        { type: 'jurisdictionC', value: 'US' },
        { type: 'OU', value: 'Eng' },
      ],
    });
    assert.deepEqual(
      subjectAvas(cert.der).map((rdn) => rdn.map((a) => [a.oid, a.tag])),
      [[['2.5.4.6', 19]], [['0.9.2342.19200300.100.1.25', 22]], [['1.2.840.113549.1.9.1', 22]], [['1.3.6.1.4.1.311.60.2.1.3', 19]], [['2.5.4.11', 12]]],
    );
    const cn = await createSelfSignedCertificate({ subject: 'plain' });
    assert.deepEqual(subjectAvas(cn.der), [[{ oid: '2.5.4.3', tag: 12, bytes: Buffer.from('plain').toString('hex') }]]);
  });

  test('RDN order and multi-valued RDN AVA order are kept exactly', async () => {
    const subject: NameInput = [
      { type: 'C', value: 'US' },
      { type: 'O', value: 'Acme' },
      [
        { type: 'UID', value: 'c1234' },
        { type: 'CN', value: 'carol' },
      ],
    ];
    const cert = await createSelfSignedCertificate({ subject });
    assert.deepEqual(
      subjectAvas(cert.der).map((rdn) => rdn.map((a) => a.oid)),
      [['2.5.4.6'], ['2.5.4.10'], ['0.9.2342.19200300.100.1.1', '2.5.4.3']],
    );
    assert.equal(x509(cert).subject, 'C=US\nO=Acme\nUID=c1234 + CN=carol');
    const swapped = await createSelfSignedCertificate({ subject: [[{ type: 'CN', value: 'carol' }, { type: 'UID', value: 'c1234' }]] });
    assert.equal(x509(swapped).subject, 'CN=carol + UID=c1234');
  });

  test('a dotted OID type is written as that OID', async () => {
    const cert = await createSelfSignedCertificate({ subject: [{ type: '1.2.3.4', value: 'x' }, { type: '2.999.1', value: 'y' }] });
    assert.deepEqual(
      subjectAvas(cert.der).map((rdn) => rdn.map((a) => a.oid)),
      [['1.2.3.4'], ['2.999.1']],
    );
  });

  test('the issuer name of an issued certificate is the CA subject byte for byte', async () => {
    const ca = await createCertificateAuthority({ subject: [{ type: 'O', value: 'Zoë', encoding: 'teletex' }, { type: 'CN', value: 'T61 CA' }] });
    const leaf = await ca.issue({ subject: 'leaf' });
    assert.equal(x509(leaf).checkIssued(x509(ca)), true);
    const issuer = tbsFields(leaf.der)[3] as asn1js.Sequence;
    const subject = tbsFields(ca.der)[5] as asn1js.Sequence;
    assert.deepEqual(Buffer.from(issuer.toBER()), Buffer.from(subject.toBER()));
  });
});

describe('serial numbers', () => {
  const byteVectors = ['00', '01', '7f', '0080', '80', 'ff7f', '00ff', '0000', '80000000000000000000000000000000000000ff', '7fffffffffffffffffffffffffffffffffffffff'];
  for (const hex of byteVectors) {
    test(`Uint8Array ${hex} is used verbatim`, async () => {
      const cert = await createSelfSignedCertificate({ subject: 's', serialNumber: Buffer.from(hex, 'hex') });
      assert.equal(serialContent(cert.der), hex);
    });
  }
  const bigints: [bigint, string, string][] = [
    [0n, '00', '0'],
    [1n, '01', '01'],
    [127n, '7f', '7F'],
    [128n, '0080', '80'],
    [256n, '0100', '0100'],
    [-1n, 'ff', '-01'],
    [-128n, '80', '-80'],
    [-129n, 'ff7f', '-81'],
    [(1n << 159n) + 1n, '008000000000000000000000000000000000000001', '8000000000000000000000000000000000000001'],
  ];
  for (const [value, content, node] of bigints) {
    test(`bigint ${value} is minimal two's complement ${content}`, async () => {
      const cert = await createSelfSignedCertificate({ subject: 's', serialNumber: value });
      assert.equal(serialContent(cert.der), content);
      // What Node (OpenSSL) prints; it writes zero as "0", the library's parser as "00".
      assert.equal(x509(cert).serialNumber, node);
    });
  }
});

describe('validity', () => {
  test('UTCTime through 2049, GeneralizedTime from 2050 and before 1950; seconds only', async () => {
    const a = await createSelfSignedCertificate({
      subject: 't',
      notBefore: new Date('2049-12-31T23:59:59.999Z'),
      notAfter: new Date('2050-01-01T00:00:00.000Z'),
    });
    assert.deepEqual(validityTags(a.der), [23, 24]);
    assert.equal(x509(a).validFrom, 'Dec 31 23:59:59 2049 GMT');
    assert.equal(x509(a).validTo, 'Jan  1 00:00:00 2050 GMT');
    const b = await createSelfSignedCertificate({
      subject: 't',
      notBefore: new Date('1949-12-31T23:59:59Z'),
      notAfter: new Date('1950-01-01T00:00:00Z'),
    });
    assert.deepEqual(validityTags(b.der), [24, 23]);
    assert.equal(x509(b).validFrom, 'Dec 31 23:59:59 1949 GMT');
    assert.equal(x509(b).validTo, 'Jan  1 00:00:00 1950 GMT');
    // GeneralizedTime without fractional seconds (RFC 5280 section 4.1.2.5.2).
    const validity = tbsFields(a.der)[4] as asn1js.Sequence;
    assert.equal(Buffer.from((validity.valueBlock.value[1] as asn1js.GeneralizedTime).valueBlock.valueHexView).toString('latin1'), '20500101000000Z');
  });

  test('explicit dates, SANs and EKUs on issued certificates', async () => {
    const ca = await createCertificateAuthority({
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2036-01-01T00:00:00Z'),
    });
    assert.equal(x509(ca).validFrom, 'Jan  1 00:00:00 2026 GMT');
    assert.equal(x509(ca).validTo, 'Jan  1 00:00:00 2036 GMT');
    const leaf = await ca.issue({
      subject: 'both',
      notBefore: new Date('2026-02-03T04:05:06Z'),
      notAfter: new Date('2027-02-03T04:05:06Z'),
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
      san: {
        dns: ['a.example', 'x.example.org, DNS:evil.example.org'],
        uri: ['spiffe://example.org/a', 'spiffe://example.org/b'],
        email: ['a@example.org'],
        ip: ['10.0.0.7', '2001:db8::7', '::ffff:192.0.2.1', '::'],
      },
    });
    const x = x509(leaf);
    assert.equal(x.validFrom, 'Feb  3 04:05:06 2026 GMT');
    assert.equal(x.validTo, 'Feb  3 04:05:06 2027 GMT');
    assert.deepEqual(x.keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
    assert.equal(
      x.subjectAltName,
      'email:a@example.org, DNS:a.example, DNS:"x.example.org\\u002c DNS:evil.example.org", URI:spiffe://example.org/a, ' +
        'URI:spiffe://example.org/b, IP Address:10.0.0.7, IP Address:2001:DB8:0:0:0:0:0:7, ' +
        'IP Address:0:0:0:0:0:FFFF:C000:201, IP Address:0:0:0:0:0:0:0:0',
    );
    const noEku = await ca.issue({ subject: 'no eku', extendedKeyUsage: [] });
    assert.equal(x509(noEku).keyUsage, undefined);
  });
});

describe('keys', () => {
  test('a shared keyPair gives certificates with the same public key; PKCS#8 PEM keys', async () => {
    const pki = await getTestPki();
    const keyPair = await generateDevKeyPair();
    const [a, b] = await Promise.all([pki.ca.issue({ subject: 'a', keyPair }), pki.ca.issue({ subject: 'b', keyPair })]);
    assert.deepEqual(
      x509(a).publicKey.export({ format: 'der', type: 'spki' }),
      x509(b).publicKey.export({ format: 'der', type: 'spki' }),
    );
    assert.equal(a.keyPem, b.keyPem);
    assert.equal(a.keyPair, keyPair);
    assert.equal(x509(a).checkPrivateKey((await import('node:crypto')).createPrivateKey(a.keyPem)), true);
  });
});

describe('option errors', () => {
  const bad: [string, () => Promise<unknown>, RegExp][] = [
    ['unknown option', () => createSelfSignedCertificate({ subject: 'x', colour: 1 } as unknown as CertificateOptions), /createSelfSignedCertificate\(\): unknown option "colour"\. Known options: subject, /],
    ['missing subject', () => createSelfSignedCertificate({} as CertificateOptions), /option "subject" is required/],
    ['no options', () => createSelfSignedCertificate(undefined as unknown as CertificateOptions), /option "subject" is required/],
    ['wrong notAfter type', () => createSelfSignedCertificate({ subject: 'x', notAfter: '2030' as unknown as Date }), /option "notAfter" must be a valid Date, got "2030"/],
    ['invalid date', () => createSelfSignedCertificate({ subject: 'x', notBefore: new Date('nope') }), /option "notBefore" must be a valid Date/],
    ['wrong serial type', () => createSelfSignedCertificate({ subject: 'x', serialNumber: 5 as unknown as bigint }), /option "serialNumber" must be a bigint or a Uint8Array, got 5/],
    ['bad key type', () => createSelfSignedCertificate({ subject: 'x', keyType: 'ed25519' as 'ec-p256' }), /option "keyType" must be one of "ec-p256", "rsa-2048", got "ed25519"/],
    ['bad EKU', () => createSelfSignedCertificate({ subject: 'x', extendedKeyUsage: ['codeSigning' as 'clientAuth'] }), /option "extendedKeyUsage" must be an array of "serverAuth" \/ "clientAuth"/],
    ['bad keyPair', () => createSelfSignedCertificate({ subject: 'x', keyPair: {} as never }), /option "keyPair" must be a WebCrypto CryptoKeyPair/],
    ['unknown SAN kind', () => createSelfSignedCertificate({ subject: 'x', san: { dn: ['x'] } as never }), /option "san": unknown option "dn"/],
    ['bad IP', () => createSelfSignedCertificate({ subject: 'x', san: { ip: ['300.1.1.1'] } }), /option "san.ip": "300.1.1.1" is not an IPv4 or IPv6 address/],
    ['IPv6 zone index', () => createSelfSignedCertificate({ subject: 'x', san: { ip: ['fe80::1%eth0'] } }), /option "san.ip": "fe80::1%eth0" is not an IPv4 or IPv6 address/],
    ['non-ASCII DNS', () => createSelfSignedCertificate({ subject: 'x', san: { dns: ['bücher.example'] } }), /option "san.dns": "bücher.example" cannot be written as IA5String: U\+00FC is not ASCII/],
    ['unknown short name', () => createSelfSignedCertificate({ subject: [{ type: 'XX', value: 'x' }] }), /option "subject": unknown attribute type "XX"\. Use an OpenSSL short name \(CN, /],
    ['bad OID', () => createSelfSignedCertificate({ subject: [{ type: '1.40.1', value: 'x' }] }), /unknown attribute type "1\.40\.1"/],
    ['printable @', () => createSelfSignedCertificate({ subject: [{ type: 'C', value: 'a@b' }] }), /the value "a@b" of C cannot be written as PrintableString: "@" is not allowed/],
    ['ia5 non-ASCII', () => createSelfSignedCertificate({ subject: [{ type: 'DC', value: 'é' }] }), /cannot be written as IA5String: U\+00E9 is not ASCII/],
    ['teletex beyond Latin-1', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: '€', encoding: 'teletex' }] }), /cannot be written as TeletexString: U\+20AC is not Latin-1/],
    ['bmp astral', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: '😀', encoding: 'bmp' }] }), /cannot be written as BMPString: U\+1F600 is outside the Basic Multilingual Plane/],
    ['lone surrogate', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: 'a\uD800' }] }), /cannot be written as UTF8String: it contains a lone surrogate U\+D800/],
    ['bad encoding', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: 'a', encoding: 'latin1' as StringEncoding }] }), /encoding of O must be one of "utf8", /],
    ['empty RDN', () => createSelfSignedCertificate({ subject: [[]] }), /RDN 0 is an empty array/],
    ['extra AVA key', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: 'a', tag: 1 } as never] }), /unknown attribute key "tag"/],
    ['non-string value', () => createSelfSignedCertificate({ subject: [{ type: 'O', value: 1 as unknown as string }] }), /the value of O must be a string, got 1/],
    ['CA unknown option', () => createCertificateAuthority({ pathLength: 1 } as never), /createCertificateAuthority\(\): unknown option "pathLength"/],
    ['issueIntermediate without subject', async () => (await getTestPki()).ca.issueIntermediate({} as never), /issueIntermediate\(\): option "subject" is required/],
    ['issue unknown option', async () => (await getTestPki()).ca.issue({ subject: 'x', ca: true } as never), /issue\(\): unknown option "ca"/],
    ['generateDevKeyPair', () => generateDevKeyPair('ec-p384' as 'ec-p256'), /generateDevKeyPair\(\): keyType must be one of/],
  ];
  for (const [name, run, message] of bad) {
    test(`${name}: TypeError that says why`, async () => {
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof TypeError, `expected TypeError, got ${String(err)}`);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe('writeDevCertificates', () => {
  const FILES = [
    'ca.pem',
    'server.pem',
    'server-key.pem',
    'client-valid.pem',
    'client-valid-key.pem',
    'client-expired.pem',
    'client-expired-key.pem',
    'client-not-yet-valid.pem',
    'client-not-yet-valid-key.pem',
    'client-untrusted.pem',
    'client-untrusted-key.pem',
    'client-self-signed.pem',
    'client-self-signed-key.pem',
    'client-wrong-eku.pem',
    'client-wrong-eku-key.pem',
    'client-hostile.pem',
    'client-hostile-key.pem',
  ];

  test('writes the exact files, keys 0600, and refuses to overwrite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtls-dev-certs-'));
    try {
      const pki = await getTestPki();
      const target = join(dir, 'nested', 'certs');
      const paths = await writeDevCertificates(target, pki);
      assert.deepEqual(paths, FILES.map((f) => join(target, f)));
      assert.deepEqual((await readdir(target)).sort(), [...FILES].sort());
      for (const f of FILES) {
        const mode = (await stat(join(target, f))).mode & 0o777;
        assert.equal(mode, f.endsWith('-key.pem') ? 0o600 : 0o644, f);
      }
      assert.equal(await readFile(join(target, 'ca.pem'), 'utf8'), pki.ca.certPem);
      assert.equal(await readFile(join(target, 'client-valid.pem'), 'utf8'), pki.clients.valid.chainPem);
      assert.equal(await readFile(join(target, 'client-valid-key.pem'), 'utf8'), pki.clients.valid.keyPem);

      await writeFile(join(target, 'server.pem'), 'mine');
      await assert.rejects(writeDevCertificates(target, pki), (err: NodeJS.ErrnoException & { paths: string[] }) => {
        assert.equal(err.code, 'EEXIST');
        assert.equal(err.paths.length, FILES.length);
        return true;
      });
      assert.equal(await readFile(join(target, 'server.pem'), 'utf8'), 'mine');
      await writeDevCertificates(target, pki, { overwrite: true });
      assert.equal(await readFile(join(target, 'server.pem'), 'utf8'), pki.server.chainPem);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('rejects bad arguments', async () => {
    await assert.rejects(writeDevCertificates(''), /dir must be a non-empty string/);
    await assert.rejects(writeDevCertificates(tmpdir(), undefined, { force: true } as never), /unknown option "force"/);
  });
});
