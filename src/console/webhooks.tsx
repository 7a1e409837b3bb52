import { useState } from 'preact/hooks';
import { api } from './api';
import { dateTime } from './format';
import { useList } from './names';
import { guarded } from './page-parts';
import type { Items, Webhook, WebhookDelivery } from './types';
import { Field, FormBox, Notice, useForm } from './ui';

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
