// The sweep view: the phase map and the steps-to-grok map over two swept keys (grokscope.analysis.phase_map);
// clicking a cell lists its members and draws their curves; a filterable table of every point.
"use strict";

(function () {
  const el = GS.el;
  // Phase colours as in the static report (PAIR's sweep figure: generalizing phases cool, failing ones warm).
  const PHASE_COLOR = { comprehension: "#2c7bb6", grokking: "#abd9e9", memorization: "#fdae61", confusion: "#d7191c",
    diverged: "#111111", unknown: "#cccccc" };
  const PHASES = Object.keys(PHASE_COLOR);

  function majority(counts) {
    let best = "unknown", n = -1;
    for (const ph of PHASES) if ((counts[ph] || 0) > n) { best = ph; n = counts[ph] || 0; }
    return best;
  }

  function mapFigures(map) {
    const xi = new Map(map.xs.map((v, i) => [JSON.stringify(v), i]));
    const yi = new Map(map.ys.map((v, i) => [JSON.stringify(v), i]));
    const z = map.ys.map(() => map.xs.map(() => null));
    const zs = map.ys.map(() => map.xs.map(() => null));
    const text = map.ys.map(() => map.xs.map(() => ""));
    const cells = {};
    for (const c of map.cells) {
      const i = yi.get(JSON.stringify(c.y)), j = xi.get(JSON.stringify(c.x));
      z[i][j] = PHASES.indexOf(majority(c.counts));
      zs[i][j] = c.median_steps === null ? null : Math.log10(c.median_steps);
      text[i][j] = Object.entries(c.counts).map(([k, v]) => `${k}: ${v}`).join("<br>");
      cells[`${j},${i}`] = c;
    }
    // A discrete colour scale: phase index -> its colour.
    const n = PHASES.length, scale = [];
    PHASES.forEach((ph, k) => { scale.push([k / n, PHASE_COLOR[ph]], [(k + 1) / n, PHASE_COLOR[ph]]); });
    const xs = map.xs.map(String), ys = map.ys.map(String);
    const phase = { data: [{ z, x: xs, y: ys, text, type: "heatmap", colorscale: scale, zmin: -0.5, zmax: n - 0.5, showscale: false,
      hovertemplate: `${map.x} %{x}, ${map.y} %{y}<br>%{text}<extra>click to list</extra>`, xgap: 2, ygap: 2 }],
      layout: GS.baseLayout({ xaxis: { title: { text: map.x }, type: "category" }, yaxis: { title: { text: map.y }, type: "category" } }) };
    const steps = { data: [{ z: zs, x: xs, y: ys, type: "heatmap", colorscale: "Viridis", xgap: 2, ygap: 2,
      colorbar: { title: { text: "log10 median steps" }, thickness: 10 },
      hovertemplate: `${map.x} %{x}, ${map.y} %{y}<br>median steps to generalize: 10^%{z:.2f}<extra></extra>` }],
      layout: GS.baseLayout({ xaxis: { title: { text: map.x }, type: "category" }, yaxis: { title: { text: map.y }, type: "category" } }) };
    return { phase, steps, cells };
  }

  GS.views.sweep = async function (main, name, hash) {
    const t0 = performance.now();
    const sw = await GS.fetchJSON(`/api/sweep/${encodeURIComponent(name)}`);
    await GS.plotlyReady;
    GS.state = { view: "sweep", sweep: sw.name, perf: {} };
    document.getElementById("crumb").textContent = `sweep ${sw.name}`;
    main.append(el("h1", { id: "sweep-title", text: `Sweep ${sw.name}` }),
      el("p", { class: "muted", text: `${sw.n_points} points · ${sw.n_members} members · swept: ${sw.keys.join(", ")} · ${sw.status}` }));

    const legend = el("p", { class: "note" }, "Phases: ", PHASES.map((ph) => el("span", { style: `color:${PHASE_COLOR[ph] === "#111111" ? "#111" : PHASE_COLOR[ph]}`, text: `■ ${ph}  ` })));
    const grid = el("div", { class: "grid" });
    const cellBox = el("section", { class: "panel wide", id: "cell-members" }, el("h3", { text: "Members of a cell" }),
      el("p", { class: "note", text: "Click a cell of the phase map." }));
    const curves = el("div", { id: "cell-curves", class: "plot" });
    cellBox.append(curves);

    main.append(grid);  // in the page before plotly measures the panels
    if (sw.keys.length >= 2) {
      const xSel = el("select", { id: "x-key", "aria-label": "x key" }, sw.keys.map((k) => el("option", { value: k, text: k })));
      const ySel = el("select", { id: "y-key", "aria-label": "y key" }, sw.keys.map((k) => el("option", { value: k, text: k })));
      xSel.value = hash.x && sw.keys.includes(hash.x) ? hash.x : sw.keys[0];
      ySel.value = hash.y && sw.keys.includes(hash.y) ? hash.y : sw.keys[1];
      grid.before(el("div", { class: "controls" }, el("label", { text: "x" }), xSel, el("label", { text: "y" }), ySel));
      const phasePlot = el("div", { id: "phase-map", class: "plot tall" });
      const stepsPlot = el("div", { id: "steps-map", class: "plot tall" });
      grid.append(el("section", { class: "panel" }, el("h3", { text: "Phase map (majority phase of each cell's members)" }), phasePlot, legend),
        el("section", { class: "panel" }, el("h3", { text: "Steps to generalize (median over members that did)" }), stepsPlot));
      let cells = {};
      const draw = async () => {
        if (xSel.value === ySel.value) { GS.showError("pick two different swept keys"); return; }
        GS.showError("");
        const map = await GS.fetchJSON(`/api/sweep/${encodeURIComponent(sw.name)}/map?x=${encodeURIComponent(xSel.value)}&y=${encodeURIComponent(ySel.value)}`);
        const f = mapFigures(map);
        cells = f.cells;
        await Promise.all([Plotly.react(phasePlot, f.phase.data, f.phase.layout, GS.plotConfig),
          Plotly.react(stepsPlot, f.steps.data, f.steps.layout, GS.plotConfig)]);
        GS.state.map = { x: map.x, y: map.y, xs: map.xs, ys: map.ys };
      };
      xSel.addEventListener("change", draw);
      ySel.addEventListener("change", draw);
      await draw();
      for (const plot of [phasePlot, stepsPlot]) {
        plot.on("plotly_click", (ev) => {
          const pt = ev.points[0];
          const c = cells[`${pt.pointIndex[1]},${pt.pointIndex[0]}`];
          if (c) openCell(sw, xSel.value, ySel.value, c, cellBox, curves);
        });
      }
    } else {
      grid.append(el("p", { class: "note", text: "A phase map needs two swept keys; this sweep has one." }));
    }
    grid.append(cellBox);

    main.append(el("h2", { text: "Points" }));
    main.append(GS.filterTable(sw.points, [
      ["point", (p) => p.point], ...sw.keys.map((k) => [k, (p) => p.values[k]]), ["members", (p) => p.n],
      ["phases", (p) => Object.entries(p.counts).map(([k, v]) => `${k} ${v}`).join(", ")],
      ["generalized", (p) => p.frac_generalized], ["median gen step", (p) => p.median_gen_step],
      ["median mem step", (p) => p.median_mem_step],
    ]));
    GS.state.perf.firstPaintView = performance.now() - t0;
    GS.state.ready = true;
  };

  // The members of one cell: a table (each row opens its run at that member) and their test accuracy curves.
  async function openCell(sw, xKey, yKey, cell, box, curves) {
    const members = sw.members.filter((m) => JSON.stringify(m.values[xKey]) === JSON.stringify(cell.x)
      && JSON.stringify(m.values[yKey]) === JSON.stringify(cell.y));
    box.querySelector("h3").textContent = `Members at ${xKey} = ${cell.x}, ${yKey} = ${cell.y} (${members.length})`;
    const note = box.querySelector(".note");
    const rows = members.map((m) => el("tr", { class: m.run_id !== null ? "clickable" : null,
      onclick: m.run_id !== null ? () => { location.hash = `run=${m.run_id}&member=${m.member}`; } : null },
      [m.point, m.seed, Object.entries(m.values).map(([k, v]) => `${k}=${v}`).join(" "), m.phase, m.mem_step, m.gen_step,
        m.run_id, m.member].map((v) => el("td", { text: GS.fmt(v) }))));
    const table = el("table", { id: "cell-table" }, el("thead", {}, el("tr", {}, ["point", "seed", "values", "phase", "mem step", "gen step", "run", "member"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
    note.replaceChildren(table, el("p", { class: "note", text: "Click a row to open that member's run." }));
    const byRun = {};
    for (const m of members) if (m.run_id !== null) (byRun[m.run_id] = byRun[m.run_id] || []).push(m);
    const data = [];
    let k = 0;
    for (const [run, ms] of Object.entries(byRun)) {
      const met = await GS.fetchArrays(`/api/run/${run}/metrics`);
      const steps = Array.from(met.arrays.steps.data);
      for (const m of ms) {
        for (const [split, dash] of [["train_acc", "solid"], ["test_acc", "dash"]]) {
          if (!met.arrays[split]) continue;
          data.push({ x: steps, y: GS.column(met.arrays[split], m.member), type: "scatter", mode: "lines",
            name: `run ${run} member ${m.member} ${split}`, line: { color: GS.memberColor(k), dash } });
        }
        k++;
      }
    }
    await Plotly.react(curves, data, GS.baseLayout({ xaxis: { type: "log", title: { text: "training step" } },
      yaxis: { title: { text: "accuracy (solid train, dashed test)" } } }), GS.plotConfig);
    GS.state.cell = { x: cell.x, y: cell.y, n: members.length, traces: data.length };
  }
})();
