import { sql, type ExpressionBuilder } from 'kysely';
import type { DB } from './schema.ts';

/**
 * R-60 … R-63: the one predicate that decides who sees a stored message. Every read path of messages
 * (profile, message by id, previews, search hover, export, health) filters through it, so a new route
 * cannot forget a rule. A viewer is a user; integrations acting as themselves hold no seat and see nothing.
 *
 * A message is visible to a user of its contract when
 * - it is `contract` and the user holds a seat of the contract (R-60, R-62: stays visible after transfers), or
 * - it is `private`, the user is the one who held the owning seat when it was stored, and still holds that
 *   seat in the same, unbroken tenure (R-62: after a transfer or parking nobody sees it, not even the new
 *   holder, nor the old one should the seat come back to them).
 * Admins have no other way in.
 */
export interface Viewer {
  userId: string;
  contractId: string;
}

export function messageVisibleTo(viewer: Viewer) {
  return (eb: ExpressionBuilder<DB, 'mail_messages'>) =>
    eb.and([
      eb('mail_messages.contract_id', '=', viewer.contractId),
      eb.or([
        eb.and([
          eb('mail_messages.visibility', '=', 'contract'),
          eb.exists(
            eb
              .selectFrom('seats as viewer_seat')
              .select(sql.lit(1).as('one'))
              .where('viewer_seat.user_id', '=', viewer.userId)
              .where('viewer_seat.contract_id', '=', viewer.contractId),
          ),
        ]),
        ownedByViewer(eb, viewer),
      ]),
    ]);
}

/** the owner — the holder at storage time, in the same tenure — is the only one who may change visibility. */
export function ownedByViewer(eb: ExpressionBuilder<DB, 'mail_messages'>, viewer: Viewer) {
  return eb.and([
    eb('mail_messages.owner_user_id', '=', viewer.userId),
    eb.exists(
      eb
        .selectFrom('seat_holders as tenure')
        .select(sql.lit(1).as('one'))
        .whereRef('tenure.seat_id', '=', 'mail_messages.owner_seat_id')
        .where('tenure.user_id', '=', viewer.userId)
        .where('tenure.held_until', 'is', null)
        .whereRef('tenure.held_from', '<=', 'mail_messages.stored_at'),
    ),
  ]);
}
