import { api } from './api';
import { useList } from './names';
import type { UserGroup } from './types';
import { Field, FormBox, list, Notice, useForm } from './ui';

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
