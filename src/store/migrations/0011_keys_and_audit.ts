import { sql, type Kysely } from 'kysely';

/**
 * R-07 hardening of the append-only audit log.
 * - TRUNCATE does not fire row triggers: a statement trigger refuses it as well.
 * - Suspension must leave no provider mailbox address anywhere, and entries written before addresses were
 *   kept out of the log may hold one. The row trigger therefore lets exactly one kind of UPDATE through: with the
 *   transaction-local setting `recruiter_sync.redact = 'on'` (set by the suspension path, see
 *   src/services/suspension.ts), an update that changes nothing but `details`, and only removes from it (the new
 *   details are contained in the old). Nothing can be added, rewritten or deleted, with or without the setting.
 *   A SECURITY DEFINER function would hide the exception inside an owner-privileged door; this keeps the rule
 *   in the trigger, where it is enforced for every role.
 * - Least privilege where the deployment allows it: no grant to PUBLIC can change or remove entries. README
 *   ("Database roles") has the application run as a role with SELECT, INSERT and UPDATE (details) only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE'
        AND current_setting('recruiter_sync.redact', true) = 'on'
        AND NEW.id = OLD.id
        AND NEW.contract_id = OLD.contract_id
        AND NEW.at = OLD.at
        AND NEW.actor_kind = OLD.actor_kind
        AND NEW.actor_user_id IS NOT DISTINCT FROM OLD.actor_user_id
        AND NEW.action = OLD.action
        AND NEW.target_type IS NOT DISTINCT FROM OLD.target_type
        AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
        AND jsonb_typeof(NEW.details) = 'object'
        AND OLD.details @> NEW.details
      THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only (R-07)';
    END;
    $$;

    CREATE FUNCTION audit_log_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only (R-07)';
    END;
    $$;
    CREATE TRIGGER audit_log_no_truncate
      BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_truncate();

    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
  `.execute(db);
}
