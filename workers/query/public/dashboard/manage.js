// Every change reloads the app's resources, so the version sent as If-Match for settings is the
// app's current one (a change elsewhere since then is a 409, shown as such).
// Management pages over /admin/v1/ (the query Worker's management API): apps, keys (a secret
// is shown once), links with copyable tracking URLs, postbacks with a test fire and the attempt
// log, settings (a JSON merge-patch with the app's version), the audit log. The token (admin or
// manage key) stays in sessionStorage; a read token gets no management page. Everything the API
// returns is shown as text (never as markup).
const TOKEN_KEY = 'attrib.manageToken';
const $ = (id) => document.getElementById(id);
const state = { who: null, app: null, version: null };
window.__manage = state;

class ApiError extends Error {}

async function api(method, path, body, headers = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(`/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = json.error ?? {};
    throw new ApiError(e.field ? `${e.field}: ${e.reason}` : e.message ?? `HTTP ${response.status}`);
  }
  return json;
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  return td;
}

function fill(tableId, rows, render) {
  const body = $(tableId).querySelector('tbody');
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    tr.append(...render(row));
    return tr;
  }));
}

function button(label, onClick) {
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', () => onClick().catch((e) => status(e.message, true)));
  td.append(b);
  return td;
}

const appPath = () => `/apps/${encodeURIComponent(state.app)}`;

async function loadApps() {
  const { apps } = await api('GET', '/apps?archived=include');
  fill('apps-table', apps, (a) => [cell(a.id), cell(a.name), cell(String(a.version)), cell(a.archived ? 'yes' : 'no')]);
  const select = $('app-select');
  select.replaceChildren(...apps.map((a) => new Option(a.id, a.id)));
  if (!apps.some((a) => a.id === state.app)) state.app = apps[0]?.id ?? null;
  select.value = state.app ?? '';
  await loadApp();
}

async function loadApp() {
  if (!state.app) return;
  await Promise.all([loadKeys(), loadLinks(), loadPostbacks(), loadSettings(), loadAudit()]);
}

async function loadKeys() {
  const { keys } = await api('GET', `${appPath()}/keys`);
  fill('keys-table', keys, (k) => [cell(k.id), cell(k.kind), cell(k.label), cell(k.state),
    k.state === 'revoked' ? cell('') : button('Revoke', async () => {
      await api('DELETE', `${appPath()}/keys/${k.id}`);
      status(`revoked ${k.id}`);
      await loadApp();
    })]);
}

async function loadLinks() {
  const { links } = await api('GET', `${appPath()}/links`);
  fill('links-table', links, (l) => {
    const url = cell(l.tracking_url ?? '');
    if (l.tracking_url) {
      const copy = document.createElement('button');
      copy.type = 'button';
      copy.textContent = 'Copy';
      copy.dataset.url = l.tracking_url;
      copy.addEventListener('click', () => navigator.clipboard?.writeText(l.tracking_url).then(() => status(`copied ${l.tracking_url}`), () => status(l.tracking_url)));
      url.append(' ', copy);
    }
    return [cell(l.id), cell(l.destination_url), cell(l.source), cell(l.campaign), url];
  });
}

async function loadPostbacks() {
  const [{ postbacks }, { attempts }] = await Promise.all([
    api('GET', `${appPath()}/postbacks`),
    api('GET', `${appPath()}/postback-attempts?limit=50`),
  ]);
  fill('postbacks-table', postbacks, (p) => [cell(p.network), cell(p.url), cell(p.method), cell(p.enabled ? 'yes' : 'no'),
    button('Test', async () => {
      const result = await api('POST', `${appPath()}/postbacks/${encodeURIComponent(p.network)}/test`);
      $('postback-test').hidden = false;
      $('postback-test').textContent = JSON.stringify(result, null, 2);
    })]);
  fill('attempts-table', attempts, (a) => [cell(a.attempted_at), cell(a.network), cell(a.status === undefined ? '' : String(a.status)), cell(a.outcome), cell(a.url)]);
}

async function loadSettings() {
  const doc = await api('GET', `${appPath()}/settings`);
  state.version = doc.version;
  $('settings-json').value = JSON.stringify(doc.settings, null, 2);
  $('settings-version').textContent = `version ${doc.version}`;
}

async function loadAudit() {
  const { entries } = await api('GET', `${appPath()}/audit?limit=50`);
  fill('audit-table', entries, (e) => [cell(e.at), cell(e.actor), cell(e.action), cell(e.resource)]);
}

async function start() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $('manage').hidden = true;
  if (!token) return status('Paste an admin token or an app manage key.');
  try {
    state.who = await api('GET', '/whoami');
  } catch (e) {
    state.who = null;
    $('who').textContent = '';
    return status(`This token cannot manage: ${e.message}`, true);
  }
  $('who').textContent = state.who.kind === 'admin' ? 'admin: every app' : `manage key of ${state.who.app_id}`;
  $('app-create').hidden = state.who.kind !== 'admin';
  $('manage').hidden = false;
  status('');
  await loadApps();
}

const on = (id, handler) => $(id).addEventListener('submit', (event) => {
  event.preventDefault();
  handler().catch((e) => status(e.message, true));
});

on('token-form', async () => {
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  await start();
});
$('app-select').addEventListener('change', () => {
  state.app = $('app-select').value;
  loadApp().catch((e) => status(e.message, true));
});
on('app-create', async () => {
  const app = await api('POST', '/apps', { name: $('app-name').value, ...($('app-id').value ? { id: $('app-id').value } : {}) });
  state.app = app.id;
  status(`created ${app.id}`);
  await loadApps();
});
on('key-issue', async () => {
  const key = await api('POST', `${appPath()}/keys`, { kind: $('key-kind').value, ...($('key-label').value ? { label: $('key-label').value } : {}) });
  $('key-secret').hidden = false;
  $('key-secret').textContent = `${key.id} (${key.kind}): ${key.secret} — shown once, copy it now`;
  await loadApp();
});
on('link-create', async () => {
  const body = { destination_url: $('link-destination').value };
  for (const [name, id] of [['id', 'link-id'], ['source', 'link-source'], ['campaign', 'link-campaign']]) if ($(id).value) body[name] = $(id).value;
  await api('POST', `${appPath()}/links`, body);
  status('link created');
  await loadApp();
});
on('postback-create', async () => {
  await api('POST', `${appPath()}/postbacks`, { network: $('postback-network').value, url: $('postback-url').value });
  status('postback added');
  await loadApp();
});
on('settings-form', async () => {
  let patch;
  try {
    patch = JSON.parse($('settings-json').value);
  } catch {
    throw new ApiError('settings: not JSON');
  }
  await api('PATCH', `${appPath()}/settings`, patch, { 'if-match': `"${state.version}"` });
  await loadApp();
  status('settings saved');
});

start().catch((e) => status(e.message, true));
