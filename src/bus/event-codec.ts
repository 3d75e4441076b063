import { MAX_EVENT_BYTES, type BusEvent } from './bus';

/**
 * Events travel as JSON text, in-process too: every handler then gets a
 * fresh copy, and an event that would not survive the trip between nodes
 * fails on the first node already.
 */

/**
 * The JSON text of `event`. Throws a TypeError if it is not a JSON object
 * (or cannot be serialised), a RangeError if its JSON is larger than
 * MAX_EVENT_BYTES.
 */
export function encodeEvent(topic: string, event: BusEvent): string {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new TypeError(`a bus event must be a JSON object (topic ${topic})`);
  }
  let json: string;
  try {
    json = JSON.stringify(event);
  } catch (err) {
    throw new TypeError(`the bus event for topic ${topic} is not JSON-serialisable: ${(err as Error).message}`);
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_EVENT_BYTES) {
    throw new RangeError(
      `the bus event for topic ${topic} is ${bytes} bytes of JSON, more than ${MAX_EVENT_BYTES}: send a notice and let the node read the store`,
    );
  }
  return json;
}

/** The event in `json`; throws if it is not the JSON text of an object (another program may publish on the bus). */
export function decodeEvent(json: string): BusEvent {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`a bus event is not a JSON object: ${json.slice(0, 80)}`);
  }
  return value as BusEvent;
}
