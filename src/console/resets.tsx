import { useState } from 'preact/hooks';
import { api, query } from './api';
import { dateTime } from './format';
import { subjectLabel, useGroupNames, useList } from './names';
import { groupOptions } from './page-parts';
import { METRICS, type ResetMarker } from './types';
import { Field, FormBox, Notice, useForm } from './ui';

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
