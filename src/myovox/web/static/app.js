// myovox dashboard: one WebSocket in, canvas traces out. Plain JavaScript, no build step, no CDN.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const WINDOW_S = 8; // seconds of stream time on screen
  const params = new URLSearchParams(location.search);
  const token = params.get("token");

  // what tests and the latency benchmark read (window.myovox)
  const stats = {
    connected: false, hello: null, state: null, framesReceived: 0, framesDrawn: 0, lastSeq: 0, drawnSeq: 0,
    fps: 0, events: [], lastError: null, lastCue: null, recording: null, finetune: null, metrics: null,
    latencyMs: null,
  };
  window.myovox = stats;

  let ws = null;
  let stream = null;     // {sfreq, ch_names, buckets_per_s}
  let cap = 0;           // buckets on screen
  let lo = [], hi = [];  // per channel Float32Array ring of cap buckets (NaN: lost / none)
  let latestB = -1;      // newest bucket index received
  let pendingSeq = 0, pendingTin = 0;
  let dirty = false;
  let quality = [];
  let scales = [];
  let markers = [];      // {b, label}
  let models = [];
  let lastReport = 0;
  const drawTimes = [];
  let reqId = 0;

  // ------------------------------------------------------------------ connection
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
    ws = new WebSocket(url);
    ws.onopen = () => { stats.connected = true; setConn(true); };
    ws.onclose = () => { stats.connected = false; setConn(false); setTimeout(connect, 2000); };
    ws.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      const fn = handlers[msg.type];
      if (fn) fn(msg);
    };
  }
  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) { toast("not connected", true); return; }
    obj.id = ++reqId;
    ws.send(JSON.stringify(obj));
  }
  function setConn(on) {
    const c = $("conn");
    c.textContent = on ? "live" : "offline";
    c.className = "pill " + (on ? "pill-on" : "pill-off");
  }
  let toastTimer = null;
  function toast(text, error) {
    const t = $("toast");
    t.textContent = text;
    t.className = "toast show" + (error ? " error" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = "toast"; }, error ? 6000 : 2500);
  }

  // ------------------------------------------------------------------ messages
  const handlers = {
    hello(m) {
      stats.hello = m;
      fillSources(m.sources);
      fillProtocols(m.protocols);
      setModels(m.models);
      setRecordings(m.recordings);
      if (m.state.stream) setStream(m.state.stream);
      setState(m.state);
      for (const ev of m.events) addEvent(ev, false);
      if (m.metrics && m.metrics.type) showMetrics(m.metrics);
    },
    state(m) { setState(m); },
    stream(m) { setStream(m); },
    signal(m) {
      stats.framesReceived++;
      if (!stream || m.data.length !== stream.ch_names.length) return;
      for (let c = 0; c < m.data.length; c++) {
        const row = m.data[c], L = lo[c], H = hi[c];
        for (let k = 0; k < m.n; k++) {
          const i = (m.b0 + k) % cap;
          const a = row[2 * k], b = row[2 * k + 1];
          L[i] = a === null ? NaN : a;
          H[i] = b === null ? NaN : b;
        }
      }
      // buckets skipped (frames dropped by a slow connection) become gaps
      for (let b = latestB + 1; b < m.b0 && b > latestB - cap + 1; b++) {
        const i = ((b % cap) + cap) % cap;
        for (let c = 0; c < lo.length; c++) { lo[c][i] = NaN; hi[c][i] = NaN; }
      }
      latestB = Math.max(latestB, m.b0 + m.n - 1);
      pendingSeq = m.seq; pendingTin = m.t_in;
      stats.lastSeq = m.seq;
      dirty = true;
    },
    quality(m) { quality = m.channels; showQuality(m); },
    event(m) { addEvent(m, true); },
    metrics(m) { showMetrics(m); },
    cue(m) { showCue(m); },
    recording(m) { onRecording(m); },
    recordings(m) { setRecordings(m.recordings); },
    finetune(m) { showFinetune(m); },
    models(m) { setModels(m.models); },
    error(m) { stats.lastError = m.message; toast(m.message, true); },
    info(m) { toast(m.message, false); },
    ack(m) { if (m.detail) toast(m.detail, false); },
    pong() {},
  };

  function setStream(s) {
    stream = s;
    cap = Math.max(10, Math.round(WINDOW_S * s.buckets_per_s));
    lo = s.ch_names.map(() => new Float32Array(cap).fill(NaN));
    hi = s.ch_names.map(() => new Float32Array(cap).fill(NaN));
    scales = s.ch_names.map(() => 0);
    latestB = -1;
    markers = [];
    const speed = s.speed && s.speed !== 1 ? `, replayed at ${s.speed}x` : "";
    $("stream-info").textContent = `${s.ch_names.length} channels at ${s.sfreq} Hz${speed}; display filter: ${s.display_filter || "none"}`;
  }

  function setState(s) {
    stats.state = s;
    const running = s.running;
    const rec = s.recording;
    $("btn-start").disabled = running;
    $("btn-stop").disabled = !running;
    $("source-select").disabled = running;
    $("btn-record").disabled = !running || !!rec;
    $("btn-pause").disabled = !rec || rec.paused;
    $("btn-resume").disabled = !rec || !rec.paused;
    $("btn-rec-stop").disabled = !rec;
    const ftRunning = s.finetune && s.finetune.status === "running";
    $("btn-finetune").disabled = ftRunning || !s.model || $("ft-recording").options.length === 0;
    let text = running ? `${s.source_label}` : "stopped";
    text += s.model ? ` | model ${s.model}${s.recognising ? "" : " (not recognising)"}` : " | no model";
    if (rec) text += rec.paused ? " | recording paused" : " | recording";
    text += ` | ${s.clients} page${s.clients === 1 ? "" : "s"}`;
    $("status").textContent = text;
    if (s.last_recording) selectOption($("ft-recording"), s.last_recording);
    if (s.model) selectOption($("model-select"), s.model);
    if (!rec && !stats.recording) showCue(null);
  }

  function fillSources(list) {
    const sel = $("source-select");
    sel.innerHTML = "";
    for (const s of list) {
      const o = document.createElement("option");
      o.value = JSON.stringify({ source: s.id, path: s.path || null });
      o.textContent = s.label;
      sel.appendChild(o);
    }
  }
  function fillProtocols(list) {
    const sel = $("protocol-select");
    sel.innerHTML = "";
    for (const p of list) {
      const o = document.createElement("option");
      o.value = JSON.stringify({ protocol: p.id, path: p.path || null });
      o.textContent = p.label;
      sel.appendChild(o);
    }
  }
  function setModels(list) {
    models = list;
    const sel = $("model-select");
    const keep = sel.value;
    sel.innerHTML = "";
    for (const m of list) {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.id + (m.active ? "  (in use)" : "");
      sel.appendChild(o);
      if (m.active) sel.value = m.id;
    }
    if (!list.some((m) => m.active) && keep) sel.value = keep;
    showCard();
  }
  function setRecordings(list) {
    const sel = $("ft-recording");
    const keep = sel.value;
    sel.innerHTML = "";
    for (const r of list) {
      const o = document.createElement("option");
      o.value = r.path;
      o.textContent = `${r.path} (${r.status}, ${r.n_samples || 0} samples)`;
      sel.appendChild(o);
    }
    if (keep) selectOption(sel, keep);
    if (stats.state) setState(stats.state);
  }
  function selectOption(sel, value) {
    for (const o of sel.options) if (o.value === value) { sel.value = value; return; }
  }
  function showCard() {
    const m = models.find((x) => x.id === $("model-select").value);
    if (!m) { $("model-card").textContent = ""; return; }
    if (m.error) { $("model-card").textContent = m.error; return; }
    $("model-card").textContent = cardText(m.card);
  }

  function cardText(c) {
    const f = c.filter || {};
    const stages = [];
    if (f.highpass) stages.push(`high-pass ${f.highpass} Hz`);
    if (f.notch) stages.push(`notch ${f.notch} Hz`);
    if (f.lowpass) stages.push(`low-pass ${f.lowpass} Hz`);
    const filt = stages.length ? `${stages.join(", ")} (${c.causal ? "causal, as live" : "zero-phase"})` : "none";
    const t = c.training || {};
    const lines = [
      `${c.model} (${c.estimator.split(".").pop()}), myovox ${c.myovox_version}`,
      `input: ${c.ch_names.length} channels at ${c.sfreq} Hz (${c.units}), windows of ${c.window_s} s`,
      `filter: ${filt}`,
      `outputs: ${c.class_names.join(", ")}`,
    ];
    const on = ["dataset", "subjects", "sessions", "condition", "n_windows"].filter((k) => t[k] !== undefined)
      .map((k) => `${k} ${Array.isArray(t[k]) ? t[k].join(",") : t[k]}`);
    if (on.length) lines.push(`trained on: ${on.join("; ")}`);
    if (c.best_epoch) lines.push(`best epoch: ${c.best_epoch}`);
    for (const ft of t.fine_tuned || []) {
      lines.push(`fine-tuned: ${ft.dataset || "?"} (${ft.strategy}, ${ft.epochs} epochs, ${ft.n_windows} windows)`);
    }
    return lines.join("\n");
  }

  // ------------------------------------------------------------------ commands, metrics, cues
  function addEvent(ev, live) {
    stats.events.push(ev);
    if (stats.events.length > 500) stats.events.shift();
    const li = document.createElement("li");
    const match = ev.match ? `<span class="m-${ev.match}">${{ correct: "&#10003;", wrong: "&#10007; cue", false: "&#10007; rest" }[ev.match]}</span>` : "";
    li.innerHTML = `<span class="lab"></span><span>${Math.round(100 * ev.confidence)}%</span><span class="muted">${ev.t_end.toFixed(1)} s</span>${match}`;
    li.querySelector(".lab").textContent = ev.label;
    const list = $("events");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 100) list.removeChild(list.lastChild);
    if (stream) markers.push({ b: Math.round(ev.t_end * stream.buckets_per_s), label: ev.label });
    if (markers.length > 50) markers.shift();
    $("last-label").textContent = ev.label.toUpperCase();
    $("last-conf").style.width = `${Math.round(100 * ev.confidence)}%`;
    $("last-detail").textContent = `confidence ${(100 * ev.confidence).toFixed(0)} %, at ${ev.t_end.toFixed(2)} s, decided in ${ev.latency_ms.toFixed(1)} ms`;
    if (live) {
      const box = $("last-command");
      box.classList.add("flash");
      setTimeout(() => box.classList.remove("flash"), 300);
    }
  }

  const METRIC_ROWS = [
    ["stream_s", "stream time", (v) => `${v.toFixed(1)} s`],
    ["n_events", "commands", (v) => `${v}`],
    ["events_per_min", "commands / min", (v) => `${v}`],
    ["precision", "precision vs cues", (v) => `${(100 * v).toFixed(1)} %`],
    ["recall", "recall vs cues", (v) => `${(100 * v).toFixed(1)} %`],
    ["false_per_hour", "commands in rest / h", (v) => `${v}`],
    ["n_windows", "windows classified", (v) => `${v}`],
    ["rejected_pct", "rejected (low confidence)", (v) => `${v} %`],
    ["lost_pct", "lost samples", (v) => `${v} %`],
    ["decision_ms_p50", "decision latency p50", (v) => `${v} ms`],
    ["display_ms_p50", "sample in -> drawn p50", (v) => `${v} ms`],
    ["display_ms_p95", "sample in -> drawn p95", (v) => `${v} ms`],
    ["display_fps", "display frames / s", (v) => `${v}`],
    ["cpu_pct", "server CPU", (v) => `${v} %`],
    ["rss_mb", "server memory", (v) => `${v} MiB`],
  ];
  function showMetrics(m) {
    stats.metrics = m;
    const body = $("metrics").tBodies[0];
    body.innerHTML = "";
    for (const [key, name, fmt] of METRIC_ROWS) {
      if (m[key] === null || m[key] === undefined) continue;
      const tr = document.createElement("tr");
      tr.innerHTML = `<td>${name}</td><td>${fmt(m[key])}</td>`;
      body.appendChild(tr);
    }
  }

  function showQuality(m) {
    const box = $("quality");
    if (box.children.length !== m.channels.length) {
      box.innerHTML = "";
      for (const c of m.channels) {
        const s = document.createElement("span");
        s.className = "q-chip";
        s.textContent = c.name;
        box.appendChild(s);
      }
    }
    m.channels.forEach((c, i) => {
      const s = box.children[i];
      s.className = `q-chip q-${c.level}`;
      s.title = `${c.name}: ${c.level}${c.flags.length ? " (" + c.flags.join(", ") + ")" : ""}; rms ${c.rms}, mains ${(100 * c.mains).toFixed(0)} % of power, lost ${(100 * c.lost).toFixed(1)} %`;
    });
    const bad = m.channels.filter((c) => c.level !== "ok" && c.level !== "unknown");
    const note = bad.length ? bad.map((c) => `${c.name}: ${c.flags.join(", ")}`).join("; ") : "every electrode in contact";
    const common = m.common_mains > 0.5 ? `; mains hum on every channel (${(100 * m.common_mains).toFixed(0)} % of power, removed by the notch)` : "";
    $("quality-note").textContent = note + common;
  }

  function showCue(m) {
    const cue = $("cue");
    stats.lastCue = m;
    if (!m) { cue.textContent = "Not recording"; cue.className = "cue idle"; $("rec-progress").value = 0; return; }
    cue.textContent = m.text;
    const isWord = m.text === m.text.toUpperCase() && !m.paused;
    cue.className = "cue " + (m.paused ? "paused" : isWord ? "word" : m.text.startsWith("Next") ? "next" : "idle");
    $("rec-progress").value = m.progress;
    $("rec-status").textContent = `${m.name}: cue ${Math.min(m.trial, m.n_trials)} of ${m.n_trials}, ${m.t.toFixed(1)} of ${m.duration_s.toFixed(0)} s${m.paused ? " (paused)" : ""}`;
  }

  function onRecording(m) {
    stats.recording = m;
    if (m.status === "finished" || m.status === "failed") {
      const cue = $("cue");
      cue.textContent = m.status === "finished" ? "Saved" : "Failed";
      cue.className = "cue idle";
      $("rec-progress").value = m.status === "finished" ? 1 : 0;
      $("rec-status").textContent = m.status === "finished"
        ? `saved ${m.path} (${m.result}, ${m.n_samples} samples)` : `recording failed: ${m.error}`;
      if (m.path) selectOption($("ft-recording"), m.path);
      toast(m.status === "finished" ? `recording saved: ${m.path}` : `recording failed: ${m.error}`, m.status !== "finished");
    } else if (m.status === "started") {
      $("rec-status").textContent = `recording ${m.name}`;
    }
  }

  function showFinetune(m) {
    stats.finetune = m;
    $("ft-progress").value = m.progress || 0;
    let text = "";
    if (m.status === "running") text = `fine-tuning on ${m.recording}: epoch ${m.epoch} of ${m.n_epochs}` + (m.valid_acc !== undefined ? `, validation accuracy ${(100 * m.valid_acc).toFixed(0)} %` : "");
    else if (m.status === "done") text = `done in ${m.wall_s} s: balanced accuracy on the recording ${(100 * m.before).toFixed(1)} % -> ${(100 * m.after).toFixed(1)} %; now using ${m.model}`;
    else if (m.status === "failed") text = `fine-tuning failed: ${m.error}`;
    $("ft-status").textContent = text;
    $("btn-finetune").disabled = m.status === "running";
  }

  // ------------------------------------------------------------------ drawing
  const canvas = $("traces");
  const ctx = canvas.getContext("2d");
  function resize() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(200, Math.round(r.width * dpr)), h = Math.max(100, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; dirty = true; }
  }
  window.addEventListener("resize", resize);

  const COLORS = { ok: "#2e9d5b", warn: "#e2a400", bad: "#d64045", unknown: "#9aa3b0" };
  function draw() {
    requestAnimationFrame(draw);
    if (!dirty || !stream || latestB < 0) return;
    dirty = false;
    resize();
    const W = canvas.width, H = canvas.height;
    const dpr = window.devicePixelRatio || 1;
    const n = lo.length, left = Math.round(64 * dpr), plotW = W - left;
    const lane = H / n;
    ctx.fillStyle = "#fbfcfd";
    ctx.fillRect(0, 0, W, H);
    const b0 = latestB - cap + 1;
    const pxLo = new Float32Array(plotW), pxHi = new Float32Array(plotW);
    ctx.font = `${Math.round(11 * dpr)}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    for (let c = 0; c < n; c++) {
      const L = lo[c], Hh = hi[c];
      pxLo.fill(Infinity); pxHi.fill(-Infinity);
      let peak = 0;
      for (let b = Math.max(b0, 0); b <= latestB; b++) {
        const i = b % cap, a = L[i], z = Hh[i];
        if (a !== a || z !== z) continue; // NaN: lost
        const px = Math.min(plotW - 1, Math.floor(((b - b0) * plotW) / cap));
        if (a < pxLo[px]) pxLo[px] = a;
        if (z > pxHi[px]) pxHi[px] = z;
        const m = Math.max(Math.abs(a), Math.abs(z));
        if (m > peak) peak = m;
      }
      // per-channel scale, eased so that a single burst does not make the trace jump
      const target = Math.max(peak, 1e-3);
      scales[c] = scales[c] ? (target > scales[c] ? target : 0.9 * scales[c] + 0.1 * target) : target;
      const mid = lane * (c + 0.5), k = (0.45 * lane) / scales[c];
      if (c % 2 === 1) { ctx.fillStyle = "#f3f5f8"; ctx.fillRect(left, lane * c, plotW, lane); }
      const q = quality[c];
      ctx.fillStyle = COLORS[(q && q.level) || "unknown"];
      ctx.fillRect(2 * dpr, mid - 4 * dpr, 8 * dpr, 8 * dpr);
      ctx.fillStyle = "#405066";
      ctx.fillText(stream.ch_names[c], 14 * dpr, mid);
      ctx.strokeStyle = "#22324a";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let px = 0; px < plotW; px++) {
        if (pxLo[px] === Infinity) continue;
        const x = left + px + 0.5;
        ctx.moveTo(x, mid - pxHi[px] * k);
        ctx.lineTo(x, mid - pxLo[px] * k + 1);
      }
      ctx.stroke();
    }
    // recognised commands as markers on the traces
    ctx.fillStyle = "rgba(47,111,219,0.9)";
    ctx.strokeStyle = "rgba(47,111,219,0.6)";
    for (const m of markers) {
      if (m.b < b0 || m.b > latestB) continue;
      const x = left + ((m.b - b0) * plotW) / cap;
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
      ctx.fillText(m.label, x + 3 * dpr, 10 * dpr);
    }
    stats.framesDrawn++;
    stats.drawnSeq = pendingSeq;
    const now = performance.timeOrigin + performance.now();
    drawTimes.push(now);
    while (drawTimes.length && drawTimes[0] < now - 2000) drawTimes.shift();
    stats.fps = drawTimes.length / 2;
    stats.latencyMs = now - pendingTin * 1000;
    $("draw-info").textContent = `${stats.fps.toFixed(0)} frames/s, sample in -> drawn ${stats.latencyMs.toFixed(0)} ms`;
    if (now - lastReport > 250 && ws && ws.readyState === WebSocket.OPEN) {
      lastReport = now;
      ws.send(JSON.stringify({ type: "drawn", seq: pendingSeq, t: now / 1000, fps: stats.fps }));
    }
  }

  // ------------------------------------------------------------------ controls
  $("btn-start").onclick = () => {
    const v = JSON.parse($("source-select").value || "{}");
    const msg = { type: "start", source: v.source };
    if (v.path) msg.path = v.path;
    send(msg);
  };
  $("btn-stop").onclick = () => send({ type: "stop" });
  $("btn-record").onclick = () => {
    const v = JSON.parse($("protocol-select").value || "{}");
    const msg = {
      type: "record_start", protocol: v.protocol, subject: $("rec-subject").value || "S01",
      session: parseInt($("rec-session").value, 10) || 1, batch: parseInt($("rec-batch").value, 10) || 1,
      condition: $("rec-condition").value,
    };
    if (v.path) msg.path = v.path;
    const reps = parseInt($("rec-reps").value, 10);
    if (reps) msg.repetitions = reps;
    send(msg);
  };
  $("btn-pause").onclick = () => send({ type: "record_pause" });
  $("btn-resume").onclick = () => send({ type: "record_resume" });
  $("btn-rec-stop").onclick = () => send({ type: "record_stop" });
  $("btn-finetune").onclick = () => {
    const msg = { type: "finetune", epochs: parseInt($("ft-epochs").value, 10) || 50, strategy: $("ft-strategy").value };
    if ($("ft-recording").value) msg.recording = $("ft-recording").value;
    send(msg);
  };
  $("btn-model").onclick = () => { if ($("model-select").value) send({ type: "select_model", model: $("model-select").value }); };
  $("model-select").onchange = showCard;

  resize();
  requestAnimationFrame(draw);
  connect();
})();
