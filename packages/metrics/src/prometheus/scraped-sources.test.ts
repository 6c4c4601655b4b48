import { describe, expect, it, vi } from 'vitest';
import { createScrapedSources } from './scraped-sources.js';

describe('scraped sources', () => {
  it('reads each source once per scrape and again on the next', async () => {
    const sources = createScrapedSources<number>();
    const read = vi.fn(() => 7);
    sources.add('orders', read);
    expect(read).not.toHaveBeenCalled();
    const first = sources.read();
    expect(sources.read()).toBe(first);
    expect(first).toEqual([{ label: 'orders', snapshot: 7 }]);
    expect(read).toHaveBeenCalledTimes(1);
    await Promise.resolve();
    sources.read();
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('forgets the snapshot when a source comes or goes', () => {
    const sources = createScrapedSources<number>();
    sources.add('orders', () => 1);
    expect(sources.read()).toHaveLength(1);
    sources.add('billing', () => 2);
    expect(sources.read().map((entry) => entry.label)).toEqual(['orders', 'billing']);
    sources.delete('orders');
    expect(sources.read().map((entry) => entry.label)).toEqual(['billing']);
    expect(sources.size).toBe(1);
    expect(sources.has('orders')).toBe(false);
  });
});
