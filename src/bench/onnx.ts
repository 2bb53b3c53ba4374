/**
 * A minimal ONNX model writer: just the protobuf fields a one-node graph needs
 * (ModelProto → GraphProto → NodeProto, ValueInfoProto, AttributeProto). Writing
 * these few bytes by hand avoids a protobuf dependency for ~80 lines.
 */

/** ONNX TensorProto element types used here. */
export const ONNX_TYPE = { float: 1, int32: 6, float16: 10 } as const;

/** A graph input or output: a name, an element type and a shape (numbers or symbolic names). */
export interface ValueInfo {
  name: string;
  type: keyof typeof ONNX_TYPE;
  shape: (number | string)[];
}

/** One operator node: inputs '' mean "optional input left out". */
export interface OnnxNode {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | { float: number }>;
}

class Writer {
  private bytes: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.bytes.push(b);
    } while (x);
    return this;
  }
  key(field: number, wire: 0 | 2 | 5): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.key(field, 5).bytes.push(...b);
    return this;
  }
  raw(field: number, data: Uint8Array): this {
    this.key(field, 2)
      .varint(data.length)
      .bytes.push(...data);
    return this;
  }
  string(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }
  message(field: number, build: (w: Writer) => void): this {
    const w = new Writer();
    build(w);
    return this.raw(field, w.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function valueInfo(w: Writer, v: ValueInfo): void {
  w.string(1, v.name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, ONNX_TYPE[v.type]).message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      }),
    ),
  );
}

/**
 * Serialises a one-node ONNX model (opset 17 plus com.microsoft 1 for contrib ops).
 * @example onnxModel({ op: 'Relu', inputs: ['x'], outputs: ['y'] }, [{ name: 'x', type: 'float', shape: [4] }], [{ name: 'y', type: 'float', shape: [4] }])
 */
export function onnxModel(node: OnnxNode, inputs: ValueInfo[], outputs: ValueInfo[]): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version
  w.string(2, 'einattn-bench'); // producer_name
  w.message(8, (o) => o.string(1, '').int(2, 17));
  w.message(8, (o) => o.string(1, 'com.microsoft').int(2, 1));
  w.message(7, (g) => {
    g.message(1, (n) => {
      for (const i of node.inputs) n.string(1, i);
      for (const o of node.outputs) n.string(2, o);
      n.string(3, `${node.op}_0`).string(4, node.op);
      for (const [name, v] of Object.entries(node.attributes ?? {}))
        n.message(5, (a) => (typeof v === 'number' ? a.string(1, name).int(3, v).int(20, 2) : a.string(1, name).float(2, v.float).int(20, 1)));
      if (node.domain) n.string(7, node.domain);
    });
    g.string(2, `${node.op}_graph`);
    for (const i of inputs) g.message(11, (x) => valueInfo(x, i));
    for (const o of outputs) g.message(12, (x) => valueInfo(x, o));
  });
  return w.finish();
}
