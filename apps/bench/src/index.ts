import { runBreakerBench } from './breaker.js';
import { describeMachine } from './machine.js';
import { runPoolBench } from './pool.js';
import { isUnavailable, type SectionOutput } from './section.js';
import { renderTable, renderUnavailable } from './table.js';

const machine = describeMachine();
const sections: Record<string, () => Promise<SectionOutput>> = {
  breaker: () => runBreakerBench(),
  pool: () => runPoolBench(),
};
for (const [name, run] of Object.entries(sections)) {
  const output = await run();
  for (const item of output) {
    console.log(
      isUnavailable(item)
        ? renderUnavailable(item.title, item.unavailable)
        : renderTable(item, machine),
    );
  }
  void name;
}
