'use strict';
// The seed stack of issue 17, for side-by-side figures: Node.js + Express + better-sqlite3
// (WAL) + JWT, on the Rust server's SQLite file, the same rules (policies/*.polar) written
// as SQL, REST endpoints returning the same rows as the GraphQL queries of
// api/benches/load.rs. The load bench starts it with BENCH_PEER=1 (`npm ci` on first use):
//
//   DB=path/to/load.db PORT=18099 node server.js
//
// POST /login {email} signs a token without a password (sign-in is not measured); every
// other route verifies the token and re-reads the user, as the Rust server reads the
// session. GET /deals?first=N[&with=company,owner], GET /deals/count.
//
// Rules (policies/deal.polar, company.polar, user.polar; "my teams" = the viewer's own
// team plus every team whose manager_id is the viewer):
//   read deal        rep, manager: owner is me OR owner is a member of my teams
//                                  OR the deal is shared with me (view or edit)
//                    admin: every deal
//   read amount      rep:     owner is me OR shared with me for 'edit'
//                    manager: owner is me OR owner in my teams OR shared with me for 'edit'
//                    admin:   always
//   read company     owner is me OR owner in my teams OR linked to a deal I can read
//                    (any role); for the company of a listed (readable) deal the last
//                    term always holds, so it is always shown there.
//   read user        rep: active OR is me; manager, admin: always.

const express = require('express');
const Database = require('better-sqlite3');
const jwt = require('jsonwebtoken');

const PORT = Number(process.env.PORT || 18099);
const DB_PATH = process.env.DB;
if (!DB_PATH) throw new Error('DB=path/to/the/sqlite/file is required');
const SECRET = process.env.JWT_SECRET || '0123456789abcdef0123456789abcdef';
const DEFAULT_PAGE = 25;
const MAX_PAGE = 100;

const db = new Database(DB_PATH, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');

// ---------------------------------------------------------------------------------------
// UUIDs are 16-byte BLOBs in the Rust server's SQLite schema.
function uuidToBuf(s) {
  const hex = String(s).replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
  return Buffer.from(hex, 'hex');
}
function bufToUuid(b) {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
// amount_cents -> the exact decimal string the GraphQL API sends ("1234.50").
function money(cents) {
  if (cents === null || cents === undefined) return null;
  const c = Number(cents);
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------
// The rules as SQL fragments. @me is the viewer's id.
const MY_TEAM_MEMBERS = `team_members(id) AS (
  SELECT id FROM users WHERE team_id IN (
    SELECT team_id FROM users WHERE id = @me AND team_id IS NOT NULL
    UNION
    SELECT id FROM teams WHERE manager_id = @me))`;

const OWNED = `d.owner_id = @me`;
const IN_MY_TEAMS = `d.owner_id IN (SELECT id FROM team_members)`;
const SHARED_ANY = `EXISTS (SELECT 1 FROM deal_shares s WHERE s.deal_id = d.id AND s.user_id = @me)`;
const SHARED_EDIT = `EXISTS (SELECT 1 FROM deal_shares s WHERE s.deal_id = d.id AND s.user_id = @me AND s.permission = 'edit')`;
// Counts: the viewer's shares read once as a set (keeps every OR term indexable).
const SHARED_ANY_SET = `d.id IN (SELECT s.deal_id FROM deal_shares s WHERE s.user_id = @me)`;

const RULES = {
  sales_rep: {
    read: `(${OWNED} OR ${IN_MY_TEAMS} OR ${SHARED_ANY})`,
    readCount: `(${OWNED} OR ${IN_MY_TEAMS} OR ${SHARED_ANY_SET})`,
    amount: `(${OWNED} OR ${SHARED_EDIT})`,
    owner: `(u.active OR u.id = @me)`,
  },
  manager: {
    read: `(${OWNED} OR ${IN_MY_TEAMS} OR ${SHARED_ANY})`,
    readCount: `(${OWNED} OR ${IN_MY_TEAMS} OR ${SHARED_ANY_SET})`,
    amount: `(${OWNED} OR ${IN_MY_TEAMS} OR ${SHARED_EDIT})`,
    owner: `1`,
  },
  admin: { read: `1`, readCount: `1`, amount: `1`, owner: `1` },
};

function pageSql(r) {
  return `WITH ${MY_TEAM_MEMBERS}
SELECT d.id, d.title, CASE WHEN ${r.amount} THEN d.amount_cents END AS amount_cents
FROM deals d
WHERE ${r.read}
ORDER BY d.created_at DESC, d.id ASC
LIMIT @first`;
}
function joinedPageSql(r) {
  // The company of a readable deal is "linked to a readable deal": readable for every role.
  return `WITH ${MY_TEAM_MEMBERS}
SELECT d.id, d.title, CASE WHEN ${r.amount} THEN d.amount_cents END AS amount_cents,
       c.name AS company_name,
       CASE WHEN ${r.owner} THEN u.name END AS owner_name
FROM deals d
LEFT JOIN companies c ON c.id = d.company_id
LEFT JOIN users u ON u.id = d.owner_id
WHERE ${r.read}
ORDER BY d.created_at DESC, d.id ASC
LIMIT @first`;
}
function countSql(r) {
  return `WITH ${MY_TEAM_MEMBERS}
SELECT COUNT(*) AS n FROM deals d WHERE ${r.readCount}`;
}

// Prepared once at startup.
const stmts = {};
for (const [role, r] of Object.entries(RULES)) {
  stmts[role] = {
    page: db.prepare(pageSql(r)),
    joined: db.prepare(joinedPageSql(r)),
    count: db.prepare(countSql(r)),
  };
}
const userById = db.prepare('SELECT id, role, team_id, active FROM users WHERE id = ?');
const userByEmail = db.prepare(
  'SELECT id, role, team_id, active FROM users WHERE lower(email) = lower(?)');

if (process.env.PRINT_SQL) {
  for (const [role, r] of Object.entries(RULES)) {
    console.log(`-- ${role}: page\n${pageSql(r)};\n-- ${role}: joined page\n${joinedPageSql(r)};\n-- ${role}: count\n${countSql(r)};\n`);
  }
}

// ---------------------------------------------------------------------------------------
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(express.json());

app.post('/login', (req, res) => {
  const email = req.body && req.body.email;
  if (typeof email !== 'string') return res.status(400).json({ error: 'email required' });
  const u = userByEmail.get(email);
  if (!u || !u.active) return res.status(401).json({ error: 'invalid credentials' });
  const token = jwt.sign(
    { sub: bufToUuid(u.id), role: u.role, team: u.team_id ? bufToUuid(u.team_id) : null },
    SECRET,
    { algorithm: 'HS256', expiresIn: '1h' });
  res.json({ accessToken: token });
});

// Every other route: verify the JWT and re-read the user (still there and active).
function auth(req, res, next) {
  const h = req.headers.authorization || '';
  if (!h.startsWith('Bearer ')) return res.status(401).json({ error: 'unauthenticated' });
  let claims;
  try {
    claims = jwt.verify(h.slice(7), SECRET, { algorithms: ['HS256'] });
  } catch (e) {
    return res.status(401).json({ error: 'unauthenticated' });
  }
  const id = uuidToBuf(claims.sub);
  const u = id && userById.get(id);
  if (!u || !u.active || !stmts[u.role]) return res.status(401).json({ error: 'unauthenticated' });
  req.viewer = { id: u.id, role: u.role };
  next();
}

function pageSize(q) {
  if (q === undefined) return DEFAULT_PAGE;
  const n = Number(q);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE) return null;
  return n;
}

app.get('/deals/count', auth, (req, res) => {
  const row = stmts[req.viewer.role].count.get({ me: req.viewer.id });
  res.json({ totalCount: row.n });
});

app.get('/deals', auth, (req, res) => {
  const first = pageSize(req.query.first);
  if (first === null) return res.status(400).json({ error: `first must be 0..${MAX_PAGE}` });
  const withs = String(req.query.with || '').split(',').filter(Boolean);
  const wantCompany = withs.includes('company');
  const wantOwner = withs.includes('owner');
  const s = stmts[req.viewer.role];
  const params = { me: req.viewer.id, first };
  let nodes;
  if (wantCompany || wantOwner) {
    nodes = s.joined.all(params).map((r) => {
      const n = { id: bufToUuid(r.id), title: r.title, amount: money(r.amount_cents) };
      if (wantCompany) n.company = r.company_name === null ? null : { name: r.company_name };
      if (wantOwner) n.owner = r.owner_name === null ? null : { name: r.owner_name };
      return n;
    });
  } else {
    nodes = s.page.all(params).map((r) => ({
      id: bufToUuid(r.id), title: r.title, amount: money(r.amount_cents),
    }));
  }
  res.json({ nodes });
});

app.listen(PORT, '127.0.0.1', () => {
  console.log(`peer listening on 127.0.0.1:${PORT} (db ${DB_PATH}, pid ${process.pid})`);
});
