export * from './clock.ts';
export * from './faults.ts';
export * from './headers.ts';
export * from './limits.ts';
export * from './mail.ts';
export * from './state.ts';
