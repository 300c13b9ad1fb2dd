import { effectsOfSettingsChange, settingsNotices, type ContractSettings, type EmailSettings, type Notice } from '../domain/settings.ts';
import { scopesAllowSending } from '../domain/scopes.ts';
import type { EmailAccess, Provider } from '../domain/types.ts';
import { AppError } from '../errors.ts';
import { assertContractAdmin, assertContractVisible, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import { deauthorizeGrants } from './authorizations.ts';
import type { ServiceContext, Tx } from './context.ts';
import { loadContract } from './contracts.ts';

/** SPEC §2 admin settings: R-01 provider, R-02/R-03 access level, R-04 notices, R-05 calendar, R-06, R-07. */
export interface SettingsView extends ContractSettings {
  notices: Notice[];
}

async function noticesFor(db: Tx | ServiceContext['db'], contractId: string, settings: EmailSettings): Promise<Notice[]> {
  const grants = await db
    .selectFrom('mailbox_authorizations')
    .select(['seat_id', 'kind', 'state', 'scopes', 'provider'])
    .where('contract_id', '=', contractId)
    .execute();
  return settingsNotices(
    settings,
    grants.map((g) => ({ seatId: g.seat_id, kind: g.kind, state: g.state, canSend: scopesAllowSending(g.provider, g.scopes) })),
  );
}

const settingsOf = (row: { email_provider: Provider | null; email_access: EmailAccess; calendar_enabled: boolean; allow_external_mailboxes: boolean }): ContractSettings => ({
  emailProvider: row.email_provider,
  emailAccess: row.email_access,
  calendarEnabled: row.calendar_enabled,
  allowExternalMailboxes: row.allow_external_mailboxes,
});

export async function getSettings(ctx: ServiceContext, actor: Actor, contractId: string): Promise<SettingsView> {
  assertContractVisible(actor, contractId);
  const contract = await loadContract(ctx.db, contractId);
  const settings = settingsOf(contract);
  return { ...settings, notices: await noticesFor(ctx.db, contractId, settings) };
}

export async function updateSettings(
  ctx: ServiceContext,
  actor: Actor,
  contractId: string,
  input: Partial<ContractSettings>,
): Promise<SettingsView & { deauthorizedSeats: number }> {
  assertContractAdmin(actor, contractId);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const contract = await loadContract(trx, contractId, true);
    if (contract.status === 'suspended') {
      throw new AppError('contract_suspended', 'This company is suspended: settings cannot change until it is reactivated.');
    }
    const before = settingsOf(contract);
    if (input.emailProvider === null && before.emailProvider !== null) {
      throw new AppError('validation_failed', 'The email provider can be changed but not unset (R-01); set the access level to "off" to stop email.');
    }
    const after: ContractSettings = {
      emailProvider: input.emailProvider === undefined ? before.emailProvider : input.emailProvider,
      emailAccess: input.emailAccess ?? before.emailAccess,
      calendarEnabled: input.calendarEnabled ?? before.calendarEnabled,
      // turning this off refuses new connections of such mailboxes; grants already made stay.
      allowExternalMailboxes: input.allowExternalMailboxes ?? before.allowExternalMailboxes,
    };
    const effects = effectsOfSettingsChange(before, after);
    const deauthorizedSeats = new Set<string>();
    if (effects.deauthorizeAllAtOldProvider && before.emailProvider) {
      // every grant at the old provider ends; already synced data stays.
      const ended = await deauthorizeGrants(trx, { contractId, kinds: ['email', 'calendar'], provider: before.emailProvider, reason: 'provider_change', actor, now });
      ended.forEach((g) => deauthorizedSeats.add(g.seatId));
    }
    if (effects.deauthorizeEmail) {
      // a downgrade deauthorizes every seat's email grant at once (calendar grants are untouched, R-05).
      const ended = await deauthorizeGrants(trx, { contractId, kinds: ['email'], reason: 'access_level_downgrade', actor, now });
      ended.forEach((g) => deauthorizedSeats.add(g.seatId));
    }
    const changed = (Object.keys(after) as Array<keyof ContractSettings>).filter((k) => after[k] !== before[k]);
    if (changed.length > 0) {
      await trx
        .updateTable('contracts')
        .set({ email_provider: after.emailProvider, email_access: after.emailAccess, calendar_enabled: after.calendarEnabled, allow_external_mailboxes: after.allowExternalMailboxes, updated_at: now })
        .where('id', '=', contractId)
        .execute();
      await recordAudit(trx, {
        contractId,
        actor,
        action: 'settings.changed',
        targetType: 'contract',
        targetId: contractId,
        at: now,
        details: {
          changes: Object.fromEntries(changed.map((k) => [k, { from: before[k], to: after[k] }])),
          deauthorizedSeats: deauthorizedSeats.size,
        },
      });
    }
    return { ...after, notices: await noticesFor(trx, contractId, after), deauthorizedSeats: deauthorizedSeats.size };
  });
}
