import { useState } from 'preact/hooks';
import { api, ApiError, query } from './api';
import { amount, dateTime, localZone } from './format';
import { subjectLabel, useGroupNames, useList } from './names';
import type {
  AuditEntry,
  Boost,
  Items,
  Limit,
  ModelGroup,
  ResetMarker,
  UserGroup,
  Webhook,
  WebhookDelivery,
} from './types';
import { METRICS } from './types';
import { Field, FormBox, instant, list, Notice, numeric, useForm, type Form, type Values } from './ui';

function groupOptions(groups: ModelGroup[]): [string, string][] {
  return [['', 'all models'], ...groups.map((g): [string, string] => [String(g.id), `${g.name} (#${g.id})`])];
}

/** The subject id field: a user group is picked by name, a user or key typed. */
function SubjectIdField({ form, groups, label }: { form: Form; groups: UserGroup[]; label?: string }) {
  const byName = form.values.subjectType === 'user_group';
  return (
    <Field
      form={form}
      name="subjectId"
      label={label ?? (byName ? 'User group' : 'Subject id')}
      placeholder={byName ? undefined : 'u-42'}
      options={
        byName
          ? [['', '—'], ...groups.map((g): [string, string] => [String(g.id), `${g.name} (#${g.id})`])]
          : undefined
      }
    />
  );
}

/** What the amount of a limit or boost is counted in, by metric. */
function amountHint(metric: string | undefined): string {
  if (metric === 'cost') return 'in US dollars ($), e.g. 2.50';
  if (metric === 'concurrency') return 'requests in flight at once';
  return `a count of ${(metric ?? '').replace('_', ' ')}`;
}

async function guarded(action: () => Promise<unknown>, setError: (e: string | null) => void) {
  try {
    setError(null);
    await action();
  } catch (e) {
    setError(e instanceof ApiError ? `${e.detail} (${e.code})` : String(e));
  }
}

export function ModelGroupsPage() {
  const groups = useList<ModelGroup>('/admin/model-groups');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ name: '', description: '', models: '' });
  const add = useForm({ id: '', models: '' });
  return (
    <section>
      <h2>Model groups</h2>
      <FormBox
        form={form}
        id="model-group-form"
        title="New model group"
        submitLabel="Create model group"
        onSubmit={async () => {
          const v = form.values;
          await api('POST', '/admin/model-groups', {
            name: v.name,
            description: v.description || undefined,
            models: list(v.models),
          });
          form.setValues({ name: '', description: '', models: '' });
          groups.reload();
        }}
      >
        <Field form={form} name="name" label="Name" placeholder="opus" />
        <Field form={form} name="description" label="Description" />
        <Field form={form} name="models" label="Models (comma-separated)" placeholder="claude-opus-4-1" />
      </FormBox>
      <FormBox
        form={add}
        title="Add models to a group"
        submitLabel="Add models"
        onSubmit={async () => {
          await api('POST', `/admin/model-groups/${add.values.id}/models`, {
            models: list(add.values.models),
          });
          add.set('models', '');
          groups.reload();
        }}
      >
        <Field
          form={add}
          name="id"
          label="Group"
          options={[['', '—'], ...groups.items.map((g): [string, string] => [String(g.id), g.name])]}
        />
        <Field form={add} name="models" label="Models (comma-separated)" />
      </FormBox>
      <Notice error={groups.error ?? error} />
      <table id="model-groups">
        <thead>
          <tr>
            <th>id</th>
            <th>name</th>
            <th>models</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {groups.items.map((g) => (
            <tr key={g.id}>
              <td>{g.id}</td>
              <td>{g.name}</td>
              <td>
                {g.models.map((m) => (
                  <span class="chip" key={m}>
                    {m}
                    <button
                      type="button"
                      class="link"
                      title={`remove ${m}`}
                      onClick={() =>
                        guarded(async () => {
                          await api('DELETE', `/admin/model-groups/${g.id}/models${query({ model: m })}`);
                          groups.reload();
                        }, setError)
                      }
                    >
                      ×
                    </button>
                  </span>
                ))}
              </td>
              <td>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    confirm(`Delete model group ${g.name} with its limits and boosts?`) &&
                    guarded(async () => {
                      await api('DELETE', `/admin/model-groups/${g.id}`);
                      groups.reload();
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

export function UserGroupsPage() {
  const groups = useList<UserGroup>('/admin/user-groups');
  const form = useForm({ name: '', description: '' });
  const members = useForm({ id: '', userIds: '' });
  return (
    <section>
      <h2>User groups</h2>
      <FormBox
        form={form}
        id="user-group-form"
        title="New user group"
        submitLabel="Create user group"
        onSubmit={async () => {
          await api('POST', '/admin/user-groups', {
            name: form.values.name,
            description: form.values.description || undefined,
          });
          form.setValues({ name: '', description: '' });
          groups.reload();
        }}
      >
        <Field form={form} name="name" label="Name" placeholder="pro" />
        <Field form={form} name="description" label="Description" />
      </FormBox>
      <FormBox
        form={members}
        title="Add members"
        submitLabel="Add members"
        onSubmit={async () => {
          await api('POST', `/admin/user-groups/${members.values.id}/members`, {
            userIds: list(members.values.userIds),
          });
          members.set('userIds', '');
          groups.reload();
        }}
      >
        <Field
          form={members}
          name="id"
          label="Group"
          options={[['', '—'], ...groups.items.map((g): [string, string] => [String(g.id), g.name])]}
        />
        <Field form={members} name="userIds" label="User ids (comma-separated)" />
      </FormBox>
      <Notice error={groups.error} />
      <table id="user-groups">
        <thead>
          <tr>
            <th>id</th>
            <th>name</th>
            <th>description</th>
            <th>members</th>
          </tr>
        </thead>
        <tbody>
          {groups.items.map((g) => (
            <tr key={g.id}>
              <td>{g.id}</td>
              <td>{g.name}</td>
              <td>{g.description ?? ''}</td>
              <td>{g.memberCount}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

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
            subjectId: v.subjectId,
            modelGroupId: v.modelGroupId ? Number(v.modelGroupId) : null,
            metric: v.metric,
            window: v.window?.trim() ? v.window.trim() : null,
            reset: v.reset || null,
            limit: numeric(v.limit),
            mode: v.mode,
            alertAt: list(v.alertAt).map((a) => numeric(a)),
          });
          form.setValues(EMPTY_LIMIT);
          limits.reload();
        }}
      >
        <Field form={form} name="subjectType" label="Subject type" options={['user', 'user_group', 'key']} />
        <SubjectIdField form={form} groups={names.users} />
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
          options={[['', 'any'], 'user', 'user_group', 'key']}
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
              <td>{amount(l.metric, l.limit)}</td>
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

export function ResetsPage() {
  const names = useGroupNames();
  const form = useForm({
    subjectType: 'user',
    subjectId: '',
    modelGroupId: '',
    metric: 'cost',
    window: '5h',
  });
  const [subject, setSubject] = useState<{ subjectType: string; subjectId: string } | null>(null);
  const markers = useList<ResetMarker>(`/admin/resets${query(subject ?? {})}`);
  return (
    <section>
      <h2>Reset markers</h2>
      <p class="hint">
        A bucket counts only usage after its latest reset marker; the ledger keeps everything.
      </p>
      <FormBox
        form={form}
        id="reset-form"
        title="Reset a bucket now"
        submitLabel="Reset bucket"
        onSubmit={async () => {
          const v = form.values;
          await api('POST', '/admin/resets', {
            subjectType: v.subjectType,
            subjectId: v.subjectId,
            modelGroupId: v.modelGroupId ? Number(v.modelGroupId) : null,
            metric: v.metric,
            window: v.window?.trim() ? v.window.trim() : null,
          });
          setSubject({ subjectType: v.subjectType ?? 'user', subjectId: v.subjectId ?? '' });
          markers.reload();
        }}
      >
        <Field form={form} name="subjectType" label="Subject type" options={['user', 'key']} />
        <Field form={form} name="subjectId" label="Subject id" />
        <Field form={form} name="modelGroupId" label="Model group" options={groupOptions(names.models)} />
        <Field form={form} name="metric" label="Metric" options={METRICS} />
        <Field form={form} name="window" label="Window" />
      </FormBox>
      <Notice error={markers.error} />
      <table id="resets">
        <thead>
          <tr>
            <th>id</th>
            <th>subject</th>
            <th>model group</th>
            <th>bucket</th>
            <th>reset at</th>
          </tr>
        </thead>
        <tbody>
          {markers.items.map((m) => (
            <tr key={m.id}>
              <td>{m.id}</td>
              <td>{subjectLabel(names, m.subjectType, m.subjectId)}</td>
              <td>{names.model(m.modelGroupId)}</td>
              <td>
                {m.metric} {m.window ?? ''}
              </td>
              <td>{dateTime(m.resetAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function WebhooksPage() {
  const hooks = useList<Webhook>('/admin/webhooks');
  const form = useForm({ url: '', description: '' });
  const [secret, setSecret] = useState<{ id: number; secret: string } | null>(null);
  const [shown, setShown] = useState<number | null>(null);
  const [deliveries, setDeliveries] = useState<WebhookDelivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const loadDeliveries = (id: number) =>
    guarded(async () => {
      const r = await api<Items<WebhookDelivery>>('GET', `/admin/webhooks/${id}/deliveries?limit=50`);
      setDeliveries(r.items);
      setShown(id);
    }, setError);
  return (
    <section>
      <h2>Webhooks</h2>
      <FormBox
        form={form}
        id="webhook-form"
        title="New webhook"
        submitLabel="Create webhook"
        onSubmit={async () => {
          const created = await api<Webhook & { secret: string }>('POST', '/admin/webhooks', {
            url: form.values.url,
            description: form.values.description || null,
          });
          setSecret({ id: created.id, secret: created.secret });
          form.setValues({ url: '', description: '' });
          hooks.reload();
        }}
      >
        <Field form={form} name="url" label="URL" placeholder="https://alerts.example.com/quotagate" />
        <Field form={form} name="description" label="Description" />
      </FormBox>
      {secret ? (
        <p class="secret" id="webhook-secret">
          Secret of webhook #{secret.id}, shown this once: <code>{secret.secret}</code>
        </p>
      ) : null}
      <Notice error={hooks.error ?? error} />
      <table id="webhooks">
        <thead>
          <tr>
            <th>id</th>
            <th>url</th>
            <th>description</th>
            <th>enabled</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {hooks.items.map((h) => (
            <tr key={h.id}>
              <td>{h.id}</td>
              <td>{h.url}</td>
              <td>{h.description ?? ''}</td>
              <td>{h.enabled ? 'yes' : 'no'}</td>
              <td>
                <button type="button" onClick={() => loadDeliveries(h.id)}>
                  deliveries
                </button>
                <button
                  type="button"
                  onClick={() =>
                    guarded(async () => {
                      await api('POST', `/admin/webhooks/${h.id}/test`);
                      await loadDeliveries(h.id);
                    }, setError)
                  }
                >
                  send test
                </button>
                <button
                  type="button"
                  onClick={() =>
                    guarded(async () => {
                      await api('PATCH', `/admin/webhooks/${h.id}`, { enabled: !h.enabled });
                      hooks.reload();
                    }, setError)
                  }
                >
                  {h.enabled ? 'disable' : 'enable'}
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    guarded(async () => {
                      await api('DELETE', `/admin/webhooks/${h.id}`);
                      hooks.reload();
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
      {shown !== null ? (
        <>
          <h3>Deliveries of webhook #{shown}</h3>
          <table id="deliveries">
            <thead>
              <tr>
                <th>event</th>
                <th>status</th>
                <th>attempts</th>
                <th>last answer</th>
                <th>next attempt</th>
                <th>created</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td>
                    {d.eventType} <small>{d.eventId}</small>
                  </td>
                  <td>{d.status}</td>
                  <td>{d.attempts}</td>
                  <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                  <td>{dateTime(d.nextAttemptAt)}</td>
                  <td>{dateTime(d.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}

export function AuditPage() {
  const audit = useList<AuditEntry>('/admin/audit?limit=200');
  return (
    <section>
      <h2>Audit log</h2>
      <Notice error={audit.error} />
      <table id="audit">
        <thead>
          <tr>
            <th>when</th>
            <th>who</th>
            <th>action</th>
            <th>entity</th>
            <th>before → after</th>
          </tr>
        </thead>
        <tbody>
          {audit.items.map((a) => (
            <tr key={a.id}>
              <td class="time">{dateTime(a.at)}</td>
              <td>{a.actor}</td>
              <td>{a.action}</td>
              <td>
                {a.entityType} {a.entityId ?? ''}
              </td>
              <td>
                <code class="json">{a.before === null ? '∅' : JSON.stringify(a.before)}</code> →{' '}
                <code class="json">{a.after === null ? '∅' : JSON.stringify(a.after)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
