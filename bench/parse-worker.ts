/**
 * A worker thread of the parse benchmark's pool (`parse.ts`): parses each message it is sent with the product's
 * `parseMime` and answers with the ParsedMessage.
 */
import { parentPort } from 'node:worker_threads';
import { parseMime } from '../src/sync/ingest/mime.ts';

parentPort!.on('message', (job: { id: number; raw: Uint8Array }) => {
  parseMime(job.raw).then(
    (parsed) => parentPort!.postMessage({ id: job.id, parsed }),
    (error: unknown) => parentPort!.postMessage({ id: job.id, error: String(error) }),
  );
});
