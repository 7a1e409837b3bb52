import { useState } from 'preact/hooks';
import { api, query } from './api';
import { useList } from './names';
import { guarded } from './page-parts';
import type { ModelGroup } from './types';
import { Field, FormBox, list, Notice, useForm } from './ui';

const PATTERN_HINT =
  'Patterns allowed: claude-opus-* covers every model starting with claude-opus-; an exact id wins over a pattern, a longer pattern over a shorter one.';

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
        <Field
          form={form}
          name="models"
          label="Models (comma-separated)"
          placeholder="claude-opus-4-1, claude-opus-*"
          hint={PATTERN_HINT}
        />
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
        <Field form={add} name="models" label="Models (comma-separated)" hint={PATTERN_HINT} />
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
