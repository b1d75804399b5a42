/**
 * Text form of an iPAddress subject alternative name (RFC 5280 section 4.2.1.6: 4 octets for
 * IPv4, 16 for IPv6, network byte order).
 */

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
