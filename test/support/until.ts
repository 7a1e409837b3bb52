/** Polls `condition` until it holds, failing the test after `timeoutMs`. */
export async function until(
  condition: () => Promise<boolean>,
  timeoutMs = 5_000,
  pollMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
