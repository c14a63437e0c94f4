import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of `<timestamp>.<raw body>`, as `sha256=<hex>`. */
export const SIGNATURE_HEADER = 'X-Platform-Signature';
/** Unix seconds when the delivery was signed; part of the signed content, so an old body cannot be replayed later. */
export const TIMESTAMP_HEADER = 'X-Platform-Timestamp';
/** The notification's id: the same on every retry of one notification, for receivers to deduplicate. */
export const DELIVERY_HEADER = 'X-Platform-Delivery';

/** A new webhook secret: 256 random bits. Shown once; stored sealed. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

export interface VerifyInput {
  secret: string;
  /** The raw body, exactly as received. */
  body: string;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  /** How old a delivery may be, in seconds (default 300). */
  toleranceSeconds?: number;
  nowMs?: number;
}

/**
 * What a receiver does with a delivery: recompute the signature over the timestamp and the raw
 * body, compare in constant time, and refuse a timestamp outside the tolerance (a replay).
 */
export function verifyWebhookSignature(input: VerifyInput): boolean {
  const { secret, body, timestamp, signature, toleranceSeconds = 300, nowMs = Date.now() } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
