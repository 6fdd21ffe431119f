import { useEffect, useState } from "preact/hooks";

/**
 * The view lives in the URL: the page is the path, everything else (time
 * range, filters, the open trace, sort order) is the query string, so a
 * copied link opens the same view. navigate() pushes a history entry; the
 * back button restores the previous view.
 */
export interface Route {
  page: string;
  params: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Route {
  const page = location.pathname.replace(/^\/+/, "").split("/")[0] || "services";
  return { page, params: new URLSearchParams(location.search) };
}

export function navigate(page: string, params: URLSearchParams, options: { replace?: boolean } = {}): void {
  const query = params.toString();
  const url = `/${page}${query ? `?${query}` : ""}`;
  if (url === `${location.pathname}${location.search}`) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const listener of listeners) listener();
}

/** Copies `params` with the given keys set (or removed when the value is undefined or ""). */
export function withParams(
  params: URLSearchParams,
  changes: Record<string, string | string[] | undefined>,
): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    next.delete(key);
    if (Array.isArray(value)) for (const v of value) if (v !== "") next.append(key, v);
    if (typeof value === "string" && value !== "") next.set(key, value);
  }
  return next;
}

/** The time range and refresh keys shared by every page. */
export const VIEW_KEYS = ["last", "from", "to", "refresh"];

export function viewParams(params: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams();
  for (const key of VIEW_KEYS) {
    const value = params.get(key);
    if (value) next.set(key, value);
  }
  return next;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
