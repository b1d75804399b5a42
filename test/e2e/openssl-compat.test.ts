/**
 * Every certificate vector through the real `openssl x509`: subject and issuer with
 * `-nameopt RFC2253,-esc_msb` (what nginx's `$ssl_client_s_dn` and Envoy print), serial, dates and
 * SANs must equal parseCertificate's output, except where a vector names one of the deviations
 * documented in docs/identity-format.md.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { buildCertificateVectors, handBuiltCertificate, handBuiltVectors, nameDer, seededBytes, tlv } from '../helpers/certificate-vectors.js';

const run = promisify(execFile);
const directory = mkdtempSync(join(tmpdir(), 'mtls-openssl-compat-'));
after(() => rmSync(directory, { recursive: true, force: true }));

interface OpenSslView {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  subjectAltName: string;
}

let fileCounter = 0;

async function openssl(der: Uint8Array): Promise<OpenSslView> {
  const file = join(directory, `vector-${fileCounter++}.der`);
  writeFileSync(file, der);
  const { stdout } = await run(
    'openssl',
    ['x509', '-inform', 'DER', '-in', file, '-noout', '-subject', '-issuer', '-serial', '-dates', '-ext', 'subjectAltName', '-nameopt', 'RFC2253,-esc_msb'],
    { encoding: 'utf8' },
  );
  // OpenSSL escapes C0 controls as \XX, so every field is one line.
  const field = (name: string) => stdout.split('\n').find((line) => line.startsWith(`${name}=`))?.slice(name.length + 1) ?? '';
  const sanStart = stdout.indexOf('X509v3 Subject Alternative Name:');
  return {
    subject: field('subject'),
    issuer: field('issuer'),
    serial: field('serial'),
    notBefore: new Date(field('notBefore')),
    notAfter: new Date(field('notAfter')),
    subjectAltName: sanStart < 0 ? '' : stdout.slice(sanStart).split('\n')[1]!.trim(),
  };
}

/** Our SANs in OpenSSL's text form; IPv6 expanded and uppercase as OpenSSL prints it. */
function opensslSanText(san: ReturnType<typeof parseCertificate>['san'], order: string[]): string {
  const ipText = (ip: string) => {
    if (!ip.includes(':')) return ip;
    const url = new URL(`http://[${ip}]/`).hostname.slice(1, -1); // WHATWG: mapped as hex
    const [head, tail = ''] = url.split('::');
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const groups = url.includes('::') ? [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
    return groups.map((group) => group.toUpperCase()).join(':');
  };
  const entries = new Map<string, string[]>([
    ['DNS', san.dns.map((v) => `DNS:${v}`)],
    ['URI', san.uri.map((v) => `URI:${v}`)],
    ['email', san.email.map((v) => `email:${v}`)],
    ['IP', san.ip.map((v) => `IP Address:${ipText(v)}`)],
  ]);
  return order.flatMap((kind) => entries.get(kind) ?? []).join(', ');
}

const vectors = await buildCertificateVectors();

describe('openssl x509 agrees with parseCertificate (generated vectors)', () => {
  for (const vector of vectors) {
    test(vector.name, async () => {
      const ours = parseCertificate(vector.certificate.der);
      const theirs = await openssl(vector.certificate.der);
      assert.equal(theirs.subject, vector.openssl?.subject ?? ours.subject);
      assert.equal(theirs.issuer, ours.issuer);
      assert.equal(theirs.serial, ours.serialNumber);
      assert.equal(theirs.notBefore.getTime(), ours.notBefore.getTime());
      assert.equal(theirs.notAfter.getTime(), ours.notAfter.getTime());
      // dev-certs writes SANs grouped as email, DNS, URI, IP. OpenSSL's text is ambiguous (a DNS
      // value with ", DNS:" reads as two names), which is why SANs are read from DER.
      assert.equal(theirs.subjectAltName, opensslSanText(ours.san, ['email', 'DNS', 'URI', 'IP']));
    });
  }
});

describe('openssl x509 agrees with parseCertificate (hand-built vectors)', () => {
  for (const vector of handBuiltVectors()) {
    test(vector.name, async () => {
      const ours = parseCertificate(vector.der);
      assert.equal(ours.subject, vector.subject);
      if (vector.openssl?.subject === null) {
        await assert.rejects(openssl(vector.der), /Could not read certificate/);
        return;
      }
      const theirs = await openssl(vector.der);
      assert.equal(theirs.subject, vector.openssl?.subject ?? ours.subject);
      assert.equal(theirs.issuer, ours.issuer);
      assert.equal(theirs.serial, ours.serialNumber);
    });
  }
});

describe('openssl x509 agrees with parseCertificate (seeded random ASCII and UTF-8 values)', () => {
  // Values of 2 to 12 characters (so never exactly "#") over all of ASCII, controls included,
  // with the RFC 4514 specials made frequent; plus some UTF-8 outside the log-unsafe ranges.
  const specials = ' #"+,;<>\\=';
  const values: string[] = [];
  for (let seed = 1; seed <= 120; seed++) {
    const bytes = seededBytes(seed, 13);
    const length = 2 + (bytes[0]! % 11);
    let value = '';
    for (let i = 1; i <= length; i++) {
      const b = bytes[i]!;
      value += b % 3 === 0 ? specials[b % specials.length]! : seed % 4 === 0 && b % 5 === 0 ? ['é', '日', '🔐'][b % 3]! : String.fromCharCode(b & 0x7f);
    }
    values.push(value);
  }
  for (let batch = 0; batch < values.length; batch += 40) {
    const chunk = values.slice(batch, batch + 40);
    test(`values ${batch + 1} to ${batch + 40}`, async () => {
      const der = handBuiltCertificate({ subject: nameDer(chunk.map((value) => [[[0x55, 0x04, 0x0b], tlv(0x0c, Buffer.from(value, 'utf8'))] as const])) });
      const ours = parseCertificate(der);
      assert.deepEqual(ours.subjectAttributes.map((rdn) => rdn[0]!.value), chunk);
      const theirs = await openssl(der);
      assert.equal(theirs.subject, ours.subject);
    });
  }
});
