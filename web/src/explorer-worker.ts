/**
 * The model explorer's worker: holds one trained model (the bundled small one, or a checkpoint the
 * visitor opened) and answers the page's questions about a text with src/model/inspect.ts, on the
 * library's pure-TypeScript backend (WebAssembly SIMD matrix products). The checkpoint is parsed by
 * src/train/safetensors.ts, the same parser and checks as the command line, checksum included.
 */
import { formatTokens, promptTokens } from '../../src/model/generate.js';
import { continueTokens, featureSeries, inspectText, QUANTITIES, unitSeries, unitsTracking, type Inspection } from '../../src/model/inspect.js';
import type { Model } from '../../src/model/params.js';
import type { Vocabulary } from '../../src/data/text.js';
import { UNK } from '../../src/data/text.js';
import { jsBackend } from '../../src/kernels/js.js';
import { modelInPlaceFromCheckpoint } from '../../src/train/checkpoint-model.js';
import { parseSafetensors } from '../../src/train/safetensors.js';
import { createSha256 } from '../../src/util/sha256.js';
import type { ExplorerAnswer, ExplorerRequest, ModelInfo, UnitTrace } from './explorer-protocol.js';

interface WorkerScope {
  postMessage(message: ExplorerAnswer): void;
  onmessage: ((event: MessageEvent<ExplorerRequest>) => void) | null;
}
const scope = self as unknown as WorkerScope;

interface Loaded {
  model: Model;
  vocab: Vocabulary;
  level: 'word' | 'char';
}
let loaded: Loaded | null = null;
let last: Inspection | null = null; // the last analyzed text, for 'units'

async function load(request: Extract<ExplorerRequest, { type: 'load' }>): Promise<ModelInfo> {
  let buffer: ArrayBuffer;
  if ('file' in request) {
    buffer = await request.file.arrayBuffer();
  } else {
    const response = await fetch(request.url);
    if (!response.ok) throw new Error(`${request.name}: the page could not fetch its model (HTTP ${response.status}); reload the page`);
    buffer = await response.arrayBuffer();
  }
  loaded = null; // the old model can go before the new one is decoded
  last = null;
  const checkpoint = parseSafetensors(new Uint8Array(buffer), request.name, createSha256);
  const { model, config, vocab } = modelInPlaceFromCheckpoint(checkpoint, request.name);
  loaded = { model, vocab, level: config.level };
  return {
    name: request.name, dtype: checkpoint.dtype, bytes: buffer.byteLength, hidden: config.hidden, layers: config.layers,
    vocabSize: vocab.words.length, level: config.level, layerNorm: config.layerNorm, parameters: model.params.length,
    testPerplexity: checkpoint.metadata.testPerplexity ?? null,
  };
}

function need(): Loaded {
  if (loaded === null) throw new Error('no model is loaded yet: wait for it, or open a checkpoint');
  return loaded;
}

function answer(request: ExplorerRequest): ExplorerAnswer | Promise<ExplorerAnswer> {
  const { id } = request;
  switch (request.type) {
    case 'load':
      return load(request).then((info): ExplorerAnswer => ({ type: 'loaded', id, info }));
    case 'analyze': {
      const { model, vocab, level } = need();
      last = inspectText(jsBackend, model, vocab, level, request.text, 10, 'the text');
      return {
        type: 'analysis', id, score: last.score, fed: last.fed,
        next: last.next.map((n) => ({ words: n.ids.map((v) => vocab.words[v]), probs: n.probs })),
      };
    }
    case 'units': {
      const { model } = need();
      if (last === null) throw new Error('type a text first');
      const inspection = last;
      const { layer, quantity, feature } = request;
      if (!(layer >= 0 && layer < model.config.layers)) throw new Error(`layer ${layer + 1}: the model has layers 1 to ${model.config.layers}`);
      const found = feature === null
        ? request.units.map((unit) => ({ unit, r: null }))
        : unitsTracking(inspection.trace, layer, quantity, featureSeries(inspection.fed, feature), request.count);
      for (const { unit } of found) {
        if (!(Number.isInteger(unit) && unit >= 0 && unit < model.config.hidden)) {
          throw new Error(`unit ${unit}: layer ${layer + 1} has units 0 to ${model.config.hidden - 1}`);
        }
      }
      const units: UnitTrace[] = found.map(({ unit, r }) => ({
        unit, r,
        series: Object.fromEntries(QUANTITIES.map((q) => [q, Array.from(unitSeries(inspection.trace, layer, unit, q))])) as UnitTrace['series'],
      }));
      return { type: 'units', id, layer, feature, quantity, fed: inspection.fed, units };
    }
    case 'continue': {
      const { model, vocab, level } = need();
      const tokens = promptTokens(request.text, level);
      const unk = vocab.ids.get(UNK) ?? 0;
      const prompt = tokens.map((token) => vocab.ids.get(token) ?? unk);
      const ids = continueTokens(jsBackend, model, vocab, prompt, request.options);
      const words = ids.map((v) => vocab.words[v]);
      return { type: 'continuation', id, text: formatTokens(words, level), tokens: words };
    }
  }
}

scope.onmessage = (event: MessageEvent<ExplorerRequest>): void => {
  const request = event.data;
  const fail = (err: unknown): void => scope.postMessage({ type: 'error', id: request.id, message: err instanceof Error ? err.message : String(err) });
  try {
    void Promise.resolve(answer(request)).then((reply) => scope.postMessage(reply), fail);
  } catch (err) {
    fail(err);
  }
};
