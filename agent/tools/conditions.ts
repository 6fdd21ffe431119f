/**
 * SQL conditions as the tools build them: fixed SQL text joined with AND,
 * every user-provided value a query parameter ({name:Type}), so no value is
 * ever concatenated into a statement.
 */
export interface Conditions {
  sql: string[];
  params: Record<string, unknown>;
}

/** One optional condition: its SQL, the parameter it reads, and the value (absent = no condition). */
export type OptionalCondition = readonly [sql: string, param: string, value: unknown];

/** The conditions whose value is present, in the order given. */
export function presentConditions(conditions: readonly OptionalCondition[]): Conditions {
  const result: Conditions = { sql: [], params: {} };
  for (const [sql, param, value] of conditions) {
    if (value === undefined) continue;
    result.sql.push(sql);
    result.params[param] = value;
  }
  return result;
}

/** Several sets of conditions that must all hold. */
export function allConditions(...sets: Conditions[]): Conditions {
  return {
    sql: sets.flatMap((set) => set.sql),
    params: Object.assign({}, ...sets.map((set) => set.params)),
  };
}

export function where(conditions: string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
}
