import type { EmailAccess, Provider } from './types.ts';

/** SPEC §2: the admin settings of a contract and what changing them implies. Pure: no I/O, no clock. */

export interface EmailSettings {
  emailProvider: Provider | null;
  emailAccess: EmailAccess;
  calendarEnabled: boolean;
}

/** Everything the admin sets on the settings page: the email settings and R-14's exception. */
export interface ContractSettings extends EmailSettings {
  /** mailboxes outside the company domains (or at public mail domains) may be connected, with a warning. */
  allowExternalMailboxes: boolean;
}

const ACCESS_RANK: Record<EmailAccess, number> = { off: 0, view: 1, send_and_view: 2 };

/** any change to a lower level is a downgrade. */
export const isDowngrade = (from: EmailAccess, to: EmailAccess): boolean => ACCESS_RANK[to] < ACCESS_RANK[from];

/** viewing synced mail is allowed at `view` and `send_and_view`. */
export const accessAllowsViewing = (level: EmailAccess): boolean => level !== 'off';

/** the level, not the token's scope, decides whether sending is allowed. */
export const accessAllowsSending = (level: EmailAccess): boolean => level === 'send_and_view';

export interface SettingsChangeEffects {
  /** every seat's email authorization ends. */
  deauthorizeEmail: boolean;
  /** every authorization (email and calendar) at the old provider ends. */
  deauthorizeAllAtOldProvider: boolean;
}

/** What a settings change requires beyond storing it. */
export function effectsOfSettingsChange(before: EmailSettings, after: EmailSettings): SettingsChangeEffects {
  const providerChanged = before.emailProvider !== null && after.emailProvider !== before.emailProvider;
  return {
    deauthorizeEmail: isDowngrade(before.emailAccess, after.emailAccess),
    // the calendar toggle never deauthorizes anything, so it is not an input here.
    deauthorizeAllAtOldProvider: providerChanged,
  };
}

export interface Notice {
  code: string;
  rule: string;
  message: string;
  seatIds?: string[];
}

export interface AuthorizationSummary {
  seatId: string;
  kind: 'email' | 'calendar';
  state: 'authorized' | 'needs_reauthorization' | 'deauthorized';
  canSend: boolean;
}

/** Notices shown to the admin on the settings page. */
export function settingsNotices(settings: EmailSettings, authorizations: AuthorizationSummary[]): Notice[] {
  const notices: Notice[] = [];
  if (settings.emailProvider === null && settings.emailAccess !== 'off') {
    notices.push({
      code: 'provider_not_selected',
      rule: 'R-01',
      message: 'Choose Google Workspace or Microsoft 365: no seat can connect its mailbox until a provider is selected.',
    });
  }
  if (settings.emailAccess === 'view') {
    const seatIds = authorizations
      .filter((a) => a.kind === 'email' && a.state === 'authorized' && a.canSend)
      .map((a) => a.seatId);
    if (seatIds.length > 0) {
      notices.push({
        code: 'send_permission_still_granted',
        rule: 'R-04',
        message:
          `${seatIds.length} seat(s) still hold the send permission at the provider. Sending stays refused ` +
          'because the access level is "View only"; we recommend that your IT admin revokes the send permission.',
        seatIds,
      });
    }
  }
  return notices;
}
