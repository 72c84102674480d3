// End-to-end test of the playground: Debian's chromium, driven headless by playwright-core,
// against the page served on localhost by `python3 -m http.server -d web` (as the README says).
//
// It picks XOR, trains until the loss is under LOSS_MAX, checks that the decision regions put
// the four corners in the right classes (through the wasm API and in the canvas pixels), clicks
// a hidden unit and checks that the s, x and δ shown are those `backprop explain` prints for the
// downloaded model and data, runs `backprop predict` on the downloaded model with a CSV of the
// corners, and saves a screenshot to target/web/playground.png.
//
// usage (from the repository root, after scripts/build-web.sh and cargo build --release):
//     node web/tests/e2e.mjs
// environment: BACKPROP_BIN (default target/release/backprop), CHROMIUM (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'target/web');
const BIN = process.env.BACKPROP_BIN || path.join(ROOT, 'target/release/backprop');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LOSS_MAX = 0.05;
const UNIT = { layer: 1, unit: 2 }; // a hidden unit
const CORNERS = [[-1, -1, 0], [-1, 1, 1], [1, -1, 1], [1, 1, 0]]; // x1, x2, XOR class

let passed = 0;
let failed = 0;
function check(ok, what, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`ok: ${what}`);
  } else {
    failed += 1;
    console.log(`FAILED: ${what}${detail ? `\n    ${detail}` : ''}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForServer(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch (e) {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`no answer from ${url} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(args) {
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const port = await freePort();
  const server = spawn('python3', ['-m', 'http.server', '-d', path.join(ROOT, 'web'), '--bind', '127.0.0.1', String(port)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let serverLog = '';
  server.stderr.on('data', (d) => { serverLog += d; });
  const profile = mkdtempSync(path.join(tmpdir(), 'backprop-e2e-'));
  let context = null;
  try {
    const url = `http://127.0.0.1:${port}/`;
    await waitForServer(url, 15000);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      acceptDownloads: true,
      viewport: { width: 1400, height: 860 },
    });
    const page = context.pages()[0] || await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
    check(true, 'the page loads the WebAssembly module');

    // XOR, the default network (4 tanh units, cross-entropy, Adam), trained live
    await page.selectOption('#dataset', 'xor');
    await page.click('#train');
    const t0 = Date.now();
    await page.waitForFunction((max) => Number(document.querySelector('#status').dataset.loss) < max,
      LOSS_MAX, { timeout: 120000, polling: 200 });
    await page.click('#train'); // pause
    await page.waitForFunction(() => !window.training.running());
    const status = await page.textContent('#status');
    const loss = Number(await page.getAttribute('#status', 'data-loss'));
    check(loss < LOSS_MAX, `XOR trains to a loss under ${LOSS_MAX}`, status);
    console.log(`    ${status} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const curve = await page.evaluate(() => window.playground().curve().length);
    check(curve === Number(await page.getAttribute('#status', 'data-epoch')), 'the loss curve has one point per epoch');

    // the corners through the wasm API …
    const pred = await page.evaluate((c) => Array.from(window.playground().predict(new Float32Array(c.flatMap((p) => [p[0], p[1]])))),
      CORNERS);
    const classes = pred.slice(0, 4);
    check(JSON.stringify(classes) === JSON.stringify(CORNERS.map((c) => c[2])), 'the decision regions classify the four corners right (API)',
      `classes ${classes}`);
    // … and in the picture: the canvas corners are shaded orange (class 0) or blue (class 1)
    const pixels = await page.evaluate(() => {
      const c = document.querySelector('#regions');
      const ctx = c.getContext('2d');
      const at = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data);
      const m = 8;
      // (x1, x2) = (−, −), (−, +), (+, −), (+, +): the y axis points up
      return [at(m, c.height - m), at(m, m), at(c.width - m, c.height - m), at(c.width - m, m)];
    });
    const shaded = pixels.map(([r, , b]) => (b > r ? 1 : 0));
    check(JSON.stringify(shaded) === JSON.stringify(CORNERS.map((c) => c[2])), 'the decision regions classify the four corners right (pixels)',
      `pixels ${JSON.stringify(pixels)}`);

    // one sample, one hidden unit: the numbers shown to 9 digits
    // the row where this unit's δ is largest (near the boundary), so the comparison means something
    const row = await page.evaluate(({ l, j, lr }) => {
      const pg = window.playground();
      let best = [0, -1];
      for (let i = 0; i < pg.labels().length; i++) {
        const d = Math.abs(JSON.parse(pg.explainJson(i, lr)).layers[l - 1].delta[j - 1]);
        if (d > best[1]) best = [i, d];
      }
      return best[0];
    }, { l: UNIT.layer, j: UNIT.unit, lr: Number(await page.inputValue('#lr')) });
    await page.fill('#digits', '9');
    await page.fill('#sample', String(row));
    await page.click(`#net circle[data-layer="${UNIT.layer}"][data-unit="${UNIT.unit}"]`);
    await page.waitForSelector('#unit-delta');
    const shown = {
      s: await page.textContent('#unit-s'),
      x: await page.textContent('#unit-x'),
      delta: await page.textContent('#unit-delta'),
    };
    const lr = await page.inputValue('#lr');

    const [modelDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    const modelPath = path.join(OUT, 'playground.safetensors');
    await modelDl.saveAs(modelPath);
    const [dataDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-data')]);
    const dataPath = path.join(OUT, 'xor.csv');
    await dataDl.saveAs(dataPath);

    const cli = JSON.parse(run(['explain', '--model', modelPath, '--data', dataPath, '--row', String(row), '--lr', lr, '--format', 'json']));
    const layer = cli.layers[UNIT.layer - 1];
    const j = UNIT.unit - 1;
    for (const [name, want] of [['s', layer.s[j]], ['x', layer.x[j]], ['delta', layer.delta[j]]]) {
      const got = Number(shown[name]);
      const close = Math.abs(got - want) <= 1e-9 + 1e-5 * Math.abs(want);
      check(close, `the ${name === 'delta' ? 'δ' : name} shown for x(${UNIT.layer})_${UNIT.unit}, row ${row} is what \`backprop explain\` prints`,
        `page ${shown[name]}, explain ${want}`);
    }
    check(Math.abs(Number(shown.delta)) > 0, 'the δ compared is not 0', shown.delta);
    const table = run(['explain', '--model', modelPath, '--data', dataPath, '--row', String(row), '--lr', lr]);
    const deltaRow = table.split('Backward')[1].split('\n').find((l) => l.trim().startsWith(`${UNIT.layer} `));
    console.log(`    page: s = ${shown.s}, x = ${shown.x}, δ = ${shown.delta}; \`backprop explain\` prints δ(l) as: ${deltaRow.trim()}`);

    // the downloaded model in the real binary
    const cornersPath = path.join(OUT, 'corners.csv');
    writeFileSync(cornersPath, `x1,x2,label\n${CORNERS.map((c) => c.join(',')).join('\n')}\n`);
    const out = run(['predict', modelPath, cornersPath]).trim().split('\n');
    const predicted = out.slice(1).map((l) => l.split(',')[0]);
    check(out[0].startsWith('class,') && JSON.stringify(predicted) === JSON.stringify(CORNERS.map((c) => String(c[2]))),
      '`backprop predict` on the downloaded model classifies the corners right', out.join(' | '));

    await page.screenshot({ path: path.join(OUT, 'playground.png') });
    console.log(`    screenshot: ${path.join(OUT, 'playground.png')}`);
    check(problems.length === 0, 'no errors in the page', problems.join('\n    '));
  } catch (e) {
    check(false, 'the test ran to the end', e.stack || String(e));
    if (serverLog.includes('Error')) console.log(serverLog);
  } finally {
    if (context) await context.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
