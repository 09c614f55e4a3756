// taxhub operations dashboard: plain JS against the admin API (/api/v1, /metrics). The bearer
// token comes from the sign-in form or the URL fragment (#token=…), is kept for the tab only
// (sessionStorage) and is removed from the address bar.
'use strict';

const state = { token: '', user: '', role: '', samples: [], lastCompleted: null };

function $(selector) { return document.querySelector(selector); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick') node.addEventListener('click', v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

function say(text, ok) {
  const box = $('#message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
}

function time(ms) {
  return ms ? new Date(ms).toLocaleString('zh-CN', { hour12: false }) : '';
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { 'Authorization': 'Bearer ' + state.token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = answer.error || {};
    throw new Error(`${response.status} ${e.code || ''}: ${e.message || response.statusText}` +
                    (e.field ? ` (${e.field})` : ''));
  }
  return answer;
}

function signIn(token) {
  state.token = token.trim();
  sessionStorage.setItem('taxhub.token', state.token);
  try {
    // The claims are base64url of UTF-8 (a user may be 王晓明): bytes first, then text.
    const bytes = Uint8Array.from(atob(state.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')),
                                  (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder('utf-8').decode(bytes));
    state.user = claims.sub || '';
    state.role = claims.role || '';
  } catch (e) {
    state.user = state.role = '';
  }
  $('#who').textContent = state.user ? `${state.user} · ${state.role}` : '';
  refreshAll();
}

// ---- overview -----------------------------------------------------------------------------

async function refreshMetrics() {
  const text = await (await fetch('/metrics')).text();
  const value = (name) => {
    const m = text.match(new RegExp('^' + name + ' (\\d+)', 'm'));
    return m ? Number(m[1]) : 0;
  };
  const completed = value('taxhub_requests_completed_total');
  $('#m-accepted').textContent = value('taxhub_requests_accepted_total');
  $('#m-completed').textContent = completed;
  $('#m-dispatched').textContent = value('taxhub_stages_dispatched_total');
  $('#m-refused').textContent = value('taxhub_requests_refused_total');
  $('#m-commits').textContent = value('taxhub_ledger_commits_total');
  // Stage latency: the mean of each stage's histogram; queues: waiting and claimed tasks.
  const latency = {};
  for (const m of text.matchAll(/^taxhub_stage_seconds_(sum|count)\{stage="([^"]+)"\} ([0-9.e+-]+)$/gm)) {
    (latency[m[2]] = latency[m[2]] || {})[m[1]] = Number(m[3]);
  }
  drawBars('#latency', Object.entries(latency).map(([stage, v]) => [stage, v.count ? 1000 * v.sum / v.count : 0]), 'ms');
  const queues = {};
  for (const m of text.matchAll(/^taxhub_queue_depth\{queue="([^"]+)",state="(waiting|claimed)"\} (\d+)$/gm)) {
    (queues[m[1]] = queues[m[1]] || { waiting: 0, claimed: 0 })[m[2]] = Number(m[3]);
  }
  drawBars('#queues', Object.entries(queues).map(([queue, v]) => [queue, v.waiting, v.claimed]), '');
  if (state.lastCompleted !== null) state.samples.push(completed - state.lastCompleted);
  state.lastCompleted = completed;
  if (state.samples.length > 60) state.samples.shift();
  drawThroughput();
}

function drawThroughput() {
  const canvas = $('#throughput');
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  const max = Math.max(1, ...state.samples);
  g.strokeStyle = '#8c1c13';
  g.lineWidth = 2;
  g.beginPath();
  state.samples.forEach((v, i) => {
    const x = (i / 59) * (w - 10) + 5;
    const y = h - 10 - (v / max) * (h - 25);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = '#66717d';
  g.fillText(`max ${max} / 3 s`, 8, 12);
}

// Horizontal bars: [label, value, second value?] rows.
function drawBars(selector, rows, unit) {
  const canvas = $(selector);
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  g.font = '12px sans-serif';
  if (!rows.length) {
    g.fillStyle = '#66717d';
    g.fillText('—', 8, 16);
    return;
  }
  const max = Math.max(1, ...rows.map((r) => r[1] + (r[2] || 0)));
  const row = Math.min(22, (h - 4) / rows.length);
  rows.forEach(([label, a, b], i) => {
    const y = 2 + i * row;
    const scale = (w - 200) / max;
    g.fillStyle = '#8c1c13';
    g.fillRect(120, y + 3, a * scale, row - 6);
    if (b) {
      g.fillStyle = '#d9a19c';
      g.fillRect(120 + a * scale, y + 3, b * scale, row - 6);
    }
    g.fillStyle = '#1d2733';
    g.fillText(label, 4, y + row - 7);
    g.fillText(b === undefined ? `${a.toFixed(1)} ${unit}` : `${a} / ${b}`, 124 + (a + (b || 0)) * scale, y + row - 7);
  });
}

// ---- staff workbench ----------------------------------------------------------------------

async function refreshTasks() {
  const queue = $('#queue').value.trim();
  const body = $('#tasks tbody');
  if (!state.token || !queue) return;
  let answer;
  try {
    answer = await api('GET', '/api/v1/tasks?queue=' + encodeURIComponent(queue));
  } catch (e) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 7 }, e.message)));
    return;
  }
  body.replaceChildren(...answer.tasks.map(taskRow));
}

function taskRow(t) {
  const mine = t.claimed_by === state.user;
  const act = (what, body) => async () => {
    try {
      await api('POST', `/api/v1/tasks/${encodeURIComponent(t.task_id)}/${what}`, body);
      say(`${t.task_id}: ${what} ✓`, true);
    } catch (e) {
      say(`${t.task_id}: ${e.message}`);
    }
    refreshTasks();
    if ($('#request-id').value === t.request_id) showTimeline(t.request_id);
  };
  const buttons = el('td', {});
  if (!t.claimed_by && state.role === 'staff') buttons.append(el('button', { class: 'claim', onclick: act('claim') }, '认领 Claim'));
  if (mine) {
    buttons.append(el('button', { class: 'approve', onclick: act('complete', { decision: 'approve' }) }, '通过 Approve'));
    buttons.append(el('button', { class: 'return', onclick: () => {
      const reason = prompt('退回原因 What to correct?');
      if (reason) act('complete', { decision: 'return', reason })();
    } }, '退回 Return'));
    buttons.append(el('button', { class: 'reject', onclick: () => {
      const reason = prompt('不予受理原因 Why refused?');
      if (reason) act('complete', { decision: 'reject', reason })();
    } }, '拒绝 Reject'));
  }
  if (state.role === 'manager') {
    buttons.append(el('button', { class: 'assign', onclick: () => {
      const staff = prompt('分派给 Assign to');
      if (staff) act('assign', { staff })();
    } }, '分派 Assign'));
  }
  const id = el('a', { href: '#', onclick: (e) => { e.preventDefault(); showTimeline(t.request_id); } }, t.task_id);
  return el('tr', { 'data-task': t.task_id, class: t.overdue ? 'overdue' : '' },
            el('td', {}, id), el('td', {}, t.kind), el('td', {}, t.taxpayer_id), el('td', {}, t.label || t.stage),
            el('td', { class: 'handler' }, t.claimed_by || '—'),
            el('td', {}, time(t.deadline_ms) + (t.overdue ? ' 超时 overdue' : '')), buttons);
}

// ---- request timeline ---------------------------------------------------------------------

async function showTimeline(id) {
  $('#request-id').value = id;
  const box = $('#timeline');
  try {
    const r = await api('GET', '/api/v1/requests/' + encodeURIComponent(id));
    const stages = el('table', {}, el('tr', {}, el('th', {}, '环节 Stage'), el('th', {}, '状态 State'),
                                       el('th', {}, '办理 Handler'), el('th', {}, '完成 Finished')),
                      ...r.stages.map((s) => el('tr', { class: s.overdue ? 'overdue' : '' },
                                                el('td', {}, `${s.label || ''} ${s.name}`), el('td', {}, s.state),
                                                el('td', {}, s.handler), el('td', {}, time(s.finished_at_ms)))));
    const events = el('ol', { class: 'timeline-events' },
                      ...r.timeline.map((e) => el('li', {}, el('time', {}, time(e.at_ms)), `${e.type} ${e.detail}`)));
    box.replaceChildren(el('p', {}, `${r.id} · ${r.kind} · ${r.taxpayer_id} · `,
                           el('span', { class: 'state', id: 'request-state' }, r.state)), stages, events);
  } catch (e) {
    box.replaceChildren(el('p', {}, e.message));
  }
}

// ---- overdue work -------------------------------------------------------------------------

async function refreshOverdue() {
  if (!state.token) return;
  const body = $('#overdue-requests tbody');
  try {
    const answer = await api('GET', '/api/v1/requests?overdue=1&limit=20');
    body.replaceChildren(...answer.requests.map((r) => el('tr', { class: 'overdue' },
      el('td', {}, el('a', { href: '#', onclick: (e) => { e.preventDefault(); showTimeline(r.id); } }, r.id)),
      el('td', {}, r.kind), el('td', {}, r.taxpayer_id), el('td', {}, r.state), el('td', {}, time(r.accepted_at_ms)))));
  } catch (e) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 5 }, e.message)));
  }
  if (!['manager', 'auditor', 'operator'].includes(state.role)) return;
  try {
    const sla = await api('GET', '/api/v1/reports/sla');
    $('#sla tbody').replaceChildren(...sla.stages.map((s) => el('tr', { class: s.open_overdue ? 'overdue' : '' },
      el('td', {}, `${s.route} · ${s.label || ''} ${s.stage}`), el('td', {}, s.office || '—'), el('td', {}, s.finished),
      el('td', {}, s.finished_late), el('td', {}, s.open), el('td', {}, s.open_overdue),
      el('td', {}, s.p50_ms ? (s.p50_ms / 1000).toFixed(1) + ' s' : '–'))));
  } catch (e) {
    $('#sla tbody').replaceChildren(el('tr', {}, el('td', { colspan: 7 }, e.message)));
  }
}

// ---- dead letters and ranking -------------------------------------------------------------

async function refreshDeadLetters() {
  if (!['operator', 'auditor'].includes(state.role)) return;
  const body = $('#dead-letters tbody');
  try {
    const answer = await api('GET', '/api/v1/dead-letters');
    body.replaceChildren(...answer.dead_letters.map((d) => el('tr', {},
      el('td', {}, d.request_id), el('td', {}, d.stage), el('td', {}, d.service), el('td', {}, `[${d.code}] ${d.message}`),
      el('td', {}, state.role === 'operator' ? el('button', { onclick: async () => {
        try { await api('POST', `/api/v1/dead-letters/${encodeURIComponent(d.request_id)}/replay`); say(`${d.request_id} ↻`, true); }
        catch (e) { say(e.message); }
        refreshDeadLetters();
      } }, '重发 Replay') : ''))));
  } catch (e) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 5 }, e.message)));
  }
}

async function refreshRanking() {
  if (!['manager', 'auditor'].includes(state.role)) return;
  try {
    const answer = await api('GET', '/api/v1/reports/staff');
    const top = answer.staff.sort((a, b) => b.workload - a.workload).slice(0, 10);
    $('#ranking').replaceChildren(...top.map((p) => el('li', {},
      `${p.staff} — 工作量 workload ${p.workload.toFixed(1)}, 办结 ${p.tasks}, 评分 rating ${p.average_rating ? p.average_rating.toFixed(1) : '–'}, 投诉 complaints ${p.complaints}`)));
  } catch (e) {
    $('#ranking').replaceChildren(el('li', {}, e.message));
  }
}

function refreshAll() {
  refreshMetrics().catch((e) => say(e.message));
  refreshTasks();
  refreshDeadLetters();
  refreshRanking();
  refreshOverdue();
}

window.addEventListener('DOMContentLoaded', () => {
  $('#login').addEventListener('submit', (e) => { e.preventDefault(); signIn($('#token').value); });
  $('#queue-form').addEventListener('submit', (e) => { e.preventDefault(); refreshTasks(); });
  $('#timeline-form').addEventListener('submit', (e) => { e.preventDefault(); showTimeline($('#request-id').value.trim()); });
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromUrl) history.replaceState(null, '', location.pathname);
  const token = fromUrl || sessionStorage.getItem('taxhub.token');
  if (token) signIn(token); else refreshMetrics().catch(() => {});
  setInterval(() => refreshMetrics().catch(() => {}), 3000);
  setInterval(() => { refreshTasks(); refreshDeadLetters(); }, 5000);
  setInterval(refreshOverdue, 60000);  // the SLA report reads a month of requests: once a minute
});
