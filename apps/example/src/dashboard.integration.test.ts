import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from './service.js';

// The dashboard in a real headless Chromium, against the service on embedded pglite: start the
// load, watch the charts move, cause an outage, see the breaker open and close again.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? undefined
  : `no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH)`;
if (missing !== undefined) {
  console.warn(`[@enhanced-pool/example] skipped the dashboard browser test: ${missing}`);
}

/** The few browser globals the page functions read (this file is type-checked for Node). */
interface PageGlobals {
  readonly document: {
    querySelector(selector: string): { readonly textContent: string | null } | null;
  };
  readonly dashboard: {
    readonly charts: Record<'pool' | 'ops', { readonly data: readonly (number | null)[][] }>;
    history(): readonly { readonly breaker: string }[];
  };
}

/** Where the screenshot goes: apps/example/test-results/. */
const OUTPUT_DIR = fileURLToPath(new URL('../test-results/', import.meta.url));

describe.skipIf(missing !== undefined)('the dashboard in headless Chromium', () => {
  let service: Service;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'example-chromium-'));
    // Both take seconds: start them together.
    const [started, launched] = await Promise.all([
      startService({
        port: 0,
        database: 'embedded',
        applicationName: 'example-browser',
        snapshotIntervalMs: 500,
        print: () => {},
      }),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-quic',
          '--no-first-run',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 1400, height: 1000 },
      }),
    ]);
    service = started;
    context = launched;
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await service?.shutdown();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  /** Waits until the element's text is `text` (the page's CSP allows no string evaluation). */
  const textIs = (selector: string, text: string, timeout = 20_000) =>
    page.waitForFunction(
      ([wanted, value]) =>
        (globalThis as unknown as PageGlobals).document.querySelector(wanted)?.textContent ===
        value,
      [selector, text] as const,
      { timeout },
    );

  /** Waits until the element's text is a number above 0. */
  const positive = (selector: string, timeout = 20_000) =>
    page.waitForFunction(
      (wanted) =>
        Number((globalThis as unknown as PageGlobals).document.querySelector(wanted)?.textContent) >
        0,
      selector,
      { timeout },
    );

  /** The samples the charts hold, read from the page. */
  const chartPoints = () =>
    page.evaluate(() => {
      const { charts, history } = (globalThis as unknown as PageGlobals).dashboard;
      return {
        points: charts.pool.data[0]?.length ?? 0,
        lastSize: charts.pool.data[1]?.at(-1) ?? null,
        lastOps: charts.ops.data[1]?.at(-1) ?? null,
        notClosed: history().filter((point) => point.breaker !== 'closed').length,
      };
    });

  /** Polls the page until `check` holds for its chart points. */
  const untilPoints = async (
    what: string,
    check: (points: Awaited<ReturnType<typeof chartPoints>>) => boolean,
    timeoutMs = 20_000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (let points = await chartPoints(); !check(points); points = await chartPoints()) {
      if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
      await page.waitForTimeout(100);
    }
    return chartPoints();
  };

  it('starts the load, charts it, rides out an outage and shows the breaker open then closed', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(service.url);
    await textIs('#stream', 'live');
    await textIs('#breaker', 'closed');
    // Five uPlot charts, drawn on canvases by the library served from /assets/.
    expect(await page.locator('.uplot canvas').count()).toBe(5);
    // No button of the proxy's faults is disabled on the embedded database.
    for (const fault of ['outage', 'kill', 'blackhole', 'latency', 'heal']) {
      expect(await page.locator(`button[data-fault="${fault}"]`).isDisabled()).toBe(false);
    }
    expect(await page.locator('#server-faults').isHidden()).toBe(true);

    const before = await chartPoints();
    await page.locator('#workers').fill('6');
    await page.locator('#workers').dispatchEvent('change');
    await positive('#t-ops');
    const during = await untilPoints(
      'the charts show the load',
      (points) => points.points > before.points + 2 && (points.lastOps ?? 0) > 0,
    );
    expect(during.lastSize).toBeGreaterThanOrEqual(2);

    await page.locator('#outage-seconds').fill('4');
    await page.locator('button[data-fault="outage"]').click();
    await textIs('#breaker', 'open', 10_000);
    await textIs('#ready', 'not ready', 10_000);
    // Once the timeline holds a few samples of the open breaker, so the screenshot shows it.
    await untilPoints('the timeline shows the breaker open', (points) => points.notClosed >= 3);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const screenshot = join(OUTPUT_DIR, 'dashboard-outage.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);

    await textIs('#breaker', 'closed');
    await textIs('#ready', 'ready');
    await positive('#t-ops');
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-recovered.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
