import protobuf from "protobufjs";

/**
 * The few ONNX messages needed to write a static token-embedding model, with
 * field numbers from the published onnx.proto (IR v8). No npm package ships
 * onnx.proto, so the subset is declared here and encoded with protobufjs.
 */
const ONNX_SUBSET = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            domain: { type: "string", id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            type: { type: "int32", id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 } },
        },
        TypeProto: {
          fields: { tensorType: { type: "TypeProtoTensor", id: 1 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } },
        },
        Dimension: {
          oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
          fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_SUBSET);
const ModelProto = root.lookupType("onnx.ModelProto");

const FLOAT = 1;
const INT64 = 7;
const ATTRIBUTE_INT = 2;

function tensorInput(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * An ONNX graph that maps token ids to their rows of a fixed table:
 * last_hidden_state[b, t, :] = table[input_ids[b, t], :]. transformers.js
 * loads it as a feature-extraction model; its pipeline does the (attention
 * mask aware) mean pooling and normalisation. attention_mask is declared so
 * the runtime feeds the inputs it feeds every encoder; the graph ignores it.
 */
export function encodeStaticEmbeddingOnnx(table: Float32Array, vocabSize: number, dims: number): Uint8Array {
  if (table.length !== vocabSize * dims) {
    throw new Error(`embedding table has ${table.length} values, expected ${vocabSize} x ${dims}`);
  }
  // Copy into a fresh little-endian buffer (Float32Array is platform-endian; every
  // supported platform is little-endian, as ONNX raw_data requires).
  const raw = new Uint8Array(table.buffer.slice(table.byteOffset, table.byteOffset + table.byteLength));
  const message = ModelProto.create({
    irVersion: 8,
    producerName: "click-ai",
    producerVersion: "1",
    modelVersion: 1,
    opsetImport: [{ domain: "", version: 13 }],
    graph: {
      name: "static_token_embeddings",
      node: [
        {
          name: "lookup",
          opType: "Gather",
          input: ["embeddings", "input_ids"],
          output: ["last_hidden_state"],
          attribute: [{ name: "axis", i: 0, type: ATTRIBUTE_INT }],
        },
      ],
      initializer: [{ name: "embeddings", dataType: FLOAT, dims: [vocabSize, dims], rawData: raw }],
      input: [
        tensorInput("input_ids", INT64, ["batch_size", "sequence_length"]),
        tensorInput("attention_mask", INT64, ["batch_size", "sequence_length"]),
      ],
      output: [tensorInput("last_hidden_state", FLOAT, ["batch_size", "sequence_length", dims])],
    },
  });
  return ModelProto.encode(message).finish();
}
