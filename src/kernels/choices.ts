/**
 * The backends a command can be asked for (--backend), in a module of their own: the command line's definition
 * reads them without loading the backends themselves.
 */
export type BackendChoice = 'auto' | 'blas' | 'js';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'blas', 'js'];
