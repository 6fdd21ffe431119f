import { navigate, type Route, viewParams, withParams } from "./route.ts";

/** What every page gets from the shell, and the navigation helpers pages share. */
export interface Meta {
  services: Array<{ service: string; spans: number; errors: number; firstMs: number; lastMs: number }>;
  llm: boolean;
  model: string;
  /** Why questions are off (no API key for the provider), when they are. */
  unavailable: string;
  search: boolean;
}

export interface PageProps {
  route: Route;
  meta: Meta | undefined;
  /** Increments on every live refresh and on the refresh button. */
  tick: number;
}

/** Plain left clicks stay in the page (history entry); other clicks open the link as the browser would. */
export function linkClick(event: MouseEvent, page: string, params: URLSearchParams): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(page, params);
}

export function go(route: Route, page: string, changes: Record<string, string | string[] | undefined>) {
  navigate(page, withParams(page === route.page ? route.params : viewParams(route.params), changes));
}
