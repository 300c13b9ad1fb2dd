import { sql, type Kysely } from 'kysely';

/**
 * R-62 for data written before transfers and parks ended a seat's grants: a live grant of a parked seat, or one
 * connected before its seat's current holder took the seat (the previous holder's mailbox), ends now as
 * `deauthorizeGrants` ends it: push channels queued to be stopped, Google refresh tokens queued for
 * revocation (not a calendar token whose account's email grant stays live, R-05), tokens deleted, audited.
 * Synced data stays with the seat.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TEMPORARY TABLE r62_ending AS
      SELECT ma.id, ma.contract_id, ma.seat_id, ma.kind, ma.provider, ma.address, ma.scopes,
             ma.access_token_ciphertext, ma.access_token_expires_at, ma.refresh_token_ciphertext,
             CASE WHEN s.user_id IS NULL THEN 'seat_parked' ELSE 'seat_transferred' END AS reason
      FROM mailbox_authorizations ma
      JOIN seats s ON s.id = ma.seat_id
      WHERE ma.state <> 'deauthorized'
        AND (
          s.user_id IS NULL
          OR ma.last_authorized_at < (
            SELECT max(h.held_from) FROM seat_holders h WHERE h.seat_id = s.id AND h.user_id = s.user_id AND h.held_until IS NULL
          )
        );

    INSERT INTO push_stops (id, contract_id, authorization_id, provider, external_id, resource, access_token_ciphertext,
                            access_token_expires_at, refresh_token_ciphertext, scopes, reason, attempts, last_error, created_at, next_attempt_at)
      SELECT gen_random_uuid(), e.contract_id, e.id, ps.provider, ps.external_id, ps.resource, e.access_token_ciphertext,
             e.access_token_expires_at, e.refresh_token_ciphertext, e.scopes, e.reason, 0, NULL, now(), now()
      FROM r62_ending e JOIN push_subscriptions ps ON ps.authorization_id = e.id;
    DELETE FROM push_subscriptions WHERE authorization_id IN (SELECT id FROM r62_ending);

    INSERT INTO token_revocations (id, contract_id, seat_id, provider, token_ciphertext, token_bound_to, reason, attempts, last_error, created_at, next_attempt_at)
      SELECT gen_random_uuid(), e.contract_id, e.seat_id, e.provider, e.refresh_token_ciphertext, e.id::text || ':refresh', e.reason, 0, NULL, now(), now()
      FROM r62_ending e
      WHERE e.provider = 'google' AND e.refresh_token_ciphertext IS NOT NULL
        AND NOT (
          e.kind = 'calendar' AND EXISTS (
            SELECT 1 FROM mailbox_authorizations live
            WHERE live.seat_id = e.seat_id AND live.kind = 'email' AND live.provider = e.provider AND live.state <> 'deauthorized'
              AND lower(live.address) = lower(e.address) AND live.id NOT IN (SELECT id FROM r62_ending)
          )
        );

    UPDATE mailbox_authorizations ma
      SET state = 'deauthorized', state_reason = e.reason, access_token_ciphertext = NULL, refresh_token_ciphertext = NULL,
          access_token_expires_at = NULL, refresh_lease_id = NULL, refresh_lease_until = NULL, deauthorized_at = now(), updated_at = now()
      FROM r62_ending e
      WHERE ma.id = e.id;

    INSERT INTO audit_log (contract_id, at, actor_kind, actor_user_id, action, target_type, target_id, details)
      SELECT e.contract_id, now(), 'system', NULL, 'authorization.deauthorized', 'seat', e.seat_id::text,
             jsonb_build_object('kind', e.kind, 'provider', e.provider, 'reason', e.reason)
      FROM r62_ending e;

    DROP TABLE r62_ending;
  `.execute(db);
}
