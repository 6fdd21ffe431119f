/**
 * What the acceptance tests (span-acceptance, item-acceptance) share: their
 * requests, and the round trip of one signal: the same mix of items the
 * collector stores and items it refuses, sent over OTLP/JSON and protobuf,
 * both answered with a partial success. Uses vitest's expect, so only test
 * files import it.
 */
import { expect } from "vitest";
import { encodeExportRequestFromJson } from "../../shared/otlp/codec/encode.ts";
import type { Signal } from "../../shared/otlp/signals.ts";
import { decodeExportResponseProto } from "../otlp/response.ts";
import { jsonPartialSuccess, postExport, postJsonExport } from "./collector-harness.ts";

/** One request of `signal` with `items` in one scope of one resource (service "acceptance"). */
export function acceptanceRequest(signal: Signal, items: unknown[]): Record<string, unknown> {
  const resource = { attributes: [{ key: "service.name", value: { stringValue: "acceptance" } }] };
  const scope = { scope: { name: "t" }, [signal.itemListName]: items };
  return { [signal.listName]: [{ resource, [signal.scopeListName]: [scope] }] };
}

/** One request's items: those the collector stores and those it refuses. */
export interface MixedItems<Item> {
  good: Item[];
  refused: Item[];
}

/** What both answers must say: how many items were rejected, and (JSON) the error message. */
export interface ExpectedRefusal {
  rejected: number;
  errorMessage: string;
}

/**
 * Sends a fresh `mixed()` twice, as OTLP/JSON (good items first) and as protobuf (refused items
 * first), and checks that both are answered 200 with the expected partial success. Returns the
 * items of both requests, for checking what was stored.
 */
export async function sendMixedOverJsonAndProto<Item>(
  base: string,
  signal: Signal,
  mixed: () => MixedItems<Item>,
  expected: ExpectedRefusal,
): Promise<{ json: MixedItems<Item>; proto: MixedItems<Item> }> {
  const json = mixed();
  const jsonAnswer = await postJsonExport(
    base,
    signal.name,
    acceptanceRequest(signal, [...json.good, ...json.refused]),
  );
  expect(jsonAnswer.status).toBe(200);
  const jsonPartial = jsonPartialSuccess(jsonAnswer);
  expect(jsonPartial[signal.rejectedField]).toBe(String(expected.rejected));
  expect(jsonPartial.errorMessage).toBe(expected.errorMessage);

  const proto = mixed();
  const protoRequest = encodeExportRequestFromJson(
    acceptanceRequest(signal, [...proto.refused, ...proto.good]),
    signal,
  );
  const protoAnswer = await postExport(base, signal.name, protoRequest);
  expect(protoAnswer.status).toBe(200);
  expect(decodeExportResponseProto(signal, protoAnswer.body)?.rejectedSpans).toBe(expected.rejected);
  return { json, proto };
}
