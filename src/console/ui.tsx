import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import { ApiError } from './api';

export type Values = Record<string, string>;

/** Form state plus the API's validation errors keyed by the form field they name. */
export function useForm(initial: Values) {
  const [values, setValues] = useState<Values>(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));

  /** Runs `action`; an ApiError's `errors` go next to their fields, the rest above the form. */
  const submit = async (action: () => Promise<void>) => {
    setBusy(true);
    setErrors({});
    setGeneral(null);
    try {
      await action();
    } catch (err) {
      if (err instanceof ApiError) {
        const byField: Record<string, string> = {};
        const known = new Set(Object.keys(values));
        const unplaced: string[] = [];
        for (const e of err.errors) {
          const top = e.field.split(/[.[]/)[0] ?? e.field;
          if (known.has(top)) byField[top] = byField[top] ? `${byField[top]}; ${e.message}` : e.message;
          else unplaced.push(`${e.field}: ${e.message}`);
        }
        setErrors(byField);
        if (unplaced.length || !err.errors.length) {
          setGeneral([`${err.detail} (${err.code})`, ...unplaced].join(' — '));
        }
      } else {
        setGeneral(String(err));
      }
    } finally {
      setBusy(false);
    }
  };
  return { values, set, setValues, errors, general, busy, submit };
}

export type Form = ReturnType<typeof useForm>;

interface FieldProps {
  form: Form;
  name: string;
  label: string;
  type?: string;
  placeholder?: string;
  options?: readonly (string | [string, string])[];
  hint?: string;
}

/** A labelled input (or select) with its API error right next to it. */
export function Field({ form, name, label, type = 'text', placeholder, options, hint }: FieldProps) {
  const id = `${useId()}-${name}`;
  const error = form.errors[name];
  const value = form.values[name] ?? '';
  const onInput = (e: Event) => form.set(name, (e.currentTarget as HTMLInputElement).value);
  return (
    <div class={error ? 'field invalid' : 'field'}>
      <label for={id}>{label}</label>
      {options ? (
        <select id={id} name={name} value={value} onChange={onInput}>
          {options.map((o) => {
            const [v, text] = typeof o === 'string' ? [o, o] : o;
            return (
              <option key={v} value={v}>
                {text}
              </option>
            );
          })}
        </select>
      ) : (
        <input
          id={id}
          name={name}
          type={type}
          value={value}
          placeholder={placeholder}
          onInput={onInput}
          aria-invalid={error ? 'true' : undefined}
        />
      )}
      {hint && !error ? <small class="hint">{hint}</small> : null}
      {error ? (
        <small class="field-error" data-field={name} role="alert">
          {error}
        </small>
      ) : null}
    </div>
  );
}

export function FormBox(props: {
  form: Form;
  title: string;
  submitLabel: string;
  onSubmit: () => Promise<void>;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <form
      class="box"
      id={props.id}
      onSubmit={(e) => {
        e.preventDefault();
        void props.form.submit(props.onSubmit);
      }}
    >
      <h3>{props.title}</h3>
      {props.form.general ? (
        <p class="form-error" role="alert">
          {props.form.general}
        </p>
      ) : null}
      <div class="fields">{props.children}</div>
      <button type="submit" disabled={props.form.busy}>
        {props.submitLabel}
      </button>
    </form>
  );
}

export function Notice({ error }: { error: string | null }) {
  return error ? (
    <p class="form-error" role="alert">
      {error}
    </p>
  ) : null;
}

/** Comma-separated text → trimmed, non-empty strings. */
export function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A number when the text is one, else the text (the API names the field if it is wrong). */
export function numeric(text: string | undefined): number | string | null {
  const t = (text ?? '').trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** A datetime-local value (browser time) → RFC 3339; other text goes as typed. */
export function instant(text: string | undefined): string | null {
  const t = (text ?? '').trim();
  if (!t) return null;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(t)) {
    const d = new Date(t);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return t;
}
