import type { DropoutPlacement } from '../../src/model/lm.js';
import { DROPOUT_PLACEMENTS } from '../../src/model/lm.js';
import type { Chart, RunName } from './chart.js';
import type { CorpusInfo, FromWorker, LabSettings, ToWorker } from './protocol.js';

/**
 * One run panel of the lab (A or B): its form, its worker, its numbers. Pressing Train starts a fresh
 * worker with the form's settings (replacing any run in progress); Pause/Resume and Sample talk to it.
 */

type RunState = 'idle' | 'training' | 'paused' | 'error';

export interface RunPanel {
  name: RunName;
  train(): void;
  pause(): void;
}

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

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
  const stats = { train: stat('train'), valid: stat('valid'), words: stat('words'), speed: stat('speed') };

  let worker: Worker | null = null;
  let state: RunState = 'idle';
  let sampleSeed = 1;
  let firstTrain: number | null = null;
  let firstValid: number | null = null;

  const setState = (next: RunState, message: string): void => {
    state = next;
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
      seed: 1,
    };
  };

  const describe = (s: LabSettings): string =>
    `${name}: ${s.placement}${s.placement === 'none' ? '' : `, keep ${s.keepProb}`}, hidden ${s.hidden}, `
    + `${s.layers} layer${s.layers === 1 ? '' : 's'}, lr ${s.lr}`;

  const send = (message: ToWorker): void => worker?.postMessage(message);

  const onMessage = (message: FromWorker): void => {
    switch (message.type) {
      case 'ready':
        onCorpus(message.corpus);
        status.textContent = `Training ${number(message.corpus.parameters)} parameters (matrix products in ${message.gemm})…`;
        status.dataset.gemm = message.gemm;
        break;
      case 'train':
        firstTrain ??= message.perplexity;
        stats.train.value = `${number(message.perplexity, 1)} (started at ${number(firstTrain, 0)})`;
        stats.train.dataset.value = String(message.perplexity);
        stats.train.dataset.initial = String(firstTrain);
        stats.words.value = `${number(message.words)} (epoch ${message.epoch})`;
        stats.speed.value = number(message.wordsPerSecond);
        chart.add({ run: name, split: 'train', words: message.words, perplexity: message.perplexity });
        break;
      case 'valid':
        firstValid ??= message.perplexity;
        stats.valid.value = `${number(message.perplexity, 1)} (started at ${number(firstValid, 0)})`;
        stats.valid.dataset.value = String(message.perplexity);
        stats.valid.dataset.initial = String(firstValid);
        stats.valid.dataset.count = String(Number(stats.valid.dataset.count ?? '0') + 1);
        chart.add({ run: name, split: 'validation', words: message.words, perplexity: message.perplexity });
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
    firstValid = null;
    for (const output of Object.values(stats)) { output.value = '–'; delete output.dataset.value; delete output.dataset.initial; }
    delete stats.valid.dataset.count;
    sampleOut.textContent = '';
    onSettings(name, describe(settings));
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `run ${name}` });
    worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      onMessage({ type: 'error', message: event.message || 'the training worker failed to start' });
    };
    setState('training', 'Starting…');
    send({ type: 'start', settings });
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

  return { name, train, pause };
}
