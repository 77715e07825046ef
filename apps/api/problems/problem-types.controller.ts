// GET /problems/<name>: what each of Errand's own problem types means, where its `type` URI
// points (RFC 9457: a type URI should lead to documentation a person can read).
import { Controller, Get, Header, NotFoundException, Param } from '@nestjs/common';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { ZodPipe } from '../tasks/task-request.js';
import { PROBLEM_TYPES } from './problem-details.js';

/** What each of Errand's problem types means, where its `type` URI points. */
@Controller('problems')
export class ProblemTypesController {
  @Get(':name')
  @Header('content-type', 'text/plain; charset=utf-8')
  @Answers({ summary: "What one of Errand's problem types means", ok: { description: 'its explanation', schema: z.string(), contentType: 'text/plain' }, open: true })
  describe(@Param('name', new ZodPipe(z.string().regex(/^[a-z-]+$/, 'problem types are lower-case words and dashes'), 'name')) name: string): string {
    const text = Object.hasOwn(PROBLEM_TYPES, name) ? PROBLEM_TYPES[name as keyof typeof PROBLEM_TYPES] : undefined;
    if (!text) throw new NotFoundException(`no problem type ${name}; the types are ${Object.keys(PROBLEM_TYPES).join(', ')}`);
    return `${text}\n`;
  }
}
