/** validateRequest's verdict as the wire sees it: null when the request is accepted, else its status and phrase. */
import type { SipRequest } from '../../src/sip/message.js';
import { validateRequest } from '../../src/sip/validate.js';

export function problemOf(req: SipRequest): { status: number; reason: string } | null {
  const v = validateRequest(req);
  return v.ok ? null : { status: v.refusal.status, reason: v.refusal.phrase };
}
