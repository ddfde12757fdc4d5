#!/usr/bin/env node
// A small, real OpenID Connect provider standing in for Keycloak in CoLink's integration tests.
// It is the certified `oidc-provider` package, configured to look like a Keycloak realm:
//   issuer        http://127.0.0.1:N/realms/colink
//   discovery     /realms/colink/.well-known/openid-configuration
//   endpoints     /realms/colink/protocol/openid-connect/{auth,token,certs,userinfo,logout}
//   login page    /realms/colink/interaction/<uid>  (form fields `login`, `password`)
// Clients:
//   colink-web  public (no secret), authorization code + PKCE S256, redirect URIs from --redirect-uri
//   colink-api  confidential, secret `colink-api-secret`, client_credentials
// Access tokens are RS256 JWTs with aud `colink-api` carrying the Keycloak-ish user claims; the
// ID token carries email/profile claims and realm_access.
//
// Usage: node server.mjs --port N --accounts FILE --keys FILE [--rotate] [--redirect-uri URI]...
//   --accounts FILE  JSON object login -> claims, e.g.
//                    {"alice": {"sub": "kc-alice", "email": "alice@example.com", ...,
//                               "realm_access": {"roles": ["user"]}, "password": "optional"}}
//                    Only logins in this file can sign in. If an account has a `password` field the
//                    password must match it, otherwise any password is accepted. `sub` defaults to the
//                    login; `password` is never put into a token.
//   --keys FILE      JWKS with private RSA keys; created with one fresh key when missing.
//   --rotate         put a freshly generated key in front of the keys in FILE (and write FILE), so
//                    the provider signs with a new kid and still publishes the old keys.
// Prints exactly one line `oidc-provider ready <issuer>` on stdout once listening; everything
// else goes to stderr. Exits on SIGTERM/SIGINT.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// oidc-provider prints its "you SHOULD change this default" notices with console.info, i.e. on
// stdout; tests read stdout for the ready line, so all console output goes to stderr.
console.info = console.error;
console.log = console.error;

const die = (msg) => {
  console.error(`oidc-provider: ${msg}`);
  process.exit(2);
};

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      accounts: { type: 'string' },
      keys: { type: 'string' },
      rotate: { type: 'boolean', default: false },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  }));
} catch (err) {
  die(err.message);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) die('--port N is required');
if (!args.accounts) die('--accounts FILE is required');
if (!args.keys) die('--keys FILE is required');
if (args.rotate && !fs.existsSync(args.keys)) die(`--rotate: ${args.keys} does not exist yet`);
const redirectUris = args['redirect-uri'];
if (redirectUris.length === 0) console.error('oidc-provider: warning: no --redirect-uri given, colink-web cannot log in');

const MOUNT = '/realms/colink';
const ISSUER = `http://127.0.0.1:${port}${MOUNT}`;
const OIDC = '/protocol/openid-connect';
// RFC 8707 resource indicators must be absolute URIs, so the API is known under a URN; the
// audience put into its access tokens is the Keycloak-style client id `colink-api`.
const API_RESOURCE = 'urn:colink:api';
const API_AUDIENCE = 'colink-api';

// ---- accounts -------------------------------------------------------------------------------
const accountsByLogin = new Map();
const accountsBySub = new Map();
{
  let raw;
  try {
    raw = JSON.parse(fs.readFileSync(args.accounts, 'utf8'));
  } catch (err) {
    die(`cannot read --accounts ${args.accounts}: ${err.message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) die('--accounts must hold a JSON object');
  for (const [login, entry] of Object.entries(raw)) {
    const { password, ...claims } = entry ?? {};
    claims.sub = String(claims.sub ?? login);
    const account = { login, password, claims };
    accountsByLogin.set(login, account);
    accountsBySub.set(claims.sub, account);
  }
}

// ---- signing keys ---------------------------------------------------------------------------
function newRsaJwk() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  // kid = RFC 7638 thumbprint of the public key
  const thumb = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return { kid: crypto.createHash('sha256').update(thumb).digest('base64url'), use: 'sig', alg: 'RS256', ...jwk };
}

function loadKeys() {
  let keys = [];
  if (fs.existsSync(args.keys)) {
    try {
      ({ keys } = JSON.parse(fs.readFileSync(args.keys, 'utf8')));
    } catch (err) {
      die(`cannot read --keys ${args.keys}: ${err.message}`);
    }
    if (!Array.isArray(keys) || keys.length === 0) die(`--keys ${args.keys} holds no "keys" array`);
  }
  if (keys.length === 0 || args.rotate) {
    // oidc-provider signs with the first matching key and publishes all of them, so the new key
    // goes first.
    keys = [newRsaJwk(), ...keys];
    fs.writeFileSync(args.keys, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  }
  return { keys };
}
const jwks = loadKeys();

// ---- provider -------------------------------------------------------------------------------
const day = 24 * 60 * 60;

// Keycloak-ish claims put into access tokens (Keycloak puts them there by default).
function userTokenClaims(account) {
  const c = account.claims;
  const out = {};
  for (const k of ['email', 'email_verified', 'preferred_username', 'name', 'given_name', 'family_name', 'realm_access']) {
    if (c[k] !== undefined) out[k] = c[k];
  }
  return out;
}

const htmlEscape = (s) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${htmlEscape(title)}</title>
  <style>
    body{font-family:sans-serif;background:#f3f3f3;margin:0;padding-top:60px}
    main{width:320px;margin:0 auto;background:#fff;padding:24px 32px;border-radius:4px;box-shadow:0 2px 4px rgba(0,0,0,.2)}
    h1{font-size:1.4em;font-weight:400;text-align:center}
    label{display:block;margin-top:12px;font-size:.9em}
    input[type=text],input[type=password]{width:100%;box-sizing:border-box;height:36px;font-size:1em;padding:0 8px;margin-top:4px}
    button{width:100%;height:38px;margin-top:20px;font-size:1em;background:#0066cc;color:#fff;border:0;border-radius:3px;cursor:pointer}
    .error{color:#b00020;text-align:center}
  </style>
</head>
<body><main>
${body}
</main></body>
</html>
`;

const provider = new Provider(ISSUER, {
  jwks,
  clients: [
    {
      client_id: 'colink-web',
      client_name: 'CoLink',
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: redirectUris,
    },
    {
      client_id: 'colink-api',
      client_secret: 'colink-api-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  // Public clients always need PKCE (S256 is the only method oidc-provider 9 supports); this
  // makes it explicit for every client.
  pkce: { required: () => true },
  // Keycloak routes under the mount path (the discovery document stays /.well-known/...).
  routes: {
    authorization: `${OIDC}/auth`,
    token: `${OIDC}/token`,
    jwks: `${OIDC}/certs`,
    userinfo: `${OIDC}/userinfo`,
    end_session: `${OIDC}/logout`,
    revocation: `${OIDC}/revoke`,
    introspection: `${OIDC}/token/introspect`,
    pushed_authorization_request: `${OIDC}/ext/par/request`,
    device_authorization: `${OIDC}/auth/device`,
    code_verification: `${OIDC}/device`,
    backchannel_authentication: `${OIDC}/ext/ciba/auth`,
  },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: {
    // realm_access belongs to the openid scope, so every ID token has it (Keycloak-like roles).
    openid: ['sub', 'realm_access'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'nickname', 'picture', 'locale', 'updated_at'],
  },
  // By default an ID token issued together with an access token only carries sub & co and the
  // rest is left to userinfo; Keycloak puts the scope claims into the ID token, and CoLink reads
  // them from there (userinfo refuses resource-bound access tokens anyway).
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const account = accountsBySub.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...account.claims, sub };
      },
    };
  },
  // Auto-consent: every client is first-party, so grant whatever is requested and never show a
  // consent screen.
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    let grant = grantId ? await Grant.find(grantId) : undefined;
    if (!grant) {
      grant = new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    }
    const scopes = [...ctx.oidc.requestParamOIDCScopes];
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = [...ctx.oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    for (const [indicator, rs] of Object.entries(ctx.oidc.resourceServers ?? {})) {
      const wanted = [...ctx.oidc.requestParamScopes].filter((s) => rs.scopes.has(s));
      grant.addResourceScope(indicator, wanted.join(' '));
    }
    await grant.save();
    return grant;
  },
  features: {
    // Our own login page below instead of the development one (which accepts any login).
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No `resource` parameter → the API; so a plain auth request gets a JWT access token for it.
      async defaultResource() {
        return API_RESOURCE;
      },
      // At the token endpoint, use the resource granted at the authorization endpoint (otherwise
      // a request with scope openid gets an opaque token for userinfo).
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator !== API_RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          // the OIDC scopes are listed too so that, as with Keycloak, the token's `scope` is
          // e.g. "openid email profile" rather than empty
          scope: 'openid email profile api',
          audience: API_AUDIENCE,
          accessTokenTTL: 60 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      // Confirmation page. Keycloak logs out without asking when id_token_hint is given, so the
      // page then submits itself in a browser; without JavaScript (curl) POST the form.
      async logoutSource(ctx, form) {
        const auto = ctx.oidc.params.id_token_hint
          ? "<script>document.addEventListener('DOMContentLoaded',function(){document.getElementById('logout-yes').click()})</script>"
          : '';
        ctx.body = page('Sign out', `<h1>Do you want to sign out?</h1>
${form}
<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
${auto}`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>You are signed out.</h1>');
      },
    },
  },
  // Like Keycloak, always hand colink-web a refresh token (oidc-provider's default wants the
  // offline_access scope, which it drops unless prompt=consent).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'AccessToken' && token.accountId) {
      const account = accountsBySub.get(token.accountId);
      return { azp: token.clientId, ...(account ? userTokenClaims(account) : {}) };
    }
    if (token.kind === 'ClientCredentials') {
      return { azp: token.clientId, preferred_username: `service-account-${token.clientId}`, realm_access: { roles: [] } };
    }
    return undefined;
  },
  interactions: {
    url(_ctx, interaction) {
      return `${MOUNT}/interaction/${interaction.uid}`;
    },
  },
  // Explicit lifetimes (the defaults are fine, but using them prints notices).
  ttl: {
    AccessToken: 60 * 60,
    AuthorizationCode: 60,
    ClientCredentials: 10 * 60,
    IdToken: 60 * 60,
    RefreshToken: day,
    Interaction: 60 * 60,
    Session: day,
    Grant: day,
    DeviceCode: 10 * 60,
    BackchannelAuthenticationRequest: 10 * 60,
  },
  clientBasedCORS(_ctx, origin, client) {
    return client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin);
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1>${Object.entries(out).map(([k, v]) => `<p class="error"><b>${htmlEscape(k)}</b>: ${htmlEscape(v)}</p>`).join('')}`);
  },
  // Cookies: we serve plain http on 127.0.0.1, and oidc-provider only marks cookies `secure` when
  // the request itself is https (ctx.secure), so httpOnly + SameSite=Lax work as they are; `proxy`
  // stays off because nothing sits in front of us. Cookies do not tell ports apart, so ours get
  // names of their own and the session cookie stays under the realm path (like Keycloak's) instead
  // of being sent to CoLink on the same host. The keys sign the cookies.
  cookies: {
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
    long: { httpOnly: true, sameSite: 'lax', path: `${MOUNT}/` },
    short: { httpOnly: true, sameSite: 'lax' },
    keys: [crypto.randomBytes(32).toString('base64url')],
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error',
  'userinfo.error', 'introspection.error', 'revocation.error', 'jwks.error', 'discovery.error',
  'backchannel.error']) {
  provider.on(event, (_ctx, err) => {
    const detail = err?.error_description ? ` (${err.error_description})` : '';
    console.error(`oidc-provider: ${event}: ${err?.message ?? err}${detail}`);
    if (event === 'server_error' && err?.stack) console.error(err.stack);
  });
}

// ---- login page -----------------------------------------------------------------------------
function loginForm(uid, { login = '', error } = {}) {
  return page('Sign in to CoLink', `<h1>Sign in to CoLink</h1>
${error ? `<p class="error" id="login-error">${htmlEscape(error)}</p>` : ''}
<form id="kc-form-login" method="post" action="${MOUNT}/interaction/${htmlEscape(uid)}" autocomplete="off">
  <input type="hidden" name="prompt" value="login">
  <label for="username">Username</label>
  <input id="username" type="text" name="login" value="${htmlEscape(login)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" type="password" name="password" required>
  <button id="kc-login" type="submit">Sign In</button>
</form>`);
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Consent never needs a human (see loadExistingGrant); should the policy still ask, grant all.
async function autoConsent(req, res, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, uid) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    // no or stale interaction cookie
    return send(res, 400, page('Error', `<h1>Error</h1><p class="error">${htmlEscape(err.message)}</p>`));
  }
  if (details.uid !== uid) return send(res, 400, page('Error', '<h1>Error</h1><p class="error">interaction mismatch</p>'));

  if (details.prompt.name === 'consent') return autoConsent(req, res, details);
  if (details.prompt.name !== 'login') return send(res, 501, page('Error', `<h1>prompt ${htmlEscape(details.prompt.name)} not implemented</h1>`));

  if (req.method === 'GET') return send(res, 200, loginForm(uid, { login: details.params.login_hint ?? '' }));
  if (req.method !== 'POST') return send(res, 405, page('Error', '<h1>method not allowed</h1>'));

  const form = await readForm(req);
  const prompt = form.get('prompt') ?? 'login';
  const login = form.get('login') ?? '';
  const password = form.get('password') ?? '';
  if (prompt !== 'login') return send(res, 400, page('Error', '<h1>unexpected prompt</h1>'));
  const account = accountsByLogin.get(login);
  if (!account || (account.password !== undefined && account.password !== password)) {
    console.error(`oidc-provider: refused login ${JSON.stringify(login)}`);
    return send(res, 401, loginForm(uid, { login, error: 'Invalid username or password.' }));
  }
  // 303 to the authorization resume URL, which then redirects to the client with ?code=...
  return provider.interactionFinished(req, res, { login: { accountId: account.claims.sub } }, { mergeWithLastSubmission: false });
}

// ---- HTTP server ----------------------------------------------------------------------------
const callback = provider.callback();
const interactionPath = new RegExp(`^${MOUNT}/interaction/([A-Za-z0-9_-]+)$`);

const server = http.createServer(async (req, res) => {
  try {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    const m = interactionPath.exec(pathname);
    if (m) return await interaction(req, res, m[1]);
    if (pathname === MOUNT || pathname.startsWith(`${MOUNT}/`)) {
      // Mount the provider under /realms/colink the way express does: the provider sees the path
      // without the prefix and derives its mount path from req.originalUrl for the URLs it builds.
      req.originalUrl = req.url;
      req.url = req.url.slice(MOUNT.length) || '/';
      return callback(req, res);
    }
    return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  } catch (err) {
    console.error('oidc-provider: request failed:', err);
    if (!res.headersSent) send(res, 500, page('Error', '<h1>Internal error</h1>'));
    else res.end();
  }
});

server.on('error', (err) => die(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`oidc-provider ready ${ISSUER}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
