// A real OpenID provider for the sign-in tests: node-oidc-provider (OpenID Certified),
// with a login page of its own, accounts from a JSON file, and a few test-only
// routes under /__test/ (change an account, expire the authorization codes).
//
//   node idp.mjs CONFIG.json   -> listens on config.port, prints "ready <issuer>"
//
// Config: {port, issuer, adminToken, jwks: {keys: [private JWKs]},
//          clients: [client metadata], accounts: {id: {password, email, ...}}}
// Key rotation is a restart with other keys on the same port (the tests do that).

import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(Object.entries(config.accounts));

// --- storage: an in-memory adapter whose codes the tests can expire -------------

const store = new Map();
const grantMembers = new Map();
const epoch = () => Math.floor(Date.now() / 1000);

class Adapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.uid) store.set(`${this.name}:uid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) {
      store.set(`${this.name}:code:${payload.userCode}`, { payload: id, expiresAt });
    }
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const entry = store.get(`${this.name}:uid:${uid}`);
    return entry ? this.find(entry.payload) : undefined;
  }

  async findByUserCode(userCode) {
    const entry = store.get(`${this.name}:code:${userCode}`);
    return entry ? this.find(entry.payload) : undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = epoch();
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// --- accounts -------------------------------------------------------------------

function claimsOf(id) {
  const a = accounts.get(id);
  const claims = { sub: id };
  for (const name of ['email', 'email_verified', 'preferred_username', 'name', 'groups']) {
    if (a[name] !== undefined) claims[name] = a[name];
  }
  return claims;
}

async function findAccount(ctx, id) {
  const a = accounts.get(id);
  if (!a || a.disabled) return undefined; // a disabled person: no sign-in, no refresh
  return { accountId: id, claims: async () => claimsOf(id) };
}

// --- the provider ---------------------------------------------------------------

const provider = new Provider(config.issuer, {
  adapter: Adapter,
  clients: config.clients,
  jwks: config.jwks,
  findAccount,
  cookies: { keys: ['test-idp-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    // The groups travel with the profile scope, as many IdPs' default mappers do.
    profile: ['name', 'preferred_username', 'groups'],
  },
  // Every sign-in gets a refresh token: the app's session renewal uses it.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    AuthorizationCode: 60,
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 86400,
    Interaction: 600,
    Grant: 86400,
    Session: 86400,
  },
  // First-party client: consent is granted at sign-in, no consent page.
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile offline_access');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

// --- pages and test routes ------------------------------------------------------

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test IdP sign-in</title></head><body>
<h1>Test IdP</h1>
${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input name="login" id="login" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in at the IdP</button>
</form></body></html>`;
}

async function readBody(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return data;
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'interaction mismatch');
  if (req.method === 'GET') return send(res, 200, loginPage(uid));
  if (action !== 'login' || req.method !== 'POST') return send(res, 404, 'not found');
  const form = new URLSearchParams(await readBody(req));
  const id = form.get('login') ?? '';
  const account = accounts.get(id);
  if (!account || account.password !== form.get('password') || account.disabled) {
    return send(res, 200, loginPage(uid, 'Wrong username or password, or account disabled.'));
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: id } },
    { mergeWithLastSubmission: false },
  );
}

async function testRoute(req, res, url) {
  if (req.headers['x-admin-token'] !== config.adminToken) return send(res, 403, 'no');
  const parts = url.pathname.split('/');
  if (parts[2] === 'accounts' && req.method === 'POST') {
    const id = decodeURIComponent(parts[3]);
    const change = JSON.parse((await readBody(req)) || '{}');
    accounts.set(id, { ...(accounts.get(id) ?? {}), ...change });
    return send(res, 200, '{"ok": true}', 'application/json');
  }
  if (parts[2] === 'expire-codes' && req.method === 'POST') {
    for (const key of [...store.keys()]) {
      if (key.startsWith('AuthorizationCode:')) store.delete(key);
    }
    return send(res, 200, '{"ok": true}', 'application/json');
  }
  return send(res, 404, 'not found');
}

const handler = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, config.issuer);
  try {
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    if (url.pathname.startsWith('/__test/')) return await testRoute(req, res, url);
    return handler(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, 'error');
  }
});
server.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${config.issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
