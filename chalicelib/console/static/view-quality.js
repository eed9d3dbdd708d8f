// view-quality.js — #/quality/<tab>: quality inspection.
//   mine     (every agent) my scores over a period (GET /me/quality) and my reviewed conversations
//            (GET /me/quality/reviews), each with its form and comment; appeal once
//            (POST /quality/reviews/{id}/appeal) and see the decision.
//   reviews  (supervisors) the review queue, lowest score first (GET /quality/reviews?queue=&reason=:
//            pending or appealed; low score / complaint / negative CSAT / sample), the review form
//            (POST /quality/reviews/{id}) and the decision on an appeal (…/decision).
//   scores   (supervisors) per-agent or per-group scores over a period (GET /reports/quality), and
//            how often the assist panel's suggestions were used (GET /reports/suggestions).
//   rules    (admins edit, supervisors read) the versioned rule set (GET/PUT /admin/quality-rules,
//            409 when someone saved meanwhile: reloaded).
import { allows } from "./app.js";
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { t } from "./i18n.js";
import { ErrorText, Field, Loading, Select, toast, useAlive, useForm, useId } from "./ui.js";

const CRITERIA = ["greeting", "understanding", "solution", "attitude", "compliance"];
const REASONS = ["low_score", "complaint", "negative_csat", "sample"];
const TABS = [
  ["mine", null],
  ["reviews", "supervisor"],
  ["scores", "supervisor"],
  ["rules", "supervisor"],
];

function day(offset = 0) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

function useGet(path, params, deps) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useAlive();
  const load = async () => {
    try {
      const data = await api.get(path, params);
      if (alive.current) setState({ data, error: null });
    } catch (err) {
      if (alive.current) setState({ data: null, error: err });
    }
  };
  useEffect(() => { load(); }, deps);
  return { ...state, reload: load };
}

function Period({ from, to, setFrom, setTo }) {
  const ids = { from: useId("qp"), to: useId("qp") };
  return html`<div class="row">
    <${Field} label=${t("qa.from")} id=${ids.from}><input id=${ids.from} type="date" data-testid="quality-from" value=${from} onInput=${(e) => setFrom(e.target.value)} /><//>
    <${Field} label=${t("qa.to")} id=${ids.to}><input id=${ids.to} type="date" data-testid="quality-to" value=${to} onInput=${(e) => setTo(e.target.value)} /><//>
  </div>`;
}

function Summary({ s }) {
  const rows = [
    ["qa.conversations", s.conversations],
    ["qa.averageScore", s.average_score ?? "—"],
    ["qa.warnings", s.warnings],
    ["qa.firstResponse", s.average_first_response_seconds != null ? `${s.average_first_response_seconds} s` : "—"],
    ["qa.csat", s.average_csat ?? "—"],
    ["qa.reviewed", s.reviewed],
    ["qa.averageReview", s.average_review ?? "—"],
  ];
  return html`<dl class="facts" data-testid="quality-summary">${rows.map(([k, v]) => html`<dt key=${`${k}t`}>${t(k)}</dt>
    <dd key=${`${k}d`} data-testid=${`quality-${k.slice(3)}`}>${String(v ?? 0)}</dd>`)}</dl>`;
}

// A score card: its score, what cost points, the review (form, comment), the appeal and its decision.
function CardView({ card }) {
  const review = card.review;
  const appeal = card.appeal;
  return html`<div class="stack">
    <div class="row">
      <a href=${`#/c/${encodeURIComponent(card.conversation_id)}`} data-testid="card-conversation">${card.conversation_id}</a>
      <span class="chip" data-testid="card-score">${t("qa.score", { score: card.score })}</span>
      ${card.agent_id ? html`<span class="muted">${card.agent_id}</span>` : null}
      ${(card.reasons || []).map((r) => html`<span class="chip" key=${r} data-reason=${r}>${t(`qa.reason.${r}`)}</span>`)}
      ${card.csat != null ? html`<span class="muted">${t("qa.csatIs", { csat: card.csat })}</span>` : null}
    </div>
    ${(card.penalties || []).length
      ? html`<small class="muted">${card.penalties.map((p) => `${p.rule_id} ×${p.count} (−${p.points})`).join(" · ")}</small>`
      : null}
    ${review ? html`<div class="card" data-testid="card-review">
      <strong>${t("qa.reviewTotal", { total: review.total, by: review.by })}</strong>
      <small class="muted">${CRITERIA.map((c) => `${t(`qa.criterion.${c}`)} ${(review.form || {})[c]}`).join(" · ")}</small>
      ${review.comment ? html`<p data-testid="card-review-comment">${review.comment}</p>` : null}
    </div>` : null}
    ${appeal ? html`<div class="card" data-testid="card-appeal" data-decision=${appeal.decision || "pending"}>
      <strong>${t("qa.appealBy", { by: appeal.by, when: when(appeal.at) })}</strong> <span>${appeal.reason}</span>
      <p data-testid="card-appeal-state">${appeal.decision ? t(`qa.decision.${appeal.decision}`) : t("qa.appealPending")}
        ${appeal.comment ? ` — ${appeal.comment}` : ""}</p>
    </div>` : null}
  </div>`;
}

function AppealForm({ card, done }) {
  const [reason, setReason] = useState("");
  const id = useId("qa");
  const form = useForm(async () => {
    await api.post(`/quality/reviews/${encodeURIComponent(card.conversation_id)}/appeal`, { reason: reason.trim() });
    toast(t("qa.appealed"), "ok");
    done();
  });
  return html`<form class="stack" data-testid="appeal-form" onSubmit=${(e) => { e.preventDefault(); if (reason.trim()) form.submit(); }}>
    <${Field} label=${t("qa.appealReason")} id=${id} error=${form.errors.reason} hint=${t("qa.appealOnce")}>
      <textarea id=${id} rows="2" maxlength="2000" required data-testid="appeal-reason" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea><//>
    <div><button class="btn primary" type="submit" data-testid="appeal-submit" disabled=${form.busy}>${t("qa.appeal")}</button></div>
  </form>`;
}

function Mine({ me }) {
  const [from, setFrom] = useState(day(-29));
  const [to, setTo] = useState(day());
  const scores = useGet("/me/quality", { from, to }, [from, to]);
  const reviews = useGet("/me/quality/reviews", {}, []);
  useFeed(["quality.reviewed", "quality.decided"], () => { reviews.reload(); scores.reload(); });
  return html`<div class="grid2">
    <section class="card" data-testid="quality-mine"><h2>${t("qa.myScores")}</h2>
      <${Period} from=${from} to=${to} setFrom=${setFrom} setTo=${setTo} />
      ${scores.error ? html`<${ErrorText} err=${scores.error} />` : scores.data ? html`<${Summary} s=${scores.data} />` : html`<${Loading} />`}
    </section>
    <section class="card"><h2>${t("qa.myReviews")}</h2>
      ${reviews.error ? html`<${ErrorText} err=${reviews.error} />` : !reviews.data ? html`<${Loading} />`
        : reviews.data.items.length
          ? html`<ul class="assist-list" data-testid="my-reviews">${reviews.data.items.map((c) => html`<li key=${c.conversation_id}
              data-testid="my-review" data-id=${c.conversation_id}>
              <${CardView} card=${c} />
              ${!c.appeal && c.agent_id === me.agent_id ? html`<${AppealForm} card=${c} done=${reviews.reload} />` : null}
            </li>`)}</ul>`
          : html`<p class="muted">${t("qa.noReviews")}</p>`}
    </section>
  </div>`;
}

function Marks({ values, set, prefix }) {
  return html`<div class="row">${CRITERIA.map((c) => html`<label key=${c} class="row">${t(`qa.criterion.${c}`)}
    <input type="number" min="0" max="5" step="1" required data-testid=${`${prefix}-${c}`} value=${values[c]}
      onInput=${(e) => set({ ...values, [c]: e.target.value === "" ? "" : Number(e.target.value) })} /></label>`)}</div>`;
}

function ReviewForm({ card, done }) {
  const [marks, setMarks] = useState(Object.fromEntries(CRITERIA.map((c) => [c, 3])));
  const [comment, setComment] = useState("");
  const id = useId("qr");
  const form = useForm(async () => {
    await api.post(`/quality/reviews/${encodeURIComponent(card.conversation_id)}`, { form: marks, comment: comment.trim() });
    toast(t("qa.reviewSaved"), "ok");
    done();
  });
  return html`<form class="stack" data-testid="review-form" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
    <${Marks} values=${marks} set=${setMarks} prefix="review" />
    <${Field} label=${t("qa.comment")} id=${id} error=${form.errors.comment}>
      <textarea id=${id} rows="2" maxlength="2000" data-testid="review-comment" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea><//>
    ${Object.keys(form.errors).length ? html`<p class="field-error" role="alert">${Object.entries(form.errors).map(([k, v]) => `${k}: ${v}`).join("; ")}</p>` : null}
    <div><button class="btn primary" type="submit" data-testid="review-submit" disabled=${form.busy}>${t("qa.submitReview")}</button></div>
  </form>`;
}

function DecisionForm({ card, done }) {
  const [decision, setDecision] = useState("upheld");
  const [marks, setMarks] = useState({ ...Object.fromEntries(CRITERIA.map((c) => [c, 3])), ...((card.review || {}).form || {}) });
  const [comment, setComment] = useState("");
  const ids = { d: useId("qd"), c: useId("qd") };
  const form = useForm(async () => {
    const body = { decision, comment: comment.trim() };
    if (decision === "overturned") body.form = marks;
    await api.post(`/quality/reviews/${encodeURIComponent(card.conversation_id)}/decision`, body);
    toast(t("qa.decided"), "ok");
    done();
  });
  return html`<form class="stack" data-testid="decision-form" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
    <${Field} label=${t("qa.decision")} id=${ids.d}>
      <${Select} id=${ids.d} data-testid="decision-select" value=${decision} onChange=${setDecision}
        options=${["upheld", "overturned"].map((d) => [d, t(`qa.decision.${d}`)])} /><//>
    ${decision === "overturned" ? html`<${Marks} values=${marks} set=${setMarks} prefix="decision" />` : null}
    <${Field} label=${t("qa.comment")} id=${ids.c}>
      <textarea id=${ids.c} rows="2" maxlength="2000" data-testid="decision-comment" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea><//>
    <div><button class="btn primary" type="submit" data-testid="decision-submit" disabled=${form.busy}>${t("qa.decide")}</button></div>
  </form>`;
}

function Reviews() {
  const [queue, setQueue] = useState("pending");
  const [reason, setReason] = useState("");
  const [open, setOpen] = useState(null);
  const list = useGet("/quality/reviews", { queue, reason }, [queue, reason]);
  useFeed(["quality.appealed"], () => list.reload());
  const done = () => { setOpen(null); list.reload(); };
  return html`<section class="card" data-testid="review-queue"><h2>${t("qa.queue")}</h2>
    <div class="row">
      <span class="tabs">${["pending", "appealed"].map((q) => html`<button type="button" key=${q} class=${q === queue ? "btn primary" : "btn"}
        data-testid=${`queue-${q}`} aria-pressed=${String(q === queue)} onClick=${() => setQueue(q)}>${t(`qa.queue.${q}`)}</button>`)}</span>
      <${Select} data-testid="queue-reason" aria-label=${t("qa.reasonFilter")} value=${reason} onChange=${setReason}
        options=${[["", t("qa.reason.all")], ...REASONS.map((r) => [r, t(`qa.reason.${r}`)])]} />
    </div>
    ${list.error ? html`<${ErrorText} err=${list.error} />` : !list.data ? html`<${Loading} />`
      : list.data.items.length
        ? html`<ul class="assist-list">${list.data.items.map((c) => html`<li key=${c.conversation_id} data-testid="queue-item" data-id=${c.conversation_id}>
            <${CardView} card=${c} />
            <div><button type="button" class="btn" data-testid="queue-open" aria-expanded=${String(open === c.conversation_id)}
              onClick=${() => setOpen(open === c.conversation_id ? null : c.conversation_id)}>
              ${queue === "appealed" ? t("qa.decide") : t("qa.review")}</button></div>
            ${open === c.conversation_id
              ? queue === "appealed" ? html`<${DecisionForm} card=${c} done=${done} />` : html`<${ReviewForm} card=${c} done=${done} />`
              : null}
          </li>`)}</ul>`
        : html`<p class="muted" data-testid="queue-empty">${t("qa.queueEmpty")}</p>`}
  </section>`;
}

function Scores() {
  const [by, setBy] = useState("agent");
  const [from, setFrom] = useState(day(-6));
  const [to, setTo] = useState(day());
  const report = useGet("/reports/quality", { by, from, to }, [by, from, to]);
  const accepted = useGet("/reports/suggestions", { from, to }, [from, to]);
  const heads = ["qa.conversations", "qa.averageScore", "qa.warnings", "qa.firstResponse", "qa.csat", "qa.reviewed", "qa.averageReview"];
  return html`<section class="card" data-testid="quality-scores"><h2>${t("qa.scores")}</h2>
    <div class="row">
      <${Select} data-testid="scores-by" aria-label=${t("qa.by")} value=${by} onChange=${setBy}
        options=${[["agent", t("qa.by.agent")], ["group", t("qa.by.group")]]} />
      <${Period} from=${from} to=${to} setFrom=${setFrom} setTo=${setTo} />
    </div>
    ${report.error ? html`<${ErrorText} err=${report.error} />` : !report.data ? html`<${Loading} />`
      : report.data.items.length
        ? html`<table class="data"><thead><tr><th scope="col">${t(`qa.by.${by}`)}</th>${heads.map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
          <tbody>${report.data.items.map((r) => html`<tr key=${r[`${by}_id`]} data-testid="scores-row" data-id=${r[`${by}_id`]}>
            <td>${r[`${by}_id`]}</td>
            ${["conversations", "average_score", "warnings", "average_first_response_seconds", "average_csat", "reviewed", "average_review"]
              .map((k) => html`<td class="num" key=${k} data-key=${k}>${r[k] ?? "—"}</td>`)}
          </tr>`)}</tbody></table>`
        : html`<p class="muted">${t("qa.noScores")}</p>`}
    <h3>${t("qa.acceptance")}</h3>
    ${accepted.error ? html`<${ErrorText} err=${accepted.error} />` : !accepted.data ? html`<${Loading} />`
      : html`<table class="data" data-testid="suggestion-acceptance"><thead><tr>
          ${["qa.acceptance.kind", "qa.acceptance.shown", "qa.acceptance.used", "qa.acceptance.rate"].map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}
        </tr></thead><tbody>${Object.entries(accepted.data.kinds || {}).map(([kind, v]) => html`<tr key=${kind} data-testid="acceptance-row" data-kind=${kind}>
          <td>${t(`assist.kind.${kind}`)}</td><td class="num" data-key="shown">${v.shown}</td><td class="num" data-key="used">${v.used}</td>
          <td class="num" data-key="rate">${v.acceptance_rate == null ? "—" : `${Math.round(v.acceptance_rate * 1000) / 10}%`}</td>
        </tr>`)}</tbody></table>`}
  </section>`;
}

function RulesEditor({ me }) {
  const saved = useGet("/admin/quality-rules", {}, []);
  const [json, setJson] = useState(null);
  const [phrase, setPhrase] = useState({ rule_id: "", severity: "warn", phrases: "" });
  const canEdit = allows(me, "admin");
  useEffect(() => { if (saved.data) setJson(JSON.stringify(saved.data.rules, null, 2)); }, [saved.data]);
  const form = useForm(async () => {
    let rules;
    try {
      rules = JSON.parse(json);
    } catch (err) {
      toast(t("qa.rules.badJson", { message: err.message }), "error");
      return;
    }
    try {
      await api.put("/admin/quality-rules", { version: saved.data.version, rules });
    } catch (err) {
      if (err.status === 409) {
        toast(t("qa.rules.stale"), "error");
        saved.reload();
        return;
      }
      throw err;
    }
    toast(t("qa.rules.saved"), "ok");
    saved.reload();
  });
  const addPhrase = (e) => {
    e.preventDefault();
    try {
      const rules = JSON.parse(json);
      const phrases = phrase.phrases.split(/[\n,，]/).map((x) => x.trim()).filter(Boolean);
      rules.push({ rule_id: phrase.rule_id.trim(), kind: "phrase", severity: phrase.severity, phrases });
      setJson(JSON.stringify(rules, null, 2));
      setPhrase({ rule_id: "", severity: "warn", phrases: "" });
    } catch (err) { toast(t("qa.rules.badJson", { message: err.message }), "error"); }
  };
  if (saved.error) return html`<${ErrorText} err=${saved.error} />`;
  if (!saved.data || json === null) return html`<${Loading} />`;
  const s = saved.data;
  return html`<section class="card stack" data-testid="quality-rules"><h2>${t("qa.rules")}</h2>
    <small class="muted" data-testid="quality-rules-version" data-version=${String(s.version)}>
      ${t("qa.rules.version", { version: s.version, when: s.updated_at ? when(s.updated_at) : "—", who: s.updated_by || "—" })}</small>
    <table class="data"><thead><tr>${["qa.rules.id", "qa.rules.kind", "qa.rules.severity", "qa.rules.what"].map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
      <tbody>${s.rules.map((r) => html`<tr key=${r.rule_id} data-testid="quality-rule" data-id=${r.rule_id}>
        <td><code>${r.rule_id}</code>${r.enabled === false ? ` (${t("qa.rules.off")})` : ""}</td>
        <td>${t(`qa.kind.${r.kind}`)}</td><td>${t(`qa.severity.${r.severity || "warn"}`)}</td>
        <td>${r.phrases ? r.phrases.slice(0, 5).join(", ") + (r.phrases.length > 5 ? ` … (${r.phrases.length})` : "") : r.pattern || (r.seconds ? `${r.seconds} s` : "")}</td>
      </tr>`)}</tbody></table>
    ${canEdit ? html`
      <form class="row" data-testid="quality-phrase-form" onSubmit=${addPhrase}>
        <input placeholder=${t("qa.rules.id")} aria-label=${t("qa.rules.id")} data-testid="phrase-rule-id" required pattern="[a-z0-9][a-z0-9_\\-]*"
          value=${phrase.rule_id} onInput=${(e) => setPhrase({ ...phrase, rule_id: e.target.value })} />
        <${Select} aria-label=${t("qa.rules.severity")} value=${phrase.severity} onChange=${(v) => setPhrase({ ...phrase, severity: v })}
          options=${["warn", "block"].map((x) => [x, t(`qa.severity.${x}`)])} />
        <input size="40" placeholder=${t("qa.rules.phrases")} aria-label=${t("qa.rules.phrases")} data-testid="phrase-rule-phrases" required
          value=${phrase.phrases} onInput=${(e) => setPhrase({ ...phrase, phrases: e.target.value })} />
        <button class="btn" type="submit" data-testid="phrase-rule-add">${t("qa.rules.addPhrase")}</button>
      </form>
      <textarea class="code" rows="14" spellcheck="false" aria-label="JSON" data-testid="quality-rules-json" value=${json} onInput=${(e) => setJson(e.target.value)}></textarea>
      ${Object.keys(form.errors).length ? html`<p class="field-error" role="alert" data-testid="quality-rules-errors">${Object.entries(form.errors).map(([k, v]) => `${k}: ${v}`).join("; ")}</p>` : null}
      <div><button class="btn primary" type="button" data-testid="quality-rules-save" disabled=${form.busy} onClick=${() => form.submit()}>${t("qa.rules.save")}</button></div>`
      : html`<p class="muted">${t("qa.rules.readOnly")}</p>`}
  </section>`;
}

export default function Quality({ me, route, navigate }) {
  const tabs = TABS.filter(([, role]) => allows(me, role));
  const tab = tabs.some(([name]) => name === route.id) ? route.id : "mine";
  return html`<div class="page" data-testid="quality-view" data-tab=${tab}>
    <div class="page-head"><h1>${t("qa.title")}</h1>
      <span class="tabs">${tabs.map(([name]) => html`<button type="button" key=${name} class=${name === tab ? "btn primary" : "btn"}
        data-testid=${`quality-tab-${name}`} aria-pressed=${String(name === tab)} onClick=${() => navigate(`#/quality/${name}`)}>${t(`qa.tab.${name}`)}</button>`)}</span>
    </div>
    ${tab === "mine" ? html`<${Mine} me=${me} />` : null}
    ${tab === "reviews" ? html`<${Reviews} />` : null}
    ${tab === "scores" ? html`<${Scores} />` : null}
    ${tab === "rules" ? html`<${RulesEditor} me=${me} />` : null}
  </div>`;
}
