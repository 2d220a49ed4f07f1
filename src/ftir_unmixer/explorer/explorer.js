// ftir-unmixer explorer: decodes the embedded data and links the Plotly figures.
// window.explorer exposes the state and select(row, col): lastClickMs is the time from the
// start of the last selection to the first frame after every figure was updated,
// lastPointerMs the same from the mouse press that led to it (Plotly's click handling included).
"use strict";
(function () {
  const payload = JSON.parse(document.getElementById("explorer-data").textContent);
  const [height, width] = payload.shape;
  const numPixels = height * width;
  const state = {
    ready: false, pixel: null, clicks: 0, lastClickMs: null, lastPointerMs: null, select: null,
  };
  let pointerDownAt = null;
  window.explorer = state;

  const TYPES = { float64: Float64Array, float32: Float32Array, int8: Int8Array, uint8: Uint8Array };

  async function decode(blob) {
    const text = atob(blob.b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buffer = await new Response(stream).arrayBuffer();
    return new TYPES[blob.dtype](buffer);
  }

  function withGaps(values, gaps) {
    if (!gaps.length) return Array.from(values);
    const out = [];
    let next = 0;
    for (let i = 0; i < values.length; i++) {
      out.push(values[i]);
      if (next < gaps.length && gaps[next] === i) { out.push(null); next++; }
    }
    return out;
  }

  // Measured spectrum of pixel p: offset + code * step, the codes summed from band steps.
  function measured(cube, p) {
    const bands = cube.wavenumbers.length;
    const out = new Float64Array(bands);
    const offset = cube.offset[p], step = cube.step[p];
    let code = 0;
    for (let b = 0; b < bands; b++) {
      code += cube.deltas[b * numPixels + p];
      out[b] = offset + code * step;
    }
    return out;
  }

  // Reconstruction f * A E^T of pixel p, in input units.
  function reconstruction(run, cube, p) {
    const k = run.k, bands = cube.wavenumbers.length;
    const a = run.abundances.subarray(p * k, p * k + k);
    const f = cube.factor ? cube.factor[p] : 1.0;
    const out = new Float64Array(bands);
    for (let b = 0; b < bands; b++) {
      let sum = 0.0;
      for (let j = 0; j < k; j++) sum += run.endmembers[b * k + j] * a[j];
      out[b] = f * sum;
    }
    return out;
  }

  function mapRows(values, stride, index) {
    const z = new Array(height);
    for (let r = 0; r < height; r++) {
      const row = new Array(width);
      for (let c = 0; c < width; c++) {
        const v = values[(r * width + c) * stride + index];
        row[c] = Number.isFinite(v) ? v : null;
      }
      z[r] = row;
    }
    return z;
  }

  function rgbImage(run, channels, cube) {
    const z = new Array(height);
    for (let r = 0; r < height; r++) {
      const row = new Array(width);
      for (let c = 0; c < width; c++) {
        const p = r * width + c;
        row[c] = cube.valid[p]
          ? channels.map((j) => Math.round(255 * Math.min(1, Math.max(0, run.abundances[p * run.k + j]))))
          : [0, 0, 0];
      }
      z[r] = row;
    }
    return z;
  }

  // A red square over the pixel in every panel: plain positioned boxes, so a click redraws
  // none of the maps. Pixel positions come from each panel's axes.
  function placeMarkers(run, row, col) {
    const layout = run.mapsDiv._fullLayout;
    run.markers.forEach((box, i) => {
      const suffix = i === 0 ? "" : String(i + 1);
      const xa = layout[`xaxis${suffix}`], ya = layout[`yaxis${suffix}`];
      const x0 = xa._offset + xa.l2p(col - 0.5), x1 = xa._offset + xa.l2p(col + 0.5);
      const y0 = ya._offset + ya.l2p(row - 0.5), y1 = ya._offset + ya.l2p(row + 0.5);
      const size = Math.max(9, Math.abs(x1 - x0), Math.abs(y1 - y0));
      Object.assign(box.style, {
        left: `${(x0 + x1 - size) / 2}px`, top: `${(y0 + y1 - size) / 2}px`,
        width: `${size}px`, height: `${size}px`, display: "block",
      });
    });
  }

  function element(tag, parent, attrs) {
    const node = document.createElement(tag);
    Object.assign(node, attrs || {});
    parent.appendChild(node);
    return node;
  }

  async function load() {
    const cubes = [];
    for (const c of payload.cubes) {
      cubes.push({
        wavenumbers: await decode(c.wavenumbers),
        deltas: await decode(c.deltas),
        offset: await decode(c.offset),
        step: await decode(c.step),
        valid: await decode(c.valid),
        factor: c.factor ? await decode(c.factor) : null,
        gaps: c.gaps,
        units: c.units,
      });
      cubes[cubes.length - 1].x = withGaps(cubes[cubes.length - 1].wavenumbers, c.gaps);
    }
    const runs = [];
    for (const r of payload.runs) {
      runs.push({
        spec: r,
        k: r.k,
        cube: cubes[r.cube],
        abundances: await decode(r.abundances),
        error: await decode(r.error_deg),
        endmembers: await decode(r.endmembers),
        rgb: r.rgb.slice(),
      });
    }
    return { cubes, runs };
  }

  async function main() {
    const { runs } = await load();
    const mapsRoot = document.getElementById("maps");
    const columns = document.getElementById("pixel-columns");
    columns.style.gridTemplateColumns = `repeat(${runs.length}, minmax(0, 1fr))`;
    const follow = document.getElementById("follow");
    const q = payload.quantisation;
    document.getElementById("quantisation").textContent =
      `Measured spectra are stored on ${payload.levels + 1} levels per pixel between its ` +
      `minimum and maximum: displayed values are within ${(100 * q.max_relative).toFixed(2)} % ` +
      `of the pixel's range (RMS ${(100 * q.rms_relative).toFixed(2)} %).`;

    for (const run of runs) {
      const spec = run.spec;
      const section = element("div", mapsRoot, { className: "run" });
      element("h2", section, { textContent: spec.title });
      const controls = element("div", section, { className: "controls" });
      controls.appendChild(document.createTextNode("RGB composite: "));
      run.selects = ["R", "G", "B"].map((channel, i) => {
        controls.appendChild(document.createTextNode(` ${channel} `));
        const select = element("select", controls, { className: `rgb-${channel}` });
        for (let j = 0; j < run.k; j++) {
          const label = spec.labels[j] ? `${j + 1}: ${spec.labels[j]}` : `${j + 1}`;
          element("option", select, { value: String(j), textContent: label });
        }
        select.value = String(run.rgb[i]);
        return select;
      });
      run.mapsDiv = element("div", section, { className: "explorer-maps" });
      const fig = spec.figures.maps;
      for (let j = 0; j < run.k; j++) fig.data[j].z = mapRows(run.abundances, run.k, j);
      fig.data[run.k].z = rgbImage(run, run.rgb, run.cube);
      fig.data[run.k + 1].z = mapRows(run.error, 1, 0);
      await Plotly.newPlot(run.mapsDiv, fig.data, fig.layout, { displaylogo: false, responsive: false });
      run.markers = Array.from({ length: run.k + 2 }, () => element("div", run.mapsDiv, { className: "marker" }));

      const column = element("div", columns, { className: "column" });
      run.caption = element("div", column, { className: "caption", textContent: `${spec.name}: click a pixel` });
      run.spectrumDiv = element("div", column, { className: "explorer-spectrum" });
      const spectrumFig = spec.figures.spectrum;
      for (let t = 0; t < 3; t++) { spectrumFig.data[t].x = run.cube.x; spectrumFig.data[t].y = []; }
      await Plotly.newPlot(run.spectrumDiv, spectrumFig.data, spectrumFig.layout, { displaylogo: false });
      run.barsDiv = element("div", column, { className: "explorer-bars" });
      const barsFig = spec.figures.bars;
      await Plotly.newPlot(run.barsDiv, barsFig.data, barsFig.layout, { displaylogo: false });

      for (const select of run.selects) {
        select.addEventListener("change", () => {
          run.rgb = run.selects.map((s) => Number(s.value));
          Plotly.restyle(run.mapsDiv, { z: [rgbImage(run, run.rgb, run.cube)] }, [run.k]);
        });
      }
    }
    const emFig = payload.endmembers;
    await Plotly.newPlot(document.getElementById("endmembers"), emFig.data, emFig.layout, { displaylogo: false });

    async function select(row, col) {
      const start = performance.now();
      if (row < 0 || row >= height || col < 0 || col >= width) return;
      const p = row * width + col;
      const updates = [];
      const lines = [`Pixel row ${row}, column ${col}`];
      for (const run of runs) {
        placeMarkers(run, row, col);
        const cube = run.cube;
        if (!cube.valid[p]) {
          run.caption.textContent = `${run.spec.name}: pixel (${row}, ${col}) is masked`;
          updates.push(Plotly.restyle(run.spectrumDiv, { y: [[], [], []] }, [0, 1, 2]));
          updates.push(Plotly.restyle(run.barsDiv, { y: [new Array(run.k).fill(0)] }, [0]));
          continue;
        }
        const x = measured(cube, p);
        const xhat = reconstruction(run, cube, p);
        const residual = x.map((v, b) => v - xhat[b]);
        const abundances = Array.from(run.abundances.subarray(p * run.k, p * run.k + run.k));
        const total = abundances.reduce((s, v) => s + v, 0);
        const error = run.error[p];
        run.caption.textContent = `${run.spec.name}: pixel (${row}, ${col}), reconstruction ` +
          `error ${error.toFixed(2)}°, abundances sum to ${total.toFixed(3)}`;
        updates.push(Plotly.restyle(
          run.spectrumDiv,
          { y: [withGaps(x, cube.gaps), withGaps(xhat, cube.gaps), withGaps(residual, cube.gaps)] },
          [0, 1, 2],
        ));
        updates.push(Plotly.restyle(run.barsDiv, { y: [abundances] }, [0]));
        lines.push(`${run.spec.name}: error ${error.toFixed(2)}°`);
      }
      document.getElementById("readout").textContent = lines.join(" · ");
      await Promise.all(updates);
      await new Promise((resolve) => requestAnimationFrame(() => resolve()));
      const end = performance.now();
      state.pixel = [row, col];
      state.lastClickMs = end - start;
      state.lastPointerMs = pointerDownAt === null ? null : end - pointerDownAt;
      pointerDownAt = null;
      state.clicks += 1;
    }
    state.select = select;

    let pending = null;
    for (const run of runs) {
      run.mapsDiv.addEventListener("pointerdown", () => { pointerDownAt = performance.now(); }, true);
      run.mapsDiv.on("plotly_click", (event) => {
        const point = event.points[0];
        select(Math.round(point.y), Math.round(point.x));
      });
      run.mapsDiv.on("plotly_hover", (event) => {
        if (!follow.checked || pending) return;
        const point = event.points[0];
        pending = requestAnimationFrame(() => {
          pending = null;
          select(Math.round(point.y), Math.round(point.x));
        });
      });
    }
    document.getElementById("status").textContent = "";
    state.ready = true;
  }

  main().catch((error) => {
    document.getElementById("status").textContent = `The explorer could not start: ${error}`;
    throw error;
  });
})();
