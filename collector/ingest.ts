import { decodeExportRequest } from "../shared/otlp/codec/decode.ts";
import { encodeExportRequestFromJson, encodeExportRequestJsonBody } from "../shared/otlp/codec/encode.ts";
import { MESSAGE_PLANS } from "../shared/otlp/codec/plan.ts";
import { SIGNALS, type Signal } from "../shared/otlp/signals.ts";
import { type ItemCheck, itemRefusal, transcodeExportRequest } from "./otlp/transcode.ts";
import { refusalMessage, type SpanRefusalReason } from "./span-times.ts";

/**
 * Turns a request body into what the spool stores, the same way for both
 * receivers and every signal: the protobuf request (kept as received when
 * nothing is refused) and, for otlp_json objects, its OTLP/JSON text
 * (transcoded once here, so a batch is marshalled by joining). OTLP/JSON
 * bodies are converted to protobuf first, so objects look the same whichever
 * encoding the client used (64-bit integers as strings, enums as numbers,
 * lowercase hex ids). Log and metric requests take the same path through the
 * table-driven codec (shared/otlp/codec).
 *
 * The acceptance contract: every item (span, log record, data point)
 * acknowledged is stored, or refused here with a reason reported through
 * OTLP partial success and counted (spans with missing/zero ids, and what
 * `checkItem` - the collector's checkItemTimes - refuses). Throws
 * OtlpDecodeError for bodies that are not a valid request.
 */

export type BodyFormat = "protobuf" | "json";

export interface IngestedRequest {
  /** Protobuf export request to spool. */
  payload: Uint8Array;
  /** Its top-level objects (ResourceSpans, ...) as comma-separated OTLP/JSON (only when `json` was asked for). */
  json: Buffer | null;
  /** Items kept: spans, log records or data points. */
  spans: number;
  /** Items refused (partial success). */
  rejectedSpans: number;
  /** rejectedSpans by reason. */
  refused: Partial<Record<SpanRefusalReason, number>>;
  rejectionMessage: string;
}

export function ingestBody(
  body: Uint8Array,
  format: BodyFormat,
  options: { json: boolean; checkItem?: ItemCheck },
  signal: Signal = SIGNALS.traces,
): IngestedRequest {
  // A zero-length body is the empty request in both encodings (protobuf's empty
  // message is zero bytes; OTLP/JSON clients send nothing or `{}`).
  let payload: Uint8Array;
  if (format === "protobuf") payload = body;
  else if (isBlank(body)) payload = new Uint8Array(0);
  else payload = encodeExportRequestJsonBody(body, signal);
  const transcoded = transcodeExportRequest(payload, signal, {
    validateOnly: !options.json,
    checkItem: options.checkItem,
  });
  if (transcoded.invalidItems === 0) {
    return {
      payload,
      json: options.json ? transcoded.json : null,
      spans: transcoded.items,
      rejectedSpans: 0,
      refused: {},
      rejectionMessage: "",
    };
  }
  // Rare: drop the refused items and re-encode what is left.
  const decoded = decodeExportRequest(payload, signal.listName, signal.itemMessage, signal.requestName);
  const kept = {
    [signal.listName]: keepAccepted(decoded[signal.listName] ?? [], signal.itemMessage, options.checkItem),
  };
  const keptPayload = transcoded.items > 0 ? encodeExportRequestFromJson(kept, signal) : new Uint8Array(0);
  const refused = transcoded.refused as Partial<Record<SpanRefusalReason, number>>;
  return {
    payload: keptPayload,
    json: options.json ? transcodeExportRequest(keptPayload, signal).json : null,
    spans: transcoded.items,
    rejectedSpans: transcoded.invalidItems,
    refused,
    rejectionMessage: refusalMessage(refused, signal.itemNoun),
  };
}

function isBlank(body: Uint8Array): boolean {
  for (const byte of body) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  return true;
}

/**
 * The decoded messages of one list with every refused item left out, walking
 * the codec's table (resource -> scope -> items; metric -> data points);
 * containers left without items are left out too.
 */
function keepAccepted(
  list: readonly unknown[],
  messageName: string,
  checkItem: ItemCheck | undefined,
): unknown[] {
  const plan = MESSAGE_PLANS.get(messageName);
  if (!plan) return [...list];
  if (plan.item)
    return list.filter(
      (item) => itemRefusal(item as Record<string, unknown>, messageName, checkItem) === null,
    );
  const kept: unknown[] = [];
  for (const value of list) {
    const record = { ...(value as Record<string, unknown>) };
    let holdsItems = false;
    let emptied = false;
    for (const field of plan.fields) {
      if (field.kind !== "message") continue;
      const child = record[field.name];
      if (Array.isArray(child)) {
        const children = keepAccepted(child, field.type, checkItem);
        record[field.name] = children;
        if (children.length > 0) holdsItems = true;
        else if (child.length > 0) emptied = true;
      } else if (
        child !== undefined &&
        child !== null &&
        field.type !== "Resource" &&
        field.type !== "InstrumentationScope"
      ) {
        // A metric holds its data points one level down (gauge, sum, ...).
        const [inner] = keepAccepted([child], field.type, checkItem);
        if (inner === undefined) emptied = true;
        else {
          record[field.name] = inner;
          holdsItems = true;
        }
      }
    }
    if (holdsItems || !emptied) kept.push(record);
  }
  return kept;
}
