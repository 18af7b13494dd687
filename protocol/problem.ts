/**
 * An error a user can act on: which field, what was expected, what to do. Both sides of
 * the wire use it; the server turns it into a 4xx answer with this JSON body.
 */
export interface Problem {
  /** HTTP status the server answers with (never 401 on MDM endpoints). */
  status: number;
  /** Stable, machine-readable code, e.g. `unknown-enrollment`. */
  code: string;
  message: string;
  field?: string;
  expected?: string;
  hint?: string;
}

export class ProblemError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.message);
    this.name = 'ProblemError';
    this.problem = problem;
  }
}

export function problem(status: number, code: string, message: string, extra: Omit<Problem, 'status' | 'code' | 'message'> = {}): ProblemError {
  return new ProblemError({ status, code, message, ...extra });
}
