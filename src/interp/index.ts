export * from './interpret.ts';
