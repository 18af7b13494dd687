/**
 * A fleet written straight into a server's storage, through the Storage interface, for suites
 * and benchmarks that exercise the Kandji-compatible API rather than enrollment: each device
 * has what a real one leaves behind (Authenticate, TokenUpdate, an agent that checked in), with
 * dates spread over the past months, deterministically from its index.
 *
 * Mix (by index): every 10th device is an iPhone (no agent: agent_installed null), every 7th
 * Mac never had its agent check in (agent_installed false), the rest are Macs with an agent.
 */
import { createHash } from 'node:crypto';
import modelsFile from '../../fixtures/macs/models.json';
import type { Storage } from '../../server/storage/types';

export interface SeededDevice {
  udid: string;
  serialNumber: string;
  platform: 'macOS' | 'iOS';
  hasAgent: boolean;
}

const DAY = 86_400_000;
const SERIAL_ALPHABET = 'CDFGHJKLMNPQRTVWXY0123456789';

/** Writes `count` devices (indexes from `first`) as of `now`; answers what it wrote. */
export function seedDevices(store: Storage, count: number, now: number, options: { first?: number; topic?: string } = {}): SeededDevice[] {
  const topic = options.topic ?? 'com.apple.mgmt.External.5b2a1a3c-0f4e-4f7e-9a57-2f5d7c9e1b11';
  const out: SeededDevice[] = [];
  for (let i = options.first ?? 0; i < (options.first ?? 0) + count; i++) {
    const h = createHash('sha256').update(`mdmsim-seed-${i}`).digest();
    const udid = uuidOf(h);
    const iphone = i % 10 === 9;
    const hasAgent = !iphone && i % 7 !== 3;
    const model = modelsFile.models[h[0]! % modelsFile.models.length]!;
    const serialNumber = iphone ? `F${serialOf(h, 11)}` : `C02${serialOf(h, 9)}`;
    const enrolledAt = now - (20 + (h.readUInt16BE(2) % 300)) * DAY;
    store.storeAuthenticate(
      {
        id: udid,
        topic,
        serialNumber,
        platform: iphone ? 'iOS' : 'macOS',
        osVersion: iphone ? '17.4.1' : ['14.4.1', '14.5', '13.6.7', '15.0'][h[4]! % 4]!,
        buildVersion: iphone ? '21E236' : '23E224',
        productName: iphone ? 'iPhone15,2' : model.model,
        model: iphone ? 'iPhone15,2' : model.model,
        modelName: iphone ? 'iPhone' : model.modelName,
        deviceName: iphone ? `iPhone ${i}` : `${model.modelName} ${i}`,
      },
      enrolledAt - 60_000,
    );
    store.storeTokenUpdate(udid, { topic, token: h.toString('hex'), pushMagic: uuidOf(Buffer.concat([h.subarray(16), h.subarray(0, 16)])) }, enrolledAt);
    // The last MDM contact within the past day; the agent's within its 15-minute cadence.
    const lastMdm = now - (h.readUInt32BE(6) % DAY);
    store.touch(udid, lastMdm);
    if (hasAgent) store.storeAgentCheckin(udid, { version: '4.5.9 (5160)', kind: 'recurring', installedAt: enrolledAt + 120_000 }, now - (h.readUInt16BE(10) % 900_000));
    out.push({ udid, serialNumber, platform: iphone ? 'iOS' : 'macOS', hasAgent });
  }
  return out;
}

function uuidOf(b: Buffer): string {
  const h = b.toString('hex', 0, 16).toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function serialOf(b: Buffer, length: number): string {
  let s = '';
  for (let k = 0; k < length; k++) s += SERIAL_ALPHABET[b[(k + 12) % b.length]! % SERIAL_ALPHABET.length];
  return s;
}
