/**
 * `A`, when it is assignable to `B`; otherwise a type error at the use site that names what
 * differs. Used both ways, it ties a TypeScript type not derived from a zod schema to that
 * schema's type.
 */
export type Assignable<A extends B, B> = A;
