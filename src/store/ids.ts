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
 * encodeId with a memo for one script call: a call names its subject in every key (27
 * times for six buckets) and each bucket id in four, and Buffer round trips add up on the
 * hot path. Short-lived, so it never grows beyond one call's ids.
 */
export function encodeOnce(): (id: string) => string {
  const seen = new Map<string, string>();
  return (id) => {
    let encoded = seen.get(id);
    if (encoded === undefined) seen.set(id, (encoded = encodeId(id)));
    return encoded;
  };
}
