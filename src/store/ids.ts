/**
 * Ids (subjects, bucket ids, request and session ids) are opaque text from the gateway.
 * base64url maps them onto [A-Za-z0-9_-], so `{`, `}`, `:`, `|`, `#` and `.` stay free as
 * separators in keys and fields, and two different ids never encode alike.
 */
export function encodeId(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}
