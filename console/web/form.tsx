import { useEffect, useState } from "preact/hooks";

/** Props binding one input or select to a form field by name. */
export type FormField = (key: string) => { value: string; name: string; onInput: (e: Event) => void };

/**
 * Form fields that follow the URL: filled from `params` whenever it changes
 * (links, back/forward), edited here until the form is submitted.
 */
export function useUrlFields(params: URLSearchParams, keys: string[]) {
  const [form, setForm] = useState<Record<string, string>>({});
  useEffect(
    () => setForm(Object.fromEntries(keys.map((k) => [k, params.get(k) ?? ""]))),
    [params.toString()],
  );
  const field: FormField = (key) => ({
    value: form[key] ?? "",
    name: key,
    onInput: (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value }),
  });
  return { form, field };
}

/** A labelled select of [value, text] options bound to one field. */
export function SelectField(props: {
  label: string;
  name: string;
  field: FormField;
  options: Array<[string, string]>;
}) {
  const bound = props.field(props.name);
  return (
    <label>
      {props.label}
      <select {...bound} onChange={bound.onInput}>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Options whose empty value reads "any". */
export const anyOr = (values: string[]): Array<[string, string]> => values.map((v) => [v, v || "any"]);
