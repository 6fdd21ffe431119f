import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ToolContext } from "../agent/tools/types.ts";
import { RootCauseRankings } from "./incidents.ts";

const NOW_MS = Date.UTC(2026, 11, 4, 12, 0, 0);
const ctx = { now: () => new Date(NOW_MS) } as unknown as ToolContext;

/** A ranking function that records what it ranked and how many ran at once. */
function countingRank(fail: (at: string) => boolean = () => false) {
  const calls: string[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const rank = async (params: URLSearchParams) => {
    const at = params.get("at")!;
    calls.push(at);
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    await sleep(5);
    running--;
    if (fail(at)) throw new Error(`ranking ${at} failed`);
    return { at };
  };
  return { calls, rank, mostAtOnce: () => mostAtOnce };
}

const incidentsAt = (...minutesAgo: number[]) => minutesAgo.map((m) => ({ startMs: NOW_MS - m * 60_000 }));

describe("RootCauseRankings", () => {
  it("ranks the newest three listed incidents in the background, one at a time; opening one reads memory", async () => {
    const ranker = countingRank();
    const rankings = new RootCauseRankings(ctx, () => undefined, ranker.rank);
    const listed = incidentsAt(20, 45, 90, 120, 200);
    rankings.prepare(listed);
    await sleep(50);
    expect(ranker.calls).toEqual(listed.slice(0, 3).map((i) => String(i.startMs)));
    expect(ranker.mostAtOnce()).toBe(1);
    const opened = await rankings.get(new URLSearchParams({ at: String(listed[1]!.startMs) }));
    expect(opened).toEqual({ at: String(listed[1]!.startMs) });
    expect(ranker.calls).toHaveLength(3);
    await rankings.get(new URLSearchParams({ at: String(listed[3]!.startMs) }));
    expect(ranker.calls).toHaveLength(4);
  });

  it("reports a failed background ranking and ranks again when the incident is opened", async () => {
    let failing = true;
    const ranker = countingRank(() => failing);
    const errors: string[] = [];
    const rankings = new RootCauseRankings(ctx, (e) => errors.push(String(e)), ranker.rank);
    const [incident] = incidentsAt(30);
    rankings.prepare([incident!]);
    await sleep(50);
    expect(errors).toEqual([`Error: ranking ${incident!.startMs} failed`]);
    failing = false;
    await expect(rankings.get(new URLSearchParams({ at: String(incident!.startMs) }))).resolves.toEqual({
      at: String(incident!.startMs),
    });
    expect(ranker.calls).toHaveLength(2);
  });
});
