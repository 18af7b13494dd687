export * from './reasons';
export * from './headers';
export * from './jwt';
export * from './token';
export * from './payload';
export * from './courier';
