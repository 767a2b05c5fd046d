// A minimum-cost flow with lexicographic costs, for the placement choices (jobs/plan/placement.ts).
//
// A cost is a vector of integers compared lexicographically (the first component matters most) and
// added component by component: "fewer shards in one zone" outranks "fewer replicas re-pointed"
// without weights that overflow. Successive shortest paths with Dijkstra over reduced costs
// (Johnson potentials): every edge added costs zero or more, so the zero flow is optimal to start.
// Convex costs (the k-th pod of a zone in a shard costs more than the (k-1)-th) are modelled as
// parallel unit edges of increasing cost, which the shortest paths take in order.

export class FlowNetwork {
  private readonly width: number;
  private vertexCount = 0;
  private readonly head: number[] = [];
  private readonly nextEdge: number[] = [];
  private readonly target: number[] = [];
  private readonly capacity: number[] = [];
  private readonly initialCapacity: number[] = [];
  private readonly costs: number[] = [];

  /** `width`: how many components each cost has. */
  constructor(width: number) {
    this.width = width;
  }

  addVertex(): number {
    this.head.push(-1);
    return this.vertexCount++;
  }

  /** An edge and its residual twin; returns the edge's index (for flowOn). */
  addEdge(from: number, to: number, capacity: number, cost: readonly number[]): number {
    if (cost.length !== this.width || cost.some((part) => part < 0 || !Number.isInteger(part))) {
      throw new Error(`planner bug: edge cost ${JSON.stringify(cost)} is not ${this.width} non-negative integers`);
    }
    const edge = this.target.length;
    this.link(from, to, capacity, cost);
    this.link(
      to,
      from,
      0,
      cost.map((part) => -part),
    );
    return edge;
  }

  private link(from: number, to: number, capacity: number, cost: readonly number[]): void {
    this.target.push(to);
    this.capacity.push(capacity);
    this.initialCapacity.push(capacity);
    this.costs.push(...cost);
    this.nextEdge.push(this.head[from]!);
    this.head[from] = this.target.length - 1;
  }

  flowOn(edge: number): number {
    return this.initialCapacity[edge]! - this.capacity[edge]!;
  }

  /** Sends up to `amount` units from source to sink at the least cost; returns the units sent. */
  minCostFlow(source: number, sink: number, amount: number): number {
    const width = this.width;
    const vertices = this.vertexCount;
    const potential = new Float64Array(vertices * width);
    const distance = new Float64Array(vertices * width);
    const reached = new Uint8Array(vertices);
    const viaEdge = new Int32Array(vertices);
    const heap = new MinHeap(vertices, (a, b) => compareAt(distance, a * width, distance, b * width, width));
    const candidate = new Float64Array(width);
    const settled = new Uint8Array(vertices);
    let sent = 0;
    while (sent < amount) {
      reached.fill(0);
      viaEdge.fill(-1);
      distance.fill(0, source * width, source * width + width);
      reached[source] = 1;
      heap.push(source);
      settled.fill(0);
      while (heap.size > 0) {
        const vertex = heap.pop();
        settled[vertex] = 1;
        // Nothing beyond the sink matters to this path (potentials below keep reduced costs >= 0).
        if (vertex === sink) break;
        for (let edge = this.head[vertex]!; edge !== -1; edge = this.nextEdge[edge]!) {
          if (this.capacity[edge]! <= 0) continue;
          const next = this.target[edge]!;
          if (settled[next]) continue;
          // reduced cost = cost + potential(vertex) - potential(next), never negative
          for (let part = 0; part < width; part++) {
            candidate[part] =
              distance[vertex * width + part]! + this.costs[edge * width + part]! + potential[vertex * width + part]! - potential[next * width + part]!;
          }
          if (reached[next] && compareAt(candidate, 0, distance, next * width, width) >= 0) continue;
          distance.set(candidate, next * width);
          viaEdge[next] = edge;
          if (reached[next]) heap.decrease(next);
          else {
            reached[next] = 1;
            heap.push(next);
          }
        }
      }
      heap.clear();
      if (!settled[sink]) break;
      // A vertex settled before the sink moves by its distance, every other one by the sink's.
      for (let vertex = 0; vertex < vertices; vertex++) {
        const from = (settled[vertex] ? vertex : sink) * width;
        for (let part = 0; part < width; part++) potential[vertex * width + part]! += distance[from + part]!;
      }
      let push = amount - sent;
      for (let vertex = sink; vertex !== source; vertex = this.target[viaEdge[vertex]! ^ 1]!) push = Math.min(push, this.capacity[viaEdge[vertex]!]!);
      for (let vertex = sink; vertex !== source; vertex = this.target[viaEdge[vertex]! ^ 1]!) {
        this.capacity[viaEdge[vertex]!]! -= push;
        this.capacity[viaEdge[vertex]! ^ 1]! += push;
      }
      sent += push;
    }
    return sent;
  }
}

function compareAt(left: Float64Array, leftAt: number, right: Float64Array, rightAt: number, width: number): number {
  for (let part = 0; part < width; part++) {
    const difference = left[leftAt + part]! - right[rightAt + part]!;
    if (difference !== 0) return difference;
  }
  return 0;
}

/** A binary heap of vertex numbers with decrease-key, ordered by a comparison of their current keys. */
class MinHeap {
  private readonly items: number[] = [];
  private readonly position: Int32Array;

  constructor(
    vertices: number,
    private readonly compare: (a: number, b: number) => number,
  ) {
    this.position = new Int32Array(vertices).fill(-1);
  }

  get size(): number {
    return this.items.length;
  }

  clear(): void {
    for (const item of this.items) this.position[item] = -1;
    this.items.length = 0;
  }

  push(vertex: number): void {
    this.items.push(vertex);
    this.position[vertex] = this.items.length - 1;
    this.up(this.items.length - 1);
  }

  /** The vertex's key got smaller. */
  decrease(vertex: number): void {
    this.up(this.position[vertex]!);
  }

  pop(): number {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    this.position[top] = -1;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.position[last] = 0;
      this.down(0);
    }
    return top;
  }

  private up(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.compare(this.items[index]!, this.items[parent]!) >= 0) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private down(index: number): void {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.items.length && this.compare(this.items[left]!, this.items[smallest]!) < 0) smallest = left;
      if (right < this.items.length && this.compare(this.items[right]!, this.items[smallest]!) < 0) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const itemA = this.items[a]!;
    const itemB = this.items[b]!;
    this.items[a] = itemB;
    this.items[b] = itemA;
    this.position[itemB] = a;
    this.position[itemA] = b;
  }
}
