// Two devices meet through tryst with matrix-js-sdk's
// MSC3886SimpleHttpRendezvousTransport. Usage: node msc3886.mjs <base-url>
import { MSC3886SimpleHttpRendezvousTransport } from "sdk-msc3886/lib/rendezvous/transports/MSC3886SimpleHttpRendezvousTransport.js";
import { logger } from "sdk-msc3886/lib/logger.js";

logger.setLevel("warn");
const base = process.argv[2];
const failures = [];
const onFailure = (reason) => failures.push(reason);

// The transport asks the homeserver whether it offers MSC3886; answering
// no makes it use the rendezvous server it is given, as with a standalone one.
const client = { baseUrl: base, doesServerSupportUnstableFeature: async () => false };

for (const mount of ["/rendezvous", "/_matrix/client/unstable/org.matrix.msc3886/rendezvous"]) {
	const a = new MSC3886SimpleHttpRendezvousTransport({ client, fallbackRzServer: base + mount, onFailure });
	await a.send({ type: "m.login.progress", from: "A" });
	const { uri } = await a.details();
	if (!uri.startsWith(base + mount + "/")) throw new Error(`A's uri ${uri}`);

	// B joins with the URI it scanned from A's QR code.
	const b = new MSC3886SimpleHttpRendezvousTransport({ client, fallbackRzServer: base + mount, onFailure });
	b.uri = uri;
	b._ready = true;
	const offer = await b.receive();
	if (offer?.from !== "A") throw new Error(`B received ${JSON.stringify(offer)}`);
	await b.send({ type: "m.login.finish", from: "B" });
	const reply = await a.receive();
	if (reply?.from !== "B") throw new Error(`A received ${JSON.stringify(reply)}`);
}
if (failures.length) throw new Error(`onFailure called: ${failures}`);
console.log("msc3886: ok");
