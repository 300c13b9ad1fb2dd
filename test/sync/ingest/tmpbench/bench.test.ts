import { it } from 'vitest';
import { backends } from '../../../helpers/databases.ts';
import { startIngestApi, ingestCompany, mail, decideContext } from '../setup.ts';
import { decideBatch } from '../../../../src/sync/ingest/decide.ts';
import { ingestBatch } from '../../../../src/sync/ingest/store.ts';
it('bench', async () => {
  for (const b of backends) {
    const d = await b.open(); const api = await startIngestApi(d); const co = await ingestCompany(api);
    const now = new Date('2025-06-01T00:00:00Z');
    const specs = Array.from({ length: 1000 }, (_, i) => ({ id: `b-${i}`, thread: `T${i % 200}`, from: i % 3 ? 'carla@mail.example' : 'news@x.example', to: 'rita@acme.test', html: `<p>Hello ${i} <b>x</b></p>`, text: `Hello ${i}`, date: new Date(now.getTime() - i * 60000) }));
    const mails = await Promise.all(specs.map(mail));
    const ctx = await decideContext(api, co.mailbox, now);
    let t = Date.now();
    for (let i = 0; i < 1000; i += 100) {
      const page = mails.slice(i, i + 100);
      const ds = await decideBatch(api.ctx.db, co.seat.id, page.map((m) => m.facts), ctx);
      await ingestBatch(api.ctx.db, co.mailbox, page.map((m, j) => ({ facts: m.facts, decision: ds[j]!, ...(ds[j]!.ingested ? { raw: m.raw } : {}) })), now);
    }
    console.log(b.name, 'msgs/s', Math.round(1000 / ((Date.now() - t) / 1000)));
    await api.close(); await d.close();
  }
});
