// Two devices meet through tryst with matrix-js-sdk's MSC4108RendezvousSession,
// the transport Element uses for QR login. Usage: node msc4108.mjs <base-url>
import { MSC4108RendezvousSession } from "sdk-msc4108/lib/rendezvous/transports/MSC4108RendezvousSession.js";
import { logger } from "sdk-msc4108/lib/logger.js";

logger.setLevel("warn");
const base = process.argv[2];
const failures = [];
const onFailure = (reason) => failures.push(reason);

for (const mount of ["/_matrix/client/unstable/org.matrix.msc4108/rendezvous", "/_matrix/client/v1/rendezvous"]) {
	const a = new MSC4108RendezvousSession({ fallbackRzServer: base + mount, onFailure });
	await a.send("hello from A");
	if (!a.ready || !a.url.startsWith(base + mount + "/")) throw new Error(`A not ready after POST: url ${a.url}`);

	const b = new MSC4108RendezvousSession({ url: a.url, onFailure });
	const offer = await b.receive();
	if (offer !== "hello from A") throw new Error(`B received ${offer}`);
	await b.send("hello from B");

	const reply = await a.receive();
	if (reply !== "hello from B") throw new Error(`A received ${reply}`);
	await a.send("second from A");
	const second = await b.receive();
	if (second !== "second from A") throw new Error(`B received ${second}`);

	await a.close();
	const res = await fetch(a.url);
	if (res.status !== 404) throw new Error(`GET after close = ${res.status}, want 404`);
}
if (failures.length) throw new Error(`onFailure called: ${failures}`);
console.log("msc4108: ok");
