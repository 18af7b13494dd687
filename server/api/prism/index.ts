/** /api/v1/prism. PLACEHOLDER until Prism lands. */
import express from 'express';
import type { Guard, KandjiApiDeps } from '../context';

export function createPrismRouter(_deps: KandjiApiDeps, _guard: Guard): express.Router {
  return express.Router({ strict: false });
}
