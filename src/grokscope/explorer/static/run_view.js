// The run view: learning curves of every member; hovering or dragging over a step shows the
// selected member's checkpoint there in every view (weights, spectrum, stars, waves, logits),
// and the progress measures and heuristic-model label of the run's analysis.
//
// Each step-dependent panel carries data-view (its name) and data-step (the checkpoint step it
// shows now); the browser tests read them. GS.state.perf holds the first-paint and update times.
"use strict";

(function () {
  const el = GS.el;
  const LOG_TOL = 1e-9;

  // Nearest checkpoint to `step` on a log scale (checkpoints are log-spaced).
  function nearestIndex(steps, step) {
    let best = 0, bestD = Infinity;
    const ls = Math.log1p(Math.max(step, 0));
    steps.forEach((s, i) => {
      const d = Math.abs(Math.log1p(s) - ls);
      if (d <= bestD + LOG_TOL) { best = i; bestD = d; }
    });
    return best;
  }

  function panel(id, title, opts) {
    opts = opts || {};
    const plot = el("div", { id, class: "plot" + (opts.tall ? " tall" : ""), "data-view": id });
    const wrap = el("div", { class: "plot-wrap" }, plot);
    if (opts.cursor) {  // the current step on a time axis: a line moved by CSS, not a plotly relayout
      plot.cursor = el("div", { class: "cursor", hidden: true });
      wrap.append(plot.cursor);
      plot.cursorStep = null;
    }
    const p = el("section", { class: "panel" + (opts.wide ? " wide" : "") }, el("h3", { text: title }), wrap,
      opts.note ? el("p", { class: "note", text: opts.note }) : null);
    return { section: p, plot };
  }

  // Put a plot's cursor at `step` on its (log) x axis; hidden where the axis cannot show it (step 0).
  function placeCursor(div, step) {
    if (!div.cursor) return;
    div.cursorStep = step;
    const L = div._fullLayout;
    if (!L || !L.xaxis || !div.data) { div.cursor.hidden = true; return; }
    const ax = L.xaxis, ya = L.yaxis;
    const x = ax._offset + ax.l2p(ax.type === "log" ? Math.log10(step) : step);
    const inside = step > 0 && isFinite(x) && x >= ax._offset - 0.5 && x <= ax._offset + ax._length + 0.5;
    div.cursor.hidden = !inside;
    if (inside) Object.assign(div.cursor.style, { left: `${x}px`, top: `${ya._offset}px`, height: `${ya._length}px` });
  }
  function followCursor(div) {  // after zoom or resize, plotly redraws: move the cursor with it
    if (div.cursor && !div.cursorHooked) {
      div.on("plotly_afterplot", () => placeCursor(div, div.cursorStep));
      div.cursorHooked = true;
    }
  }


  // ------------------------------------------------------------------------- curves
  function curveFamilies(names) {
    const fam = [];
    const has = (n) => names.includes(n);
    const splits = ["train", "test", "unseen"].filter((s) => has(`${s}_acc`));  // "all" is listed on its own
    fam.push({ label: "accuracy", names: splits.map((s) => `${s}_acc`), log: false });
    fam.push({ label: "loss", names: splits.map((s) => `${s}_loss`).filter(has), log: true });
    const groups = [...new Set(names.filter((n) => n.includes("/")).map((n) => n.split("/").slice(1).join("/")))];
    for (const g of groups) {
      fam.push({ label: `loss: ${g}`, names: splits.map((s) => `${s}_loss/${g}`).filter(has), log: true });
      fam.push({ label: `accuracy: ${g}`, names: splits.map((s) => `${s}_acc/${g}`).filter(has), log: false });
    }
    const used = new Set(fam.flatMap((f) => f.names));
    for (const n of names) if (!used.has(n)) fam.push({ label: n, names: [n], log: false });
    return { families: fam.filter((f) => f.names.length), groups };
  }

  const DASH = { train: "solid", test: "dash", unseen: "dot", all: "dashdot" };

  function curveTraces(S, family) {
    const steps = Array.from(S.metrics.arrays.steps.data);
    const traces = [];
    for (let m = 0; m < S.meta.n_members; m++) {
      const sel = m === S.member;
      for (const name of family.names) {
        traces.push({
          x: steps, y: GS.column(S.metrics.arrays[name], m), type: "scatter", mode: "lines",
          name: `member ${m}: ${name}`,
          // other members still report the hovered step (plotly_hover), without a label
          hovertemplate: sel ? `member ${m}, ${name}<br>step %{x}: %{y:.4g}<extra></extra>` : undefined,
          hoverinfo: sel ? undefined : "none",
          line: { color: sel ? GS.memberColor(m) : "#9aa3b2", width: sel ? 2.2 : 1, dash: DASH[name.split("_")[0]] || "solid" },
          opacity: sel ? 1 : 0.35,
        });
      }
    }
    traces.sort((a, b) => (a.opacity === 1) - (b.opacity === 1));  // the selected member on top
    return traces;
  }

  function markerShapes(S, withEvents) {
    const shapes = [], annotations = [];
    if (withEvents) {
      const mem = S.meta.members[S.member];
      for (const [key, label, color] of [["mem_step", "memorized", "#2a6fdb"], ["gen_step", "generalized", "#1a9850"]]) {
        if (mem[key] === null || mem[key] === undefined || mem[key] <= 0) continue;
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: mem[key], x1: mem[key], y0: 0, y1: 1,
          line: { color, width: 1.2, dash: "dot" } });
        annotations.push({ x: Math.log10(mem[key]), xref: "x", yref: "paper", y: 1, yanchor: "bottom",
          text: `${label} ${mem[key]}`, showarrow: false, font: { color, size: 10 } });
      }
    }
    return { shapes, annotations };
  }

  // ------------------------------------------------------------------------- the view
  GS.views.run = async function (main, runId, hash) {
    const t0 = performance.now();
    const meta = await GS.fetchJSON(`/api/run/${runId}`);
    const member = Math.min(Math.max(Number(hash.member || 0) || 0, 0), meta.n_members - 1);
    const [metrics, frames] = await Promise.all([GS.fetchArrays(`/api/run/${runId}/metrics`),
      GS.fetchArrays(`/api/run/${runId}/frames/${member}`)]);
    await GS.plotlyReady;
    const S = { run: runId, meta, metrics, member, frames, framesBy: { [member]: frames }, analysis: null, analysisBy: {},
      steps: frames.meta.steps, index: Math.max(frames.meta.steps.length - 1, 0) };
    GS.state = { view: "run", run: runId, member, perf: {}, rendered: {}, S };
    document.getElementById("crumb").textContent = `run ${meta.id}` + (meta.name ? ` (${meta.name})` : "");

    // header and controls
    const summary = el("p", { class: "muted", id: "run-summary" });
    const describe = () => { summary.textContent = `${meta.task} · ${meta.n_members} members · ${S.meta.status} · ${S.steps.length} checkpoints`; };
    const memberSel = el("select", { id: "member-select", "aria-label": "member" },
      meta.members.map((m) => el("option", { value: m.member, text: `member ${m.member}` + (m.phase ? ` (${m.phase})` : "") })));
    memberSel.value = String(member);
    const slider = el("input", { id: "step-slider", type: "range", min: 0, max: Math.max(S.steps.length - 1, 0), step: 1, value: S.index, "aria-label": "checkpoint" });
    const stepLabel = el("span", { id: "step-label" });
    const label = el("span", { id: "heuristic-label", class: "label-box", "data-view": "heuristic-label", text: "…" });
    const fam = curveFamilies(meta.metrics);
    const famSel = el("select", { id: "curve-select", "aria-label": "curves" }, fam.families.map((f, i) => el("option", { value: i, text: f.label })));
    main.append(
      el("h1", { id: "run-title", text: `Run ${meta.id}` + (meta.name ? `: ${meta.name}` : "") }),
      summary,
      el("div", { class: "controls" }, el("label", { text: "member" }), memberSel, el("label", { text: "checkpoint" }), slider, stepLabel,
        el("label", { text: "heuristic model" }), label),
    );
    describe();
    const noCheckpoints = el("p", { class: "note", text: frames.meta.note || "No checkpoints." });
    if (!S.steps.length) main.append(noCheckpoints);

    const grid = el("div", { class: "grid" });
    main.append(grid);
    const curves = panel("view-curves", "Learning curves (hover or drag to pick a checkpoint)",
      { wide: true, tall: true, cursor: true, note: "Solid: train, dashed: test (dotted: unseen). The selected member is coloured; its memorization and generalization steps (first ≥ 99% accuracy) are marked." });
    curves.section.querySelector("h3").after(el("div", { class: "controls" }, el("label", { text: "curves" }), famSel));
    grid.append(curves.section);
    const P = { curves: curves.plot };
    const add = (key, ...args) => { const p = panel(...args); grid.append(p.section); P[key] = p.plot; return p; };
    frames.meta.views.forEach((v, i) => add(`w${i}`, `view-weights-${i}`, `${v.title}`, { tall: true,
      note: v.reordered ? "Hidden units ordered by their frequency and phase at the last checkpoint (PAIR's ordering)." : null }));
    const fourier = frames.meta.fourier;
    if (fourier) {
      add("spectrum", "view-spectrum", "Embedding spectrum (energy per frequency)", { note: "Red: key frequencies at the last checkpoint." });
      if (fourier.stars) add("stars", "view-stars", `Stars: each neuron's ${fourier.input_map} at its final frequency (cos, sin)`, { wide: true });
      add("waves", "view-waves", `Neuron waves: ${fourier.input_map} over the input, by final frequency`, { tall: true,
        note: "Each band is one frequency group, scaled to its largest |weight| over training (as each star is)." });
      add("logits", "view-logits", `Logits of each frequency's neurons at (a, b) = (${fourier.example[0]}, ${fourier.example[1]})`,
        { note: `Each colour is one frequency group (as in the stars and waves, in order k = ${fourier.groups.join(", ")}); dotted black: all neurons; green: the answer c = ${fourier.answer}.` });
    }
    if (frames.meta.irreps) add("irreps", "view-irreps", "Embedding energy per irrep (share, real isotypic components)",
      { note: "The group's Fourier spectrum: how the embedding's energy splits over irreducible representations (grokscope.groups)." });
    const progress = add("progress", "view-progress", "Progress measures over checkpoints (selected member)", { cursor: true, note: "Loading the run's analysis…" });
    const measures = add("measures", "view-measures", "Sparsity and memorization over checkpoints (selected member)", { cursor: true });
    if (fam.groups.length) add("groups", "view-groups", "Per-group test loss (selected member)", { cursor: true });
    const walkBox = el("div", { id: "walk", class: "walk" });
    progress.section.append(walkBox);

    async function drawCurves() {
      const f = fam.families[Number(famSel.value)];
      const { shapes, annotations } = markerShapes(S, true);
      await Plotly.react(P.curves, curveTraces(S, f), GS.baseLayout({ shapes, annotations, hovermode: "x", dragmode: false,
        xaxis: { type: "log", title: { text: "training step" } }, yaxis: { type: f.log ? "log" : "linear", title: { text: f.label } } }), GS.plotConfig);
      followCursor(P.curves);
      placeCursor(P.curves, S.steps[S.index]);
      P.curves.dataset.step = S.steps[S.index];
    }

    function drawGroups() {
      if (!P.groups) return Promise.resolve();
      const M = S.metrics, steps = Array.from(M.arrays.steps.data);
      const data = fam.groups.filter((g) => M.arrays[`test_loss/${g}`]).map((g, i) => ({ x: steps,
        y: GS.column(M.arrays[`test_loss/${g}`], S.member), type: "scatter", mode: "lines", name: g, line: { color: GS.memberColor(i) } }));
      return Plotly.react(P.groups, data, GS.baseLayout({ showlegend: true,
        xaxis: { type: "log", title: { text: "training step" } }, yaxis: { type: "log", title: { text: "test loss" } } }), GS.plotConfig)
        .then(() => { followCursor(P.groups); placeCursor(P.groups, S.steps[S.index]); });
    }

    // Everything that shows the current checkpoint; resolves when plotly has drawn it.
    async function drawStep() {
      if (!S.steps.length) return;
      const step = S.steps[S.index], jobs = [], cost = {};
      const timed = (name, fn) => { const t = performance.now(); jobs.push(fn()); cost[name] = performance.now() - t; };
      stepLabel.textContent = `step ${step} (checkpoint ${S.index + 1} of ${S.steps.length})`;
      S.frames.meta.views.forEach((_, i) => P[`w${i}`] && timed(`w${i}`, () => Plotly.react(P[`w${i}`], GS.fig.weightsTrace(S, i), GS.fig.weightsLayout(S, i), GS.plotConfig)));
      if (S.frames.meta.fourier) {
        for (const [key, fig] of [["spectrum", GS.fig.spectrumFigure], ["stars", GS.fig.starsFigure], ["waves", GS.fig.wavesFigure], ["logits", GS.fig.logitsFigure]]) {
          if (!P[key]) continue;
          timed(key, () => { const f = fig(S); return Plotly.react(P[key], f.data, f.layout, GS.plotConfig); });
        }
      }
      if (S.frames.meta.irreps && P.irreps) timed("irreps", () => { const f = GS.fig.irrepsFigure(S); return Plotly.react(P.irreps, f.data, f.layout, GS.plotConfig); });
      for (const key of ["curves", "progress", "measures", "groups"]) if (P[key]) timed(key, () => placeCursor(P[key], step));
      await Promise.all(jobs);
      GS.state.perf.cost = cost;
      drawLabel();
      for (const div of grid.querySelectorAll("[data-view]")) if (div.data) div.dataset.step = step;
      GS.state.step = step;
      GS.state.index = S.index;
    }

    function drawLabel() {
      const A = S.analysis, ir = S.frames && S.frames.meta.irreps;
      if (ir && !(A && A.meta.labels)) {  // a group run: the embedding's irreps in use here (the rule in the title)
        const used = ir.in_use[S.index] || [];
        label.textContent = `irreps in use: ${used.length ? used.join(", ") : "none"} (${ir.group})`;
        label.title = ir.in_use_rule;
        label.dataset.step = S.steps[S.index];
      }
      if (!A) return;
      const labels = A.meta.labels;
      const i = A.meta.steps.indexOf(S.steps[S.index]);
      if (!(ir && !labels)) {
        label.textContent = labels && i >= 0 ? labels[i][0] : (labels ? "–" : "n/a (no Fourier structure)");
        label.dataset.step = S.steps[S.index];
      }
      for (const li of walkBox.querySelectorAll("li")) {
        const on = Number(li.dataset.from) <= S.steps[S.index] && S.steps[S.index] < Number(li.dataset.to);
        li.classList.toggle("current", on);
        if (on) walkBox.scrollTop = li.offsetTop - walkBox.offsetTop - 20;  // keep the current node in view
      }
    }

    async function drawAnalysis() {
      const A = S.analysis, names = A.meta.curves;
      const pNote = progress.section.querySelector(".note");
      if (A.meta.note) { pNote.textContent = A.meta.note; return; }
      const losses = ["train_loss", "test_loss", "restricted_loss", "excluded_loss"].filter((n) => names.includes(n));
      const sparse = names.filter((n) => n.startsWith("gini") || n === "mem_frac" || n.startsWith("relevant bits"));
      const f1 = GS.fig.analysisFigure(S, losses, true, "loss (nats)"), f2 = GS.fig.analysisFigure(S, sparse.length ? sparse : ["sum_sq_weights"], !sparse.length, sparse.length ? "fraction / Gini" : "sum of squared weights");
      pNote.textContent = "Restricted loss: logits kept only in the key frequencies' waves; excluded loss: those waves removed, on the training data (Nanda et al. 2023, §5).";
      if (!losses.includes("restricted_loss")) pNote.textContent = "Losses of every checkpoint, recomputed on all inputs.";
      walkBox.replaceChildren();
      const walk = A.meta.results.heuristic_walk;
      if (walk) {
        const w = walk.walk[0], steps = A.meta.steps;
        walkBox.append(el("p", { class: "note", text: "Walk on the graph of heuristic models (Gokhale 2023): step entered → label" }),
          el("ol", {}, w.map(([s, lab], j) => el("li", { "data-from": s, "data-to": j + 1 < w.length ? w[j + 1][0] : steps[steps.length - 1] + 1, text: `${s} → ${lab}` }))));
      }
      await Promise.all([Plotly.react(P.progress, f1.data, f1.layout, GS.plotConfig), Plotly.react(P.measures, f2.data, f2.layout, GS.plotConfig)]);
      for (const d of [P.progress, P.measures]) { followCursor(d); placeCursor(d, S.steps[S.index]); d.dataset.step = S.steps[S.index]; }
      drawLabel();
    }

    // The selected member's analysis (computed by the server on first request, then cached there and here).
    async function loadAnalysis() {
      const m = S.member, t = performance.now();
      GS.state.analysisReady = false;
      try {
        if (!S.analysisBy[m]) S.analysisBy[m] = await GS.fetchArrays(`/api/run/${runId}/analysis/${m}`);
        if (m !== S.member) return;  // the reader moved on to another member meanwhile
        S.analysis = S.analysisBy[m];
        await drawAnalysis();
        GS.state.perf.analysis = performance.now() - t;
        GS.state.analysisReady = true;
      } catch (e) { GS.showError(`analysis: ${e.message || e}`); }
    }

    // perf.update is the time from the input event to plotly having drawn every view.
    let pending = null, busy = false;
    function setIndex(i, tInput) {
      if (i === S.index && !pending) return;
      pending = { i, t: tInput };
      if (busy) return;
      busy = GS.state.busy = true;
      // Draw now (not on the next animation frame: that would add up to 16 ms); moves that arrive while
      // drawing are coalesced into one redraw at the latest position.
      (async function run() {
        const job = pending;
        pending = null;
        S.index = job.i;
        slider.value = S.index;
        await drawStep();
        GS.state.perf.update = performance.now() - job.t;
        GS.state.perf.updates = (GS.state.perf.updates || 0) + 1;
        if (pending) setTimeout(run, 0);
        else busy = GS.state.busy = false;
      })();
    }
    GS.state.setIndex = (i) => setIndex(i, performance.now());

    slider.addEventListener("input", () => setIndex(Number(slider.value), performance.now()));
    famSel.addEventListener("change", drawCurves);
    memberSel.addEventListener("change", async () => {
      const m = Number(memberSel.value);
      const t = performance.now();
      if (!S.framesBy[m]) S.framesBy[m] = await GS.fetchArrays(`/api/run/${runId}/frames/${m}`);
      S.member = m;
      S.frames = S.framesBy[m];
      GS.state.member = m;
      history.replaceState(null, "", `#run=${runId}&member=${m}`);
      GS.fig.prepareFrames(S);
      S.analysis = null;
      label.textContent = "…";
      delete label.dataset.step;
      for (const d of [P.progress, P.measures]) { Plotly.purge(d); delete d.dataset.step; placeCursor(d, S.steps[S.index]); }
      await Promise.all([drawCurves(), drawGroups()]);
      await drawStep();
      GS.state.perf.member = performance.now() - t;
      loadAnalysis();
    });

    GS.fig.prepareFrames(S);
    await drawCurves();
    P.curves.on("plotly_hover", (ev) => {
      const x = ev.points && ev.points.length ? ev.points[0].x : null;
      if (x !== null && S.steps.length) setIndex(nearestIndex(S.steps, Number(x)), performance.now());
    });
    await Promise.all([drawGroups(), drawStep()]);
    GS.state.perf.firstPaint = performance.now();  // since navigation start
    GS.state.perf.firstPaintView = performance.now() - t0;  // since the view started loading
    GS.state.ready = true;
    loadAnalysis();
    if (meta.status === "running") followTraining();

    // A run still training: poll its record; when the trainer has committed more metrics or checkpoints,
    // reload them and redraw (a reader at the latest checkpoint stays at the latest). Stops when the run
    // stops or the reader leaves the view.
    function followTraining() {
      const badge = el("span", { id: "live", class: "label-box", text: "live: following training" });
      summary.after(badge);
      GS.state.live = { refreshes: 0, status: meta.status };
      const timer = setInterval(async () => {
        if (GS.state.S !== S) { clearInterval(timer); return; }
        if (busy || GS.state.liveBusy) return;
        GS.state.liveBusy = true;
        try {
          const now = await GS.fetchJSON(`/api/run/${runId}`);
          if (now.updated !== S.meta.updated || now.checkpoint_steps.length !== S.steps.length) {
            const atEnd = S.index >= S.steps.length - 1, m = S.member;
            const [metrics2, frames2] = await Promise.all([GS.fetchArrays(`/api/run/${runId}/metrics`),
              GS.fetchArrays(`/api/run/${runId}/frames/${m}`)]);
            if (GS.state.S !== S || m !== S.member) return;  // left the view or switched member meanwhile
            Object.assign(S, { meta: now, metrics: metrics2, frames: frames2, framesBy: { [m]: frames2 }, analysisBy: {},
              steps: frames2.meta.steps });
            S.index = atEnd ? Math.max(S.steps.length - 1, 0) : Math.min(S.index, Math.max(S.steps.length - 1, 0));
            slider.max = Math.max(S.steps.length - 1, 0);
            slider.value = S.index;
            if (S.steps.length) noCheckpoints.remove();
            describe();
            GS.fig.prepareFrames(S);
            await Promise.all([drawCurves(), drawGroups(), drawStep()]);
            GS.state.live.refreshes += 1;
            loadAnalysis();
          }
          GS.state.live.status = now.status;
          if (now.status !== "running") {
            clearInterval(timer);
            badge.textContent = `training ${now.status}`;
          }
        } catch (e) {
          GS.showError(`following the run: ${e.message || e}`);
        } finally {
          GS.state.liveBusy = false;
        }
      }, Number(hash.poll) || 2000);
    }
  };
})();
