// A small in-memory inventory: items, stock movements and a low-stock report.

export interface Item {
  sku: string;
  name: string;
  unitPrice: number;
  reorderLevel: number;
}

export interface Movement {
  sku: string;
  quantity: number; // positive: received, negative: shipped
  at: Date;
}

export class Inventory {
  private readonly items = new Map<string, Item>();
  private readonly stock = new Map<string, number>();
  private readonly history: Movement[] = [];

  addItem(item: Item): void {
    if (this.items.has(item.sku)) {
      throw new Error(`duplicate sku ${item.sku}`);
    }
    this.items.set(item.sku, item);
    this.stock.set(item.sku, 0);
  }

  record(movement: Movement): void {
    const current = this.stock.get(movement.sku);
    if (current === undefined) {
      throw new Error(`unknown sku ${movement.sku}`);
    }
    if (current + movement.quantity < 0) {
      throw new Error(`not enough ${movement.sku} in stock`);
    }
    this.stock.set(movement.sku, current + movement.quantity);
    this.history.push(movement);
  }

  quantityOf(sku: string): number {
    return this.stock.get(sku) ?? 0;
  }

  stockValue(): number {
    let total = 0;
    for (const [sku, quantity] of this.stock) {
      const item = this.items.get(sku);
      if (item) {
        total += item.unitPrice * quantity;
      }
    }
    return total;
  }

  lowStock(): Item[] {
    return [...this.items.values()].filter((item) => this.quantityOf(item.sku) <= item.reorderLevel);
  }

  movementsSince(date: Date): Movement[] {
    return this.history.filter((m) => m.at >= date);
  }
}
