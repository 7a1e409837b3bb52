import { useState } from 'preact/hooks';
import { api, query } from './api';
import { amount, clock, dateTime } from './format';
import { subjectLabel, useGroupNames, type GroupNames } from './names';
import type { Bucket, Usage } from './types';
import { Field, FormBox, useForm } from './ui';

const NOUNS: Record<string, string> = {
  requests: 'requests',
  sessions: 'sessions',
  concurrency: 'concurrent requests',
  input_tokens: 'input tokens',
  output_tokens: 'output tokens',
  tokens: 'tokens',
};

/** "3 / 5 sessions used in the last 20h — next back at 14:05" */
export function describeBucket(b: Bucket, now = new Date()): string {
  const used = amount(b.metric, b.used);
  const cap = amount(b.metric, b.effectiveLimit);
  const noun = b.metric === 'cost' ? '' : ` ${NOUNS[b.metric] ?? b.metric}`;
  let span: string;
  if (b.metric === 'concurrency') span = 'held now';
  else if (b.reset === 'rolling') span = `used in the last ${b.window ?? ''}`;
  else if (b.reset === null || b.window === 'total') span = 'used in total';
  else span = `used this ${b.window ?? ''} window (${b.reset})`;
  let line = `${used} / ${cap}${noun} ${span}`;
  if (b.held > 0) line += `, ${amount(b.metric, b.held)} held`;
  if (b.nextFreeAt) line += ` — next back at ${clock(b.nextFreeAt, now)}`;
  else if (b.resetAt) line += ` — resets at ${clock(b.resetAt, now)}`;
  return line;
}

/**
 * How full a bucket is, for its colour: `exhausted` at or past its cap (used + held), as
 * 3 / 3 sessions is even when this query itself asked for nothing; `exceeded` when it
 * would refuse the request asked about.
 */
export function fullness(b: Bucket): 'ok' | 'exhausted' {
  // The API's dollars are decimals: compare in micro-dollars, as the store does.
  const scale = b.metric === 'cost' ? 1_000_000 : 1;
  const taken = Math.round((b.used + b.held) * scale);
  return taken >= Math.round(b.effectiveLimit * scale) ? 'exhausted' : 'ok';
}

function BucketBar({ b, names }: { b: Bucket; names: GroupNames }) {
  const scale = Math.max(b.effectiveLimit, b.used + b.held, 1e-9);
  const pct = (n: number) => `${Math.min(100, (n / scale) * 100).toFixed(2)}%`;
  const classes = ['bucket', fullness(b), b.exceeded ? 'exceeded' : ''].filter(Boolean).join(' ');
  const { source } = b;
  return (
    <li class={classes} data-bucket={b.key}>
      <div class="bucket-head">
        <strong>
          {b.metric} {b.window ?? ''}
        </strong>{' '}
        <small>
          {b.axis} {b.ownerId} · {names.model(b.modelGroupId)}
          {b.shadow ? ' · shadow' : ''} ·{' '}
          <span class="source">
            cap from {subjectLabel(names, source.subjectType, source.subjectId)} (limit #{source.limitId})
          </span>
        </small>
      </div>
      <div class="bar" role="meter" aria-valuemin={0} aria-valuemax={b.effectiveLimit} aria-valuenow={b.used}>
        <div class="used" style={{ width: pct(b.used) }} />
        <div class="held" style={{ left: pct(b.used), width: pct(b.held) }} />
        {b.boost > 0 ? (
          <div class="limit-mark" style={{ left: pct(b.limit) }} title="limit without boost" />
        ) : null}
      </div>
      <div class="bucket-line">{describeBucket(b)}</div>
      <div class="bucket-nums">
        used {amount(b.metric, b.used)} · held {amount(b.metric, b.held)} · limit {amount(b.metric, b.limit)}
        {b.boost > 0 ? ` + boost ${amount(b.metric, b.boost)}` : ''} · remaining{' '}
        {amount(b.metric, b.remaining)}
        {b.resetAt ? ` · resets ${dateTime(b.resetAt)}` : ''}
      </div>
    </li>
  );
}

export function UsagePage() {
  const form = useForm({ userId: '', keyId: '', model: '', groups: '' });
  const [usage, setUsage] = useState<Usage | null>(null);
  const names = useGroupNames();
  return (
    <section>
      <h2>Usage</h2>
      <FormBox
        form={form}
        id="usage-form"
        title="Buckets of one user (and key, model)"
        submitLabel="Show usage"
        onSubmit={async () => {
          const v = form.values;
          setUsage(
            await api<Usage>(
              'GET',
              `/usage${query({ userId: v.userId, keyId: v.keyId, model: v.model, groups: v.groups })}`,
            ),
          );
        }}
      >
        <Field form={form} name="userId" label="User id" placeholder="u-42" />
        <Field form={form} name="keyId" label="Key id" />
        <Field form={form} name="model" label="Model (empty: every scope)" />
        <Field form={form} name="groups" label="Groups (comma-separated)" />
      </FormBox>
      {usage ? (
        <div id="usage">
          <p>
            User <strong>{usage.userId}</strong>
            {usage.keyId ? ` key ${usage.keyId}` : ''}
            {usage.model ? ` model ${usage.model}` : ''}
            {usage.modelGroup ? ` (group ${usage.modelGroup.name})` : ''}: {usage.buckets.length} bucket(s)
          </p>
          <ul class="buckets">
            {usage.buckets.map((b) => (
              <BucketBar key={b.key} b={b} names={names} />
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
