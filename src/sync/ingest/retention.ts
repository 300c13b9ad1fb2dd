/**
 * R-24 inactivity purge: a stored thread with no activity for six calendar months is removed with its messages
 * and attachments, authorized seat or not; the mailbox itself is never touched. A marker per purged thread
 * makes R-25 possible: if the conversation comes back, only messages from then on are synced.
 */
import { sql, type Kysely } from 'kysely';
import { activityCutoff, formatInstant, isPurgeDue } from '../../domain/ingestion/index.ts';
import type { DB } from '../../store/schema.ts';
import { recordAudit } from '../../services/audit.ts';

export interface PurgeCounts {
  contracts: number;
  threads: number;
  messages: number;
  attachments: number;
}

const CHUNK = 500;

async function purgeContract(db: Kysely<DB>, contractId: string, now: Date, cutoff: Date): Promise<Omit<PurgeCounts, 'contracts'>> {
  return db.transaction().execute(async (trx) => {
    // Locked, so a sync storing into one of these threads right now waits, then finds it gone and starts anew.
    const candidates = await trx
      .selectFrom('mail_threads')
      .select(['id', 'owner_seat_id', 'provider_thread_id', 'last_activity_at', 'initiated_through_product'])
      .where('contract_id', '=', contractId)
      .where('last_activity_at', '<', cutoff)
      .orderBy('id')
      .forUpdate()
      .execute();
    const due = candidates.filter((t) => isPurgeDue(t.last_activity_at, now));
    const counts = { threads: 0, messages: 0, attachments: 0 };
    const reason = `Its conversation had no activity for six months, so it was removed from the product on ${formatInstant(now)} (your mailbox keeps it).`;
    for (let i = 0; i < due.length; i += CHUNK) {
      const chunk = due.slice(i, i + CHUNK);
      const ids = chunk.map((t) => t.id);
      const messageIds = trx.selectFrom('mail_messages').select('id').where('thread_id', 'in', ids);

      // The log keeps that the message was here and why it is gone; the header facts it used go with the mail.
      await trx
        .updateTable('ingestion_decisions as d')
        .set({
          ingested: false,
          rule: 'R-24',
          decided_at: now,
          detail: sql`jsonb_build_object('summary', ${`Not synced (R-24, Inactivity purge): ${reason}`}::text, 'reason', ${reason}::text, 'purgedAt', ${now.toISOString()}::text, 'messageDate', d.detail->'messageDate')`,
        })
        .where('d.contract_id', '=', contractId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('mail_messages as m')
              .select(sql.lit(1).as('one'))
              .whereRef('m.owner_seat_id', '=', 'd.seat_id')
              .whereRef('m.provider_message_id', '=', 'd.provider_message_id')
              .where('m.thread_id', 'in', ids),
          ),
        )
        .execute();

      const attachments = await trx.deleteFrom('mail_attachments').where('message_id', 'in', messageIds).executeTakeFirst();
      const messages = await trx.deleteFrom('mail_messages').where('thread_id', 'in', ids).executeTakeFirst();
      const threads = await trx.deleteFrom('mail_threads').where('id', 'in', ids).executeTakeFirst();
      await trx
        .insertInto('purged_threads')
        // Whether the product started the thread outlives its messages: a later reply is still exempt (R-25).
        .values(chunk.map((t) => ({ contract_id: contractId, owner_seat_id: t.owner_seat_id, provider_thread_id: t.provider_thread_id, purged_at: now, initiated_through_product: t.initiated_through_product })))
        .onConflict((oc) =>
          oc.columns(['owner_seat_id', 'provider_thread_id']).doUpdateSet((eb) => ({ purged_at: now, initiated_through_product: sql<boolean>`${eb.ref('purged_threads.initiated_through_product')} OR ${eb.ref('excluded.initiated_through_product')}` })),
        )
        .execute();
      counts.attachments += Number(attachments.numDeletedRows);
      counts.messages += Number(messages.numDeletedRows);
      counts.threads += Number(threads.numDeletedRows);
    }
    if (counts.messages > 0) {
      // The seats' sync counters (otherwise kept by the writes that store and delete mail) follow the purge.
      await sql`
        UPDATE sync_states s SET messages_ingested = (SELECT count(*) FROM mail_messages m WHERE m.owner_seat_id = s.seat_id AND m.origin = 'synced')
        WHERE s.seat_id IN (${sql.join([...new Set(due.map((t) => t.owner_seat_id))])})`.execute(trx);
    }
    if (counts.threads > 0) {
      await recordAudit(trx, {
        contractId,
        actor: 'system',
        action: 'mail.inactive_threads_purged',
        targetType: 'contract',
        targetId: contractId,
        at: now,
        details: { rule: 'R-24', inactiveSince: cutoff.toISOString(), ...counts },
      });
    }
    return counts;
  });
}

/** Purges every contract's inactive threads; one transaction and one audit entry (R-07) per contract. */
export async function purgeInactiveThreads(db: Kysely<DB>, now: Date): Promise<PurgeCounts> {
  const cutoff = activityCutoff(now);
  const contracts = await db.selectFrom('mail_threads').select('contract_id').distinct().where('last_activity_at', '<', cutoff).execute();
  const total: PurgeCounts = { contracts: 0, threads: 0, messages: 0, attachments: 0 };
  for (const { contract_id } of contracts) {
    const counts = await purgeContract(db, contract_id, now, cutoff);
    if (counts.threads > 0) total.contracts++;
    total.threads += counts.threads;
    total.messages += counts.messages;
    total.attachments += counts.attachments;
  }
  return total;
}
