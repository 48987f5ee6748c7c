// SPDX-License-Identifier: MIT
//
// provider.js - the OpenID provider mailgate's tests log in with.
//
// It is oidc-provider configured the way Authentik serves an application:
// an issuer with a path and a trailing slash, email_verified false, groups
// in the ID token, amr, PKCE required. Logins use the development forms;
// any login name is an account, the password "wrong" is refused. Test-only
// control endpoints (/_test/...) rotate keys and switch the signing
// algorithm at run time. Listens on 127.0.0.1 only. See README.md.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';

import Provider from 'oidc-provider';

const env = process.env;
const HOST = '127.0.0.1';
const PORT = Number.parseInt(env.MG_IDP_PORT || '9400', 10);
const MOUNT = '/application/o/mail';
// MG_IDP_TLS_CERT and MG_IDP_TLS_KEY (PEM files): serve https, as a real
// provider does, so that mailgate's [oidc] ca_file can be tested.
const TLS = env.MG_IDP_TLS_CERT && env.MG_IDP_TLS_KEY ? {
  cert: fs.readFileSync(env.MG_IDP_TLS_CERT),
  key: fs.readFileSync(env.MG_IDP_TLS_KEY),
} : null;
const SCHEME = TLS ? 'https' : 'http';
const ISSUER = `${SCHEME}://${HOST}:${PORT}${MOUNT}/`;
const CLIENT_ID = env.MG_IDP_CLIENT_ID || 'mailgate';
const CLIENT_SECRET = env.MG_IDP_CLIENT_SECRET ||
  'mailgate-test-client-secret-0123456789abcdef';
const REDIRECT_URIS = (env.MG_IDP_REDIRECT_URIS ||
  `http://${HOST}:9401/callback`).split(',').map((s) => s.trim())
  .filter(Boolean);
const ALGS = ['RS256', 'PS256', 'ES256', 'HS256'];
const STATE_DIR = env.MG_IDP_STATE_DIR || '';
// How the client is registered to authenticate at the token endpoint.
const TOKEN_AUTH = env.MG_IDP_TOKEN_AUTH || 'client_secret_basic';
const WRONG_PASSWORD = 'wrong';

let alg = (env.MG_IDP_ALG || 'RS256').toUpperCase();
// Authentik without a signing key serves "{}" as its JWKS and signs ID
// tokens with HS256 only: MG_IDP_JWKS=empty, or /_test/alg?jwks=empty.
let jwksEmpty = env.MG_IDP_JWKS === 'empty';
if (!ALGS.includes(alg)) {
  console.error(`idp: MG_IDP_ALG must be one of ${ALGS.join(' ')}`);
  process.exit(2);
}

function log(msg) {
  console.log(`${new Date().toISOString()} idp: ${msg}`);
}

// Signing keys: private JWKs, newest first (oidc-provider signs with the
// first key that fits the algorithm). A state directory keeps them across
// restarts, so a restart with another MG_IDP_ALG keeps the kids.
let keySerial = 0;

function newKey(kind) {
  const pair = kind === 'rsa'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.privateKey.export({ format: 'jwk' });
  keySerial += 1;
  jwk.kid = `${kind}-${Date.now().toString(36)}-${keySerial}`;
  jwk.use = 'sig';
  return jwk;
}

function loadKeys() {
  if (STATE_DIR) {
    try {
      const saved = JSON.parse(fs.readFileSync(
        path.join(STATE_DIR, 'keys.json'), 'utf8'));
      if (Array.isArray(saved.keys) && saved.keys.length) {
        return saved.keys;
      }
    } catch (e) {
      if (e.code !== 'ENOENT') {
        throw e;
      }
    }
  }
  return [newKey('rsa'), newKey('ec')];
}

let keys = loadKeys();

function publicJwks() {
  return {
    keys: keys.map((k) => {
      const pub = crypto.createPublicKey({ key: k, format: 'jwk' })
        .export({ format: 'jwk' });
      return { ...pub, kid: k.kid, use: 'sig' };
    }),
  };
}

function saveState() {
  if (!STATE_DIR) {
    return;
  }
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const write = (name, obj, mode) => {
    const file = path.join(STATE_DIR, name);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(obj, null, 2)}\n`,
      { mode });
    fs.renameSync(`${file}.tmp`, file);
  };
  write('keys.json', { keys }, 0o600);
  write('jwks.json', publicJwks(), 0o644);
  write('state.json', {
    issuer: ISSUER, alg, client_id: CLIENT_ID, redirect_uris: REDIRECT_URIS,
    kids: keys.map((k) => k.kid),
  }, 0o644);
}

// Group memberships changed at run time by /_test/groups, by login.
const groupOverrides = new Map();

// Accounts: every login name is one. See README.md for the claims.
function accountClaims(login) {
  const at = login.indexOf('@');
  const local = at >= 0 ? login.slice(0, at) : login;
  let groups = ['mail-users'];
  if (login.startsWith('admin')) {
    groups.push('admins');
  }
  if (login.startsWith('nogroup')) {
    groups = [];
  }
  if (groupOverrides.has(login)) {
    groups = [...groupOverrides.get(login)];
  }
  return {
    sub: login,
    email: at >= 0 ? login : `${login}@example.org`,
    email_verified: false,
    preferred_username: local,
    name: `Test User ${local}`,
    groups,
  };
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id === '') {
    return undefined;
  }
  return {
    accountId: id,
    async claims() {
      return accountClaims(id);
    },
  };
}

// One random cookie key for the life of the process: a provider rebuilt
// by /_test/rotate or /_test/alg still reads the cookies of the old one.
// Codes and sessions live in oidc-provider's module-wide memory store.
const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];

function buildProvider() {
  const provider = new Provider(ISSUER, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: TOKEN_AUTH,
      id_token_signed_response_alg: alg,
    }],
    jwks: { keys },
    cookies: { keys: COOKIE_KEYS },
    findAccount,
    conformIdTokenClaims: false,
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    // Authentik puts amr (and acr, auth_time) in every ID token.
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name', 'groups'],
      groups: ['groups'],
    },
    pkce: { required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ALGS },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
    },
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><title>error</title><h1>${out.error}</h1>`;
    },
  });
  provider.on('server_error', (ctx, err) => log(`server_error ${err}`));
  provider.on('authorization.error', (ctx, err) => log(
    `authorization.error ${err.error}: ${err.error_description}`));
  provider.on('grant.error', (ctx, err) => log(
    `grant.error ${err.error}: ${err.error_description}`));
  return provider;
}

let provider = buildProvider();
let providerCallback = provider.callback();

function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > max) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// POST /interaction/<uid>: the login form (password check, amr) and the
// consent form (grant every scope and claim asked for).
async function interactionSubmit(req, res) {
  const body = new URLSearchParams(await readBody(req, 64 * 1024));
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;

  if (body.get('prompt') === 'login' && prompt.name === 'login') {
    const login = body.get('login') || '';
    if (login === '' || body.get('password') === WRONG_PASSWORD) {
      log(`login refused login=${JSON.stringify(login)}`);
      result = {
        error: 'access_denied',
        error_description: 'invalid username or password',
      };
    } else {
      const amr = login.includes('mfa') ? ['pwd', 'mfa'] : ['pwd'];
      log(`login ok login=${JSON.stringify(login)} amr=${amr}`);
      result = { login: { accountId: login, amr, acr: 'urn:mailgate:test' } };
    }
    await provider.interactionFinished(req, res, result,
      { mergeWithLastSubmission: false });
    return;
  }

  if (body.get('prompt') === 'consent' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({
        accountId: session.accountId, clientId: params.client_id,
      });
    if (prompt.details.missingOIDCScope) {
      grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    }
    if (prompt.details.missingOIDCClaims) {
      grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    }
    result = { consent: { grantId: await grant.save() } };
    await provider.interactionFinished(req, res, result,
      { mergeWithLastSubmission: true });
    return;
  }

  res.writeHead(400, { 'Content-Type': 'text/plain' });
  res.end('unexpected prompt\n');
}

function isLoopback(addr) {
  return addr === '::1' || /^(::ffff:)?127\./.test(addr || '');
}

function sendJson(res, code, obj) {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(obj)}\n`);
}

// /_test/...: control endpoints for tests, loopback only.
function control(req, res, url) {
  if (!isLoopback(req.socket.remoteAddress)) {
    sendJson(res, 403, { error: 'loopback only' });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/_test/state') {
    sendJson(res, 200, {
      alg, kids: keys.map((k) => k.kid), issuer: ISSUER, jwks_empty: jwksEmpty,
    });
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'POST only' });
    return;
  }
  if (url.pathname === '/_test/rotate') {
    const old = keys;
    const keep = url.searchParams.get('keep') === '1';
    keys = [newKey('rsa'), newKey('ec'), ...(keep ? old : [])];
    provider = buildProvider();
    providerCallback = provider.callback();
    saveState();
    log(`keys rotated keep=${keep} kids=${keys.map((k) => k.kid)}`);
    sendJson(res, 200, { alg, kids: keys.map((k) => k.kid) });
    return;
  }
  if (url.pathname === '/_test/alg') {
    const want = (url.searchParams.get('alg') || '').toUpperCase();
    if (!ALGS.includes(want)) {
      sendJson(res, 400, { error: `alg must be one of ${ALGS.join(' ')}` });
      return;
    }
    alg = want;
    jwksEmpty = url.searchParams.get('jwks') === 'empty';
    provider = buildProvider();
    providerCallback = provider.callback();
    saveState();
    log(`signing alg now ${alg} jwks_empty=${jwksEmpty}`);
    sendJson(res, 200, { alg, kids: keys.map((k) => k.kid) });
    return;
  }
  if (url.pathname === '/_test/groups') {
    const login = url.searchParams.get('login') || '';
    const groups = (url.searchParams.get('groups') || '').split(',')
      .map((g) => g.trim()).filter(Boolean);
    if (login === '') {
      sendJson(res, 400, { error: 'login is required' });
      return;
    }
    groupOverrides.set(login, groups);
    log(`groups of ${JSON.stringify(login)} now ${JSON.stringify(groups)}`);
    sendJson(res, 200, { login, groups });
    return;
  }
  sendJson(res, 404, { error: 'no such control endpoint' });
}

async function handle(req, res) {
  const url = new URL(req.url, `${SCHEME}://${HOST}:${PORT}`);

  if (url.pathname.startsWith('/_test/')) {
    control(req, res, url);
    return;
  }
  if (url.pathname !== MOUNT && !url.pathname.startsWith(`${MOUNT}/`)) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }

  if (jwksEmpty && url.pathname === `${MOUNT}/jwks`) {
    sendJson(res, 200, {});
    return;
  }

  // oidc-provider derives its mount point from originalUrl minus url.
  req.originalUrl = req.url;
  req.url = req.url.slice(MOUNT.length) || '/';
  const callback = providerCallback;
  if (req.method === 'POST' && /^\/interaction\/[^/]+$/.test(url.pathname
    .slice(MOUNT.length))) {
    await interactionSubmit(req, res);
    return;
  }
  callback(req, res);
}

function serve(req, res) {
  handle(req, res).catch((err) => {
    log(`request failed: ${err.message}`);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
    }
    res.end('internal error\n');
  });
}
const server = TLS ? https.createServer(TLS, serve) : http.createServer(serve);

saveState();
server.listen(PORT, HOST, () => {
  log(`issuer ${ISSUER} alg ${alg} client ${CLIENT_ID} ` +
    `redirect_uris ${REDIRECT_URIS.join(',')}`);
});

function shutdown(sig) {
  log(`${sig}: stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
