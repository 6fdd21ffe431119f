/**
 * The data request each page makes first, built from the page's own query
 * string. The pages request exactly this URL, and the server, which imports
 * the same functions, starts that read when it serves the page itself: the
 * query then runs while the browser loads and starts the script, instead of
 * after it. No browser API in here (the server runs it too).
 */

/** The time range keys; live refresh (`refresh`) never changes what a read returns. */
const RANGE_KEYS = ["last", "from", "to"];

/** The URL of an API read: `/api/<path>` with the query string, if any. */
export function apiUrl(path: string, params: URLSearchParams): string {
  const query = params.toString();
  return `/api/${path}${query ? `?${query}` : ""}`;
}

function rangeOf(params: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams();
  for (const key of RANGE_KEYS) {
    const value = params.get(key);
    if (value) next.set(key, value);
  }
  return next;
}

/** Services: the range and which spans count (requests, i.e. server spans, unless the URL says otherwise). */
export function servicesDataUrl(params: URLSearchParams): string {
  const query = rangeOf(params);
  const kind = params.get("kind") ?? "Server";
  if (kind) query.set("kind", kind);
  return apiUrl("services", query);
}

/** Service map: the range only. */
export function mapDataUrl(params: URLSearchParams): string {
  return apiUrl("map", rangeOf(params));
}

/** Logs: the range and every filter of the page's URL. */
export function logsDataUrl(params: URLSearchParams): string {
  return apiUrl(
    "logs",
    new URLSearchParams([...params].filter(([key, value]) => key !== "refresh" && value)),
  );
}

/** Per page (its path's first segment), its first data request. */
export const FIRST_READS: Record<string, (params: URLSearchParams) => string> = {
  services: servicesDataUrl,
  map: mapDataUrl,
  logs: logsDataUrl,
};
