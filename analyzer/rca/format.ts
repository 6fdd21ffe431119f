import type { RootCauseReport } from "./rank.ts";

/** Telemetry text is data: controls removed and long values cut before it reaches a terminal or a prompt. */
function safe(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, " ");
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The ranking as text: one block per service with its strongest evidence; says what was cut. */
export function formatRootCauses(report: RootCauseReport, top = 5, evidencePerService = 3): string {
  const { window } = report;
  const iso = (ms: number) => new Date(ms).toISOString();
  const lines = [
    `Root-cause ranking for ${iso(window.atMs)}: window ${window.windowMs / 60_000} min after, baseline ${window.baselineMs / 60_000} min before; evidence: ${report.signals.join(", ")}`,
  ];
  const ranked = report.ranked.filter((r) => r.score > 0);
  if (ranked.length === 0) {
    lines.push("No service changed against its baseline (no data in the window, or nothing moved).");
    return lines.join("\n");
  }
  ranked.slice(0, top).forEach((r, i) => {
    const via = r.explains.length
      ? `; explains the change of its callers ${r.explains.slice(0, 5).join(", ")}`
      : "";
    lines.push(`${i + 1}. ${safe(r.service, 80)}  score ${r.score.toFixed(1)}${via}`);
    for (const e of r.evidence.slice(0, evidencePerService))
      lines.push(`   - ${e.kind} ${e.score.toFixed(1)}: ${safe(e.subject, 120)} — ${safe(e.detail, 240)}`);
    if (r.evidence.length > evidencePerService)
      lines.push(`   (${r.evidence.length - evidencePerService} more evidence items not shown)`);
  });
  if (ranked.length > top)
    lines.push(`(${ranked.length - top} more services with evidence not shown, ${ranked.length} in all)`);
  return lines.join("\n");
}
