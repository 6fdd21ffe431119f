import { useEffect, useState } from "preact/hooks";

/** The result of one API read: data, the error the server explained, and whether a read is running. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, signal ? { signal } : {});
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body as T;
}

/**
 * Reads `url` whenever it (or `tick`, the live-refresh counter) changes.
 * The previous data stays on screen while a refresh runs, so live refresh
 * never blanks a chart; a newer read cancels an older one.
 */
export function useApi<T>(url: string | undefined, tick: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: !!url });
  useEffect(() => {
    if (!url) {
      setState({ data: undefined, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    getJson<T>(url, controller.signal).then(
      (data) => setState({ data, error: undefined, loading: false }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((s) => ({
          ...s,
          error: error instanceof Error ? error.message : String(error),
          loading: false,
        }));
      },
    );
    return () => controller.abort();
  }, [url, tick]);
  return state;
}

// One builder for API URLs, in the module the server imports too (no browser API there).
export { apiUrl } from "./first-reads.ts";
