/**
 * IP address text, both ways: rendering an iPAddress subject alternative name (RFC 5280 section
 * 4.2.1.6: 4 octets for IPv4, 16 for IPv6, network byte order) in RFC 5952 form, and parsing the
 * text a socket reports or a trusted-proxy list holds into bytes. One module, so the certificate
 * and the proxy trust check agree on what an address is.
 */

/** The first 12 bytes of an IPv4-mapped IPv6 address, `::ffff:0:0/96` (RFC 4291 section 2.5.5.2). */
export const IPV4_MAPPED_PREFIX: readonly number[] = Object.freeze([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

const HEX = '0123456789abcdef';

function hexGroup(value: number): string {
  // RFC 5952 section 4.1/4.3: no leading zeros, lowercase.
  if (value < 0x10) return HEX[value]!;
  if (value < 0x100) return HEX[value >> 4]! + HEX[value & 15]!;
  if (value < 0x1000) return HEX[value >> 8]! + HEX[(value >> 4) & 15]! + HEX[value & 15]!;
  return HEX[value >> 12]! + HEX[(value >> 8) & 15]! + HEX[(value >> 4) & 15]! + HEX[value & 15]!;
}

/**
 * Formats 4 or 16 address octets: IPv4 dotted decimal, IPv6 in RFC 5952 canonical form
 * (lowercase, longest run of two or more zero groups compressed, the first on a tie) and
 * IPv4-mapped addresses (`::ffff:0:0/96`) in the mixed notation of RFC 5952 section 5,
 * e.g. `::ffff:192.0.2.1`. Returns `undefined` for any other length.
 */
export function formatIpAddress(bytes: Uint8Array): string | undefined {
  // Joined rather than concatenated: the strings are kept in the certificate, and join makes
  // one flat string where `+` leaves a rope of its pieces.
  if (bytes.length === 4) return [bytes[0], bytes[1], bytes[2], bytes[3]].join('.');
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 &&
    groups[4] === 0 && groups[5] === 0xffff
  ) {
    return ['::ffff:', bytes[12], '.', bytes[13], '.', bytes[14], '.', bytes[15]].join('');
  }
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 section 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map(hexGroup).join(':');
  const head = groups.slice(0, bestStart).map(hexGroup).join(':');
  const tail = groups.slice(bestStart + bestLength).map(hexGroup).join(':');
  return [head, tail].join('::');
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
