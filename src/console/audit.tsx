import { dateTime } from './format';
import { useList } from './names';
import type { AuditEntry } from './types';
import { Notice } from './ui';

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
