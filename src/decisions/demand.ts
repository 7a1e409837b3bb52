/** A decision request after validation: money already in µ$. */
export interface DemandInput {
  userId: string;
  keyId: string | null;
  groups: string[];
  model: string;
  estimateMicros: number;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  sessionId: string | null;
  sessionTtlSeconds: number | null;
}
