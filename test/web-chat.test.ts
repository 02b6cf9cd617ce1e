/**
 * The assistant in the web UI, end to end (issue 10, "done means"): Debian's Chromium
 * (playwright-core) against the real `elohim serve` on a fresh ELOHIM_HOME. Elements are found by
 * role and accessible name only (web/UI-CONTRACT.md, "Chat" and "Settings → Models").
 *
 * The walk: Chat says there is no model yet; Settings → Models imports the tiny GGUF
 * (../shared/data/models/llama-2-tiny-random, a real Llama with random weights) and makes it the
 * chat model; a chat with it streams and shows the budget bar. Then the provider becomes an
 * Ollama — the tests' own loopback server implementing Ollama's documented API (src/ai/testing;
 * no real Ollama can be installed here) — whose replies the test chooses, so that what the
 * assistant does with them can be checked: a proposed memory approved in the memory panel and
 * sent to the model in a new conversation; a file put in the vault cited by an answer, and the
 * citation opening it in the vault browser; Stop closing the stream while the model is still
 * answering (the server aborts its call to the model: the loopback server sees its client go);
 * a provider on another machine shown as such. Last: no marker word of any of it is on disk.
 * Each step is its own test; once one fails the later ones fail at once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { MEMORY_PROMPT, SUMMARY_PROMPT } from '../src/ai/index.ts';
import { startOllamaServer } from '../src/ai/testing/loopback.ts';
import type { LoopbackServer } from '../src/ai/testing/loopback.ts';
import { DECOY_PASSPHRASE, findInFiles, initHome, PASSPHRASE, removeTempDirs } from './helpers.ts';
import { focused, launchChromium, screenshot, startServe, until } from './web-helpers.ts';
import type { ServeProcess } from './web-helpers.ts';

/** The shared test data (never copied into the repository): ELOHIM_TEST_DATA, or ../shared/data beside the checkout. */
const SHARED = process.env.ELOHIM_TEST_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const GGUF = join(SHARED, 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf');

const WAIT = 20_000;
/** The embedded steps need the shared test data; without it they are reported as skipped, with the reason. */
const NO_GGUF = existsSync(GGUF) ? false : `the tiny GGUF is missing: ${GGUF} (set ELOHIM_TEST_DATA to the shared data folder)`;

/** A model answer on two shared cores, the embedded model's first load included. */
const ANSWER_WAIT = 90_000;

/** Marker words: each appears only in what the user typed, approved or put in the vault. */
const FACT = 'the clinic generator trips above 40 degrees';
const MEMORY_MARKER = 'zanzibarquokka';
const MEMORY_TEXT = `The user's ${MEMORY_MARKER} generator trips above 40 °C`;
const FILE_MARKER = 'xylophonequasar';
const FILE_NAME = 'field-manual.md';
const FOLDER = 'Pump station';
const FILE_TEXT = `# Field manual\n\nThe ${FILE_MARKER} pump is primed by opening the red valve for ten seconds.\n`;
const CHAT_MARKER = 'marmaladetundra';

let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let server: ServeProcess | undefined;
let ollama: LoopbackServer | undefined;
let home: string;
let work: string;
const pageErrors: string[] = [];
const cspViolations: string[] = [];

/**
 * The loopback model: proposes MEMORY_TEXT when asked for memories after a message that says
 * FACT, cites the first excerpt when the context has excerpts, and echoes otherwise.
 */
function reply(messages: { role: string; content: string }[]): string {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  if (system.startsWith(MEMORY_PROMPT.slice(0, 40))) return user.includes(FACT) ? `- ${MEMORY_TEXT}` : 'NONE';
  if (system.startsWith(SUMMARY_PROMPT.slice(0, 40))) return 'The user asked about pumps.';
  if (system.includes("Excerpts from the user's files")) return 'Open the red valve for ten seconds [1].';
  return `echo: ${user}`;
}

/**
 * A slow file server on 127.0.0.1 for model downloads: sends the tiny GGUF 32 KiB every 50 ms
 * (about 3 s in all), honours `Range: bytes=N-` (resume), and records each request's range and
 * whether its client left before the end (pause, cancel).
 */
interface SlowServer {
  url: string;
  requests: { range: string | null; closedEarly: boolean }[];
  close(): Promise<void>;
}
async function startSlowServer(file: string): Promise<SlowServer> {
  const bytes = await readFile(file);
  const requests: SlowServer['requests'] = [];
  const server = createServer((req, res) => {
    const range = req.headers.range ?? null;
    const entry = { range, closedEarly: false };
    requests.push(entry);
    const from = range === null ? 0 : Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    res.writeHead(range === null ? 200 : 206, {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length - from),
      ...(range === null ? {} : { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` }),
    });
    let at = from;
    const timer = setInterval(() => {
      if (at >= bytes.length) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(bytes.subarray(at, at + 32 * 1024));
      at += 32 * 1024;
    }, 50);
    res.on('close', () => {
      clearInterval(timer);
      if (!res.writableFinished) entry.closedEarly = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
let slow: SlowServer | undefined;

let failedStep: string | null = null;
/**
 * A step of the walk: fails at once when an earlier step failed. A step marked `alone` is one
 * the later steps do not build on: its failure is reported without stopping them.
 */
function step(name: string, fn: () => Promise<void>, opts: { alone?: boolean; skip?: string | false } = {}): void {
  test(name, { timeout: 180_000, skip: opts.skip ?? false }, async () => {
    if (failedStep !== null) throw new Error(`not run: the earlier step "${failedStep}" failed`);
    try {
      await fn();
    } catch (err) {
      await screenshot(page, `chat-failed-${name.split('.')[0]}`).catch(() => {});
      if (opts.alone === true) {
        for (let i = 0; i < 3 && (await page.getByRole('dialog').count()) > 0; i++) await page.keyboard.press('Escape');
        process.stderr.write(`server output at "${name}":\n${server?.output() ?? ''}\n`);
      } else failedStep = name;
      throw err;
    }
  });
}

const button = (name: string | RegExp, scope: Page | Locator = page) => scope.getByRole('button', typeof name === 'string' ? { name, exact: true } : { name });
const sections = () => page.getByRole('navigation', { name: 'Sections', exact: true });
const thread = () => page.getByRole('list', { name: 'Messages', exact: true });
const answers = () => thread().getByRole('article', { name: 'Assistant', exact: true });
const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const budgets = () => page.getByRole('figure', { name: 'What the model was given', exact: true });
const settings = () => page.getByRole('dialog', { name: 'Settings', exact: true });

async function openChat(): Promise<void> {
  await button('Chat', sections()).click();
  await page.getByRole('navigation', { name: 'Conversations', exact: true }).waitFor();
}

async function openModelsTab(): Promise<Locator> {
  if (!(await settings().isVisible())) await button('Settings', page.getByRole('banner')).click();
  await settings().getByRole('tab', { name: 'Models', exact: true }).click();
  const panel = settings().getByRole('tabpanel');
  await panel.getByRole('heading', { name: 'Models', exact: true }).waitFor();
  return panel;
}

async function closeSettings(): Promise<void> {
  await page.keyboard.press('Escape');
  await settings().waitFor({ state: 'hidden' });
}

/** Starts a new conversation: the thread is empty, the heading says "Chat". */
async function newChat(): Promise<void> {
  await button('New chat').click();
  await page.getByRole('heading', { name: 'Chat', exact: true, level: 1 }).waitFor();
  await until(async () => (await thread().getByRole('article').count()) === 0, () => 'the thread is not empty after New chat');
}

/** Sends `text` from the composer and waits until its answer is complete (Send is back). */
async function ask(text: string, via: 'button' | 'enter' = 'button'): Promise<Locator> {
  const before = await answers().count();
  await composer().fill(text);
  if (via === 'enter') await composer().press('Enter');
  else await button('Send').click();
  await until(async () => (await answers().count()) > before && (await button('Send').isVisible()) && (await thread().locator('[aria-busy="true"]').count()) === 0, () => `no complete answer to "${text}"`, ANSWER_WAIT);
  return answers().last();
}

/** Chooses the provider in Settings → Models and saves it. */
async function useProvider(panel: Locator, kind: string, url?: string, allowRemote = false): Promise<void> {
  const section = panel.getByRole('region', { name: 'Provider', exact: true });
  await section.getByLabel('Model provider', { exact: true }).selectOption({ label: kind });
  if (url !== undefined) {
    await section.getByLabel('Server address', { exact: true }).fill(url);
    const box = section.getByRole('checkbox', { name: 'Allow a provider on another machine', exact: true });
    if (allowRemote) await box.check();
    else await box.uncheck();
  }
  await button('Save', section).click();
  await section.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
}

/** Makes `label` (an option's text, e.g. "tiny:latest (Ollama)") the default chat model. */
async function useChatModel(panel: Locator, label: string | RegExp): Promise<void> {
  const section = panel.getByRole('region', { name: 'Default models', exact: true });
  const select = section.getByLabel('Chat model', { exact: true });
  await until(async () => (await select.locator('option').allInnerTexts()).some((o) => (typeof label === 'string' ? o === label : label.test(o))), () => `no chat model option ${String(label)}`);
  const option = (await select.locator('option').allInnerTexts()).find((o) => (typeof label === 'string' ? o === label : label.test(o)))!;
  await select.selectOption({ label: option });
  await button('Save', section).click();
  await section.getByRole('status').filter({ hasText: 'Defaults saved' }).waitFor();
}

describe('the assistant in the web UI, in Chromium', () => {
  before(async () => {
    await ensureWebBuild({ quiet: true });
    const t = await initHome({ decoy: true });
    home = t.home;
    work = t.work;
    server = await startServe(home);
    ollama = await startOllamaServer({ reply });
    browser = await launchChromium();
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 860 } });
    context.setDefaultTimeout(WAIT);
    // The page reports Content-Security-Policy violations itself (the UI allows no inline script or style).
    await context.exposeBinding('reportCspViolation', (_source, text: string) => {
      cspViolations.push(text);
    });
    await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => { window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI); });");
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.stack ?? err.message));
    await page.goto(server.base);
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await button('Unlock').click();
    await button('Lock', page.getByRole('banner')).waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (failedStep !== null && server !== undefined) process.stderr.write(`server output:\n${server.output()}\n`);
    await server?.stop();
    await ollama?.close();
    await slow?.close();
    await removeTempDirs();
  });

  step('1. no model yet: Chat says so and sends nothing', async () => {
    const scripts: string[] = [];
    page.on('request', (r) => {
      if (/\/assets\/ChatScreen-[\w-]+\.js$/.test(new URL(r.url()).pathname)) scripts.push(r.url());
    });
    await openChat();
    assert.equal(scripts.length, 1, 'the Chat screen is its own chunk, fetched when Chat opens');
    await page.getByText('No model yet: import a GGUF or point to your Ollama.', { exact: true }).waitFor();
    assert.equal(await composer().isDisabled(), true, 'nothing can be sent without a model');
    // Its button opens Settings on the Models tab.
    await button('Open Settings → Models').click();
    const tab = settings().getByRole('tab', { name: 'Models', exact: true });
    await until(async () => (await tab.getAttribute('aria-selected')) === 'true', () => 'Settings did not open on Models');
    await settings().getByRole('tabpanel', { name: 'Models' }).getByRole('heading', { name: 'Models', exact: true }).waitFor();
    await closeSettings();
    await screenshot(page, 'chat-01-no-model');
  });

  step('2. Settings → Models: point to an Ollama (the loopback one) and choose its model', async () => {
    const panel = await openModelsTab();
    await useProvider(panel, 'Ollama', ollama!.url);
    await useChatModel(panel, 'tiny:latest (Ollama)');
    const table = panel.getByRole('table', { name: /^Models of Ollama/ });
    const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /^tiny:latest/ }) });
    const cells = await row.getByRole('cell').allInnerTexts();
    assert.deepEqual(cells.slice(0, 4), ['1.7 MB', 'llama', 'F16', '2,048 tokens'], `size, family, quantisation, context: ${cells.join(' | ')}`);
    await table.scrollIntoViewIfNeeded();
    await screenshot(page, 'chat-02-models');
    await closeSettings();
  });

  step('3. chat: the answer streams word by word, with the budget bar under it', async () => {
    await openChat();
    await page.getByText('No model yet', { exact: false }).waitFor({ state: 'hidden' });
    const answer = await ask(`Tell me about ${CHAT_MARKER} tea`);
    let shown = '';
    await until(async () => (shown = await answer.innerText()).includes(`echo: Tell me about ${CHAT_MARKER} tea`), () => `answer: ${shown}`);
    const sent = ollama!.requests.filter((r) => r.path === '/api/chat').at(-1)!.body as { stream?: boolean; options?: { num_ctx?: number } };
    assert.notEqual(sent.stream, false, 'the chat is asked for as a stream');
    assert.ok((sent.options?.num_ctx ?? 0) > 0, 'num_ctx is passed, so Ollama does not cut the prompt silently');
    const text = await answer.getByRole('figure', { name: 'What the model was given', exact: true }).innerText();
    assert.match(text, /^system \d+ · 1 recent turn \(\d+\) · reply reserve [\d,]+/, text);
    // The conversation is listed under the first words of its message.
    await button(`Tell me about ${CHAT_MARKER} tea`, page.getByRole('navigation', { name: 'Conversations', exact: true })).waitFor();
    await screenshot(page, 'chat-03-answer');

    // Regenerate asks the model again and the new answer takes the old one's place.
    const asked = ollama!.requests.filter((r) => r.path === '/api/chat').length;
    await button('Regenerate', answer).click();
    await until(async () => ollama!.requests.filter((r) => r.path === '/api/chat').length > asked && (await button('Send').isVisible()) && (await thread().locator('[aria-busy="true"]').count()) === 0, () => 'Regenerate did not answer again');
    await until(async () => (await answers().count()) === 1 && (await thread().getByRole('article', { name: 'You', exact: true }).count()) === 1, () => 'the regenerated answer did not replace the first');
  });

  step('3b. conversations: search by what was said, rename, delete (asked first)', async () => {
    const list = page.getByRole('navigation', { name: 'Conversations', exact: true });
    await list.getByRole('searchbox', { name: 'Search conversations', exact: true }).fill('echo: Tell me');
    await button(`Tell me about ${CHAT_MARKER} tea`, list).waitFor();
    await list.getByRole('searchbox', { name: 'Search conversations', exact: true }).fill('no such words anywhere');
    await list.getByText('No conversation matches “no such words anywhere”.', { exact: true }).waitFor();
    await list.getByRole('searchbox', { name: 'Search conversations', exact: true }).fill('');
    await button(`Rename Tell me about ${CHAT_MARKER} tea`, list).click();
    const rename = page.getByRole('dialog', { name: 'Rename conversation', exact: true });
    await rename.getByLabel('Title', { exact: true }).fill('Tea notes');
    await button('Save', rename).click();
    await button('Tea notes', list).waitFor();
    await page.getByRole('heading', { name: 'Tea notes', level: 1 }).waitFor();
    await button('Delete Tea notes', list).click();
    const confirm = page.getByRole('dialog', { name: 'Delete conversation?', exact: true });
    await button('Cancel', confirm).click();
    await button('Tea notes', list).waitFor();
    // Export as Markdown: a download of what was said.
    const [download] = await Promise.all([page.waitForEvent('download'), list.getByRole('link', { name: 'Export Tea notes as Markdown', exact: true }).click()]);
    const markdown = await readFile((await download.path())!, 'utf8');
    assert.ok(markdown.includes(`Tell me about ${CHAT_MARKER} tea`) && markdown.includes('echo:'), markdown);
    // Delete, Undo, delete again.
    await button('Delete Tea notes', list).click();
    await button('Delete', confirm).click();
    await button('Tea notes', list).waitFor({ state: 'detached' });
    await page.getByText('“Tea notes” moved to the trash.', { exact: true }).waitFor();
    await button('Undo').click();
    await button('Tea notes', list).waitFor();
    // Not the open conversation now: its buttons show when the pointer is on it.
    await button('Tea notes', list).hover();
    await button('Delete Tea notes', list).click();
    await button('Delete', confirm).click();
    await button('Tea notes', list).waitFor({ state: 'detached' });
    // The deleted conversations: restore one, then delete it for good (asked first).
    await button('Deleted conversations', list).click();
    const trash = list.getByRole('list', { name: 'Deleted conversations', exact: true });
    await trash.getByText('Tea notes', { exact: true }).waitFor();
    await button('Restore Tea notes', trash).click();
    await list.getByText('No deleted conversations.', { exact: true }).waitFor();
    await button('Back to conversations', list).click();
    await button('Tea notes', list).waitFor();
    await button('Tea notes', list).hover();
    await button('Delete Tea notes', list).click();
    await button('Delete', confirm).click();
    await button('Deleted conversations', list).click();
    await button('Delete Tea notes for good', trash).click();
    const forever = page.getByRole('dialog', { name: 'Delete for good?', exact: true });
    await button('Delete for good', forever).click();
    await list.getByText('No deleted conversations.', { exact: true }).waitFor();
    await button('Back to conversations', list).click();
    await button('New chat', list).waitFor();
    assert.equal(await button('Tea notes', list).count(), 0);
  });

  step('4. a proposed memory, approved in the memory panel, is used in a new conversation', async () => {
    const panel = page.getByRole('region', { name: 'Memories', exact: true });
    if (!(await panel.isVisible())) await button('Memories').click();
    const propose = panel.getByRole('checkbox', { name: 'Let the assistant propose memories after its answers', exact: true });
    if (!(await propose.isChecked())) await propose.click();
    await until(() => propose.isChecked(), () => 'memory proposals did not turn on');
    await newChat();
    await ask(`Remember: ${FACT}.`);
    const proposed = panel.getByRole('list', { name: 'Proposed', exact: true });
    await proposed.getByText(MEMORY_TEXT, { exact: true }).waitFor({ timeout: ANSWER_WAIT });
    await button(/^Approve The user's zanzibarquokka/, proposed).click();
    await panel.getByRole('list', { name: 'Remembered', exact: true }).getByText(MEMORY_TEXT, { exact: true }).waitFor();
    await screenshot(page, 'chat-04-memory');

    await newChat();
    // From the keyboard this time: Enter sends.
    const answer = await ask(`Is my ${MEMORY_MARKER} generator safe at noon?`, 'enter');
    const bar = await answer.getByRole('figure', { name: 'What the model was given', exact: true }).innerText();
    assert.match(bar, /memories 1 \(\d+\)/, `the budget bar counts the memory: ${bar}`);
    const chats = ollama!.requests.filter((r) => r.path === '/api/chat').map((r) => r.body as { messages: { role: string; content: string }[] });
    // The turn itself, not the memory proposal that follows it (whose transcript quotes the question).
    const last = chats.filter((b) => b.messages.at(-1)?.content === `Is my ${MEMORY_MARKER} generator safe at noon?`).at(-1)!;
    const system = last.messages.find((m) => m.role === 'system')?.content ?? '';
    assert.ok(system.includes(MEMORY_TEXT), `the approved memory reached the model in the new conversation: ${system}`);

    // By hand: add, edit (in its dialog), forget.
    const remembered = panel.getByRole('list', { name: 'Remembered', exact: true });
    await panel.getByLabel('Remember something', { exact: true }).fill('Prefers short answers');
    await button('Add', panel).click();
    await remembered.getByText('Prefers short answers', { exact: true }).waitFor();
    await button('Edit Prefers short answers', remembered).click();
    const edit = page.getByRole('dialog', { name: 'Memory', exact: true });
    await edit.getByRole('textbox', { name: 'Memory', exact: true }).fill('Prefers very short answers');
    await edit.getByLabel('Forget it on (optional)', { exact: true }).fill('2099-12-31');
    await button('Save', edit).click();
    const item = remembered.getByRole('listitem').filter({ hasText: 'Prefers very short answers' });
    await item.getByText(/until Dec 31, 2099/).waitFor();
    await button('Forget Prefers very short answers', remembered).click();
    await remembered.getByText('Prefers very short answers', { exact: true }).waitFor({ state: 'detached' });
    await remembered.getByText(MEMORY_TEXT, { exact: true }).waitFor();
    // Its provenance opens the conversation it came from.
    await remembered.getByRole('listitem').filter({ hasText: MEMORY_TEXT }).getByRole('button', { name: /^from a conversation/ }).click();
    await page.getByRole('heading', { name: `Remember: ${FACT}.`, level: 1 }).waitFor();
  });

  step('5. a file put in the vault is cited, and the citation opens it in the vault browser', async () => {
    // Into a folder, so that opening it from the chat has somewhere to go.
    await button('Files', sections()).click();
    await button('New folder').click();
    const create = page.getByRole('dialog', { name: 'New folder', exact: true });
    await create.getByLabel('Folder name', { exact: true }).fill(FOLDER);
    await button('Create', create).click();
    await button(FOLDER, page.getByRole('table', { name: 'Files', exact: true })).click();
    await page.getByRole('heading', { name: FOLDER, level: 1 }).waitFor();
    const local = join(work, FILE_NAME);
    await writeFile(local, FILE_TEXT);
    await page.getByLabel('Choose files to upload', { exact: true }).setInputFiles(local);
    await page.getByRole('table', { name: 'Files', exact: true }).getByText(FILE_NAME, { exact: true }).waitFor();
    // Back to the root: the citation must find the folder by itself.
    await button('Vault', page.getByRole('navigation', { name: 'Breadcrumbs', exact: true })).click();
    await page.getByRole('table', { name: 'Files', exact: true }).getByText(FILE_NAME, { exact: true }).waitFor({ state: 'detached' });

    await openChat();
    await newChat();
    // Indexing follows the upload; ask until the answer cites the file (a few seconds at most).
    let citation: Locator | null = null;
    await until(
      async () => {
        const answer = await ask(`How is the ${FILE_MARKER} pump primed?`);
        const button = answer.getByRole('button', { name: `Open ${FILE_NAME} in the vault`, exact: true });
        if ((await button.count()) === 0) return false;
        citation = button;
        return true;
      },
      () => 'no answer cited the file',
      60_000,
      1000,
    );
    const bar = await budgets().last().innerText();
    assert.match(bar, /vault 1 excerpt \(\d+\)/, bar);
    await page.getByText(/^Answers can cite 1 file of your vault \((1 passage|\d+ passages)\)\.$/).waitFor();
    await screenshot(page, 'chat-05-citation');
    await citation!.click();
    // The vault browser, in the file's folder, with focus on the file.
    await page.getByRole('heading', { name: FOLDER, level: 1 }).waitFor();
    let now = '';
    await until(async () => (now = await focused(page)) === `link "Download ${FILE_NAME}"`, () => `focus is on ${now}, not on the cited file`);
    assert.equal(await thread().isVisible(), false, 'the chat is hidden while the file is shown');
    await screenshot(page, 'chat-05-opened');
    // Back in Chat, the conversation is where it was.
    await openChat();
    await thread().getByText(/^Open the red valve for ten seconds/).waitFor();
    // The "[1]" in the answer's text opens the file too.
    await button(`Source 1: ${FILE_NAME}`, answers().last()).click();
    await page.getByRole('heading', { name: FOLDER, level: 1 }).waitFor();
    await until(async () => (now = await focused(page)) === `link "Download ${FILE_NAME}"`, () => `focus is on ${now}, not on the cited file`);
    await openChat();
  });

  step('6. Stop ends the answer while the model is still talking, and keeps what came', async () => {
    const panel = await openModelsTab();
    await useChatModel(panel, 'stall:latest (Ollama)');
    await closeSettings();
    await openChat();
    await newChat();
    const closedBefore = ollama!.closedByClient;
    await composer().fill(`Stall on ${CHAT_MARKER}`);
    await button('Send').click();
    const live = thread().locator('[aria-busy="true"]');
    // The first word arrives while the answer is still open: it streams.
    await until(async () => (await live.count()) === 1 && /echo:/.test(await live.innerText()), () => 'the first word did not stream in');
    await button('Stop').click();
    await button('Send').waitFor();
    await until(() => ollama!.closedByClient > closedBefore, () => 'the server did not stop its call to the model');
    await page.getByText('Stopped. What came so far is kept.', { exact: true }).waitFor();
    const kept = answers().last();
    await kept.getByText('Answer cut short', { exact: true }).waitFor();
    assert.match(await kept.innerText(), /echo:/);
    await screenshot(page, 'chat-06-stopped');

    // From the keyboard: Enter sends, Escape in the message box stops.
    const closedThen = ollama!.closedByClient;
    await composer().fill(`Stall again on ${CHAT_MARKER}`);
    await composer().press('Enter');
    await until(async () => (await live.count()) === 1 && /echo:/.test(await live.innerText()), () => 'the second answer did not stream in');
    await composer().press('Escape');
    await button('Send').waitFor();
    await until(() => ollama!.closedByClient > closedThen, () => 'Escape did not stop the call to the model');
  });

  step('6b. a model that fails mid-answer: the error is said, the question and what came are kept', async () => {
    const panel = await openModelsTab();
    await useChatModel(panel, 'broken:latest (Ollama)');
    await closeSettings();
    await openChat();
    await newChat();
    await composer().fill(`Break on ${CHAT_MARKER}`);
    await button('Send').click();
    await page.getByRole('alert').filter({ hasText: /model provider reported an error|unexpected EOF/ }).waitFor();
    await button('Send').waitFor();
    await thread().getByRole('article', { name: 'You', exact: true }).getByText(`Break on ${CHAT_MARKER}`, { exact: true }).waitFor();
    const kept = answers().last();
    await kept.getByText('Answer cut short', { exact: true }).waitFor();
    assert.match(await kept.innerText(), /^ASSISTANT\s+echo: Break/i);
    // A message larger than the model's whole window: refused with a clear error, and kept.
    const again0 = await openModelsTab();
    await useChatModel(again0, 'tiny:latest (Ollama)');
    await closeSettings();
    await openChat();
    await newChat();
    const huge = `${CHAT_MARKER} ` + 'lorem ipsum dolor sit amet '.repeat(2000);
    await composer().fill(huge);
    await button('Send').click();
    await page.getByRole('alert').filter({ hasText: 'This message is larger than the model can read at once' }).waitFor();
    await until(async () => (await thread().getByRole('article', { name: 'You', exact: true }).count()) === 1, () => 'the too-large message is not kept');
    // A question left without an answer can be answered again (here: refused again, as clearly).
    await page.getByRole('alert').filter({ hasText: 'This message is larger' }).waitFor();
    const asked = ollama!.requests.filter((r) => r.path === '/api/chat').length;
    await button('Answer again', thread().getByRole('article', { name: 'You', exact: true })).click();
    await button('Send').waitFor();
    await page.getByRole('alert').filter({ hasText: 'This message is larger than the model can read at once' }).waitFor();
    assert.equal(ollama!.requests.filter((r) => r.path === '/api/chat').length, asked, 'nothing too large was sent to the model');
    // Markup in a message is text, never markup (and breaks no CSP rule: the page errors are checked at the end).
    await newChat();
    const markup = await ask('<img src=x onerror="alert(1)"><script>alert(2)</script>');
    await markup.getByText('echo: <img src=x onerror="alert(1)"><script>alert(2)</script>', { exact: true }).waitFor();
    assert.equal(await thread().locator('img, script').count(), 0, 'markup in a message became elements');
    // The page and the server are fine: the next question is answered.
    const again = await openModelsTab();
    await useChatModel(again, 'tiny:latest (Ollama)');
    await closeSettings();
    await openChat();
    const answer = await ask('Still there?');
    await answer.getByText('echo: Still there?', { exact: true }).waitFor();
  });

  step('6c. Settings → Models: download a model into the Ollama, then delete it (its name typed first)', async () => {
    const panel = await openModelsTab();
    const pull = panel.getByRole('region', { name: 'Download a model', exact: true });
    await pull.getByLabel('Download with', { exact: true }).selectOption({ label: 'Ollama (by name)' });
    await pull.getByLabel('Model name', { exact: true }).fill('llama3.2:1b');
    await button('Download', pull).click();
    await pull.getByRole('status').filter({ hasText: 'llama3.2:1b downloaded' }).waitFor();
    assert.ok(ollama!.models.some((m) => m.name === 'llama3.2:1b'), 'the Ollama has the model');
    const table = panel.getByRole('table', { name: /^Models of Ollama/ });
    await table.getByRole('rowheader', { name: /^llama3\.2:1b/ }).waitFor();

    await button('Delete llama3.2:1b', table).click();
    const confirm = page.getByRole('dialog', { name: 'Delete model?', exact: true });
    const remove = button('Delete', confirm);
    assert.equal(await remove.isDisabled(), true, 'Delete waits for the name');
    await confirm.getByLabel('Type llama3.2:1b to confirm', { exact: true }).fill('llama3.2:1');
    assert.equal(await remove.isDisabled(), true, 'a wrong name does not delete');
    await confirm.getByLabel('Type llama3.2:1b to confirm', { exact: true }).fill('llama3.2:1b');
    await remove.click();
    await table.getByRole('rowheader', { name: /^llama3\.2:1b/ }).waitFor({ state: 'detached' });
    assert.ok(!ollama!.models.some((m) => m.name === 'llama3.2:1b'), 'the Ollama no longer has it');
    await closeSettings();
  });

  step('6d. Lock while the model is answering: the answer stops, the page locks, and after unlocking the question is there', async () => {
    const panel = await openModelsTab();
    await useChatModel(panel, 'stall:latest (Ollama)');
    await closeSettings();
    await openChat();
    await newChat();
    const closedBefore = ollama!.closedByClient;
    await composer().fill(`Lock during ${CHAT_MARKER}`);
    await button('Send').click();
    const live = thread().locator('[aria-busy="true"]');
    await until(async () => (await live.count()) === 1 && /echo:/.test(await live.innerText()), () => 'the answer did not start');
    await button('Lock', page.getByRole('banner')).click();
    await page.getByRole('heading', { name: 'Unlock', exact: true }).waitFor();
    await until(() => ollama!.closedByClient > closedBefore, () => 'locking did not stop the call to the model');
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await button('Unlock').click();
    await button('Lock', page.getByRole('banner')).waitFor({ timeout: 60_000 });
    await openChat();
    const list = page.getByRole('navigation', { name: 'Conversations', exact: true });
    await button(`Lock during ${CHAT_MARKER}`, list).click();
    await thread().getByRole('article', { name: 'You', exact: true }).getByText(`Lock during ${CHAT_MARKER}`, { exact: true }).waitFor();
    const again = await openModelsTab();
    await useChatModel(again, 'tiny:latest (Ollama)');
    await closeSettings();
  });

  step('7. a provider on another machine is refused without opt-in, and shown when allowed', async () => {
    const panel = await openModelsTab();
    // ::ffff:127.0.0.1 is this machine in fact, but not a loopback address by the provider's
    // rule: it stands for a remote Ollama without sending anything off the device.
    const remote = ollama!.url.replace('127.0.0.1', '[::ffff:127.0.0.1]');
    const section = panel.getByRole('region', { name: 'Provider', exact: true });
    await section.getByLabel('Server address', { exact: true }).fill(remote);
    await section.getByRole('checkbox', { name: 'Allow a provider on another machine', exact: true }).uncheck();
    await button('Save', section).click();
    await section.getByRole('alert').filter({ hasText: /another machine/ }).waitFor();
    await useProvider(panel, 'Ollama', remote, true);
    await section.getByText(/is on another machine\. Conversations leave this device\./).waitFor();
    await closeSettings();
    await openChat();
    await page.getByRole('note').filter({ hasText: /another machine, in the clear/ }).waitFor();
    await screenshot(page, 'chat-07-remote');
  });

  step('7b. the Ollama goes away: a clear error, the question kept, the page fine', async () => {
    await ollama!.close();
    await openChat();
    await newChat();
    await composer().fill(`Anyone there about ${CHAT_MARKER}?`);
    await button('Send').click();
    await page.getByRole('alert').filter({ hasText: /cannot be reached/ }).waitFor({ timeout: 60_000 });
    await button('Send').waitFor();
    await thread().getByRole('article', { name: 'You', exact: true }).getByText(`Anyone there about ${CHAT_MARKER}?`, { exact: true }).waitFor();
    await screenshot(page, 'chat-07b-down');
  });

  step('8. Settings → Models: import the tiny GGUF from its path, make it the chat model, and chat with it', async () => {
    const panel = await openModelsTab();
    await useProvider(panel, 'On this device (imported GGUF files)');
    const importing = panel.getByRole('region', { name: 'Import a GGUF file', exact: true });
    await importing.getByLabel('Path to the GGUF file', { exact: true }).fill(GGUF);
    await button('Import', importing).click();
    await importing.getByRole('status').filter({ hasText: 'llama-2-tiny-random imported' }).waitFor({ timeout: ANSWER_WAIT });
    const table = panel.getByRole('table', { name: /^Models of This device/ });
    const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /llama-2-tiny-random/ }) });
    await row.waitFor();
    const cells = await row.getByRole('cell').allInnerTexts();
    assert.match(cells[0]!, /\d(\.\d)? MB/, `size shown: ${cells.join(' | ')}`);
    assert.match(cells[1]!, /llama/i, `family shown: ${cells.join(' | ')}`);
    assert.match(cells[3]!, /\d[\d,]* tokens/, `context length shown: ${cells.join(' | ')}`);
    await useChatModel(panel, /^llama-2-tiny-random \(This device\)$/);
    await screenshot(page, 'chat-08-models');
    await closeSettings();

    await openChat();
    await newChat();
    // It streams: text shows while the answer is still open (the tiny model writes up to the
    // reply reserve, 1,024 tokens, which takes seconds on two cores).
    await composer().fill(`Say something about ${CHAT_MARKER}`);
    await button('Send').click();
    const live = thread().locator('[aria-busy="true"]');
    let seen = '';
    await until(async () => (await live.count()) === 1 && (seen = (await live.innerText()).replace(/^ASSISTANT\s*/i, '').trim()).length > 0 && seen !== 'Answering…', () => 'no text streamed in before the answer ended', ANSWER_WAIT);
    await until(async () => (await button('Send').isVisible()) && (await live.count()) === 0, () => 'the answer did not end', ANSWER_WAIT);
    const answer = answers().last();
    const full = await answer.innerText();
    assert.ok(full.length > seen.length, `the answer grew after the first text (${seen.length} → ${full.length} characters)`);
    const bar = budgets().last();
    const text = await bar.innerText();
    assert.match(text, /system \d/, text);
    assert.match(text, /1 recent turn \(\d+\)/, text);
    assert.match(text, /reply reserve [\d,]+/, text);
    await screenshot(page, 'chat-08-embedded');
  }, { alone: true, skip: NO_GGUF });

  step('8b. Settings → Models: download a GGUF by address with live progress, pause, resume; cancel another', async () => {
    slow = await startSlowServer(GGUF);
    const panel = await openModelsTab();
    const pull = panel.getByRole('region', { name: 'Download a model', exact: true });
    await pull.getByLabel('Download with', { exact: true }).selectOption({ label: 'This device (a GGUF address)' });
    await pull.getByLabel('Address of the GGUF file', { exact: true }).fill(`${slow.url}/tiny.gguf`);
    await pull.getByLabel('Name (optional)', { exact: true }).fill('tiny-pulled');
    await button('Download', pull).click();
    const bar = pull.getByRole('progressbar', { name: 'Download progress of tiny-pulled', exact: true });
    const percent = async () => Number((await bar.getAttribute('aria-valuenow')) ?? -1);
    await until(async () => (await percent()) >= 10, () => 'no progress shown');
    await button('Pause', pull).click();
    await pull.getByText('Paused', { exact: true }).waitFor();
    await until(() => slow!.requests[0]?.closedEarly === true, () => 'pausing did not close the download');
    const paused = await percent();
    assert.ok(paused > 0 && paused < 100, `paused at ${paused} %`);
    await button('Resume', pull).click();
    await pull.getByRole('status').filter({ hasText: 'tiny-pulled downloaded' }).waitFor({ timeout: 30_000 });
    const resumed = slow.requests[1];
    assert.ok(resumed !== undefined && /^bytes=[1-9]\d*-$/.test(resumed.range ?? ''), `the download resumed where it stopped: ${JSON.stringify(slow.requests)}`);
    await panel.getByRole('table', { name: /^Models of This device/ }).getByRole('rowheader', { name: /^tiny-pulled/ }).waitFor();

    await pull.getByLabel('Name (optional)', { exact: true }).fill('tiny-cancelled');
    await button('Download', pull).click();
    const second = pull.getByRole('progressbar', { name: 'Download progress of tiny-cancelled', exact: true });
    await until(async () => Number((await second.getAttribute('aria-valuenow')) ?? -1) > 0, () => 'no progress on the second download');
    await button('Cancel download', pull).click();
    await pull.getByRole('status').filter({ hasText: 'Download cancelled' }).waitFor();
    const left = (await page.evaluate("fetch('/api/v1/models/pulls').then((r) => r.json())")) as { pulls: { name: string }[] };
    assert.deepEqual(left.pulls, [], 'nothing of the cancelled download is kept');
    await screenshot(page, 'chat-08b-download');
    await closeSettings();
  }, { alone: true, skip: NO_GGUF });

  step('8c. a 360 px wide screen: Chat fits without scrolling sideways', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await openChat();
      await composer().waitFor();
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
      await button('New chat').waitFor();
      await screenshot(page, 'chat-08c-narrow');
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
    // The dark theme, for the eye (artifacts/screens), on a short conversation with a citation.
    await button(`How is the ${FILE_MARKER} pump primed?`, page.getByRole('navigation', { name: 'Conversations', exact: true })).click();
    await thread().getByRole('article').first().waitFor();
    // Chat was mounted afresh since this answer streamed (the lock of step 6d): its budget bar
    // comes from the report stored with the answer.
    const stored = await answers().last().getByRole('figure', { name: 'What the model was given', exact: true }).innerText();
    assert.match(stored, /vault 1 excerpt \(\d+\)/, stored);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'chat-08c-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  }, { alone: true });

  step('9. nothing typed, remembered or indexed is on disk in plaintext, in the URL, the title or the browser\'s storage', async () => {
    const hits = await findInFiles(home, [CHAT_MARKER, MEMORY_MARKER, FILE_MARKER]);
    assert.deepEqual(hits, [], `plaintext found under the data folder: ${JSON.stringify(hits)}`);
    const kept = (await page.evaluate('JSON.stringify([location.href, document.title, { ...localStorage }, { ...sessionStorage }])')) as string;
    for (const marker of [CHAT_MARKER, MEMORY_MARKER, FILE_MARKER]) assert.ok(!kept.includes(marker), `${marker} in the page's URL, title or storage: ${kept}`);
  });

  step('10. the decoy vault has its own assistant: none of the real vault\'s conversations, memories or model', async () => {
    await button('Lock', page.getByRole('banner')).click();
    await page.getByLabel('Passphrase', { exact: true }).fill(DECOY_PASSPHRASE);
    await button('Unlock').click();
    await button('Lock', page.getByRole('banner')).waitFor({ timeout: 60_000 });
    await openChat();
    await page.getByText('No conversations yet.', { exact: true }).waitFor();
    await page.getByText('No model yet: import a GGUF or point to your Ollama.', { exact: true }).waitFor();
    const panel = page.getByRole('region', { name: 'Memories', exact: true });
    if (!(await panel.isVisible())) await button('Memories').click();
    await panel.getByText('Nothing remembered yet.', { exact: true }).waitFor();
    const shown = await page.locator('body').innerText();
    for (const marker of [CHAT_MARKER, MEMORY_MARKER, FILE_MARKER]) assert.ok(!shown.includes(marker), `${marker} shown in the decoy vault`);
    await screenshot(page, 'chat-10-decoy');
  });

  step('11. no uncaught errors or CSP violations during the walk', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
  });
});
