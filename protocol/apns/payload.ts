/** Notification bodies. An MDM push is exactly {"mdm":"<PushMagic>"}. */

export function mdmPayload(pushMagic: string): string {
  return JSON.stringify({ mdm: pushMagic });
}

/** The PushMagic of an MDM push, or undefined if the payload is not one. */
export function pushMagicOf(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const mdm = (payload as { mdm?: unknown }).mdm;
  return typeof mdm === 'string' ? mdm : undefined;
}
