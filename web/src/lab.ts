import type { DropoutPlacement } from '../../src/model/lm.js';
import { DROPOUT_PLACEMENTS } from '../../src/model/lm.js';
import type { Chart, RunName } from './chart.js';
import type { CorpusInfo, FromWorker, LabSettings, ToWorker } from './protocol.js';

/**
 * One run panel of the lab (A or B): its form, its worker, its numbers. Pressing Train starts a fresh
 * worker with the form's settings (replacing any run in progress); Pause/Resume and Sample talk to it.
 * A preset fills the form (set) and trains.
 */

type RunState = 'idle' | 'training' | 'paused' | 'stopped' | 'error';

/** The form's fields, as a preset sets them (any left out keep their value). */
export type PanelValues = Partial<Omit<LabSettings, 'seed'>>;

export interface RunPanel {
  name: RunName;
  train(): void;
  pause(): void;
  set(values: PanelValues): void;
}

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The runs whose worker is training now (a run asks for two GEMM threads only when it is alone). */
const trainingPanels = new Set<string>();

export function createRunPanel(
  form: HTMLFormElement, name: RunName, chart: Chart,
  onCorpus: (info: CorpusInfo) => void, onSettings: (name: RunName, label: string) => void,
): RunPanel {
  const field = <T extends Element>(selector: string): T => {
    const node = form.querySelector<T>(selector);
    if (node === null) throw new Error(`run ${name}: the page lacks ${selector}`);
    return node;
  };
  const pauseButton = field<HTMLButtonElement>('button[name="pause"]');
  const sampleButton = field<HTMLButtonElement>('button[name="sample"]');
  const status = field<HTMLElement>('[data-field="status"]');
  const sampleOut = field<HTMLElement>('[data-field="sample"]');
  const stat = (key: string): HTMLOutputElement => field<HTMLOutputElement>(`output[data-stat="${key}"]`);
  const stats = { train: stat('train'), valid: stat('valid'), best: stat('best'), words: stat('words'), speed: stat('speed') };

  let worker: Worker | null = null;
  let state: RunState = 'idle';
  let sampleSeed = 1;
  let firstTrain: number | null = null;
  // per whole epoch, for the page's tests and readers: validation and the epoch's training perplexity
  let validCurve: number[] = [];
  let trainCurve: number[] = [];

  const setState = (next: RunState, message: string): void => {
    state = next;
    if (next === 'training') trainingPanels.add(name); else trainingPanels.delete(name);
    form.dataset.state = next;
    status.textContent = message;
    pauseButton.disabled = next !== 'training' && next !== 'paused';
    pauseButton.textContent = next === 'paused' ? 'Resume' : 'Pause';
    sampleButton.disabled = next === 'idle' || next === 'error';
    field<HTMLButtonElement>('button[name="train"]').textContent = next === 'idle' ? 'Train' : 'Restart';
  };

  const readSettings = (): LabSettings | null => {
    if (!form.reportValidity()) return null;
    const data = new FormData(form);
    const placement = String(data.get('placement')) as DropoutPlacement;
    if (!DROPOUT_PLACEMENTS.includes(placement)) return null;
    return {
      placement,
      keepProb: Number(data.get('keepProb')),
      hidden: Number(data.get('hidden')),
      layers: Number(data.get('layers')),
      lr: Number(data.get('lr')),
      layerNorm: data.get('layerNorm') !== null,
      weightDecay: Number(data.get('weightDecay')),
      patience: Number(data.get('patience')),
      seed: 1,
    };
  };

  const set = (values: PanelValues): void => {
    for (const [key, value] of Object.entries(values)) {
      const input = field<HTMLInputElement | HTMLSelectElement>(`[name="${key}"]`);
      if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = value === true;
      else input.value = String(value);
    }
  };

  const describe = (s: LabSettings): string => {
    const extras = [
      s.layerNorm ? 'layer norm' : '',
      s.weightDecay > 0 ? `λ ${s.weightDecay}` : '',
      s.patience > 0 ? `patience ${s.patience}` : '',
    ].filter((x) => x !== '');
    return `${name}: ${s.placement}${s.placement === 'none' ? '' : `, keep ${s.keepProb}`}, hidden ${s.hidden}, `
      + `${s.layers} layer${s.layers === 1 ? '' : 's'}, lr ${s.lr}${extras.length > 0 ? `, ${extras.join(', ')}` : ''}`;
  };

  const send = (message: ToWorker): void => worker?.postMessage(message);

  const onMessage = (message: FromWorker): void => {
    switch (message.type) {
      case 'ready':
        onCorpus(message.corpus);
        status.textContent = `Training ${number(message.corpus.parameters)} parameters (matrix products in ${message.gemm})…`;
        status.dataset.gemm = message.gemm;
        form.dataset.parameters = String(message.corpus.parameters);
        break;
      case 'train':
        firstTrain ??= message.perplexity;
        stats.train.value = `${number(message.perplexity, 1)} (started at ${number(firstTrain, 0)})`;
        stats.train.dataset.value = String(message.perplexity);
        stats.words.value = `${number(message.words)} (epoch ${message.epoch})`;
        stats.speed.value = number(message.wordsPerSecond);
        chart.add({ run: name, split: 'train', epochs: message.epochs, perplexity: message.perplexity });
        break;
      case 'valid':
        validCurve.push(message.perplexity);
        if (message.trainPerplexity !== null) trainCurve.push(message.trainPerplexity);
        stats.valid.value = `${number(message.perplexity, 1)} after epoch ${message.epoch} (started at ${number(validCurve[0], 0)})`;
        stats.valid.dataset.value = String(message.perplexity);
        stats.valid.dataset.initial = String(validCurve[0]);
        stats.valid.dataset.count = String(validCurve.length);
        form.dataset.validCurve = JSON.stringify(validCurve); //  index = epoch (0: untrained)
        form.dataset.trainCurve = JSON.stringify(trainCurve); //  index = epoch − 1
        if (message.epoch > 0) {
          stats.best.value = `${number(message.bestPerplexity, 1)} at epoch ${message.bestEpoch}`;
          stats.best.dataset.epoch = String(message.bestEpoch);
          chart.best(name, message.bestEpoch, message.bestPerplexity);
        }
        chart.add({ run: name, split: 'validation', epochs: message.epoch, perplexity: message.perplexity });
        break;
      case 'stopped':
        form.dataset.stoppedAt = String(message.epoch);
        form.dataset.restoredEpoch = String(message.bestEpoch);
        form.dataset.restoredPerplexity = String(message.restoredPerplexity);
        chart.stop(name, message.epoch, message.bestEpoch);
        setState('stopped', `Early stopping: no better validation perplexity for ${message.epoch - message.bestEpoch} `
          + `epochs, so training stopped after epoch ${message.epoch} and restored the weights of epoch `
          + `${message.bestEpoch} (validation perplexity ${number(message.restoredPerplexity, 1)} measured again with them).`);
        break;
      case 'sample':
        sampleOut.textContent = message.text;
        sampleButton.disabled = state === 'idle' || state === 'error';
        break;
      case 'paused':
        break;
      case 'error':
        setState('error', `Stopped: ${message.message}`);
        worker?.terminate();
        worker = null;
        break;
    }
  };

  const train = (): void => {
    const settings = readSettings();
    if (settings === null) return;
    worker?.terminate();
    chart.clear(name);
    firstTrain = null;
    validCurve = [];
    trainCurve = [];
    for (const output of Object.values(stats)) { output.value = '–'; delete output.dataset.value; delete output.dataset.initial; }
    delete stats.valid.dataset.count;
    delete stats.best.dataset.epoch;
    for (const key of ['validCurve', 'trainCurve', 'stoppedAt', 'restoredEpoch', 'restoredPerplexity', 'parameters']) delete form.dataset[key];
    sampleOut.textContent = '';
    onSettings(name, describe(settings));
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `run ${name}` });
    worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      onMessage({ type: 'error', message: event.message || 'the training worker failed to start' });
    };
    // two threads for the matrix products only where the page is cross-origin isolated (shared memory) and no
    // other run is training: two runs on two threads each would fight over a laptop's cores
    const threads = globalThis.crossOriginIsolated === true && [...trainingPanels].every((other) => other === name) ? 2 : 1;
    setState('training', 'Starting…');
    send({ type: 'start', settings, threads });
  };

  const pause = (): void => {
    if (state !== 'training') return;
    send({ type: 'pause' });
    setState('paused', 'Paused.');
  };

  const resume = (): void => {
    if (state !== 'paused') return;
    send({ type: 'resume' });
    setState('training', 'Training…');
  };

  form.addEventListener('submit', (event) => { event.preventDefault(); train(); });
  pauseButton.addEventListener('click', () => (state === 'paused' ? resume() : pause()));
  sampleButton.addEventListener('click', () => {
    sampleButton.disabled = true; // until the sample arrives (the worker answers between training slices)
    sampleOut.textContent = 'Sampling…';
    send({ type: 'sample', count: 40, temperature: 0.8, seed: sampleSeed++ });
  });
  form.addEventListener('change', () => {
    if (state !== 'idle') status.textContent = 'Settings changed: the current run goes on; press Restart to train with the new ones.';
  });
  setState('idle', 'Not started.');

  return { name, train, pause, set };
}
