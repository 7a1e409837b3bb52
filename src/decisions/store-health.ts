/**
 * What this instance last saw of the counter store. A settle committed while Redis is
 * known down marks its subject dirty in the same transaction, so the subject is rebuilt
 * from the ledger before its next decision.
 */
export class StoreHealth {
  private down = false;
  private listeners: (() => void)[] = [];

  get isDown(): boolean {
    return this.down;
  }

  markDown(): void {
    this.down = true;
  }

  markUp(): void {
    if (!this.down) return;
    this.down = false;
    for (const listener of this.listeners) listener();
  }

  /** Called when the store answers again after being down. */
  onRecovered(listener: () => void): void {
    this.listeners.push(listener);
  }
}
