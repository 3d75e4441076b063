import { createHash } from 'node:crypto';

/** SHA-256 of `data` as 64 lower-case hex digits, the form the Files service uses. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
