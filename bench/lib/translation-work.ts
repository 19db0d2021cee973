/*
 * The work no OpenAI-compatible gateway can skip, measured alone in a child process on the target core:
 * per request, decode and parse the client's JSON, validate it, convert and serialise it for the upstream,
 * parse the upstream's answer and check it, and (only when normalising changed it) serialise it for the
 * client; an answer that needed no normalising goes out as the upstream's bytes. The steps are the
 * adapter's own. The bare proxy does none of this (it forwards bytes), so this is the floor of what the
 * gateway costs on top of it, before any framework overhead: the foundation scenario prints the best RPS
 * ratio it leaves possible.
 */
import { parseChatCompletionRequest } from '@switchyard/core';
import { convertToOpenAIRequest, normalizeOpenAIResponse } from '@switchyard/providers';
import { isNormalOpenAIResponse } from '../../packages/providers/src/openai/convert-openai-stream.js';
import { readOpenAIResponse } from '../../packages/providers/src/openai/openai-wire-check.js';
import { isMeasurementChild, serveMeasurement } from './child-measurement.js';
import { chatCompletionJson, chatRequestBody, upstreamModel } from './openai-payloads.js';

export interface TranslationWork {
  /** CPU microseconds per request for each step, and their sum. */
  steps: Array<{ step: string; microseconds: number }>;
  totalMicroseconds: number;
}

const iterations = 200_000;
const decoder = new TextDecoder('utf-8', { fatal: true });

function cpuMicrosecondsPerCall(run: () => unknown): number {
  for (let index = 0; index < iterations / 4; index++) run();
  const started = process.cpuUsage();
  for (let index = 0; index < iterations; index++) run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / iterations;
}

async function measureTranslationWork(): Promise<TranslationWork> {
  const requestBytes = Buffer.from(chatRequestBody(`mock/${upstreamModel}`, false));
  const answerText = chatCompletionJson(Math.floor(Date.now() / 1000));
  const request = parseChatCompletionRequest(JSON.parse(requestBytes.toString('utf8')));
  // As the adapter does: an answer that needs no normalising is used as parsed and sent as received.
  const readAnswer = (text: string) => {
    const json: unknown = JSON.parse(text);
    if (isNormalOpenAIResponse(json)) return { answer: json, normalised: false };
    return { answer: normalizeOpenAIResponse(readOpenAIResponse(json)!, upstreamModel, 'chatcmpl-fallback', 0, { keepContentFilterResults: false }), normalised: true };
  };
  const { answer, normalised } = readAnswer(answerText);
  const steps = [
    { step: 'decode, parse and validate the request', run: () => parseChatCompletionRequest(JSON.parse(decoder.decode(requestBytes))) },
    { step: 'convert and serialise it for the upstream', run: () => JSON.stringify(convertToOpenAIRequest(upstreamModel, request, { streamUsage: true })) },
    { step: "parse and check the upstream's answer", run: () => readAnswer(answerText) },
    { step: normalised ? 'serialise the normalised answer for the client' : "serialise the answer for the client (none: the upstream's bytes go out)", run: () => (normalised ? JSON.stringify(answer) : undefined) },
  ].map(({ step, run }) => ({ step, microseconds: cpuMicrosecondsPerCall(run) }));
  return { steps, totalMicroseconds: steps.reduce((sum, entry) => sum + entry.microseconds, 0) };
}

if (isMeasurementChild(import.meta.url)) await serveMeasurement(measureTranslationWork);
