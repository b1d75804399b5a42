/**
 * IP address text, both ways: rendering an iPAddress subject alternative name (RFC 5280 section
 * 4.2.1.6: 4 octets for IPv4, 16 for IPv6, network byte order) in RFC 5952 form, and parsing the
 * text a socket reports or a trusted-proxy list holds into bytes. One module, so the certificate
 * and the proxy trust check agree on what an address is.
 */

/** The first 12 bytes of an IPv4-mapped IPv6 address, `::ffff:0:0/96` (RFC 4291 section 2.5.5.2). */
export const IPV4_MAPPED_PREFIX: readonly number[] = Object.freeze([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

const HEX = '0123456789abcdef';
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;

/**
 * An address's text is written here as ASCII codes and read back in one piece: the strings are
 * kept in the certificate, and one read gives one flat string where `+` leaves a rope of its
 * pieces, without building a string per piece as `join` needs. The longest text, eight full
 * groups, has 39 characters.
 */
const out = Buffer.alloc(39);
const MAPPED_TEXT = Buffer.from('::ffff:', 'latin1');

function writeDecimal(at: number, value: number): number {
  if (value >= 100) out[at++] = ZERO + Math.floor(value / 100);
  if (value >= 10) out[at++] = ZERO + (Math.floor(value / 10) % 10);
  out[at++] = ZERO + (value % 10);
  return at;
}

function writeIpv4(at: number, bytes: Uint8Array, from: number): number {
  at = writeDecimal(at, bytes[from]!);
  out[at++] = DOT;
  at = writeDecimal(at, bytes[from + 1]!);
  out[at++] = DOT;
  at = writeDecimal(at, bytes[from + 2]!);
  out[at++] = DOT;
  return writeDecimal(at, bytes[from + 3]!);
}

function writeGroup(at: number, value: number): number {
  // RFC 5952 section 4.1/4.3: no leading zeros, lowercase.
  if (value >= 0x1000) out[at++] = HEX.charCodeAt(value >> 12);
  if (value >= 0x100) out[at++] = HEX.charCodeAt((value >> 8) & 15);
  if (value >= 0x10) out[at++] = HEX.charCodeAt((value >> 4) & 15);
  out[at++] = HEX.charCodeAt(value & 15);
  return at;
}

/** Writes 16 octets from the start of `out`; returns where the text ends. */
function writeIpv6(bytes: Uint8Array): number {
  let zeros = 0;
  while (zeros < 10 && bytes[zeros] === 0) zeros++;
  if (zeros === 10 && bytes[10] === 0xff && bytes[11] === 0xff) {
    out.set(MAPPED_TEXT);
    return writeIpv4(MAPPED_TEXT.length, bytes, 12);
  }
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 section 4.2.2: a single zero group is not compressed
  for (let group = 0; group < 8; ) {
    if ((bytes[2 * group]! | bytes[2 * group + 1]!) !== 0) {
      group++;
      continue;
    }
    let end = group + 1;
    while (end < 8 && (bytes[2 * end]! | bytes[2 * end + 1]!) === 0) end++;
    // Strictly longer: on a tie the first run is compressed (RFC 5952 section 4.2.3).
    if (end - group > bestLength) {
      bestStart = group;
      bestLength = end - group;
    }
    group = end;
  }
  const afterRun = bestStart + bestLength;
  let at = 0;
  for (let group = 0; group < 8; group++) {
    if (group === bestStart) {
      out[at++] = COLON;
      out[at++] = COLON;
      group = afterRun - 1;
      continue;
    }
    if (group > 0 && group !== afterRun) out[at++] = COLON;
    at = writeGroup(at, (bytes[2 * group]! << 8) | bytes[2 * group + 1]!);
  }
  return at;
}

/**
 * Formats 4 or 16 address octets: IPv4 dotted decimal, IPv6 in RFC 5952 canonical form
 * (lowercase, longest run of two or more zero groups compressed, the first on a tie) and
 * IPv4-mapped addresses (`::ffff:0:0/96`) in the mixed notation of RFC 5952 section 5,
 * e.g. `::ffff:192.0.2.1`. Returns `undefined` for any other length.
 */
export function formatIpAddress(bytes: Uint8Array): string | undefined {
  let end: number;
  if (bytes.length === 4) end = writeIpv4(0, bytes, 0);
  else if (bytes.length === 16) end = writeIpv6(bytes);
  else return undefined;
  return out.toString('latin1', 0, end);
}

const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function parseIpv4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    // No leading zeros: `010` is octal to inet_aton and decimal elsewhere; refuse the ambiguity.
    if (!IPV4_PART.test(part)) return false;
    const value = Number(part);
    if (value > 255) return false;
    out[offset + i] = value;
  }
  return true;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const out = new Uint8Array(16);
  // An embedded IPv4 address may only end the address (RFC 4291 section 2.2, form 3); it fills
  // the last four bytes and leaves six groups for the rest.
  const last = halves.length === 2 ? tail : head;
  let groupCount = 8;
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    if (!parseIpv4Into(last.pop()!, out, 12)) return undefined;
    groupCount = 6;
  }
  if (halves.length === 1 ? head.length !== groupCount : head.length + tail.length > groupCount - 1) return undefined;
  const groups = [...head, ...new Array<string>(groupCount - head.length - tail.length).fill('0'), ...tail];
  for (let i = 0; i < groupCount; i++) {
    const group = groups[i]!;
    if (!IPV6_GROUP.test(group)) return undefined;
    const value = parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  }
  return out;
}

/**
 * Parses an IPv4 or IPv6 address into its 16-byte form, IPv4 as IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`), so both families compare byte by byte. A zone index (`fe80::1%eth0`) is
 * dropped: zones only scope link-local addresses to an interface, and callers that care read it
 * from the text. IPv4 parts with leading zeros are refused. Returns `undefined` for anything else.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  if (!text.includes(':')) {
    const out = new Uint8Array(16);
    out.set(IPV4_MAPPED_PREFIX, 0);
    return parseIpv4Into(text, out, 12) ? out : undefined;
  }
  const zone = text.indexOf('%');
  return parseIpv6(zone === -1 ? text : text.slice(0, zone));
}
