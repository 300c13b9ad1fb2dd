import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver, graph, mailbox, makeSim, signIn, type Sim } from './harness.ts';

let sim: Sim;
let g: ReturnType<typeof graph>;
const ME = 'rita@contoso.com';
const IMMUTABLE = { prefer: 'IdType="ImmutableId"' };

beforeEach(async () => {
  sim = await makeSim();
  await mailbox(sim, ME);
  const t = await signIn(sim, ME, ['offline_access', 'User.Read', 'Mail.ReadWrite', 'Mail.Send']);
  g = graph(sim, t.access_token);
});
afterEach(() => sim.close());

interface FolderJson {
  id: string;
  displayName: string;
  parentFolderId: string;
  childFolderCount: number;
  totalItemCount: number;
}

/** Every page of a folder collection. */
async function all(first: string): Promise<FolderJson[]> {
  const out: FolderJson[] = [];
  let url: string | undefined = first;
  while (url) {
    const res = await g.get(url);
    expect(res.statusCode).toBe(200);
    out.push(...res.json().value);
    url = res.json()['@odata.nextLink'];
  }
  return out;
}

async function drain(first: string, headers: Record<string, string> = IMMUTABLE) {
  const items: Array<Record<string, unknown>> = [];
  let url: string | undefined = first;
  let deltaLink = '';
  while (url) {
    const res = await g.get(url, headers);
    expect(res.statusCode).toBe(200);
    items.push(...res.json().value);
    url = res.json()['@odata.nextLink'];
    if (res.json()['@odata.deltaLink']) deltaLink = res.json()['@odata.deltaLink'];
  }
  return { items, deltaLink };
}

describe('mail folders as Graph has them', () => {
  it('lists top-level folders ten per page, Archive and the user folders among them; sub-folders through childFolders', async () => {
    await deliver(sim, ME, { from: 'a@example.org', subject: 'filed', text: 'x', folder: 'Projects/Hiring' });
    await deliver(sim, ME, { from: 'b@example.org', subject: 'ruled', text: 'x', folder: 'Inbox/Candidates' });
    for (const name of ['One', 'Two']) expect((await g.post('/me/mailFolders', { displayName: name })).statusCode).toBe(201);

    const first = await g.get('/me/mailFolders');
    expect(first.json().value).toHaveLength(10);
    expect(first.json()['@odata.nextLink']).toMatch(/(\$|%24)skip=10/);
    const top = await all('/me/mailFolders');
    const names = top.map((f) => f.displayName);
    expect(names).toEqual(expect.arrayContaining(['Inbox', 'Sent Items', 'Archive', 'Deleted Items', 'Junk Email', 'Drafts', 'Outbox', 'Conversation History', 'Sync Issues', 'Projects', 'One', 'Two']));
    expect(names).not.toContain('Hiring');
    expect(names).not.toContain('Candidates');

    const projects = top.find((f) => f.displayName === 'Projects')!;
    expect(projects.childFolderCount).toBe(1);
    const hiring = (await all(`/me/mailFolders/${projects.id}/childFolders`))[0]!;
    expect(hiring).toMatchObject({ displayName: 'Hiring', parentFolderId: projects.id, totalItemCount: 1 });

    const inbox = top.find((f) => f.displayName === 'Inbox')!;
    expect(inbox.childFolderCount).toBe(1);
    expect((await all('/me/mailFolders/inbox/childFolders')).map((f) => f.displayName)).toEqual(['Candidates']);
    // The archive resolves by its well-known name like the others.
    expect((await g.get('/me/mailFolders/archive')).json().displayName).toBe('Archive');
  });

  it('creates folders and sub-folders; a duplicate name among siblings is refused', async () => {
    const made = await g.post('/me/mailFolders', { displayName: 'Recruiting' });
    expect(made.statusCode).toBe(201);
    const child = await g.post(`/me/mailFolders/${made.json().id}/childFolders`, { displayName: '2025' });
    expect(child.statusCode).toBe(201);
    expect(child.json()).toMatchObject({ displayName: '2025', parentFolderId: made.json().id, totalItemCount: 0 });
    const again = await g.post('/me/mailFolders', { displayName: 'recruiting' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('ErrorFolderExists');
    const underInbox = await g.post('/me/mailFolders/inbox/childFolders', { displayName: 'Recruiting' });
    expect(underInbox.statusCode).toBe(201);
    expect((await g.get(`/me/mailFolders/${made.json().id}`)).json().childFolderCount).toBe(1);
  });

  it('a move keeps the immutable id; the source delta says @removed "deleted", the destination lists it as new', async () => {
    const d = await deliver(sim, ME, { from: 'a@example.org', subject: 'to file', text: 'x' });
    const dest = (await g.post('/me/mailFolders', { displayName: 'Hiring' })).json() as FolderJson;
    const inbox = await drain('/me/mailFolders/inbox/messages/delta?$select=subject');
    const hiring = await drain(`/me/mailFolders/${dest.id}/messages/delta?$select=subject,parentFolderId`);
    expect(hiring.items).toEqual([]);

    const moved = await g.post(`/me/messages/${d.id}/move`, { destinationId: dest.id }, IMMUTABLE);
    expect(moved.statusCode).toBe(201);
    expect(moved.json()).toMatchObject({ id: d.id, parentFolderId: dest.id });

    expect((await drain(inbox.deltaLink)).items).toEqual([{ '@odata.type': '#microsoft.graph.message', id: d.id, '@removed': { reason: 'deleted' } }]);
    const arrived = await drain(hiring.deltaLink);
    expect(arrived.items).toEqual([expect.objectContaining({ id: d.id, subject: 'to file', parentFolderId: dest.id })]);
    // The message is still there, by the same immutable id.
    expect((await g.get(`/me/messages/${d.id}?$select=parentFolderId`, IMMUTABLE)).json().parentFolderId).toBe(dest.id);
  });

  it('without ImmutableId a message filed into a user folder gets a new id, and the old one 404s', async () => {
    const d = await deliver(sim, ME, { from: 'a@example.org', subject: 'regular', text: 'x' });
    const before = (await drain('/me/mailFolders/inbox/messages/delta?$select=subject', {})).items[0]!.id as string;
    const dest = (await g.post('/me/mailFolders/inbox/childFolders', { displayName: 'Later' })).json() as FolderJson;
    const moved = await g.post(`/me/messages/${before}/move`, { destinationId: dest.id });
    expect(moved.statusCode).toBe(201);
    const after = moved.json().id as string;
    expect(after).not.toBe(before);
    expect(after).not.toBe(d.id);
    expect((await g.get(`/me/messages/${before}`)).statusCode).toBe(404);
    expect((await g.get(`/me/messages/${after}?$select=subject`)).json().subject).toBe('regular');
  });

  it('the control API files and moves mail into folders by path', async () => {
    const d = await deliver(sim, ME, { from: 'a@example.org', subject: 'rule', text: 'x' });
    const res = await sim.app.inject({ method: 'POST', url: `/_sim/mailboxes/${ME}/messages/${encodeURIComponent(d.id)}/move`, payload: { folder: 'Clients/Acme' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: d.id, folder: 'user:Clients/Acme' });
    const archived = await sim.app.inject({ method: 'POST', url: `/_sim/mailboxes/${ME}/messages/${encodeURIComponent(d.id)}/move`, payload: { folder: 'archive' } });
    expect(archived.json().folder).toBe('archive');
    const archive = await drain('/me/mailFolders/archive/messages/delta?$select=subject');
    expect(archive.items.map((m) => m.id)).toEqual([d.id]);
    const bad = await sim.app.inject({ method: 'POST', url: `/_sim/mailboxes/${ME}/messages/${encodeURIComponent(d.id)}/move`, payload: { folder: ' / ' } });
    expect(bad.statusCode).toBe(400);
    const arriveInTrash = await sim.app.inject({ method: 'POST', url: `/_sim/mailboxes/${ME}/messages`, payload: { from: 'x@example.org', subject: 's', text: 't', folder: 'trash' } });
    expect(arriveInTrash.statusCode).toBe(400);
  });
});
