// bot-summary.js — <${BotSummary} conversation=${c} />: what the bot tried before it handed the
// conversation over (conversation.bot_summary, kept by chalicelib/bot at handoff): the reason, the
// customer's question and last message, the articles it showed, the flow it was in and what it had
// collected — at the top of the conversation, so the agent never asks the customer to repeat.
// Nothing for a conversation the bot never held or ended itself (resolved, abandoned).
import { html } from "./html.js";
import { label, t } from "./i18n.js";

export function BotSummary({ conversation }) {
  const s = conversation && conversation.bot_summary;
  if (!s || conversation.bot_status !== "handed_off") return null;
  const flow = s.flow;
  const slots = flow && flow.slots ? Object.entries(flow.slots) : [];
  return html`<details class="bot-summary" open data-testid="bot-summary" data-reason=${s.reason}>
    <summary><strong>${t("botsum.title")}</strong> · <span data-testid="bot-summary-reason">${label("botsum.reason", s.reason)}</span></summary>
    <dl>
      ${s.question ? html`<dt>${t("botsum.question")}</dt><dd data-testid="bot-summary-question">${s.question}</dd>` : null}
      ${s.last_message && s.last_message !== s.question ? html`<dt>${t("botsum.last")}</dt><dd>${s.last_message}</dd>` : null}
      <dt>${t("botsum.articles")}</dt>
      <dd data-testid="bot-summary-articles">${(s.articles_shown || []).length
        ? (s.articles_shown || []).map((a, i) => html`${i ? ", " : ""}<a key=${a.article_id} href=${`#/kb/${encodeURIComponent(a.article_id)}`}>${a.title}</a>`)
        : t("botsum.none")}</dd>
      ${flow ? html`<dt>${t("botsum.flow")}</dt><dd data-testid="bot-summary-flow">${flow.flow_id} → ${flow.step_id}${slots.length
        ? ` (${slots.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")})` : ""}</dd>`
        : (s.flows_run || []).length ? html`<dt>${t("botsum.flow")}</dt><dd data-testid="bot-summary-flow">${s.flows_run.join(", ")}</dd>` : null}
    </dl>
  </details>`;
}
