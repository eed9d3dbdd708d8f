// view-kb.js — #/kb: the knowledge base. Everyone may read; supervisors and admins edit.
//   #/kb               article list (filter by status, language, text)
//   #/kb/new           a new article (the "no answer" list prefills it from a cluster's questions)
//   #/kb/<article_id>  editor (Markdown with live preview), versions (diff, roll back), publish /
//                      archive, the article's figures
//   #/kb/synonyms      the admins' synonym groups (PUT with the version read; 409 → reload)
//   #/kb/unanswered    questions the KB had no answer for, grouped by meaning
// Every save is a new version (PUT /kb/articles/{id} with the head version: 409 if it moved).
import { api } from "./api.js";
import { list, when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { label, t } from "./i18n.js";
import { Markdown } from "./markdown.js";
import { ErrorText, Field, Loading, Select, confirmDialog, errorText, toast, useAlive, useForm, useId } from "./ui.js";

const STATUSES = ["draft", "published", "archived"];
const LANGUAGES = ["zh-CN", "zh-TW", "en"];
const FIGURES = ["views", "shown", "bot_answers", "helpful", "not_helpful", "handoffs"];
const RANK = { agent: 1, supervisor: 2, admin: 3 };
const can = (me, role) => (RANK[me && me.role] || 0) >= RANK[role];

// The questions of a "no answer" cluster, handed to the editor of #/kb/new (one use).
let seed = null;

function useLoad(url) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useAlive();
  const reload = async () => {
    if (!url) return;
    try {
      const data = await api.get(url);
      if (alive.current) setState({ data, error: null });
    } catch (err) {
      if (alive.current) setState({ data: null, error: err });
    }
  };
  useEffect(() => { reload(); }, [url]);
  return { ...state, reload, setData: (data) => setState({ data, error: null }) };
}

function StatusChip({ article }) {
  const pending = article.status === "published" && article.published_version && article.published_version !== article.version;
  return html`<span class=${`chip kb-status kb-${article.status}`} data-testid="kb-status" data-status=${article.status}>
    ${label("kb.st", article.status)}${pending ? ` · ${t("kb.pendingChanges")}` : ""}</span>`;
}

// ---- the list ------------------------------------------------------------------------------------
function matches(a, text) {
  if (!text) return true;
  const hay = [a.title, ...(a.questions || []), ...(a.tags || [])].join("\n").toLowerCase();
  return text.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

function Articles({ me, route, navigate }) {
  const [status, setStatus] = useState(route.query.status || "");
  const [language, setLanguage] = useState(route.query.language || "");
  const [text, setText] = useState("");
  const load = useLoad(`/kb/articles${status ? `?status=${status}` : ""}`);
  const items = ((load.data && load.data.items) || []).filter((a) => (!language || a.language === language) && matches(a, text.trim()));
  const ids = { status: useId("kb"), language: useId("kb"), text: useId("kb") };
  return html`<section class="stack" data-testid="kb-articles">
    <div class="row kb-filters">
      <${Field} label=${t("kb.status")} id=${ids.status}>
        <${Select} id=${ids.status} data-testid="kb-filter-status" value=${status} onChange=${setStatus}
          options=${[["", t("kb.all")], ...STATUSES.map((s) => [s, label("kb.st", s)])]} /><//>
      <${Field} label=${t("kb.language")} id=${ids.language}>
        <${Select} id=${ids.language} data-testid="kb-filter-language" value=${language} onChange=${setLanguage}
          options=${[["", t("kb.all")], ...LANGUAGES.map((l) => [l, label("kb.lang", l)])]} /><//>
      <${Field} label=${t("kb.search")} id=${ids.text}>
        <input id=${ids.text} type="search" data-testid="kb-filter-text" placeholder=${t("kb.searchPlaceholder")}
          value=${text} onInput=${(e) => setText(e.target.value)} /><//>
      ${can(me, "supervisor") ? html`<div><button class="btn primary" data-testid="kb-new" onClick=${() => navigate("#/kb/new")}>${t("kb.new")}</button></div>` : null}
    </div>
    ${load.error ? html`<${ErrorText} err=${load.error} />` : !load.data ? html`<${Loading} />` : !items.length
      ? html`<p class="empty" data-testid="kb-empty">${t("kb.none")}</p>`
      : html`<table class="data">
        <thead><tr>${["kb.title", "kb.language", "kb.status", "kb.tags", "kb.updated"].map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
        <tbody>${items.map((a) => html`<tr key=${a.article_id} data-testid="kb-row" data-id=${a.article_id}>
          <td><a href=${`#/kb/${encodeURIComponent(a.article_id)}`} data-testid="kb-open">${a.title}</a>
            ${(a.questions || []).length ? html`<small class="muted"> · ${t("kb.questionsCount", { n: a.questions.length })}</small>` : null}</td>
          <td>${label("kb.lang", a.language)}</td>
          <td><${StatusChip} article=${a} /></td>
          <td>${(a.tags || []).join(", ")}</td>
          <td>${when(a.updated_at)} <small class="muted">${a.updated_by || ""}</small></td>
        </tr>`)}</tbody>
      </table>`}
  </section>`;
}

// ---- the editor ----------------------------------------------------------------------------------
function formOf(a) {
  return {
    title: a.title || "",
    body: a.body || "",
    language: a.language || "zh-CN",
    questions: (a.questions || []).join("\n"),
    tags: (a.tags || []).join(", "),
    skill_groups: (a.skill_groups || []).join(", "),
    channels: (a.channels || []).join(", "),
  };
}

function payload(f) {
  return {
    title: f.title.trim(),
    body: f.body,
    language: f.language,
    questions: f.questions.split("\n").map((s) => s.trim()).filter(Boolean),
    tags: list(f.tags),
    skill_groups: list(f.skill_groups),
    channels: list(f.channels),
  };
}

function Editor({ me, article, onSaved, navigate }) {
  const editor = can(me, "supervisor") && (!article || article.status !== "archived");
  const [f, setF] = useState(() => {
    if (article) return formOf(article);
    const start = formOf({ questions: seed ? seed.questions : [], title: seed ? seed.title : "" });
    seed = null;
    return start;
  });
  const [status, setStatus] = useState("draft");
  const ids = Object.fromEntries(["title", "body", "language", "questions", "tags", "groups", "channels", "status"].map((k) => [k, useId("kbe")]));
  const form = useForm(async (publish) => {
    if (!article) {
      const res = await api.post("/kb/articles", { ...payload(f), status: publish || status === "published" ? "published" : "draft" });
      toast(t("kb.created"), "ok");
      navigate(`#/kb/${encodeURIComponent(res.article_id)}`);
      return;
    }
    const res = await api.put(`/kb/articles/${encodeURIComponent(article.article_id)}`, {
      ...payload(f), version: article.version, ...(publish ? { status: "published" } : {}),
    });
    toast(res.version === article.version ? t("kb.unchanged") : t("kb.saved", { version: res.version }), "ok");
    await onSaved();
  });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const save = (publish) => (e) => { e.preventDefault(); form.submit(publish); };
  return html`<form class="card stack kb-editor" data-testid="kb-editor" onSubmit=${save(false)}>
    <${Field} label=${t("kb.title")} id=${ids.title} error=${form.errors.title}>
      <input id=${ids.title} data-testid="kb-title" maxlength="200" required readonly=${!editor} value=${f.title} onInput=${set("title")} /><//>
    <div class="kb-md">
      <${Field} label=${t("kb.body")} id=${ids.body} error=${form.errors.body} hint=${t("kb.bodyHint")}>
        <textarea id=${ids.body} data-testid="kb-body" rows="14" maxlength="20000" readonly=${!editor} value=${f.body} onInput=${set("body")}></textarea><//>
      <div class="kb-preview"><div class="muted">${t("kb.preview")}</div><${Markdown} text=${f.body} testid="kb-preview" /></div>
    </div>
    <div class="row">
      <${Field} label=${t("kb.language")} id=${ids.language} error=${form.errors.language}>
        <${Select} id=${ids.language} data-testid="kb-language" value=${f.language} disabled=${!editor}
          onChange=${(v) => setF({ ...f, language: v })} options=${LANGUAGES.map((l) => [l, label("kb.lang", l)])} /><//>
      ${!article && editor ? html`<${Field} label=${t("kb.status")} id=${ids.status}>
        <${Select} id=${ids.status} data-testid="kb-status-select" value=${status} onChange=${setStatus}
          options=${["draft", "published"].map((s) => [s, label("kb.st", s)])} /><//>` : null}
    </div>
    <${Field} label=${t("kb.questions")} id=${ids.questions} error=${form.errors.questions} hint=${t("kb.questionsHint")}>
      <textarea id=${ids.questions} data-testid="kb-questions" rows="4" readonly=${!editor} value=${f.questions} onInput=${set("questions")}></textarea><//>
    <div class="row">
      <${Field} label=${t("kb.tags")} id=${ids.tags} error=${form.errors.tags}>
        <input id=${ids.tags} data-testid="kb-tags" readonly=${!editor} value=${f.tags} onInput=${set("tags")} /><//>
      <${Field} label=${t("kb.groups")} id=${ids.groups} error=${form.errors.skill_groups}>
        <input id=${ids.groups} data-testid="kb-groups" readonly=${!editor} value=${f.skill_groups} onInput=${set("skill_groups")} /><//>
      <${Field} label=${t("kb.channels")} id=${ids.channels} error=${form.errors.channels} hint=${t("kb.channelsHint")}>
        <input id=${ids.channels} data-testid="kb-channels" readonly=${!editor} value=${f.channels} onInput=${set("channels")} /><//>
    </div>
    ${editor ? html`<div class="row">
      <button type="submit" class="btn primary" data-testid="kb-save" disabled=${form.busy}>${article ? t("kb.saveVersion") : t("kb.create")}</button>
      ${article ? html`<button type="button" class="btn" data-testid="kb-save-publish" disabled=${form.busy} onClick=${save(true)}>${t("kb.savePublish")}</button>` : null}
    </div>` : null}
  </form>`;
}

// ---- versions, diff, roll back -------------------------------------------------------------------
function Diff({ diff }) {
  const names = Object.keys(diff.fields || {});
  if (!names.length) return html`<p class="muted" data-testid="kb-diff">${t("kb.diffNone")}</p>`;
  return html`<div class="stack" data-testid="kb-diff">${names.map((name) => {
    const d = diff.fields[name];
    return html`<div key=${name} data-field=${name}><strong>${label("kb.field", name)}</strong>
      ${d.unified !== undefined ? html`<pre class="pre kb-unified">${d.unified.split("\n").map((line, i) => html`<span key=${i}
          class=${line.startsWith("+") && !line.startsWith("+++") ? "kb-add" : line.startsWith("-") && !line.startsWith("---") ? "kb-del" : ""}>${`${line}\n`}</span>`)}</pre>`
        : d.added !== undefined ? html`<div>${d.added.map((x) => html`<span class="chip kb-add" key=${`+${x}`}>+ ${x}</span>`)}
            ${d.removed.map((x) => html`<span class="chip kb-del" key=${`-${x}`}>− ${x}</span>`)}</div>`
        : html`<div><span class="kb-del">${String(d.before ?? "—")}</span> → <span class="kb-add">${String(d.after ?? "—")}</span></div>`}
    </div>`;
  })}</div>`;
}

function Versions({ me, article, onChanged }) {
  const load = useLoad(`/kb/articles/${encodeURIComponent(article.article_id)}/versions`);
  const [pick, setPick] = useState({ from: "", to: "" });
  const [diff, setDiff] = useState(null);
  const versions = (load.data && load.data.versions) || [];
  const compare = async (from, to) => {
    try {
      setDiff(await api.get(`/kb/articles/${encodeURIComponent(article.article_id)}/diff`, { from, to }));
    } catch (err) {
      toast(errorText(err), "error");
    }
  };
  useEffect(() => {
    if (versions.length >= 2 && !pick.from) setPick({ from: String(versions[1].version), to: String(versions[0].version) });
  }, [versions.length]);
  const rollback = async (version) => {
    if (!(await confirmDialog(t("kb.rollbackConfirm", { version })))) return;
    try {
      const res = await api.post(`/kb/articles/${encodeURIComponent(article.article_id)}/rollback`, { version });
      toast(t("kb.rolledBack", { version, head: res.version }), "ok");
      setDiff(null);
      setPick({ from: "", to: "" });
      await onChanged();
    } catch (err) {
      toast(errorText(err), "error");
    }
  };
  const options = versions.map((v) => [String(v.version), `v${v.version}`]);
  return html`<section class="card stack" data-testid="kb-versions"><h2>${t("kb.versions")}</h2>
    ${load.error ? html`<${ErrorText} err=${load.error} />` : !load.data ? html`<${Loading} />` : html`
      <table class="data"><tbody>${versions.map((v) => html`<tr key=${v.version} data-testid="kb-version" data-version=${v.version}>
        <td>v${v.version}</td>
        <td>${label("kb.action", v.action)}${v.rolled_back_to ? ` ← v${v.rolled_back_to}` : ""}
          <small class="muted"> ${(v.changes || []).map((c) => label("kb.field", c)).join(", ")}</small></td>
        <td><small>${when(v.saved_at)} · ${v.saved_by || ""}</small></td>
        <td>${can(me, "supervisor") && v.version !== article.version
          ? html`<button class="btn small" data-testid="kb-rollback" onClick=${() => rollback(v.version)}>${t("kb.rollback")}</button>` : null}</td>
      </tr>`)}</tbody></table>
      ${versions.length >= 2 ? html`<div class="row">
        <${Select} data-testid="kb-diff-from" aria-label=${t("kb.diffFrom")} value=${pick.from} onChange=${(v) => setPick({ ...pick, from: v })} options=${options} />
        <span>→</span>
        <${Select} data-testid="kb-diff-to" aria-label=${t("kb.diffTo")} value=${pick.to} onChange=${(v) => setPick({ ...pick, to: v })} options=${options} />
        <button class="btn small" data-testid="kb-diff-show" disabled=${!pick.from || !pick.to} onClick=${() => compare(pick.from, pick.to)}>${t("kb.diffShow")}</button>
      </div>` : null}
      ${diff ? html`<${Diff} diff=${diff} />` : null}`}
  </section>`;
}

function Stats({ article }) {
  const load = useLoad(`/kb/articles/${encodeURIComponent(article.article_id)}/stats`);
  const total = (load.data && load.data.total) || {};
  return html`<section class="card" data-testid="kb-stats"><h2>${t("kb.stats")}</h2>
    ${load.error ? html`<${ErrorText} err=${load.error} />` : !load.data ? html`<${Loading} />` : html`
      <table class="data"><tbody>${FIGURES.map((k) => html`<tr key=${k} data-figure=${k}><th scope="row">${t(`kb.fig.${k}`)}</th>
        <td class="num" data-testid=${`kb-fig-${k}`}>${String(total[k] || 0)}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function Article({ me, id, navigate }) {
  const load = useLoad(`/kb/articles/${encodeURIComponent(id)}`);
  const a = load.data;
  const act = async (what) => {
    if (what === "archive" && !(await confirmDialog(t("kb.archiveConfirm", { title: a.title }), { danger: true }))) return;
    try {
      await api.post(`/kb/articles/${encodeURIComponent(id)}/${what}`);
      toast(t(what === "publish" ? "kb.published" : "kb.archived"), "ok");
      await load.reload();
    } catch (err) {
      toast(errorText(err), "error");
    }
  };
  if (load.error) return html`<${ErrorText} err=${load.error} />`;
  if (!a) return html`<${Loading} />`;
  const editor = can(me, "supervisor");
  return html`<div class="grid2" data-testid="kb-article" data-id=${a.article_id} data-version=${a.version}>
    <div class="stack">
      <div class="row">
        <${StatusChip} article=${a} />
        <small class="muted" data-testid="kb-head-version">v${a.version}${a.published_version ? ` · ${t("kb.liveVersion", { version: a.published_version })}` : ""}</small>
        ${editor && a.status !== "archived" && !(a.status === "published" && a.published_version === a.version)
          ? html`<button class="btn" data-testid="kb-publish" onClick=${() => act("publish")}>${t("kb.publish")}</button>` : null}
        ${editor && a.status !== "archived" ? html`<button class="btn danger" data-testid="kb-archive" onClick=${() => act("archive")}>${t("kb.archive")}</button>` : null}
      </div>
      <${Editor} key=${a.version} me=${me} article=${a} onSaved=${load.reload} navigate=${navigate} />
    </div>
    <div class="stack">
      <${Versions} key=${a.version} me=${me} article=${a} onChanged=${load.reload} />
      ${editor ? html`<${Stats} key=${a.version} article=${a} />` : null}
    </div>
  </div>`;
}

// ---- synonyms ------------------------------------------------------------------------------------
// One group a line, words separated by "=" or commas: "快递 = 物流 = 包裹".
const groupsText = (groups) => groups.map((g) => g.join(" = ")).join("\n");
const parseGroups = (text) => text.split("\n").map((line) => line.split(/[=,，、]/).map((w) => w.trim()).filter(Boolean)).filter((g) => g.length);

function Synonyms({ me }) {
  const load = useLoad("/kb/synonyms");
  const [text, setText] = useState(null);
  const [stale, setStale] = useState(false);
  const id = useId("kbs");
  const admin = can(me, "admin");
  useEffect(() => { if (load.data && text === null) setText(groupsText(load.data.groups || [])); }, [load.data]);
  const form = useForm(async () => {
    const groups = parseGroups(text || "");
    const bad = groups.find((g) => new Set(g).size < 2);
    if (bad) {
      toast(t("kb.synTooShort", { group: bad.join(" = ") }), "error");
      return;
    }
    try {
      const saved = await api.put("/kb/synonyms", { version: load.data.version, groups });
      load.setData(saved);
      setText(groupsText(saved.groups || []));
      toast(t("kb.synSaved", { n: groups.length }), "ok");
    } catch (err) {
      if (err.status === 409) {
        setStale(true);
        return;
      }
      throw err;
    }
  });
  const reload = async () => {
    setStale(false);
    setText(null);
    await load.reload();
  };
  if (load.error) return html`<${ErrorText} err=${load.error} />`;
  if (!load.data || text === null) return html`<${Loading} />`;
  return html`<form class="card stack" data-testid="kb-synonyms" data-version=${load.data.version}
      onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
    <p class="muted">${t("kb.synHelp")}</p>
    ${load.data.updated_at ? html`<small class="muted">${t("kb.synUpdated", { when: when(load.data.updated_at), who: load.data.updated_by || "" })}</small>` : null}
    <${Field} label=${t("kb.synGroups")} id=${id} error=${form.errors.groups}>
      <textarea id=${id} class="code" data-testid="kb-synonyms-text" readonly=${!admin} placeholder="快递 = 物流 = 包裹"
        value=${text} onInput=${(e) => setText(e.target.value)}></textarea><//>
    ${stale ? html`<p class="error" role="alert" data-testid="kb-synonyms-stale">${t("kb.synStale")}
      <button type="button" class="btn small" data-testid="kb-synonyms-reload" onClick=${reload}>${t("kb.reload")}</button></p>` : null}
    ${admin ? html`<div><button class="btn primary" type="submit" data-testid="kb-synonyms-save" disabled=${form.busy || stale}>${t("kb.synSave")}</button></div>`
      : html`<small class="muted">${t("kb.synAdminOnly")}</small>`}
  </form>`;
}

// ---- questions without an answer ---------------------------------------------------------------------
function Unanswered({ me, navigate }) {
  const [days, setDays] = useState("7");
  const load = useLoad(`/kb/unanswered?days=${days}`);
  const id = useId("kbu");
  const draft = (c) => {
    seed = { title: c.question, questions: c.examples && c.examples.length ? c.examples : [c.question] };
    navigate("#/kb/new");
  };
  const clusters = (load.data && load.data.clusters) || [];
  return html`<section class="stack" data-testid="kb-unanswered">
    <div class="row">
      <${Field} label=${t("kb.unDays")} id=${id}>
        <${Select} id=${id} data-testid="kb-unanswered-days" value=${days} onChange=${setDays}
          options=${["1", "7", "30", "90"].map((d) => [d, t("kb.unDaysN", { n: d })])} /><//>
      ${load.data ? html`<small class="muted">${t("kb.unTotal", { n: load.data.questions, groups: clusters.length })}</small>` : null}
    </div>
    ${load.error ? html`<${ErrorText} err=${load.error} />` : !load.data ? html`<${Loading} />` : !clusters.length
      ? html`<p class="empty" data-testid="kb-unanswered-none">${t("kb.unNone")}</p>`
      : html`<div class="grid-cards">${clusters.map((c, i) => html`<div class="card stack" key=${i} data-testid="kb-cluster" data-count=${c.count}>
          <h2>${t("kb.unAsked", { n: c.count, question: c.question })}</h2>
          <ul class="list">${(c.examples || []).map((q) => html`<li key=${q}>${q}</li>`)}</ul>
          <small class="muted">${t("kb.unLast", { when: when(c.last_at) })}</small>
          ${can(me, "supervisor") ? html`<div><button class="btn small" data-testid="kb-cluster-draft" onClick=${() => draft(c)}>${t("kb.unDraft")}</button></div>` : null}
        </div>`)}</div>`}
  </section>`;
}

// ---- the page ------------------------------------------------------------------------------------
const TABS = [["", "kb.tab.articles", "agent"], ["synonyms", "kb.tab.synonyms", "supervisor"], ["unanswered", "kb.tab.unanswered", "supervisor"]];

export default function KnowledgeBase({ me, route, navigate }) {
  const id = route.id || "";
  const tab = ["synonyms", "unanswered"].includes(id) ? id : "";
  let body;
  if (id === "synonyms" && can(me, "supervisor")) body = html`<${Synonyms} me=${me} />`;
  else if (id === "unanswered" && can(me, "supervisor")) body = html`<${Unanswered} me=${me} navigate=${navigate} />`;
  else if (id === "new" && can(me, "supervisor")) body = html`<${Editor} me=${me} article=${null} navigate=${navigate} onSaved=${() => {}} />`;
  else if (id && !["synonyms", "unanswered", "new"].includes(id)) body = html`<${Article} me=${me} id=${id} navigate=${navigate} />`;
  else if (id) body = html`<p class="empty">${t("view.unavailable")}</p>`;
  else body = html`<${Articles} me=${me} route=${route} navigate=${navigate} />`;
  return html`<div class="page" data-testid="kb-page">
    <div class="page-head"><h1>${t("kb.heading")}</h1>
      <nav class="tabs-admin" aria-label=${t("kb.heading")}>
        ${TABS.filter(([, , role]) => can(me, role)).map(([k, key]) => html`<a key=${k} href=${k ? `#/kb/${k}` : "#/kb"}
          data-testid=${`kb-tab-${k || "articles"}`} class=${k === tab ? "btn active" : "btn"}>${t(key)}</a>`)}
      </nav>
    </div>
    ${body}
  </div>`;
}
