/** One issue with one field of the input: `path` is the JSON path (or CSV column) of the field. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Domain errors. Domain code throws these; only `http/problem.ts` turns them into HTTP responses,
 * and the CLI turns them into messages naming file, line and field.
 */
export class AppError extends Error {
  readonly status: number = 500;
  readonly type: string = 'internal';
  readonly title: string = 'Internal error';
  constructor(
    detail: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  override readonly status = 422;
  override readonly type = 'validation';
  override readonly title = 'Invalid input';
}

export class BadRequestError extends AppError {
  override readonly status = 400;
  override readonly type = 'bad-request';
  override readonly title = 'Bad request';
}

export class NotFoundError extends AppError {
  override readonly status = 404;
  override readonly type = 'not-found';
  override readonly title = 'Not found';
}

export class ConflictError extends AppError {
  override readonly status = 409;
  override readonly type = 'conflict';
  override readonly title = 'Conflict';
}

export class LimitExceededError extends AppError {
  override readonly status = 409;
  override readonly type = 'limit-exceeded';
  override readonly title = 'Limit exceeded';
}

export class UnauthorizedError extends AppError {
  override readonly status = 401;
  override readonly type = 'unauthorized';
  override readonly title = 'Unauthorized';
}

export class ForbiddenError extends AppError {
  override readonly status = 403;
  override readonly type = 'forbidden';
  override readonly title = 'Forbidden';
}

export class PayloadTooLargeError extends AppError {
  override readonly status = 413;
  override readonly type = 'payload-too-large';
  override readonly title = 'Payload too large';
}
