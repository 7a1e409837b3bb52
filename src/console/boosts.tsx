import { useState } from 'preact/hooks';
import { api, query } from './api';
import { amount, dateTime, localZone } from './format';
import { subjectLabel, useGroupNames, useList } from './names';
import { amountHint, groupOptions, guarded } from './page-parts';
import { type Boost, METRICS } from './types';
import { Field, FormBox, instant, Notice, numeric, useForm, type Values } from './ui';

const EMPTY_BOOST: Values = {
  subjectType: 'user',
  subjectId: '',
  modelGroupId: '',
  metric: 'cost',
  window: '5h',
  amount: '',
  startsAt: '',
  expiresAt: '',
  reason: '',
};

export function BoostsPage() {
  const names = useGroupNames();
  const [activeOnly, setActiveOnly] = useState(false);
  const boosts = useList<Boost>(`/admin/boosts${query({ active: activeOnly ? 'true' : undefined })}`);
  const form = useForm(EMPTY_BOOST);
  const [error, setError] = useState<string | null>(null);
  return (
    <section>
      <h2>Boosts</h2>
      <FormBox
        form={form}
        id="boost-form"
        title="New boost"
        submitLabel="Create boost"
        onSubmit={async () => {
          const v = form.values;
          await api('POST', '/admin/boosts', {
            subjectType: v.subjectType,
            subjectId: v.subjectId,
            modelGroupId: v.modelGroupId ? Number(v.modelGroupId) : null,
            metric: v.metric,
            window: v.window?.trim() ? v.window.trim() : null,
            amount: numeric(v.amount),
            startsAt: instant(v.startsAt),
            expiresAt: instant(v.expiresAt) ?? '',
            reason: v.reason || null,
          });
          form.setValues(EMPTY_BOOST);
          boosts.reload();
        }}
      >
        <Field form={form} name="subjectType" label="Subject type" options={['user', 'key']} />
        <Field form={form} name="subjectId" label="Subject id" />
        <Field form={form} name="modelGroupId" label="Model group" options={groupOptions(names.models)} />
        <Field form={form} name="metric" label="Metric" options={METRICS} />
        <Field form={form} name="window" label="Window" />
        <Field
          form={form}
          name="amount"
          label={form.values.metric === 'cost' ? 'Amount ($)' : 'Amount'}
          hint={amountHint(form.values.metric)}
        />
        <Field
          form={form}
          name="startsAt"
          label={`Starts at (${localZone()}; empty: now)`}
          type="datetime-local"
        />
        <Field form={form} name="expiresAt" label={`Expires at (${localZone()})`} type="datetime-local" />
        <Field form={form} name="reason" label="Reason" />
      </FormBox>
      <label class="inline">
        <input
          type="checkbox"
          checked={activeOnly}
          onChange={(e) => setActiveOnly((e.currentTarget as HTMLInputElement).checked)}
        />{' '}
        active only
      </label>
      <Notice error={boosts.error ?? error} />
      <table id="boosts">
        <thead>
          <tr>
            <th>id</th>
            <th>subject</th>
            <th>model group</th>
            <th>metric</th>
            <th>window</th>
            <th>amount</th>
            <th>from</th>
            <th>until</th>
            <th>reason</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {boosts.items.map((b) => (
            <tr key={b.id}>
              <td>{b.id}</td>
              <td>{subjectLabel(names, b.subjectType, b.subjectId)}</td>
              <td>{names.model(b.modelGroupId)}</td>
              <td>{b.metric}</td>
              <td>{b.window ?? '—'}</td>
              <td>+{amount(b.metric, b.amount)}</td>
              <td>{dateTime(b.startsAt)}</td>
              <td>{dateTime(b.expiresAt)}</td>
              <td>{b.reason ?? ''}</td>
              <td>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    guarded(async () => {
                      await api('DELETE', `/admin/boosts/${b.id}`);
                      boosts.reload();
                    }, setError)
                  }
                >
                  revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
