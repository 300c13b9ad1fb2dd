import type { TestApi } from './app.ts';

/** Builds a small company through the public API, as the host recruiting system would. */
export async function createCompany(api: TestApi, name = 'Acme', domain = 'acme.test') {
  const json = async (method: string, url: string, body?: unknown, token?: string) => {
    const res = await api.call(method, url, { body, ...(token ? { token } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const contract = await json('POST', '/api/v1/contracts', { name, companyDomains: [domain] });
  const { token } = await json('POST', `/api/v1/contracts/${contract.id}/tokens`);
  const admin = await json('POST', `/api/v1/contracts/${contract.id}/users`, { email: `admin@${domain}`, name: 'Ada Admin', role: 'admin', password: 'correct horse battery' });
  const recruiter = await json('POST', `/api/v1/contracts/${contract.id}/users`, { email: `rita@${domain}`, name: 'Rita Recruiter', role: 'recruiter', password: 'correct horse battery' });
  const seat = await json('POST', `/api/v1/contracts/${contract.id}/seats`, { userId: recruiter.id });
  const candidate = await json('POST', `/api/v1/contracts/${contract.id}/candidates`, { name: 'Carla Candidate', emails: [`carla@mail.example`], emailDiscovery: 'anyone' });
  const project = await json('POST', `/api/v1/contracts/${contract.id}/projects`, { name: 'Backend engineer' });
  await json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: candidate.id });
  return { contract, contractToken: token as string, admin, recruiter, seat, candidate, project, json };
}

/** A stored grant, as the authorization flow leaves it (tokens are opaque ciphertext here). */
export async function insertGrant(
  api: TestApi,
  grant: { seatId: string; contractId: string; kind: 'email' | 'calendar'; provider: 'google' | 'microsoft'; scopes: string[]; address?: string },
) {
  const now = api.clock.now();
  await api.ctx.db
    .insertInto('mailbox_authorizations')
    .values({
      id: crypto.randomUUID(),
      seat_id: grant.seatId,
      contract_id: grant.contractId,
      kind: grant.kind,
      provider: grant.provider,
      state: 'authorized',
      address: grant.address ?? 'rita@acme.test',
      aliases: [],
      scopes: grant.scopes,
      access_token_ciphertext: 'v1:k1:ciphertext',
      refresh_token_ciphertext: 'v1:k1:ciphertext',
      access_token_expires_at: now,
      first_authorized_at: now,
      last_authorized_at: now,
      deauthorized_at: null,
      state_reason: null,
      updated_at: now,
      refresh_lease_id: null,
      refresh_lease_until: null,
    })
    .execute();
}

/** A stored message (and its thread), as the sync engine leaves it. */
export async function insertMessage(
  api: TestApi,
  m: {
    contractId: string;
    seatId: string;
    ownerUserId: string | null;
    candidateId: string;
    providerThreadId?: string;
    providerMessageId?: string;
    rfcMessageId?: string;
    provider?: 'google' | 'microsoft';
    visibility?: 'private' | 'contract';
    subject?: string;
    sentAt?: Date;
    storedAt?: Date;
  },
): Promise<{ messageId: string; threadId: string }> {
  const now = m.storedAt ?? api.clock.now();
  const providerThreadId = m.providerThreadId ?? `t-${crypto.randomUUID()}`;
  let thread = await api.ctx.db.selectFrom('mail_threads').select('id').where('owner_seat_id', '=', m.seatId).where('provider_thread_id', '=', providerThreadId).executeTakeFirst();
  if (!thread) {
    thread = { id: crypto.randomUUID() };
    await api.ctx.db
      .insertInto('mail_threads')
      .values({ id: thread.id, contract_id: m.contractId, owner_seat_id: m.seatId, provider: m.provider ?? 'google', provider_thread_id: providerThreadId, candidate_id: m.candidateId, counterpart: 'carla@mail.example', subject: m.subject ?? 'Hello', last_activity_at: m.sentAt ?? now, initiated_through_product: false, created_at: now })
      .execute();
  }
  const messageId = crypto.randomUUID();
  await api.ctx.db
    .insertInto('mail_messages')
    .values({
      id: messageId,
      contract_id: m.contractId,
      owner_seat_id: m.seatId,
      owner_user_id: m.ownerUserId,
      thread_id: thread.id,
      candidate_id: m.candidateId,
      provider_message_id: m.providerMessageId ?? `p-${messageId}`,
      rfc_message_id: m.rfcMessageId ?? `<${messageId}@mail.example>`,
      in_reply_to: null,
      references_ids: [],
      direction: 'inbound',
      from_address: 'carla@mail.example',
      from_name: 'Carla',
      to_addresses: JSON.stringify([{ address: 'rita@acme.test' }]),
      cc_addresses: '[]',
      counterpart: 'carla@mail.example',
      subject: m.subject ?? 'Hello',
      sent_at: m.sentAt ?? now,
      snippet: 'Hi Rita, thanks for reaching out',
      body_html: '<p>Hi Rita, thanks for reaching out</p>',
      body_text: 'Hi Rita, thanks for reaching out',
      visibility: m.visibility ?? 'private',
      origin: 'synced',
      stored_at: now,
    })
    .execute();
  return { messageId, threadId: thread.id };
}
