// Roster web console: a read-only view of the cluster as the agent that
// serves it sees it, built on the public HTTP API (no private endpoints).
// Every value from the cluster is rendered with textContent, never as
// HTML. The one write, unregistering a name as an operator, is offered only
// when the page was given a token whose policy (GET /v1/acl/token/self) is
// operator, and each asks for confirmation.
'use strict';
(() => {
  const PAGE = 50;          // names per page
  const FEED_MAX = 200;     // events kept in the feed
  const STATUS_EVERY = 1000;
  const METRICS_EVERY = 2000;
  const NAMES_EVERY = 5000;

  const $ = (id) => document.getElementById(id);
  const st = {
    token: sessionStorage.getItem('roster-token') || '',
    features: {},
    prefix: '',
    cursors: [''],    // after= of each page visited; the last is the current page
    next: '',
    lastEventId: '',
    operator: false,  // the token given is an operator's: offer unregister
    prevCounters: null,
    namesTimer: 0,
    groupsTimer: 0,
  };

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function headers(extra) {
    const h = Object.assign({ Accept: 'application/json' }, extra || {});
    if (st.token) h.Authorization = 'Bearer ' + st.token;
    return h;
  }

  // api calls the agent and returns the decoded JSON (null when empty);
  // an error answer throws an Error carrying status and code.
  async function api(method, path, body) {
    const opts = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : null) };
    if (body !== undefined) opts.body = JSON.stringify(body);
    const r = await fetch(path, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!r.ok) {
      const err = new Error((data && data.error) || (r.status + ' ' + r.statusText));
      err.status = r.status;
      err.code = data && data.code;
      throw err;
    }
    return data;
  }

  function showError(what, err) {
    const el = $('error');
    if (!err) { el.hidden = true; el.textContent = ''; return; }
    el.hidden = false;
    el.textContent = what + ': ' + err.message;
  }

  // el builds an element with text content and optional class.
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const c of cells) tr.appendChild(c instanceof Node ? wrapTd(c) : el('td', c));
    return tr;
  }
  function wrapTd(node) { const td = document.createElement('td'); td.appendChild(node); return td; }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  // ---- status: header, Raft, members

  async function refreshStatus() {
    let s;
    try {
      s = await api('GET', '/v1/status');
    } catch (err) {
      $('conn').textContent = 'unreachable';
      $('conn').className = 'badge bad';
      showError('status', err);
      return;
    }
    showError(null);
    $('conn').textContent = s.leader ? 'leader known' : 'no leader';
    $('conn').className = 'badge ' + (s.leader ? 'ok' : 'bad');
    $('agent').textContent = 'node ' + s.node + ' · ' + s.version;
    $('raft-leader').textContent = s.leader || '(none)';
    $('raft-term').textContent = s.raft.term;
    $('raft-last').textContent = s.raft.last_index;
    $('raft-applied').textContent = s.raft.applied_index;
    $('raft-state').textContent = s.raft.state + (s.raft.last_contact ? ' (leader heard ' + s.raft.last_contact + ' ago)' : '');
    $('raft-voters').textContent = (s.voters || []).join(', ');
    const members = (s.members || []).slice().sort((a, b) => a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
    $('members-count').textContent = '(' + members.filter((m) => m.state === 'alive').length + ' alive of ' + members.length + ')';
    fill($('members').tBodies[0], members.map((m) => {
      const tr = row([
        el('span', m.node, 'mono'), el('span', m.addr, 'mono'), el('span', m.state, 'state-' + m.state),
        m.role || '', m.node === s.leader ? el('span', 'leader', 'leader') : '',
      ]);
      tr.dataset.node = m.node;
      tr.dataset.state = m.state;
      return tr;
    }));
  }

  // ---- global names, paginated by cursor

  async function refreshNames() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (st.prefix) q.set('prefix', st.prefix);
    const after = st.cursors[st.cursors.length - 1];
    if (after) q.set('after', after);
    let page;
    try {
      page = await api('GET', '/v1/names?' + q.toString());
    } catch (err) {
      showError('names', err);
      return;
    }
    const names = page.names || [];
    st.next = page.next || '';
    $('names-next').disabled = !st.next;
    $('names-first').disabled = st.cursors.length <= 1;
    const pageNo = st.cursors.length;
    $('names-count').textContent = '(page ' + pageNo + ', ' + names.length + (st.next ? '+ more' : '') + ')';
    fill($('names').tBodies[0], names.map((n) => {
      const actions = document.createElement('span');
      if (st.token && st.operator) {
        const b = el('button', 'unregister', 'danger');
        b.type = 'button';
        b.addEventListener('click', () => unregister(n));
        actions.appendChild(b);
      }
      const tr = row([
        el('span', n.name, 'mono'), el('span', n.pid, 'mono'), el('span', n.node, 'mono'), el('span', n.fence, 'num'),
        el('span', n.meta === undefined ? '' : JSON.stringify(n.meta), 'mono'), actions,
      ]);
      tr.dataset.name = n.name;
      return tr;
    }));
  }

  function scheduleGroups(delay) {
    clearTimeout(st.groupsTimer);
    st.groupsTimer = setTimeout(refreshGroups, delay);
  }

  function scheduleNames(delay) {
    clearTimeout(st.namesTimer);
    st.namesTimer = setTimeout(refreshNames, delay);
  }

  async function unregister(n) {
    if (!window.confirm('Unregister the global name "' + n.name + '" owned by ' + n.pid + ' on ' + n.node + '?\n\nThe owner keeps running but loses the name.')) return;
    try {
      await api('DELETE', '/v1/names/' + encodeURIComponent(n.name) + '?pid=' + encodeURIComponent(n.pid));
      showError(null);
    } catch (err) {
      showError('unregister ' + n.name, err);
    }
    scheduleNames(0);
  }

  // ---- the token's rights

  async function refreshToken() {
    st.operator = false;
    if (!st.token) { $('token-state').textContent = 'read-only'; return; }
    try {
      const t = await api('GET', '/v1/acl/token/self');
      st.operator = t.policy === 'operator';
      $('token-state').textContent = t.acls ? ('token ' + (t.id || '?') + ': ' + t.policy) : 'ACLs off';
    } catch (err) {
      $('token-state').textContent = 'token refused';
      showError('token', err);
    }
  }

  // ---- groups (shown only when the agent has the endpoint)

  async function refreshGroups() {
    if (!st.features.groups) return;
    try {
      const g = await api('GET', '/v1/groups?limit=' + PAGE);
      if (!g) return;
      const groups = g.groups || [];
      $('groups-card').hidden = false;
      fill($('groups').tBodies[0], groups.map((x) => {
        const tr = row([
          el('span', x.name, 'mono'),
          el('span', typeof x.members === 'number' ? x.members : (x.members || []).length, 'num'),
          el('span', x.local === undefined ? '' : x.local, 'num'),
        ]);
        tr.dataset.group = x.name;
        return tr;
      }));
    } catch (err) {
      showError('groups', err);
    }
  }

  // ---- live feed from the watch stream (fetch, so the token can be sent;
  // EventSource cannot set headers). Resumes after the last event id.

  // stream reads one SSE endpoint until it ends, handing each frame's id
  // and data to onEvent; it reconnects after a second, asking path() again
  // (the names watch resumes after its last event id).
  async function stream(path, onEvent, onGone) {
    for (;;) {
      try {
        const r = await fetch(path(), { headers: headers({ Accept: 'text/event-stream' }) });
        if (r.status === 410 && onGone) {
          onGone();
          continue;
        }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        $('feed-state').textContent = '(live)';
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const f = parseFrame(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (f) onEvent(f.id, f.ev);
          }
        }
      } catch (err) {
        $('feed-state').textContent = '(reconnecting: ' + err.message + ')';
      }
      $('feed-state').textContent = '(reconnecting)';
      await sleep(1000);
    }
  }

  function parseFrame(text) {
    let id = '', data = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
    }
    if (!data) return null;
    try { return { id, ev: JSON.parse(data) }; } catch (e) { return null; }
  }

  function watchNames() {
    stream(
      () => '/v1/watch' + (st.lastEventId ? '?index=' + encodeURIComponent(st.lastEventId) : ''),
      nameEvent,
      () => { st.lastEventId = ''; scheduleNames(0); }, // compacted: from now, and re-list
    );
  }

  function watchGroups() {
    stream(() => '/v1/groups/watch', (_, ev) => {
      if (ev.error) { addFeed('group stream ended by the agent: ' + ev.error, 'bad'); return; }
      const parts = [new Date().toLocaleTimeString(), 'group', ev.type, ev.group];
      if (ev.pid) parts.push(ev.pid);
      if (ev.reason) parts.push('(' + ev.reason + ')');
      const li = addFeed(parts.join(' '), ev.type === 'join' ? 'ok' : '');
      li.dataset.type = 'group-' + ev.type;
      li.dataset.name = ev.group;
      scheduleGroups(100);
    });
  }

  function nameEvent(id, ev) {
    if (ev.error) {
      addFeed('stream ended by the agent: ' + ev.error, 'bad');
      return;
    }
    if (id) st.lastEventId = id;
    const t = new Date().toLocaleTimeString();
    const parts = [t, '#' + ev.index, ev.type, ev.name];
    if (ev.pid) parts.push(ev.pid);
    if (ev.reason) parts.push('(' + ev.reason + ')');
    addFeed(parts.join(' '), ev.type === 'registered' ? 'ok' : '', ev);
    scheduleNames(100);
  }

  function addFeed(text, cls, ev) {
    const li = el('li', text, cls);
    if (ev) { li.dataset.type = ev.type; li.dataset.name = ev.name; }
    const feed = $('feed');
    feed.insertBefore(li, feed.firstChild);
    while (feed.childElementCount > FEED_MAX) feed.removeChild(feed.lastChild);
    return li;
  }

  // ---- this node's metrics (Prometheus text from /metrics)

  function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
      if (!m) continue;
      (out[m[1]] = out[m[1]] || []).push({ labels: m[2] || '', value: Number(m[3]) });
    }
    return out;
  }
  const one = (ms, name) => (ms[name] && ms[name].length ? ms[name][0].value : undefined);
  const sum = (ms, name) => (ms[name] || []).reduce((a, s) => a + s.value, 0);

  async function refreshMetrics() {
    let text;
    try {
      const r = await fetch('/metrics', { headers: headers({ Accept: 'text/plain' }) });
      if (!r.ok) return;      // metrics may be closed to this token: not an error of the page
      text = await r.text();
    } catch (err) {
      return;
    }
    const ms = parseMetrics(text);
    const now = Date.now();
    const set = (id, v) => { $(id).textContent = v === undefined || Number.isNaN(v) ? '–' : String(v); };
    set('m-names', one(ms, 'roster_global_names'));
    set('m-procs', one(ms, 'roster_processes'));
    set('m-local', one(ms, 'roster_local_names'));
    set('m-purges', sum(ms, 'roster_purges_total'));
    const cur = { t: now, in: one(ms, 'roster_messages_in_total'), out: one(ms, 'roster_messages_out_total') };
    const prev = st.prevCounters;
    if (prev && cur.t > prev.t) {
      const dt = (cur.t - prev.t) / 1000;
      set('m-in', ((cur.in - prev.in) / dt).toFixed(1));
      set('m-out', ((cur.out - prev.out) / dt).toFixed(1));
    }
    st.prevCounters = cur;
    drawHistogram(ms.roster_purge_latency_seconds_bucket || []);
  }

  // drawHistogram draws per-bucket counts from cumulative le buckets.
  function drawHistogram(buckets) {
    const parsed = buckets.map((b) => {
      const m = b.labels.match(/le="([^"]+)"/);
      return { le: m ? m[1] : '', c: b.value };
    }).filter((b) => b.le);
    const chart = $('purge-chart');
    const bars = [], labels = [];
    let prev = 0, max = 0;
    const counts = parsed.map((b) => { const n = b.c - prev; prev = b.c; max = Math.max(max, n); return n; });
    parsed.forEach((b, i) => {
      const bar = el('div', null, 'bar');
      bar.style.height = (max ? Math.round(100 * counts[i] / max) : 0) + '%';
      bar.title = '≤ ' + b.le + ' s: ' + counts[i];
      bars.push(bar);
      labels.push(el('span', b.le === '+Inf' ? '∞' : b.le));
    });
    chart.replaceChildren(...bars);
    let lab = chart.nextElementSibling;
    if (!lab || !lab.classList.contains('chart-labels')) {
      lab = el('div', null, 'chart-labels');
      chart.after(lab);
    }
    lab.replaceChildren(...labels);
  }

  // ---- wiring

  async function loadFeatures() {
    try { st.features = (await api('GET', 'features.json')) || {}; } catch (e) { st.features = {}; }
  }

  function every(fn, ms) {
    const tick = async () => { await fn(); setTimeout(tick, ms); };
    tick();
  }

  function init() {
    $('token').value = st.token ? '••••••••' : '';
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('token').value.trim();
      if (v && v !== '••••••••') { st.token = v; sessionStorage.setItem('roster-token', v); }
      refreshToken().then(() => scheduleNames(0));
    });
    $('token-clear').addEventListener('click', () => {
      st.token = ''; sessionStorage.removeItem('roster-token'); $('token').value = '';
      refreshToken().then(() => scheduleNames(0));
    });
    $('names-form').addEventListener('submit', (e) => {
      e.preventDefault();
      st.prefix = $('prefix').value;
      st.cursors = [''];
      scheduleNames(0);
    });
    $('names-next').addEventListener('click', () => { if (st.next) { st.cursors.push(st.next); scheduleNames(0); } });
    $('names-first').addEventListener('click', () => { st.cursors = ['']; scheduleNames(0); });
    Promise.all([loadFeatures(), refreshToken()]).then(() => {
      every(refreshStatus, STATUS_EVERY);
      every(refreshNames, NAMES_EVERY);
      every(refreshMetrics, METRICS_EVERY);
      every(refreshGroups, NAMES_EVERY);
      watchNames();
      if (st.features.groups) watchGroups();
    });
  }

  document.addEventListener('DOMContentLoaded', init);
})();
