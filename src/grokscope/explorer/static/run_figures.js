// The figures of the run view's step-dependent panels, built from one member's frames (grokscope/explorer/_frames.py)
// at checkpoint S.index, and of its analysis panels: plain functions of the view state S returning plotly data.
"use strict";

(function () {
  // Upper colour limit of a weight view: 99th percentile of |w| over every step (one scale for all steps).
  function colorLimit(arr) {
    const a = Float32Array.from(arr.data, Math.abs).sort();
    const v = a[Math.min(a.length - 1, Math.floor(0.99 * a.length))];
    return v > 0 ? v : 1;
  }
  // ------------------------------------------------------------------------- step views
  function weightsTrace(S, i) {
    const F = S.frames, v = F.meta.views[i];
    const z = GS.matrix(F.arrays[`view${i}`], S.index, true);  // rows: hidden units (or columns), x: rows
    return [{ z, type: "heatmap", colorscale: "RdBu", reversescale: true, zmid: 0, zmin: -S.lims[i], zmax: S.lims[i],
      hovertemplate: `${v.rows} %{x}, ${v.cols} %{y}: %{z:.3g}<extra></extra>`, colorbar: { thickness: 10 } }];
  }

  function weightsLayout(S, i) {
    const F = S.frames, v = F.meta.views[i];
    const lay = GS.baseLayout({ xaxis: { title: { text: v.rows } }, yaxis: { title: { text: v.cols + (v.reordered ? " (by final frequency)" : "") }, autorange: "reversed" } });
    if (v.reordered && F.meta.fourier) {
      const fr = F.meta.fourier.neuron_freq, vals = [], text = [];
      fr.forEach((f, j) => { if (j === 0 || fr[j - 1] !== f) { vals.push(j); text.push(`k=${f}`); } });
      lay.yaxis.tickvals = vals;
      lay.yaxis.ticktext = text;
    }
    return lay;
  }

  function groupsOf(F) {
    const fr = F.meta.fourier.neuron_freq;
    return F.meta.fourier.groups.map((k) => ({ k, idx: fr.map((f, j) => (f === k ? j : -1)).filter((j) => j >= 0) }));
  }

  // One pair of axes per figure, the groups side by side (stars) or stacked (waves), each scaled to its
  // own largest value over training: a figure with one axis redraws several times faster than subplots.
  function starsFigure(S) {
    const F = S.frames, groups = groupsOf(F), K = groups.length, st = F.arrays.stars;
    const n = st.shape[1], base = S.index * n * 2, gap = 2.5;
    const data = [{ x: [], y: [], type: "scatter", mode: "lines", line: { color: "#c8ccd4", width: 1 }, hoverinfo: "skip" }];
    const annotations = [];
    groups.forEach((g, gi) => {
      const cx = gi * gap, r = S.starRange[gi], x = [], y = [];
      data[0].x.push(cx - 1.1, cx + 1.1, null, cx, cx, null);  // the group's axes
      data[0].y.push(0, 0, null, -1.1, 1.1, null);
      for (const j of g.idx) { x.push(cx, cx + st.data[base + 2 * j] / r, null); y.push(0, st.data[base + 2 * j + 1] / r, null); }
      data.push({ x, y, type: "scatter", mode: "lines+markers", line: { color: GS.memberColor(gi), width: 1.5 },
        marker: { size: 4 }, hoverinfo: "skip" });
      annotations.push({ text: `k = ${g.k} (${g.idx.length})`, x: cx, y: 1.25, showarrow: false, font: { size: 11 } });
    });
    const hidden = { showticklabels: false, showgrid: false, zeroline: false, fixedrange: true };
    return { data, layout: GS.baseLayout({ margin: { l: 10, r: 10, t: 10, b: 10 }, annotations,
      xaxis: { ...hidden, range: [-1.3, (K - 1) * gap + 1.3] }, yaxis: { ...hidden, range: [-1.3, 1.45], scaleanchor: "x" } }) };
  }

  function wavesFigure(S) {
    const F = S.frames, groups = groupsOf(F), w = F.arrays.neuron_in;
    const [, p, n] = w.shape, base = S.index * p * n;
    const data = [], annotations = [];
    groups.forEach((g, gi) => {
      const x = [], y = [], r = 2.2 * S.waveRange[gi];  // band gi spans (-gi - 0.45, -gi + 0.45)
      for (const j of g.idx) {  // one trace per group, its neurons separated by gaps
        for (let t = 0; t < p; t++) { x.push(t); y.push(-gi + w.data[base + t * n + j] / r); }
        x.push(null); y.push(null);
      }
      data.push({ x, y, type: "scatter", mode: "lines", line: { color: GS.memberColor(gi), width: 1 }, hoverinfo: "skip" });
      annotations.push({ text: `k=${g.k}`, xref: "paper", x: 0, xanchor: "right", y: -gi, showarrow: false, font: { size: 10 } });
    });
    return { data, layout: GS.baseLayout({ margin: { l: 40, r: 10, t: 10, b: 35 }, annotations,
      xaxis: { title: { text: "input token" }, range: [-0.5, p - 0.5] },
      yaxis: { showticklabels: false, zeroline: false, range: [-groups.length + 0.5, 0.5], fixedrange: true } }) };
  }

  function spectrumFigure(S) {
    const F = S.frames, sp = F.arrays.spectrum, nf = sp.shape[1];
    const y = Array.from(sp.data.subarray(S.index * nf, (S.index + 1) * nf));
    const key = new Set(F.meta.fourier.key_freqs_last);
    return {
      data: [{ x: y.map((_, k) => k), y, type: "bar", marker: { color: y.map((_, k) => (key.has(k) ? "#d62728" : "#7f8ea3")) },
        hovertemplate: "frequency %{x}: %{y:.3g}<extra></extra>" }],
      layout: GS.baseLayout({ xaxis: { title: { text: "frequency k" } }, yaxis: { title: { text: "energy" }, type: "log", range: S.specRange } }),
    };
  }

  // Share of the embedding's energy per irrep (real isotypic component) of a group task, at this checkpoint.
  function irrepsFigure(S) {
    const F = S.frames, ir = F.meta.irreps, a = F.arrays.irreps, n = a.shape[1];
    const y = Array.from(a.data.subarray(S.index * n, (S.index + 1) * n));
    const text = ir.labels.map((l, k) => `${l} (d=${ir.dims[k]}, ${ir.kinds[k]})`);
    return {
      data: [{ x: ir.labels, y, type: "bar", text, textposition: "none", marker: { color: "#7f8ea3" },
        hovertemplate: "%{text}: %{y:.3f}<extra></extra>" }],
      layout: GS.baseLayout({ xaxis: { title: { text: `irrep of ${ir.group}` }, type: "category" },
        yaxis: { title: { text: "share of energy" }, range: [0, 1] } }),
    };
  }

  function logitsFigure(S) {
    const F = S.frames, f = F.meta.fourier, gl = F.arrays.group_logits, [, K, C] = gl.shape;
    const cls = Array.from({ length: C }, (_, c) => c);
    const data = [];
    for (let k = 0; k < K; k++) {
      const base = (S.index * K + k) * C;
      data.push({ x: cls, y: Array.from(gl.data.subarray(base, base + C)), type: "scatter", mode: "lines",
        name: `k = ${f.groups[k]}`, line: { color: GS.memberColor(k), width: 1.5 }, hovertemplate: `k = ${f.groups[k]}, c = %{x}: %{y:.3g}<extra></extra>` });
    }
    const lg = F.arrays.logits;
    data.push({ x: cls, y: Array.from(lg.data.subarray(S.index * C, (S.index + 1) * C)), type: "scatter", mode: "lines",
      name: "all neurons", line: { color: "#111", width: 2, dash: "dot" }, hovertemplate: "all neurons, c = %{x}: %{y:.3g}<extra></extra>" });
    return { data, layout: GS.baseLayout({
      xaxis: { title: { text: "output class c" } }, yaxis: { title: { text: "logit" }, range: S.logitRange },
      shapes: [{ type: "line", x0: f.answer, x1: f.answer, yref: "paper", y0: 0, y1: 1, line: { color: "#1a9850", dash: "dot" } }] }) };
  }

  // Symmetric range covering every step of some coordinates (so scrubbing does not rescale).
  function maxAbs(arr, pick) {
    let m = 0;
    const d = arr.data;
    for (let i = 0; i < d.length; i++) if (pick(i) && Math.abs(d[i]) > m) m = Math.abs(d[i]);
    return m > 0 ? m * 1.05 : 1;
  }

  function prepareFrames(S) {
    const F = S.frames;
    S.lims = F.meta.views.map((_, i) => colorLimit(F.arrays[`view${i}`]));
    if (!F.meta.fourier) return;
    const groups = groupsOf(F), n = F.meta.fourier.neuron_freq.length;
    if (F.arrays.stars) S.starRange = groups.map((g) => { const s = new Set(g.idx); return maxAbs(F.arrays.stars, (i) => s.has(Math.floor(i / 2) % n)); });
    S.waveRange = groups.map((g) => { const s = new Set(g.idx); return maxAbs(F.arrays.neuron_in, (i) => s.has(i % n)); });
    const sp = F.arrays.spectrum.data.filter((v) => v > 0);
    const lo = Math.min(...sp), hi = Math.max(...sp);
    S.specRange = [Math.log10(Math.max(lo, hi * 1e-8)) - 0.2, Math.log10(hi) + 0.2];
    const r = Math.max(maxAbs(F.arrays.group_logits, () => true), maxAbs(F.arrays.logits, () => true));
    S.logitRange = [-r, r];
  }

  // ------------------------------------------------------------------------- analysis views
  function analysisFigure(S, names, logY, title) {
    const A = S.analysis, steps = A.meta.steps;
    const data = names.filter((n) => A.arrays[n]).map((n, i) => ({
      x: steps, y: GS.column(A.arrays[n], 0), type: "scatter", mode: "lines", name: n,
      line: { color: GS.memberColor(i), width: 1.6 }, hovertemplate: `${n}<br>step %{x}: %{y:.4g}<extra></extra>` }));
    return { data, layout: GS.baseLayout({ showlegend: true, legend: { font: { size: 9 } },
      xaxis: { type: "log", title: { text: "step" } }, yaxis: { type: logY ? "log" : "linear", title: { text: title } } }) };
  }

  GS.fig = { colorLimit, weightsTrace, weightsLayout, groupsOf, starsFigure, wavesFigure, spectrumFigure,
    irrepsFigure, logitsFigure, prepareFrames, analysisFigure };
})();
