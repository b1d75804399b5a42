import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FORWARDED_CERTIFICATE_REDACT_PATHS } from '../lib/structured-logs.js';
import { FORWARDED_CERTIFICATE_HEADER_NAMES, PROXY_FORMATS } from '../lib/sources/proxy/formats/index.js';

test('the redaction list has every header of every proxy format, each once, in pino path syntax', () => {
  const expected = new Set<string>();
  for (const format of Object.values(PROXY_FORMATS)) {
    for (const name of [...Object.values(format.headers), ...(format.companionHeaders ?? [])]) expected.add(name);
  }
  assert.deepEqual(FORWARDED_CERTIFICATE_HEADER_NAMES, [...expected]);
  assert.deepEqual(
    FORWARDED_CERTIFICATE_REDACT_PATHS,
    [...expected].map((name) => `req.headers["${name}"]`),
  );
  for (const name of ['x-forwarded-client-cert', 'x-ssl-client-cert', 'x-amzn-mtls-clientcert', 'client-cert', 'client-cert-chain']) {
    assert.ok(FORWARDED_CERTIFICATE_HEADER_NAMES.includes(name), name);
  }
  assert.equal(Object.isFrozen(FORWARDED_CERTIFICATE_REDACT_PATHS), true);
});

test('pino\'s real redact accepts the list and removes every forwarded-certificate header from req.headers', () => {
  const lines: string[] = [];
  const logger = pino(
    { redact: [...FORWARDED_CERTIFICATE_REDACT_PATHS], base: undefined, timestamp: false },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8').trimEnd());
        callback();
      },
    }),
  );
  const headers: Record<string, string> = { host: 'app', 'user-agent': 'curl' };
  for (const name of FORWARDED_CERTIFICATE_HEADER_NAMES) headers[name] = '-----BEGIN CERTIFICATE-----MIIB...';
  logger.info({ req: { method: 'GET', headers } }, 'x');
  const record = JSON.parse(lines[0]!) as { req: { headers: Record<string, string> } };
  const expectedHeaders: Record<string, string> = { host: 'app', 'user-agent': 'curl' };
  for (const name of FORWARDED_CERTIFICATE_HEADER_NAMES) expectedHeaders[name] = '[Redacted]';
  assert.deepEqual(record.req.headers, expectedHeaders);
  assert.equal(lines[0]!.includes('BEGIN CERTIFICATE'), false);
});
