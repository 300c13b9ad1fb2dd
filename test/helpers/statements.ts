/**
 * Counts the statements sent through a Kysely instance — every query, and BEGIN and COMMIT of each transaction —
 * with a short description of each (`Select:sync_states`), for tests that bound a run's database work and for the
 * benchmarks' statements-per-message figures.
 */
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { DB } from '../../src/store/schema.ts';

/** `Kind:table` of a query node (the table of its FROM, INTO or UPDATE), or the start of a raw statement. */
function describeNode(node: RootOperationNode): string {
  const n = node as unknown as { kind: string; from?: { froms: Array<{ table?: { identifier: { name: string } }; node?: { table?: { identifier: { name: string } } } }> }; into?: { table: { identifier: { name: string } } }; table?: { table?: { identifier: { name: string } } }; sqlFragments?: readonly string[] };
  const table = n.from?.froms[0]?.table?.identifier.name ?? n.from?.froms[0]?.node?.table?.identifier.name ?? n.into?.table.identifier.name ?? n.table?.table?.identifier.name ?? n.sqlFragments?.join('?').trim().slice(0, 30) ?? '';
  return `${n.kind.replace('QueryNode', '').replace('Node', '')}:${table}`;
}

export interface CountedDb {
  /** The same database, every statement through it counted. */
  db: Kysely<DB>;
  /** Statements sent so far. */
  statements: () => number;
  /** What each statement was, in order; kept only when asked for (`{ log: true }`). */
  log: string[];
}

export function countingDb(db: Kysely<DB>, options: { log?: boolean } = {}): CountedDb {
  let count = 0;
  const log: string[] = [];
  const plugin: KyselyPlugin = {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      count++;
      if (options.log) log.push(describeNode(args.node));
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return Promise.resolve(args.result);
    },
  };
  const counted = db.withPlugin(plugin);
  const transaction = counted.transaction.bind(counted);
  counted.transaction = () => {
    count += 2;
    if (options.log) log.push('BEGIN', 'COMMIT');
    return transaction();
  };
  return { db: counted, statements: () => count, log };
}
