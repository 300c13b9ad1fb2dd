/**
 * The look of the simulators' sign-in and consent pages: recruiter-sync's own colours and type, and a banner
 * saying plainly that this is the local simulator, so nobody mistakes it for Google's or Microsoft's page.
 */

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `*{box-sizing:border-box}
body{margin:0;background:#f5f6fa;color:#1c1d26;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.sim-banner{background:#fff4d6;border-bottom:1px solid #e8d28c;padding:.6rem 1rem;text-align:center;font-size:.9rem}
.sim-card{max-width:28rem;margin:2.5rem auto;background:#fff;border:1px solid #dfe1ea;border-radius:12px;padding:1.5rem 1.75rem}
.sim-brand{display:flex;align-items:center;gap:.5rem;font-weight:600;margin:0 0 1rem}
.sim-mark{display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:8px;background:#3b37c8;color:#fff;font-size:.85rem;font-weight:700}
h1{font-size:1.35rem;margin:0 0 .5rem}h2{font-size:1rem;margin:1rem 0 .25rem}
.muted{color:#5b5e6e}
label{display:block;margin:.75rem 0;font-weight:600}
input[type=email],input[type=password]{display:block;width:100%;margin-top:.3rem;padding:.55rem .65rem;border:1px solid #c5c8d6;border-radius:8px;font:inherit}
ul{padding-left:1.2rem}li{margin:.2rem 0}
.err,#error{color:#b42318;background:#fdecea;border-radius:8px;padding:.5rem .75rem}
.actions{display:flex;gap:.5rem;margin-top:1.25rem}
button{font:inherit;padding:.55rem 1.1rem;border-radius:8px;border:1px solid #3b37c8;cursor:pointer}
button[value=allow],button[value=accept]{background:#3b37c8;color:#fff}
button[value=deny],button[value=cancel]{background:#fff;color:#3b37c8}`;

/** A whole page: the banner naming the simulated provider, then the card with `body`. */
export function simulatorPage(title: string, provider: 'Google' | 'Microsoft', body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body>
<p class="sim-banner" role="note"><strong>Local simulator — not ${provider}.</strong> This page stands in for ${provider}'s sign-in while recruiter-sync runs on this computer; nothing goes to ${provider}.</p>
<main class="sim-card"><p class="sim-brand"><span class="sim-mark" aria-hidden="true">rs</span> recruiter-sync · simulated ${provider}</p>${body}</main></body></html>`;
}
