// Drives tryst's MLS Delivery Service with clients built on ts-mls (an
// MLS implementation written elsewhere): queues, key packages, a group
// created and grown by commits with paths, Welcomes, application
// messages, a stale commit refused with the current epoch, an external
// commit; every client then processes what its queue delivered. Prints one JSON line
// {"epoch": n, "authenticators": [hex...], "messages": [...]} on success.
//
// Usage: node interop.mjs http://127.0.0.1:PORT
import * as mls from "ts-mls";
import { encodeKeyPackage, makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { encodeRatchetTree, decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { signWithLabel } from "ts-mls/crypto/signature.js";

const base = process.argv[2];
const suiteName = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
const impl = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(suiteName));
const text = new TextEncoder();

// --- TLS presentation language (RFC 9420 2.1.2), as docs/ds.md uses it ---
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
function varint(n) {
  if (n < 64) return Uint8Array.of(n);
  if (n < 16384) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}
const opaque = (b) => concat(varint(b.length), b);
const u8 = (v) => Uint8Array.of(v);
const u16 = (v) => Uint8Array.of(v >> 8, v & 0xff);
const u32 = (v) => Uint8Array.of(v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
function readVarint(b, off) {
  const prefix = b[off] >> 6;
  const len = [1, 2, 4][prefix];
  let v = b[off] & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
  return [v, off + len];
}
const hex = (b) => Buffer.from(b).toString("hex");

// --- the DS envelope ---
const Sender = {
  leaf: (i) => concat(u8(1), u32(i)),
  keyPackage: (ref) => concat(u8(2), opaque(ref)),
  userKeyHash: (h) => concat(u8(3), opaque(h)),
};
const Req = { create: 1, deleteGroup: 2, queue: 3, proposal: 4, commit: 5, message: 6, groupInfo: 7 };

async function dsMessage(sender, gid, type, body, signKey) {
  const tbs = concat(sender, u16(1), opaque(gid), u16(type), opaque(body));
  const sig = await signWithLabel(signKey, "MIMI-DS DSMessageTBS", tbs, impl.signature);
  return concat(tbs, u8(sig.length), sig);
}

async function post(msg) {
  const r = await fetch(`${base}/v1/ds`, { method: "POST", body: msg, headers: { "Content-Type": "application/octet-stream" } });
  const b = new Uint8Array(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`POST /v1/ds: ${r.status} ${new TextDecoder().decode(b)}`);
  const code = (b[0] << 8) | b[1];
  const epoch = Number(Buffer.from(b.subarray(2, 10)).readBigUInt64BE());
  const [n, off] = readVarint(b, 10);
  return { code, epoch, body: b.slice(off, off + n) }; // a copy: decoders may read the underlying buffer from 0
}

async function ok(msg, what) {
  const r = await post(msg);
  if (r.code !== 0) throw new Error(`${what}: DS code ${r.code}: ${new TextDecoder().decode(r.body)}`);
  return r;
}

// --- clients ---
async function newClient(name) {
  const r = await fetch(`${base}/v1/queues`, { method: "POST" });
  if (r.status !== 201) throw new Error(`POST /v1/queues: ${r.status}`);
  const queue = await r.json();
  const cred = { credentialType: "basic", identity: text.encode(name) };
  const kp = await mls.generateKeyPackage(cred, mls.defaultCapabilities(), mls.defaultLifetime, [], impl);
  const ref = await makeKeyPackageRef(kp.publicPackage, impl.hash);
  return { name, queue, kp, ref, state: undefined, after: 0, received: [] };
}

const leafOf = (c) => Number(c.state.privatePath.leafIndex);
const mlsBytes = (m) => mls.encodeMlsMessage({ version: "mls10", ...m });

async function fetchQueue(c, waitMs = 0) {
  const r = await fetch(`${base}/v1/queues/${c.queue.id}/messages?after=${c.after}&wait_ms=${waitMs}`,
    { headers: { Authorization: `Bearer ${c.queue.secret}` } });
  if (r.status !== 200) throw new Error(`fetch ${c.name}: ${r.status}`);
  const { messages } = await r.json();
  if (messages.length > 0) {
    c.after = messages[messages.length - 1].seq;
    const a = await fetch(`${base}/v1/queues/${c.queue.id}/messages?through=${c.after}`,
      { method: "DELETE", headers: { Authorization: `Bearer ${c.queue.secret}` } });
    if (a.status !== 204) throw new Error(`ack ${c.name}: ${a.status}`);
  }
  return messages.map((m) => mls.decodeMlsMessage(new Uint8Array(Buffer.from(m.data, "base64")), 0)[0]);
}

// drain applies everything queued for c; it returns the Welcome, if any.
async function drain(c) {
  let welcome;
  for (const m of await fetchQueue(c)) {
    if (m.wireformat === "mls_welcome") { welcome = m.welcome; continue; }
    if (!c.state) continue;
    if (m.wireformat === "mls_public_message") {
      if (m.publicMessage.content.epoch < c.state.groupContext.epoch) continue; // joined later
      c.state = (await mls.processPublicMessage(c.state, m.publicMessage, mls.emptyPskIndex, impl)).newState;
    } else if (m.wireformat === "mls_private_message") {
      const r = await mls.processPrivateMessage(c.state, m.privateMessage, mls.emptyPskIndex, impl);
      c.state = r.newState;
      if (r.kind === "applicationMessage") c.received.push(new TextDecoder().decode(r.message));
    }
  }
  return welcome;
}

async function groupInfoMessage(state) {
  const gi = await mls.createGroupInfoWithExternalPub(state, [], impl);
  return mlsBytes({ wireformat: "mls_group_info", groupInfo: gi });
}

// commit builds (but does not merge) a commit of c adding joiners.
async function commit(c, joiners) {
  const extraProposals = joiners.map((j) => ({ proposalType: "add", add: { keyPackage: j.kp.publicPackage } }));
  const r = await mls.createCommit({ state: c.state, cipherSuite: impl }, { extraProposals, wireAsPublicMessage: true });
  const added = concat(...joiners.map((j) => concat(opaque(j.ref), opaque(text.encode(j.queue.id)))));
  const welcome = r.welcome ? concat(u8(1), mlsBytes({ wireformat: "mls_welcome", welcome: r.welcome })) : u8(0);
  const body = concat(mlsBytes(r.commit), await groupInfoMessage(r.newState), welcome, opaque(added));
  const msg = await dsMessage(Sender.leaf(leafOf(c)), c.state.groupContext.groupId, Req.commit, body, c.kp.privatePackage.signaturePrivateKey);
  return { msg, newState: r.newState };
}

async function join(c, gid, welcome) {
  if (!welcome) throw new Error(`${c.name}: no Welcome in the queue`);
  const req = await dsMessage(Sender.keyPackage(c.ref), gid, Req.groupInfo, new Uint8Array(0), c.kp.privatePackage.signaturePrivateKey);
  const r = await ok(req, `${c.name} group_info`);
  const [, off] = mls.decodeMlsMessage(r.body, 0);
  const [n, start] = readVarint(r.body, off);
  const [tree] = decodeRatchetTree(r.body.slice(start, start + n), 0);
  c.state = await mls.joinGroup(welcome, c.kp.publicPackage, c.kp.privatePackage, mls.emptyPskIndex, impl, tree);
}

async function send(c, words) {
  const r = await mls.createApplicationMessage(c.state, text.encode(words), impl);
  c.state = r.newState;
  const body = mlsBytes({ wireformat: "mls_private_message", privateMessage: r.privateMessage });
  await ok(await dsMessage(Sender.leaf(leafOf(c)), c.state.groupContext.groupId, Req.message, body, c.kp.privatePackage.signaturePrivateKey), `${c.name} message`);
}

// --- the scenario ---
const [alice, bob, carol, dave, eve] = await Promise.all(["alice", "bob", "carol", "dave", "eve"].map(newClient));
const gid = text.encode(`ts-mls ${Date.now()} ${Math.random()}`);

alice.state = await mls.createGroup(gid, alice.kp.publicPackage, alice.kp.privatePackage, [], impl);
const create = concat(encodeKeyPackage(alice.kp.publicPackage), opaque(text.encode(alice.queue.id)),
  await groupInfoMessage(alice.state), opaque(encodeRatchetTree(alice.state.ratchetTree)));
await ok(await dsMessage(Sender.keyPackage(alice.ref), gid, Req.create, create, alice.kp.privatePackage.signaturePrivateKey), "create_group");

let c = await commit(alice, [bob]);
await ok(c.msg, "alice adds bob");
alice.state = c.newState;
await join(bob, gid, await drain(bob));

await send(alice, "hello bob");
await drain(bob);

c = await commit(bob, [carol]);
await ok(c.msg, "bob adds carol");
bob.state = c.newState;
await drain(alice);
await join(carol, gid, await drain(carol));

// Alice and Bob commit in the same epoch: the second is stale.
const ca = await commit(alice, [dave]);
const cb = await commit(bob, []);
await ok(ca.msg, "alice adds dave");
alice.state = ca.newState;
const stale = await post(cb.msg);
if (stale.code !== 4 || stale.epoch !== Number(alice.state.groupContext.epoch)) {
  throw new Error(`stale commit answered code ${stale.code} epoch ${stale.epoch}, want wrong_epoch at ${alice.state.groupContext.epoch}`);
}
// Dave joins before the epoch moves on: group_info serves the current
// epoch's tree, which must be the one his Welcome is for.
await join(dave, gid, await drain(dave));
await drain(bob);
const retry = await commit(bob, []);
await ok(retry.msg, "bob's commit, again");
bob.state = retry.newState;
await drain(alice);
await drain(carol);
await drain(dave);

// A commit sent as a PrivateMessage (ts-mls's default) cannot be
// validated by a DS: refused, and nothing changes.
const hidden = await mls.createCommit({ state: alice.state, cipherSuite: impl }, {});
const hiddenBody = concat(mlsBytes(hidden.commit), await groupInfoMessage(hidden.newState), u8(0), opaque(new Uint8Array(0)));
const refused = await post(await dsMessage(Sender.leaf(leafOf(alice)), gid, Req.commit, hiddenBody, alice.kp.privatePackage.signaturePrivateKey));
if (refused.code !== 5 || refused.epoch !== Number(alice.state.groupContext.epoch)) {
  throw new Error(`PrivateMessage commit answered code ${refused.code}, want invalid_message (5)`);
}

// Eve joins by external commit with a GroupInfo Alice fetched from the DS
// and handed her (an invitation link, say); she names herself by the hash
// of her signature key.
const info = await ok(await dsMessage(Sender.leaf(leafOf(alice)), gid, Req.groupInfo, new Uint8Array(0),
  alice.kp.privatePackage.signaturePrivateKey), "alice group_info");
const [giMsg, giEnd] = mls.decodeMlsMessage(info.body, 0);
const [treeLen, treeStart] = readVarint(info.body, giEnd);
const [giTree] = decodeRatchetTree(info.body.slice(treeStart, treeStart + treeLen), 0);
const ext = await mls.joinGroupExternal(giMsg.groupInfo, eve.kp.publicPackage, eve.kp.privatePackage, false, impl, giTree);
const extBody = concat(mlsBytes({ wireformat: "mls_public_message", publicMessage: ext.publicMessage }),
  await groupInfoMessage(ext.newState), u8(0), opaque(concat(opaque(new Uint8Array(0)), opaque(text.encode(eve.queue.id)))));
const eveHash = await impl.hash.digest(eve.kp.publicPackage.leafNode.signaturePublicKey);
await ok(await dsMessage(Sender.userKeyHash(eveHash), gid, Req.commit, extBody, eve.kp.privatePackage.signaturePrivateKey), "eve's external commit");
eve.state = ext.newState;
for (const m of [alice, bob, carol, dave]) await drain(m);

await send(carol, "hello all");
for (const m of [alice, bob, dave, eve]) await drain(m);

const members = [alice, bob, carol, dave, eve];
const epochs = new Set(members.map((m) => String(m.state.groupContext.epoch)));
const auths = members.map((m) => hex(m.state.keySchedule.epochAuthenticator));
if (epochs.size !== 1 || new Set(auths).size !== 1) {
  throw new Error(`members disagree: epochs ${[...epochs]}, authenticators ${auths}`);
}
console.log(JSON.stringify({ epoch: Number(alice.state.groupContext.epoch), authenticators: auths,
  messages: { bob: bob.received, alice: alice.received, dave: dave.received, eve: eve.received } }));
