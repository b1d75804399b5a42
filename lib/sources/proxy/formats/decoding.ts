/**
 * Strict decoders of the encodings proxies use for certificates: percent-encoding, base64, PEM and
 * RFC 8941 byte sequences. Each refuses anything its specification does not allow (with a
 * {@link ProxyHeaderError}), so a lenient decoder can never give two readings of one header.
 */
import { ProxyHeaderError } from './format.js';
import { checkChainLength } from '../limits.js';

const HEX_DIGIT = /^[0-9A-Fa-f]$/;

/**
 * Strict percent-decoding (RFC 3986 section 2.1) to a byte string. `+` stays a plus: nginx's
 * `$ssl_client_escaped_cert`, Envoy and AWS ALB encode URI components, not forms. Only ASCII
 * results are accepted, since every format percent-encodes PEM.
 */
export function percentDecode(value: string): string {
  if (!value.includes('%')) {
    assertAscii(value);
    return value;
  }
  let out = '';
  let start = 0;
  for (let i = value.indexOf('%'); i !== -1; i = value.indexOf('%', start)) {
    const high = value[i + 1];
    const low = value[i + 2];
    if (high === undefined || low === undefined || !HEX_DIGIT.test(high) || !HEX_DIGIT.test(low)) {
      throw new ProxyHeaderError('HEADER_INVALID', 'invalid percent-encoding');
    }
    out += value.slice(start, i) + String.fromCharCode(parseInt(high + low, 16));
    start = i + 3;
  }
  out += value.slice(start);
  assertAscii(out);
  return out;
}

function assertAscii(text: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[^\x09\x0A\x0D\x20-\x7E]/.test(text)) {
    throw new ProxyHeaderError('HEADER_INVALID', 'forwarded certificate text is not ASCII');
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Strict base64 (RFC 4648 section 4) to bytes: only the base64 alphabet, padding optional (RFC 8941
 * section 3.3.5 asks parsers to accept missing padding), no whitespace, not empty.
 */
export function decodeBase64(text: string): Uint8Array {
  if (text.length === 0 || !BASE64.test(text)) {
    throw new ProxyHeaderError('HEADER_INVALID', 'invalid base64');
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/**
 * Every certificate of a PEM text, in order (leaf first). Anything but whitespace outside the
 * `CERTIFICATE` blocks is refused, and so is a chain longer than `maxChainLength`.
 */
export function pemCertificates(text: string, maxChainLength: number): Uint8Array[] {
  // Count first: it bounds the regular expression's work on hostile input to the chain limit.
  checkChainLength(text.split('-----BEGIN').length - 1, maxChainLength);
  const certificates: Uint8Array[] = [];
  let end = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (text.slice(end, match.index).trim() !== '') {
      throw new ProxyHeaderError('HEADER_INVALID', 'unexpected text around PEM certificates');
    }
    checkChainLength(certificates.length + 1, maxChainLength);
    certificates.push(decodeBase64(match[1]!.replace(/\s+/g, '')));
    end = match.index + match[0].length;
  }
  if (certificates.length === 0 || text.slice(end).trim() !== '') {
    throw new ProxyHeaderError('HEADER_INVALID', 'not a PEM certificate');
  }
  return certificates;
}

/** Percent-encoded PEM (nginx, Envoy `Cert`, AWS ALB) to the DER of each certificate. */
export function percentEncodedPemCertificates(value: string, maxChainLength: number): Uint8Array[] {
  return pemCertificates(percentDecode(value), maxChainLength);
}

// RFC 8941 section 3.1.2: parameters after an item. RFC 9440 defines none, so they are skipped;
// quoted-string parameter values are refused, which keeps list members free of commas.
const SF_PARAMETERS = /(?:;[ ]*[a-z*][a-z0-9_\-.*]*(?:=[^;,"\s]*)?)*/;
const SF_BYTE_SEQUENCE = new RegExp(`^:([A-Za-z0-9+/=]*):(${SF_PARAMETERS.source})$`);

/** An RFC 8941 section 3.3.5 Byte Sequence item (`:base64:`, parameters ignored) to bytes. */
export function decodeSfByteSequence(text: string): Uint8Array {
  const match = SF_BYTE_SEQUENCE.exec(text.trim());
  if (match === null) {
    throw new ProxyHeaderError('HEADER_INVALID', 'not a structured-field byte sequence');
  }
  return decodeBase64(match[1]!);
}

/**
 * An RFC 8941 section 3.1 List of Byte Sequences (RFC 9440 `Client-Cert-Chain`) to bytes, refusing
 * more than `maxChainLength` members.
 */
export function decodeSfByteSequenceList(text: string, maxChainLength: number): Uint8Array[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  // Neither byte sequences nor the parameters accepted here contain commas, so splitting is exact;
  // each member is then checked in full.
  const members = trimmed.split(',');
  checkChainLength(members.length, maxChainLength);
  return members.map((member) => decodeSfByteSequence(member));
}
