import type { SimState } from '../core/state.ts';
import type { MsCorePort, MsMailbox } from './port.ts';

/** The Microsoft port over the shared simulator state (mail store, tenants, clients, quota, faults, usage). */
export function corePort(state: SimState): MsCorePort {
  const microsoftBox = (address: string): MsMailbox | undefined => {
    const box = state.mail.mailbox(address);
    return box && box.provider === 'microsoft' ? box : undefined;
  };
  return {
    now: () => state.clock.now(),
    mailbox: microsoftBox,
    hasMailbox: (address) => state.mail.findMailbox(address) !== undefined,
    tenantGrantedScopes: (domain) => state.tenants.grantedScopes(domain),
    client(clientId) {
      const c = state.clients.get('microsoft', clientId);
      return c ? { secret: c.clientSecret, redirectUris: c.redirectUris } : undefined;
    },
    redirectAllowed: (clientId, uri) => state.clients.redirectAllowed('microsoft', clientId, uri),
    takeFault(method, path, kinds) {
      const f = state.faults.take('microsoft', method, path, kinds);
      return f ? { fault: f.fault, ...(f.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : {}) } : undefined;
    },
    messages: (address) => (microsoftBox(address) ? state.mail.messages(address) : []),
    message: (address, id) => (microsoftBox(address) ? state.mail.message(address, id) : undefined),
    currentSeq: (address) => state.mail.currentSeq(address),
    changes: (address, after, upto) => state.mail.changes(address, after, upto),
    deliver(address, input) {
      // Mail to an alias lands in the mailbox that owns it.
      const box = state.mail.findMailbox(address);
      return state.mail.deliverRaw(box?.address ?? address, input);
    },
    move: (address, id, folder) => void state.mail.move(address, id, folder),
    userFolders: (address) => (microsoftBox(address) ? state.mail.userFolders(address) : []),
    createFolder: (address, folder) => state.mail.createFolder(address, folder),
    deletePermanently: (address, id) => void state.mail.deletePermanently(address, id),
    recordSent: (address, record) => state.mail.recordSent(address, record),
    onChange(fn) {
      state.mail.onChange((address, change) => {
        if (microsoftBox(address)) fn(address, change);
      });
    },
    limits: () => state.limits.microsoft,
    enter: (address) => state.quota.enter('microsoft', address, state.limits.microsoft.concurrency),
    leave: (address) => state.quota.leave('microsoft', address),
    charge: (address) => state.quota.charge('microsoft', address, 1, state.limits.microsoft.requestsPerWindow, state.limits.microsoft.windowSeconds, state.clock.now()),
    countRequest: (address, method, units) => state.usage.request('microsoft', address, method, units),
    countBody: (address, messageId) => state.usage.body('microsoft', address, messageId),
    recordRevocation: (address, e) => state.revocations.record(address, { provider: 'microsoft', kind: e.kind, id: e.id, at: e.at, ...(e.detail !== undefined ? { detail: e.detail } : {}) }),
    pushEnabled: () => state.push.microsoft,
  };
}
