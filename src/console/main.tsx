import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, getToken, setToken } from './api';
import { PAGES, type PageName } from './pages';
import { Field, FormBox, useForm } from './ui';
import './style.css';

function currentPage(): PageName {
  const name = location.hash.replace(/^#\/?/, '');
  return name in PAGES ? (name as PageName) : 'model-groups';
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const form = useForm({ token: '' });
  return (
    <main class="signin">
      <h1>quotagate</h1>
      <FormBox
        form={form}
        id="signin-form"
        title="Sign in with an admin token"
        submitLabel="Sign in"
        onSubmit={async () => {
          const token = (form.values.token ?? '').trim();
          // Any admin read proves the token; the answer itself is not needed.
          await api('GET', '/admin/audit?limit=1', undefined, token);
          setToken(token);
          onSignedIn();
        }}
      >
        <Field
          form={form}
          name="token"
          label="Admin token"
          type="password"
          hint="Kept in this browser tab's session storage only."
        />
      </FormBox>
    </main>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  const [page, setPage] = useState<PageName>(currentPage);
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const View = PAGES[page].view;
  return (
    <>
      <header>
        <strong>quotagate</strong>
        <nav>
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <a key={name} href={`#/${name}`} class={name === page ? 'active' : ''}>
              {PAGES[name].title}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="link"
          onClick={() => {
            setToken(null);
            setSignedIn(false);
          }}
        >
          sign out
        </button>
      </header>
      <main>
        <View key={page} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
