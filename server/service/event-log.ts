/**
 * Every exchange becomes a structured event with clock time, device, direction and a
 * one-line summary: the timeline a lab shows and the record a test asserts on.
 */
import type { Clock } from '../../protocol/clock';
import type { EventQuery, EventRecord, Storage } from '../storage/types';

/** Who speaks in the timeline. */
/**
 * Parties of an exchange. `posture` (a posture-sync integration, a client of the API) and
 * `tailnet` (the network it writes attributes to) appear only in labs that run one.
 */
export type Participant = 'device' | 'mdm' | 'apns' | 'agent' | 'operator' | 'policy' | 'clock' | 'posture' | 'tailnet';

export interface EventInput {
  type: string;
  udid?: string;
  from: Participant;
  to: Participant;
  summary: string;
  data?: Record<string, unknown>;
}

export interface EventJson {
  id: number;
  time: string;
  type: string;
  udid?: string;
  from: string;
  to: string;
  /** Relative to the MDM server: a device request is inbound, its answer outbound. */
  direction: 'inbound' | 'outbound' | 'internal';
  summary: string;
  data?: Record<string, unknown>;
}

export type EventListener = (event: EventRecord) => void;

export class EventLog {
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly store: Storage,
    private readonly clock: Clock,
  ) {}

  record(input: EventInput): EventRecord {
    const event = this.store.appendEvent({ at: this.clock.now(), type: input.type, udid: input.udid, from: input.from, to: input.to, summary: input.summary, data: input.data });
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber (a closed socket) must never break the exchange it watches.
      }
    }
    return event;
  }

  query(query: EventQuery): EventRecord[] {
    return this.store.queryEvents(query);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function eventToJson(e: EventRecord): EventJson {
  const direction = e.to === 'mdm' ? 'inbound' : e.from === 'mdm' ? 'outbound' : 'internal';
  const json: EventJson = { id: e.id, time: new Date(e.at).toISOString(), type: e.type, from: e.from, to: e.to, direction, summary: e.summary };
  if (e.udid !== undefined) json.udid = e.udid;
  if (e.data !== undefined) json.data = e.data;
  return json;
}
