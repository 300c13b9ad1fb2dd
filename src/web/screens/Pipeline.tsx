import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { api, errorMessage, type Candidate, type MessagePreview, type Project, type User } from '../api.ts';
import { Alert, Loading, navigate, useLoad, useTitle } from '../ui.tsx';
import { count, shortDate } from '../words.ts';

/** The server answers previews for at most this many candidates per call. */
const PREVIEW_BATCH = 200;

export const candidatePath = (candidateId: string) => `/candidates/${candidateId}`;

/**
 * Screen 4: active projects with their candidates, and a search over the whole talent pool. The "messages"
 * control of each row shows the latest visible message on hover or focus, fetched for all visible
 * rows in one call rather than one per row.
 */
export function Pipeline({ user }: { user: User }) {
  useTitle('Pipeline');
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState('');
  // Searching as one types, without a request per keystroke.
  useEffect(() => {
    const timer = window.setTimeout(() => setSearch(query.trim()), 250);
    return () => window.clearTimeout(timer);
  }, [query]);

  return (
    <div className="stack">
      <div className="page-heading">
        <h1>Pipeline</h1>
        <p className="muted">Your projects and their candidates. Hover or focus “messages” on a row to see the latest email.</p>
      </div>
      <form
        className="search-form"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch(query.trim());
        }}
      >
        <div className="field">
          <label htmlFor="talent-search">Search the talent pool</label>
          <input id="talent-search" type="search" placeholder="Name or email" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
        </div>
      </form>
      {search ? <SearchResults contractId={user.contractId} search={search} /> : <Projects contractId={user.contractId} />}
    </div>
  );
}

function SearchResults({ contractId, search }: { contractId: string; search: string }) {
  const results = useLoad(() => api.candidates(contractId, { q: search, limit: 50 }), [contractId, search]);
  const previews = usePreviews(results.data ?? []);
  if (results.error !== undefined) return <Alert tone="error">{errorMessage(results.error)}</Alert>;
  if (!results.data) return <Loading label="Searching…" />;
  return (
    <section className="card" aria-labelledby="results-title">
      <h2 id="results-title">
        Search results <span className="muted small">({count(results.data.length, 'candidate')})</span>
      </h2>
      {results.data.length === 0 ? <p>No candidate matches “{search}”.</p> : <CandidateTable candidates={results.data} previews={previews} caption={`Candidates matching ${search}`} />}
    </section>
  );
}

function Projects({ contractId }: { contractId: string }) {
  const data = useLoad(async () => {
    const projects = (await api.projects(contractId)).filter((p) => p.status === 'active');
    const lists = await Promise.all(projects.map((p) => api.candidates(contractId, { projectId: p.id, limit: 200 })));
    return projects.map((project, i) => ({ project, candidates: lists[i] ?? [] }));
  }, [contractId]);
  const all = useMemo(() => (data.data ?? []).flatMap((p) => p.candidates), [data.data]);
  const previews = usePreviews(all);
  if (data.error !== undefined) return <Alert tone="error">{errorMessage(data.error)}</Alert>;
  if (!data.data) return <Loading label="Loading your projects…" />;
  if (data.data.length === 0) return <Alert tone="info">There are no active projects yet. Search the talent pool above to find candidates.</Alert>;
  return (
    <>
      {data.data.map(({ project, candidates }) => (
        <ProjectCard key={project.id} project={project} candidates={candidates} previews={previews} />
      ))}
    </>
  );
}

function ProjectCard({ project, candidates, previews }: { project: Project; candidates: Candidate[]; previews: Previews }) {
  const titleId = useId();
  return (
    <section className="card" aria-labelledby={titleId} data-testid="project">
      <div className="card-heading">
        <h2 id={titleId}>{project.name}</h2>
        <span className="muted small">{count(candidates.length, 'candidate')}</span>
      </div>
      {candidates.length === 0 ? <p className="muted">No candidates in this project yet.</p> : <CandidateTable candidates={candidates} previews={previews} caption={`Candidates of ${project.name}`} />}
    </section>
  );
}

type Previews = { data: Record<string, MessagePreview>; error: string | null; loading: boolean };

/** Previews for the rows on screen: one request per 200 candidates, repeated only when the rows change. */
function usePreviews(candidates: Candidate[]): Previews {
  const ids = useMemo(() => [...new Set(candidates.map((c) => c.id))].sort(), [candidates]);
  const key = ids.join(',');
  const [state, setState] = useState<Previews>({ data: {}, error: null, loading: false });
  useEffect(() => {
    if (ids.length === 0) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += PREVIEW_BATCH) batches.push(ids.slice(i, i + PREVIEW_BATCH));
    Promise.all(batches.map((b) => api.messagePreviews(b))).then(
      (answers) => live && setState({ data: Object.assign({}, ...answers), error: null, loading: false }),
      (error) => live && setState({ data: {}, error: errorMessage(error), loading: false }),
    );
    return () => {
      live = false;
    };
    // `key` stands for the ids.
  }, [key]);
  return state;
}

function CandidateTable({ candidates, previews, caption }: { candidates: Candidate[]; previews: Previews; caption: string }) {
  return (
    <div className="table-scroll">
      <table className="table candidate-table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Candidate</th>
            <th scope="col">Email</th>
            <th scope="col">Messages</th>
          </tr>
        </thead>
        <tbody>
          {candidates.map((c) => (
            <tr key={c.id} data-testid="candidate-row">
              <th scope="row">
                <a
                  href={candidatePath(c.id)}
                  onClick={(event) => {
                    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
                    event.preventDefault();
                    navigate(candidatePath(c.id));
                  }}
                >
                  {c.name}
                </a>
              </th>
              <td>{c.emails.length > 0 ? c.emails.join(', ') : <span className="muted">No email yet</span>}</td>
              <td>
                <MessagesHover candidate={c} preview={previews.data[c.id]} loading={previews.loading} error={previews.error} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The row's "messages" link with its preview: shown while the pointer is over it or the link has the focus,
 * described to screen readers through aria-describedby, and hidden again with Escape.
 */
function MessagesHover({ candidate, preview, loading, error }: { candidate: Candidate; preview: MessagePreview | undefined; loading: boolean; error: string | null }) {
  const tipId = useId();
  const [hover, setHover] = useState(false);
  const [focus, setFocus] = useState(false);
  const [dismissed, setDismissed] = useState(false);
  const open = (hover || focus) && !dismissed;
  const anchorRef = useRef<HTMLAnchorElement>(null);
  // Placed against the viewport, so that the scrolling table around it does not clip it; it follows scrolls.
  const [place, setPlace] = useState<{ top: number; left: number } | null>(null);
  useLayoutEffect(() => {
    if (!open) return;
    const update = () => {
      const rect = anchorRef.current?.getBoundingClientRect();
      if (!rect) return;
      const width = Math.min(352, window.innerWidth * 0.8);
      setPlace({ top: rect.bottom + 6, left: Math.max(8, Math.min(rect.right - width, window.innerWidth - width - 8)) });
    };
    update();
    window.addEventListener('scroll', update, true);
    window.addEventListener('resize', update);
    return () => {
      window.removeEventListener('scroll', update, true);
      window.removeEventListener('resize', update);
    };
  }, [open]);
  const href = `${candidatePath(candidate.id)}?tab=messages`;
  const label = preview ? count(preview.count, 'message') : 'messages';
  return (
    <span
      className="hover-anchor"
      onMouseEnter={() => {
        setDismissed(false);
        setHover(true);
      }}
      onMouseLeave={() => setHover(false)}
    >
      <a
        ref={anchorRef}
        href={href}
        className="messages-link"
        aria-describedby={tipId}
        onFocus={() => {
          setDismissed(false);
          setFocus(true);
        }}
        onBlur={() => setFocus(false)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') setDismissed(true);
        }}
        onClick={(event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          navigate(href);
        }}
      >
        {label}
      </a>
      {/* Always in the document (so aria-describedby has its text); shown only while open. */}
      <span id={tipId} role="tooltip" className="preview-tip" hidden={!open} data-testid="message-preview" style={place ? { top: place.top, left: place.left } : undefined}>
        {error ? (
          <span>The preview could not be loaded: {error}</span>
        ) : !preview ? (
          <span>{loading ? 'Loading the latest message…' : 'No preview.'}</span>
        ) : preview.latest === null ? (
          <span>No messages with {candidate.name} that you can see.</span>
        ) : (
          <>
            <span className="preview-count">{count(preview.count, 'message')}</span>
            <span className="preview-subject">{preview.latest.subject || '(no subject)'}</span>
            <span className="preview-snippet">{preview.latest.snippet}</span>
            <time className="preview-time" dateTime={preview.latest.sentAt}>
              {shortDate(preview.latest.sentAt)}
            </time>
          </>
        )}
      </span>
    </span>
  );
}
