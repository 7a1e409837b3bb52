import { useId, useState } from 'preact/hooks';
import { api, query } from './api';
import { amount } from './format';
import { subjectLabel, useGroupNames, useList } from './names';
import { amountHint, groupOptions, guarded, SubjectIdField } from './page-parts';
import { type Limit, METRICS } from './types';
import { Field, FormBox, list, Notice, numeric, useForm, type Form, type Values } from './ui';

const SUBJECT_TYPES = ['user', 'user_group', 'key', 'everyone'] as const;
/** The only subject id of an `everyone` (default) limit. */
const EVERYONE = '*';

const EMPTY_LIMIT: Values = {
  subjectType: 'user',
  subjectId: '',
  modelGroupId: '',
  metric: 'cost',
  window: '5h',
  reset: '',
  limit: '',
  mode: 'enforce',
  alertAt: '',
  override: '',
};

export function LimitsPage() {
  const names = useGroupNames();
  const filter = useForm({ subjectType: '', subjectId: '', modelGroupId: '', metric: '' });
  const [applied, setApplied] = useState<Values>({});
  const limits = useList<Limit>(`/admin/limits${query(applied)}`);
  const form = useForm(EMPTY_LIMIT);
  const [error, setError] = useState<string | null>(null);
  return (
    <section>
      <h2>Limits</h2>
      <FormBox
        form={form}
        id="limit-form"
        title="Create or edit a limit (upserted by subject, model group, metric and window)"
        submitLabel="Save limit"
        onSubmit={async () => {
          const v = form.values;
          await api('PUT', '/admin/limits', {
            subjectType: v.subjectType,
            subjectId: v.subjectType === 'everyone' ? EVERYONE : v.subjectId,
            modelGroupId: v.modelGroupId ? Number(v.modelGroupId) : null,
            metric: v.metric,
            window: v.window?.trim() ? v.window.trim() : null,
            reset: v.reset || null,
            limit: numeric(v.limit),
            mode: v.mode,
            alertAt: list(v.alertAt).map((a) => numeric(a)),
            override: v.subjectType === 'user' && v.override === 'true',
          });
          form.setValues(EMPTY_LIMIT);
          limits.reload();
        }}
      >
        <Field form={form} name="subjectType" label="Subject type" options={SUBJECT_TYPES} />
        {form.values.subjectType === 'everyone' ? (
          <EveryoneSubject />
        ) : (
          <SubjectIdField form={form} groups={names.users} />
        )}
        <Field form={form} name="modelGroupId" label="Model group" options={groupOptions(names.models)} />
        <Field form={form} name="metric" label="Metric" options={METRICS} />
        <Field form={form} name="window" label="Window" placeholder="5h, daily, 20h, total" />
        <Field
          form={form}
          name="reset"
          label="Reset"
          options={[['', 'default'], 'rolling', 'fixed', 'first_use', 'calendar']}
        />
        <Field
          form={form}
          name="limit"
          label={form.values.metric === 'cost' ? 'Limit ($)' : 'Limit'}
          placeholder="10"
          hint={amountHint(form.values.metric)}
        />
        <Field form={form} name="mode" label="Mode" options={['enforce', 'shadow']} />
        <Field form={form} name="alertAt" label="Alert at (fractions)" placeholder="0.5, 0.8, 1" />
        {form.values.subjectType === 'user' ? <OverrideField form={form} /> : null}
      </FormBox>
      <FormBox
        form={filter}
        id="limit-filter"
        title="Filter"
        submitLabel="Apply filter"
        onSubmit={async () => setApplied({ ...filter.values })}
      >
        <Field
          form={filter}
          name="subjectType"
          label="Subject type"
          options={[['', 'any'], ...SUBJECT_TYPES]}
        />
        <SubjectIdField form={filter} groups={names.users} />
        <Field
          form={filter}
          name="modelGroupId"
          label="Model group"
          options={[['', 'any'], ['all', 'all models only'], ...groupOptions(names.models).slice(1)]}
        />
        <Field form={filter} name="metric" label="Metric" options={[['', 'any'], ...METRICS]} />
      </FormBox>
      <Notice error={limits.error ?? error} />
      <table id="limits">
        <thead>
          <tr>
            <th>id</th>
            <th>subject</th>
            <th>model group</th>
            <th>metric</th>
            <th>window</th>
            <th>limit</th>
            <th>mode</th>
            <th>alert at</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {limits.items.map((l) => (
            <tr key={l.id}>
              <td>{l.id}</td>
              <td>{subjectLabel(names, l.subjectType, l.subjectId)}</td>
              <td>{names.model(l.modelGroupId)}</td>
              <td>{l.metric}</td>
              <td>
                {l.window ?? '—'} {l.reset ? <small>({l.reset})</small> : null}
              </td>
              <td>
                {amount(l.metric, l.limit)}
                {l.override ? <small class="override"> override</small> : null}
              </td>
              <td class={l.mode === 'shadow' ? 'shadow' : ''}>{l.mode}</td>
              <td>{l.alertAt.join(', ')}</td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    form.setValues({
                      subjectType: l.subjectType,
                      subjectId: l.subjectId,
                      modelGroupId: l.modelGroupId === null ? '' : String(l.modelGroupId),
                      metric: l.metric,
                      window: l.window ?? '',
                      reset: l.reset ?? '',
                      limit: String(l.limit),
                      mode: l.mode,
                      alertAt: l.alertAt.join(', '),
                      override: l.override ? 'true' : '',
                    })
                  }
                >
                  edit
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    guarded(async () => {
                      await api('DELETE', `/admin/limits/${l.id}`);
                      limits.reload();
                    }, setError)
                  }
                >
                  delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** An `everyone` limit has one subject id, `*`: shown, not typed. */
function EveryoneSubject() {
  const id = `${useId()}-subjectId`;
  return (
    <div class="field">
      <label for={id}>Subject id</label>
      <input id={id} name="subjectId" value={EVERYONE} disabled />
      <small class="hint">every user: a default cap, merged with their own and their groups’</small>
    </div>
  );
}

/** Only user limits take `override`: the user's cap whatever groups and defaults say. */
function OverrideField({ form }: { form: Form }) {
  const id = `${useId()}-override`;
  const error = form.errors.override;
  return (
    <div class={error ? 'field invalid' : 'field'}>
      <label for={id}>Override</label>
      <input
        id={id}
        name="override"
        type="checkbox"
        checked={form.values.override === 'true'}
        onChange={(e) => form.set('override', (e.currentTarget as HTMLInputElement).checked ? 'true' : '')}
      />
      {error ? (
        <small class="field-error" data-field="override" role="alert">
          {error}
        </small>
      ) : (
        <small class="hint">this user’s cap, lower or higher than groups’ and defaults; 0 blocks</small>
      )}
    </div>
  );
}
