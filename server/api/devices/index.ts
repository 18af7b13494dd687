/** /api/v1/devices. PLACEHOLDER until the device routes land. */
import express from 'express';
import type { Guard, KandjiApiDeps } from '../context';

export function createDevicesRouter(_deps: KandjiApiDeps, _guard: Guard): express.Router {
  return express.Router({ strict: false });
}
