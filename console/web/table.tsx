import type { ComponentChildren } from "preact";
import { serviceColor } from "./format.ts";

export interface Column<Row> {
  key: string;
  label: string;
  value: (row: Row) => number | string;
  render?: (row: Row) => ComponentChildren;
  numeric?: boolean;
}

/**
 * A sortable table: clicking a header sorts by it (again: reverses). The
 * sort is the caller's state, kept in the URL.
 */
export function SortableTable<Row>(props: {
  columns: Column<Row>[];
  rows: Row[];
  sort: string;
  desc: boolean;
  onSort: (key: string, desc: boolean) => void;
  onRow?: (row: Row) => void;
  rowKey: (row: Row) => string;
  testId?: string;
}) {
  const column = props.columns.find((c) => c.key === props.sort) ?? props.columns[0]!;
  const rows = [...props.rows].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return props.desc ? -order : order;
  });
  return (
    <table class="grid" data-testid={props.testId}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th
              key={c.key}
              class={`${c.numeric ? "num" : ""} sortable`}
              aria-sort={c.key === column.key ? (props.desc ? "descending" : "ascending") : "none"}
              onClick={() => props.onSort(c.key, c.key === column.key ? !props.desc : !!c.numeric)}
            >
              {c.label}
              {c.key === column.key ? (props.desc ? " ▾" : " ▴") : ""}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr
            key={props.rowKey(row)}
            data-key={props.rowKey(row)}
            class={props.onRow ? "clickable" : ""}
            onClick={() => props.onRow?.(row)}
          >
            {props.columns.map((c) => (
              <td key={c.key} class={c.numeric ? "num" : ""} data-col={c.key}>
                {c.render ? c.render(row) : c.value(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A table cell naming a service, with its colour dot. */
export function ServiceCell({ service }: { service: string }) {
  return (
    <td class="nowrap">
      <i class="dot" style={{ background: serviceColor(service) }} />
      {service}
    </td>
  );
}
