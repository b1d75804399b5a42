import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatHandshakeFailure, verifyOf, type TlsHandshakeFailure } from '../../lib/handshake/log-line.js';
import { TRUNCATION_MARKER } from '../../lib/internal/log-safe.js';

const time = new Date('2026-11-27T07:50:01.123Z');

test('text line: combined-style prefix, then key=value pairs', () => {
  const failure: TlsHandshakeFailure = {
    time,
    remoteAddress: '127.0.0.1',
    remotePort: 51234,
    outcome: 'rejected',
    reason: 'CERT_HAS_EXPIRED',
    errorCode: 'ECONNRESET',
  };
  assert.equal(
    formatHandshakeFailure(failure, 'text'),
    '127.0.0.1 - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed" outcome=rejected reason=CERT_HAS_EXPIRED' +
      ' verify=FAILED:CERT_HAS_EXPIRED tls_version=- remote_port=51234 error_code=ECONNRESET',
  );
});

test('JSON line: mtls-json key names, absent values left out', () => {
  assert.equal(
    formatHandshakeFailure(
      { time, remoteAddress: '::1', remotePort: 443, outcome: 'rejected', reason: 'CERT_MISSING', tlsVersion: 'TLSv1.3', errorCode: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' },
      'json',
    ),
    '{"time":"2026-11-27T07:50:01.123Z","event":"tls_handshake_failed","remote_addr":"::1","remote_port":443,' +
      '"outcome":"rejected","reason":"CERT_MISSING","peer_cert_verify":"NONE","tls_version":"TLSv1.3",' +
      '"error_code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"}',
  );
  assert.equal(
    formatHandshakeFailure({ time, outcome: 'failed', reason: 'connection_closed' }, 'json'),
    '{"time":"2026-11-27T07:50:01.123Z","event":"tls_handshake_failed","outcome":"failed","reason":"connection_closed"}',
  );
  assert.equal(
    formatHandshakeFailure({ time, outcome: 'failed', reason: 'connection_closed' }, 'text'),
    '- - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed" outcome=failed reason=connection_closed verify=- tls_version=- remote_port=- error_code=-',
  );
});

test('verify vocabulary follows the access lines', () => {
  assert.equal(verifyOf({ outcome: 'rejected', reason: 'CERT_MISSING' }), 'NONE');
  assert.equal(verifyOf({ outcome: 'rejected', reason: 'INVALID_PURPOSE' }), 'FAILED:INVALID_PURPOSE');
  assert.equal(verifyOf({ outcome: 'failed', reason: 'timeout' }), undefined);
});

test('hostile values cannot forge a line or a field', () => {
  const hostile: TlsHandshakeFailure = {
    time,
    remoteAddress: '1.2.3.4 - - [x] "GET /" 200\n5.6.7.8',
    outcome: 'rejected',
    reason: 'X" outcome=success\r\nY',
    errorCode: 'E\u2028\u202e\\',
    tlsVersion: 'v\u0000',
    remotePort: Number.NaN,
  };
  assert.equal(
    formatHandshakeFailure(hostile, 'text'),
    '1.2.3.4\\20-\\20-\\20[x]\\20\\22GET\\20/\\22\\20200\\0A5.6.7.8 - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed"' +
      ' outcome=rejected reason=X\\22\\20outcome=success\\0D\\0AY verify=FAILED:X\\22\\20outcome=success\\0D\\0AY' +
      ' tls_version=v\\00 remote_port=- error_code=E\\E2\\80\\A8\\E2\\80\\AE\\5C',
  );
  const json = formatHandshakeFailure(hostile, 'json');
  assert.ok(!/[\n\r\u2028\u202e]/.test(json));
  assert.equal((JSON.parse(json) as { error_code: string }).error_code, 'E\u2028\u202e\\');
});

test('invisible characters are escaped in both forms: soft hyphen, ALM, word joiner and invisible operators, interlinear annotations, tag characters', () => {
  const failure: TlsHandshakeFailure = {
    time,
    outcome: 'failed',
    reason: '_OTHER',
    errorCode: 'E\u00ad\u061c\u2060\u2064\ufff9\ufffb\u{e0041}\u3164\u00a0é',
  };
  assert.equal(
    formatHandshakeFailure(failure, 'text'),
    '- - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed" outcome=failed reason=_OTHER verify=- tls_version=- remote_port=-' +
      ' error_code=E\\C2\\AD\\D8\\9C\\E2\\81\\A0\\E2\\81\\A4\\EF\\BF\\B9\\EF\\BF\\BB\\F3\\A0\\81\\81\\E3\\85\\A4\\C2\\A0é',
  );
  const json = formatHandshakeFailure(failure, 'json');
  assert.equal(
    json,
    '{"time":"2026-11-27T07:50:01.123Z","event":"tls_handshake_failed","outcome":"failed","reason":"_OTHER",' +
      '"error_code":"E\\u00ad\\u061c\\u2060\\u2064\\ufff9\\ufffb\\udb40\\udc41\\u3164\u00a0é"}',
  );
  assert.equal((JSON.parse(json) as { error_code: string }).error_code, failure.errorCode);
});

test('every field is cut to 1,024 characters with the marker, never inside an escape', () => {
  const failure: TlsHandshakeFailure = {
    time,
    remoteAddress: 'a'.repeat(2000),
    outcome: 'rejected',
    reason: 'R'.repeat(5000),
    // Text: `\0A` escapes, 341 of them are 1,023 characters, a 342nd would pass 1,024. JSON: the
    // value is what is bounded (1,024 line feeds, each written `\n`).
    errorCode: '\n'.repeat(2000),
  };
  const text = formatHandshakeFailure(failure, 'text');
  assert.equal(
    text,
    `${'a'.repeat(1024)}${TRUNCATION_MARKER} - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed" outcome=rejected` +
      ` reason=${'R'.repeat(1024)}${TRUNCATION_MARKER} verify=FAILED:${'R'.repeat(1017)}${TRUNCATION_MARKER}` +
      ` tls_version=- remote_port=- error_code=${'\\0A'.repeat(341)}${TRUNCATION_MARKER}`,
  );
  assert.equal(text.length, 4_280);
  const record = JSON.parse(formatHandshakeFailure(failure, 'json')) as Record<string, string>;
  assert.equal(record.remote_addr, `${'a'.repeat(1024)}${TRUNCATION_MARKER}`);
  assert.equal(record.reason, `${'R'.repeat(1024)}${TRUNCATION_MARKER}`);
  assert.equal(record.peer_cert_verify, `FAILED:${'R'.repeat(1017)}${TRUNCATION_MARKER}`);
  assert.equal(record.error_code, `${'\n'.repeat(1024)}${TRUNCATION_MARKER}`);
});

test('property: any field values give exactly one line of the fixed shape (text) and one parseable object (JSON)', () => {
  const shape = /^\S+ - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "TLS handshake failed" outcome=\S+ reason=\S+ verify=\S+ tls_version=\S+ remote_port=\S+ error_code=\S+$/;
  fc.assert(
    fc.property(
      fc.record({
        remoteAddress: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        reason: fc.string({ unit: 'binary' }),
        errorCode: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        tlsVersion: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        outcome: fc.constantFrom('rejected' as const, 'failed' as const),
      }),
      (fields) => {
        const failure = { time, ...fields } as TlsHandshakeFailure;
        const text = formatHandshakeFailure(failure, 'text');
        assert.match(text, shape);
        assert.equal(text.split('"').length, 3);
        const json = formatHandshakeFailure(failure, 'json');
        // eslint-disable-next-line no-control-regex -- the assertion is that no raw control character reaches the line
        assert.ok(!/[\u0000-\u001f\u2028\u2029]/.test(json));
        const parsed = JSON.parse(json) as Record<string, unknown>;
        assert.equal(parsed.reason, fields.reason);
      },
    ),
  );
});
