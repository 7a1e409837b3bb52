/**
 * Ids (subjects, bucket ids, request and session ids) are opaque text from the gateway.
 * base64url maps them onto [A-Za-z0-9_-], so `{`, `}`, `:`, `|`, `#` and `.` stay free as
 * separators in keys and fields, and two different ids never encode alike.
 */
export function encodeId(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeId(encoded: string): string {
  return Buffer.from(encoded, 'base64url').toString('utf8');
}

/**
 * encodeId with a memo shared by every call: a decision names its subject in every key and
 * each bucket id in several, the same few thousand ids again and again, and a Buffer round
 * trip per name adds up on the hot path. Request ids pass through it too, so it starts
 * over when it reaches MAX_MEMO ids (a miss only costs one encodeId).
 */
const memo = new Map<string, string>();
const MAX_MEMO = 20_000;

export function encodeKnownId(id: string): string {
  let encoded = memo.get(id);
  if (encoded === undefined) {
    if (memo.size >= MAX_MEMO) memo.clear();
    memo.set(id, (encoded = encodeId(id)));
  }
  return encoded;
}

/** encodeKnownId with the id a call names in every key, its subject, looked up once. */
export function encoderFor(subject: string): (id: string) => string {
  const encoded = encodeKnownId(subject);
  return (id) => (id === subject ? encoded : encodeKnownId(id));
}
