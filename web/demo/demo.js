// The rendezvous demo: device A creates a session on the simple flavour and
// shows its link; device B opens the link; both exchange messages through
// the session with ETag-conditional writes and Prefer: wait long-polls.
//
// The session holds one payload, so it carries the last few messages as
// JSON: {"messages": [{"from": "A", "id": "...", "text": "..."}]}. A writer
// that loses a race (412) reads the other's write, merges and retries.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const api = (params.get('api') || location.origin).replace(/\/+$/, '');
  const mount = params.get('mount') || '/rendezvous';
  const joinID = params.get('s');
  const me = joinID ? 'B' : 'A';
  const other = me === 'A' ? 'B' : 'A';

  const WAIT_SECONDS = 25; // below the server's default 30 s cap and common proxy timeouts
  const KEEP = 20; // messages kept in the mailbox
  const MAX_BACKOFF_MS = 10000;
  const WRITE_ATTEMPTS = 5;

  const state = {
    id: null,
    etag: null,
    maxBytes: 4096, // the contract's default; the server tells the real one
    messages: [],
    seen: new Set(),
    seq: 0,
    ended: false,
  };

  const $ = (id) => document.getElementById(id);

  class Ended extends Error {}

  function setStatus(text, isError) {
    $('status').textContent = text;
    $('status').classList.toggle('error', Boolean(isError));
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function sessionURL() {
    return api + mount + '/' + encodeURIComponent(state.id);
  }

  function encode(messages) {
    return JSON.stringify({ messages: messages });
  }

  function decode(text) {
    try {
      const v = JSON.parse(text);
      return Array.isArray(v.messages) ? v.messages : [];
    } catch (e) {
      return [];
    }
  }

  // fit drops the oldest messages until the payload fits the server's limit.
  function fit(messages) {
    const size = (m) => new TextEncoder().encode(encode(m)).length;
    let out = messages.slice(-KEEP);
    while (out.length > 1 && size(out) > state.maxBytes) {
      out = out.slice(1);
    }
    return out;
  }

  async function describe(resp) {
    let detail = '';
    try {
      const e = await resp.json();
      detail = ' (' + e.errcode + ': ' + e.error + ')';
    } catch (e) {
      // not the error envelope; the status says enough
    }
    return 'HTTP ' + resp.status + detail;
  }

  function readHeaders(resp) {
    const etag = resp.headers.get('ETag');
    if (!etag) {
      throw new Error('the server sent no readable ETag (does its CORS configuration expose ETag?)');
    }
    state.etag = etag;
    const max = parseInt(resp.headers.get('X-Max-Bytes'), 10);
    if (max > 0) {
      state.maxBytes = max;
    }
  }

  function render() {
    for (const m of state.messages) {
      if (!m || typeof m.id !== 'string' || state.seen.has(m.id)) {
        continue;
      }
      state.seen.add(m.id);
      const li = document.createElement('li');
      li.dataset.from = String(m.from);
      li.classList.toggle('mine', m.from === me);
      li.textContent = m.kind === 'join' ? 'Device ' + m.from + ' joined' : m.from + ': ' + String(m.text);
      $('log').appendChild(li);
      if (m.from === other && !state.ended) {
        setStatus('Connected to device ' + other + '.');
      }
    }
  }

  async function create() {
    const resp = await fetch(api + mount, { method: 'POST', body: encode([]), cache: 'no-store' });
    if (resp.status !== 200 && resp.status !== 201) {
      throw new Error('creating the rendezvous: ' + (await describe(resp)));
    }
    const body = await resp.json();
    state.id = body.id;
    readHeaders(resp);
    if (body.max_bytes > 0) {
      state.maxBytes = body.max_bytes;
    }
  }

  // read fetches the session; with wait, it long-polls until it changes.
  // It returns whether there was something new.
  async function read(wait) {
    const headers = {};
    if (wait && state.etag) {
      headers['If-None-Match'] = state.etag;
      headers['Prefer'] = 'wait=' + WAIT_SECONDS;
    }
    const resp = await fetch(sessionURL(), { headers: headers, cache: 'no-store' });
    if (resp.status === 304) {
      return false;
    }
    if (resp.status === 404) {
      throw new Ended('the rendezvous has ended');
    }
    if (resp.status !== 200) {
      throw new Error('reading: ' + (await describe(resp)));
    }
    const text = await resp.text();
    readHeaders(resp);
    state.messages = decode(text);
    render();
    return true;
  }

  async function poll() {
    let backoff = 500;
    while (!state.ended) {
      try {
        await read(true);
        backoff = 500;
      } catch (e) {
        if (e instanceof Ended) {
          end();
          return;
        }
        setStatus('Connection problem: ' + e.message + '. Retrying…', true);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  // write appends a message to the mailbox, retrying after losing a race.
  async function write(message) {
    message.from = me;
    message.id = me + '-' + Date.now() + '-' + ++state.seq;
    for (let i = 0; i < WRITE_ATTEMPTS; i++) {
      const messages = fit(state.messages.concat([message]));
      const resp = await fetch(sessionURL(), {
        method: 'PUT',
        body: encode(messages),
        headers: { 'If-Match': state.etag },
        cache: 'no-store',
      });
      if (resp.status === 202) {
        readHeaders(resp);
        state.messages = messages;
        render();
        return;
      }
      if (resp.status === 404) {
        throw new Ended('the rendezvous has ended');
      }
      if (resp.status !== 412) {
        throw new Error('sending: ' + (await describe(resp)));
      }
      await read(false); // the other device wrote first: take its write, then retry
    }
    throw new Error('sending: the other device kept writing at the same time');
  }

  function end() {
    state.ended = true;
    setStatus('The rendezvous has ended (expired or deleted). Reload the page to start a new one.', true);
    $('text').disabled = true;
    $('send-button').disabled = true;
  }

  function inviteLink() {
    const q = new URLSearchParams();
    if (params.get('api')) {
      q.set('api', params.get('api'));
    }
    if (params.get('mount')) {
      q.set('mount', params.get('mount'));
    }
    q.set('s', state.id);
    return location.origin + location.pathname + '?' + q.toString();
  }

  function drawQR(canvas, text) {
    const qr = qrcode(0, 'M'); // global of qrcode.js; type 0 picks the size
    qr.addData(text);
    qr.make();
    const scale = 4;
    const quiet = 4; // modules of white border, as the standard asks
    const n = qr.getModuleCount();
    const size = (n + 2 * quiet) * scale;
    canvas.width = size;
    canvas.height = size;
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, size, size);
    g.fillStyle = '#000';
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (qr.isDark(r, c)) {
          g.fillRect((c + quiet) * scale, (r + quiet) * scale, scale, scale);
        }
      }
    }
  }

  function onSubmit(ev) {
    ev.preventDefault();
    const input = $('text');
    const text = input.value.trim();
    if (!text || state.ended) {
      return;
    }
    input.value = '';
    write({ text: text }).catch((e) => {
      if (e instanceof Ended) {
        end();
        return;
      }
      setStatus('Not sent: ' + e.message, true);
      input.value = text;
    });
  }

  async function startA() {
    setStatus('Creating a rendezvous…');
    await create();
    const link = inviteLink();
    $('link').href = link;
    $('link').textContent = link;
    drawQR($('qr'), link);
    $('invite').hidden = false;
    setStatus('Waiting for device B: scan the code or open the link.');
  }

  async function startB() {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(joinID)) {
      throw new Error('the link holds no valid rendezvous id');
    }
    state.id = joinID;
    setStatus('Joining…');
    await read(false);
    await write({ kind: 'join' });
  }

  async function main() {
    $('api').textContent = api;
    $('role').textContent = '(you are device ' + me + ')';
    $('send').addEventListener('submit', onSubmit);
    try {
      await (me === 'A' ? startA() : startB());
    } catch (e) {
      if (e instanceof Ended) {
        end();
        return;
      }
      setStatus('Could not start: ' + e.message, true);
      return;
    }
    $('chat').hidden = false;
    poll();
  }

  main();
})();
