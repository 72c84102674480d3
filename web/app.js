// The playground page: controls → the wasm Playground (the backprop library), drawn on canvases.
// Every number shown comes from the library; this file only lays them out.
import init, { Playground } from './pkg/backprop_web.js';

const $ = (id) => document.getElementById(id);
const PALETTE = ['#e8833a', '#2c7bb6', '#4daf4a', '#984ea3', '#e41a1c', '#a6761d', '#666666', '#f781bf'];
const GRID = 100; // cells per side of the decision-region picture

let pg = null; // the Playground
let running = false;
let selected = null; // {layer, unit}, 1-based
let bounds = null; // {x0, x1, y0, y1} in data units
let points = null;
let labels = null;
let csvName = null;
let csvText = null;

function showError(e) {
  $('error').textContent = e ? String(e.message || e) : '';
}

function config() {
  const hidden = $('hidden').value.split(',').map((s) => s.trim()).filter((s) => s !== '')
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n)) throw new Error(`hidden layers: ${JSON.stringify(s)} is not a whole number`);
      return n;
    });
  return {
    hidden,
    activation: $('activation').value,
    loss: $('loss').value,
    optimizer: $('optimizer').value,
    lr: Number($('lr').value),
    momentum: Number($('momentum').value),
    batch_size: Number($('batch').value),
    seed: Number($('seed').value),
    scale: $('scale').value,
  };
}

function lr() {
  return Number($('lr').value);
}

function makeData() {
  if (pg) pg.free();
  pg = null;
  if ($('dataset').value === 'csv' && csvText !== null) {
    pg = Playground.fromCsv(csvText, csvName);
  } else {
    pg = new Playground($('dataset').value, Number($('points').value), Number($('noise').value),
      Number($('data-seed').value));
  }
  points = pg.points();
  labels = pg.labels();
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < points.length; i += 2) {
    x0 = Math.min(x0, points[i]); x1 = Math.max(x1, points[i]);
    y0 = Math.min(y0, points[i + 1]); y1 = Math.max(y1, points[i + 1]);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-6) * 1.15;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  bounds = { x0: cx - span / 2, x1: cx + span / 2, y0: cy - span / 2, y1: cy + span / 2 };
  $('sample').max = labels.length - 1;
  if (Number($('sample').value) >= labels.length) $('sample').value = 0;
}

function build() {
  pause();
  showError(null);
  try {
    pg.build(JSON.stringify(config()));
    const widths = pg.layerWidths();
    if (selected && (selected.layer >= widths.length || selected.unit > widths[selected.layer])) selected = null;
    $('status').textContent = 'epoch 0';
    $('status').dataset.epoch = '0';
    delete $('status').dataset.loss;
  } catch (e) {
    showError(e);
  }
  redraw();
}

// --- training loop -------------------------------------------------------------------------

function step(epochs) {
  const p = JSON.parse(pg.train(epochs));
  const acc = p.accuracy === null ? '' : ` · accuracy ${(100 * p.accuracy).toFixed(1)} %`;
  $('status').textContent = `epoch ${p.epoch} · loss ${p.loss.toPrecision(4)}${acc}`;
  $('status').dataset.epoch = String(p.epoch);
  $('status').dataset.loss = String(p.loss);
  if (p.stopped) {
    showError(p.stopped);
    pause();
  }
}

function frame() {
  if (!running) return;
  try {
    step(Math.max(1, Number($('epochs-per-frame').value)));
    redraw();
  } catch (e) {
    showError(e);
    pause();
    return;
  }
  requestAnimationFrame(frame);
}

function play() {
  if (running) return;
  running = true;
  $('train').textContent = 'Pause';
  requestAnimationFrame(frame);
}

function pause() {
  running = false;
  $('train').textContent = 'Train';
}

// --- drawing -------------------------------------------------------------------------------

function hexRgb(h) {
  return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
}

function toPx(x, y, w, h) {
  return [(x - bounds.x0) / (bounds.x1 - bounds.x0) * w, (bounds.y1 - y) / (bounds.y1 - bounds.y0) * h];
}

function drawRegions() {
  const c = $('regions');
  const ctx = c.getContext('2d');
  const { width: w, height: h } = c;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  const k = Math.max(2, JSON.parse(pg.names()).classes.length);
  let pred = null;
  try {
    const xy = new Float32Array(2 * GRID * GRID);
    for (let r = 0; r < GRID; r++) {
      for (let q = 0; q < GRID; q++) {
        const i = r * GRID + q;
        xy[2 * i] = bounds.x0 + (q + 0.5) / GRID * (bounds.x1 - bounds.x0);
        xy[2 * i + 1] = bounds.y1 - (r + 0.5) / GRID * (bounds.y1 - bounds.y0);
      }
    }
    pred = pg.predict(xy);
  } catch (e) {
    pred = null; // no network yet
  }
  if (pred) {
    const img = ctx.createImageData(w, h);
    const n = GRID * GRID;
    for (let py = 0; py < h; py++) {
      const r = Math.min(GRID - 1, Math.floor(py / h * GRID));
      for (let px = 0; px < w; px++) {
        const q = Math.min(GRID - 1, Math.floor(px / w * GRID));
        const i = r * GRID + q;
        const cls = pred[i];
        const sure = Math.max(0, (pred[n + i] - 1 / k) / (1 - 1 / k));
        const rgb = hexRgb(PALETTE[cls % PALETTE.length]);
        const a = 0.12 + 0.5 * sure;
        const o = 4 * (py * w + px);
        for (let j = 0; j < 3; j++) img.data[o + j] = Math.round(255 * (1 - a) + rgb[j] * a);
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  const sample = Number($('sample').value);
  for (let i = 0; i < labels.length; i++) {
    const [x, y] = toPx(points[2 * i], points[2 * i + 1], w, h);
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = PALETTE[labels[i] % PALETTE.length];
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1;
    ctx.stroke();
  }
  if (sample < labels.length) {
    const [x, y] = toPx(points[2 * sample], points[2 * sample + 1], w, h);
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  const names = JSON.parse(pg.names()).features;
  const f = (v) => Number(v.toPrecision(3)).toString();
  const xl = `${names[0]}: ${f(bounds.x0)} … ${f(bounds.x1)} →`;
  ctx.fillText(xl, w - ctx.measureText(xl).width - 4, h - 5);
  ctx.save();
  ctx.translate(12, h - 8);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${names[1]}: ${f(bounds.y0)} … ${f(bounds.y1)} →`, 0, 0);
  ctx.restore();
}

function drawCurve() {
  const c = $('loss-canvas');
  const ctx = c.getContext('2d');
  const { width: w, height: h } = c;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
  const curve = Array.from(pg.curve()).filter((v) => Number.isFinite(v) && v > 0);
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  if (curve.length < 1) {
    ctx.fillText('no epochs yet', 8, 16);
    return;
  }
  const logs = curve.map((v) => Math.log10(v));
  let lo = Math.min(...logs);
  let hi = Math.max(...logs);
  if (hi - lo < 1e-3) { hi += 0.5; lo -= 0.5; }
  const [left, top, bottom] = [6, 18, 16];
  ctx.beginPath();
  logs.forEach((v, i) => {
    const x = left + (curve.length === 1 ? 0 : i / (curve.length - 1)) * (w - 2 * left);
    const y = top + (hi - v) / (hi - lo) * (h - top - bottom);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = PALETTE[1];
  ctx.lineWidth = 1.5;
  ctx.stroke();
  ctx.fillText(`max ${(10 ** hi).toPrecision(3)} (log scale)`, 8, 12);
  ctx.fillText(`min ${(10 ** lo).toPrecision(3)}`, 8, h - 4);
  const last = `epoch ${curve.length}: ${curve[curve.length - 1].toPrecision(4)}`;
  ctx.fillText(last, w - ctx.measureText(last).width - 8, 12);
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  parent.appendChild(el);
  return el;
}

function drawNet(ex) {
  const root = $('net');
  root.innerHTML = '';
  let widths;
  try {
    widths = Array.from(pg.layerWidths());
  } catch (e) {
    return;
  }
  const [W, H] = [520, 260];
  const L = widths.length - 1;
  const colX = (l) => 40 + l * (W - 100) / L;
  const rowY = (l, j) => {
    const n = widths[l];
    const gap = Math.min(48, (H - 40) / Math.max(1, n));
    return H / 2 + (j - (n - 1) / 2) * gap;
  };
  const maxW = ex ? Math.max(1e-6, ...ex.layers.flatMap((l) => l.weights.flat().map(Math.abs))) : 1;
  if (ex) {
    ex.layers.forEach((layer, i) => {
      const l = i + 1;
      const off = layer.bias ? 1 : 0;
      for (let k = 0; k < widths[l - 1]; k++) {
        for (let j = 0; j < widths[l]; j++) {
          const w = layer.weights[off + k][j];
          svg('line', {
            x1: colX(l - 1), y1: rowY(l - 1, k), x2: colX(l), y2: rowY(l, j),
            stroke: w >= 0 ? PALETTE[1] : PALETTE[0],
            'stroke-width': (0.3 + 4 * Math.abs(w) / maxW).toFixed(2),
            'stroke-opacity': 0.75,
          }, root);
        }
      }
    });
  }
  for (let l = 0; l <= L; l++) {
    for (let j = 0; j < widths[l]; j++) {
      const x = l === 0 ? (ex ? ex.input[j] : 0) : (ex ? ex.layers[l - 1].x[j] : 0);
      const shade = Math.round(255 - 120 * Math.min(1, Math.abs(x)));
      const isSel = selected && selected.layer === l && selected.unit === j + 1;
      const gap = widths[l] > 1 ? rowY(l, 1) - rowY(l, 0) : 48;
      const c = svg('circle', {
        cx: colX(l), cy: rowY(l, j), r: Math.max(2.5, Math.min(11, gap / 2 - 1)),
        fill: `rgb(${shade},${shade},${shade})`,
        class: (l === 0 ? 'input' : 'unit') + (isSel ? ' selected' : ''),
        'data-layer': l, 'data-unit': j + 1,
      }, root);
      if (gap >= 14) {
        const label = svg('text', { x: colX(l) + 14, y: rowY(l, j) + 4 }, root);
        label.textContent = `x(${l})_${j + 1}`;
      }
      if (l > 0) {
        c.addEventListener('click', () => {
          selected = { layer: l, unit: j + 1 };
          redraw();
        });
        svg('title', {}, c).textContent = `unit ${j + 1} of layer ${l}: click for s, x and δ`;
      }
    }
    const head = svg('text', { x: colX(l) - 16, y: 14 }, root);
    head.textContent = l === 0 ? 'input' : (l === L ? 'output' : `layer ${l}`);
  }
}

function drawPanel() {
  const sample = Number($('sample').value);
  const digits = Number($('digits').value);
  const names = JSON.parse(pg.names());
  $('sample-info').textContent = sample < labels.length
    ? `row ${sample}: ${names.features[0]} = ${+points[2 * sample].toPrecision(7)}, ` +
      `${names.features[1]} = ${+points[2 * sample + 1].toPrecision(7)}, label ${names.classes[labels[sample]]}; η = ${lr()}`
    : '';
  if ($('explain-table').closest('details').open) {
    $('explain-table').textContent = pg.explainTable(sample, lr(), digits);
  }
  const panel = $('unit-panel');
  if (!selected) {
    panel.innerHTML = '<span class="hint">Click a unit of the network.</span>';
    return;
  }
  const u = JSON.parse(pg.unit(sample, selected.layer, selected.unit, lr(), digits));
  const l = u.layer;
  const rows = u.incoming.map((r) => `<tr><td>${r.from}</td><td>${r.input}</td><td>${r.w}</td>` +
    `<td>${r.grad}</td><td>${r.updated}</td></tr>`).join('');
  panel.innerHTML = `
    <div><b>x(${l})_${u.unit}</b>, θ = ${u.activation}; e = <span id="unit-error">${u.error}</span></div>
    <div class="values">
      <b>s</b> <span id="unit-s">${u.s}</span> &nbsp;
      <b>x</b> <span id="unit-x">${u.x}</span> &nbsp;
      <b>δ</b> <span id="unit-delta">${u.delta}</span>
    </div>
    <div class="hint">s(${l})_${u.unit} = Σ w·x(${l - 1}), x = θ(s), δ = ∂e/∂s; ∂e/∂w = x(${l - 1})·δ</div>
    <table class="unit"><tr><th>from</th><th>x</th><th>w</th><th>∂e/∂w</th><th>w − η·∂e/∂w</th></tr>${rows}</table>`;
}

function redraw() {
  if (!pg) return;
  let ex = null;
  try {
    ex = JSON.parse(pg.explainJson(Number($('sample').value), lr()));
  } catch (e) {
    ex = null; // no network yet
  }
  drawRegions();
  drawCurve();
  drawNet(ex);
  try {
    if (ex) drawPanel();
  } catch (e) {
    showError(e);
  }
}

// --- files ---------------------------------------------------------------------------------

function download(bytes, name, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// --- wiring --------------------------------------------------------------------------------

function rebuildData() {
  pause();
  showError(null);
  try {
    makeData();
  } catch (e) {
    showError(e);
    return;
  }
  build();
}

async function main() {
  await init();
  for (const id of ['dataset', 'points', 'noise', 'data-seed']) $(id).addEventListener('change', rebuildData);
  for (const id of ['hidden', 'activation', 'loss', 'optimizer', 'lr', 'momentum', 'batch', 'scale', 'seed']) {
    $(id).addEventListener('change', build);
  }
  $('build').addEventListener('click', build);
  $('train').addEventListener('click', () => (running ? pause() : play()));
  $('step').addEventListener('click', () => {
    pause();
    try { step(1); } catch (e) { showError(e); }
    redraw();
  });
  for (const id of ['sample', 'digits']) $(id).addEventListener('input', redraw);
  $('explain-table').closest('details').addEventListener('toggle', redraw);
  $('download-model').addEventListener('click', () => {
    try {
      download(pg.modelFile(), 'playground.safetensors', 'application/octet-stream');
    } catch (e) {
      showError(e);
    }
  });
  $('download-data').addEventListener('click', () => download(pg.csv(), csvName || `${$('dataset').value}.csv`, 'text/csv'));
  $('csv-file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    csvText = await file.text();
    csvName = file.name;
    const opt = $('dataset').querySelector('option[value=csv]');
    opt.disabled = false;
    $('dataset').value = 'csv';
    rebuildData();
  });
  $('regions').addEventListener('click', (ev) => {
    const c = $('regions');
    const rect = c.getBoundingClientRect();
    const [mx, my] = [(ev.clientX - rect.left) * c.width / rect.width, (ev.clientY - rect.top) * c.height / rect.height];
    let best = -1;
    let bestD = 100; // px², within 10 px
    for (let i = 0; i < labels.length; i++) {
      const [x, y] = toPx(points[2 * i], points[2 * i + 1], c.width, c.height);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) { best = i; bestD = d; }
    }
    if (best >= 0) {
      $('sample').value = best;
      redraw();
    }
  });
  rebuildData();
  // for tests and the curious: the Playground object and the play/pause switch
  window.playground = () => pg;
  window.training = { play, pause, running: () => running };
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  showError(e);
  $('status').textContent = 'failed to load the WebAssembly module';
});
