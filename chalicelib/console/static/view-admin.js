// view-admin.js — #/admin: skill groups, agents (groups, capacity, proficiency), routing rules (an
// ordered list editor with a JSON fallback and a dry run), team canned replies, and channel accounts
// (credentials written to Secrets Manager; the form never shows a stored value back). Every section
// on one page; #/admin/<section> scrolls to it. Forms show the API's field errors (ui.js useForm).
import { api } from "./api.js";
import { list, when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { label, t } from "./i18n.js";
import { CHANNELS, ErrorText, Field, Loading, Select, channelName, confirmDialog, errorText, toast, useAlive, useForm, useId } from "./ui.js";

const TABS = ["groups", "agents", "rules", "canned", "channels"];
const TYPES = ["chat", "email", "voice"];

// Loads `url` (and reloads on demand): {data, error, reload}.
function useLoad(url) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useAlive();
  const reload = async () => {
    try {
      const data = await api.get(url);
      if (alive.current) setState({ data, error: null });
    } catch (err) {
      if (alive.current) setState({ data: null, error: err });
    }
  };
  useEffect(() => { reload(); }, [url]);
  return { ...state, reload };
}

function Loaded({ load, children }) {
  if (load.error) return html`<${ErrorText} err=${load.error} />`;
  if (!load.data) return html`<${Loading} />`;
  return children(load.data);
}

// ---- skill groups ------------------------------------------------------------------------------------
function Groups() {
  const load = useLoad("/admin/groups");
  const empty = { group_id: "", name: "", description: "", lead_id: "" };
  const [g, setG] = useState(empty);
  const ids = { id: useId("g"), name: useId("g"), desc: useId("g"), lead: useId("g") };
  const form = useForm(async () => {
    await api.put(`/admin/groups/${encodeURIComponent(g.group_id.trim())}`, {
      name: g.name.trim(), description: g.description.trim(), lead_id: g.lead_id.trim() || null,
    });
    toast(t("adm.saved"), "ok");
    setG(empty);
    await load.reload();
  });
  const input = (k, attrs = {}) => html`<input id=${ids[attrs.idKey || k]} value=${g[k]} onInput=${(e) => setG({ ...g, [k]: e.target.value })} ...${attrs.rest || {}} />`;
  return html`<${Loaded} load=${load}>${(data) => html`<div class="grid2" data-testid="admin-groups">
    <table class="data">
      <thead><tr>${[t("adm.id"), t("adm.name"), t("adm.description"), t("adm.lead"), ""].map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
      <tbody>${(data.items || []).map((x) => html`<tr key=${x.group_id} data-id=${x.group_id}>
        <td>${x.group_id}</td><td>${x.name || ""}</td><td>${x.description || ""}</td><td>${x.lead_id || ""}</td>
        <td><button class="btn small" onClick=${() => setG({ group_id: x.group_id, name: x.name || "", description: x.description || "", lead_id: x.lead_id || "" })}>${t("adm.edit")}</button></td>
      </tr>`)}</tbody>
    </table>
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
      <h2>${t("adm.groupNew")}</h2>
      <${Field} label=${t("adm.id")} id=${ids.id} error=${form.errors.group_id}>${input("group_id", { idKey: "id", rest: { required: true, pattern: "[a-z0-9_-]{2,40}", maxlength: "40", "data-testid": "group-id" } })}<//>
      <${Field} label=${t("adm.name")} id=${ids.name} error=${form.errors.name}>${input("name", { rest: { required: true, maxlength: "80", "data-testid": "group-name" } })}<//>
      <${Field} label=${t("adm.description")} id=${ids.desc} error=${form.errors.description}>${input("description", { idKey: "desc", rest: { maxlength: "500" } })}<//>
      <${Field} label=${t("adm.lead")} id=${ids.lead} error=${form.errors.lead_id}>${input("lead_id", { idKey: "lead", rest: { maxlength: "128" } })}<//>
      <div><button class="btn primary" type="submit" data-testid="group-save" disabled=${form.busy}>${t("adm.save")}</button></div>
    </form>
  </div>`}<//>`;
}

// ---- agents ------------------------------------------------------------------------------------------
function AgentRow({ a }) {
  const [groups, setGroups] = useState((a.groups || []).join(", "));
  const [caps, setCaps] = useState(Object.fromEntries(TYPES.map((k) => [k, String((a.capacity || {})[k] ?? 0)])));
  const [prof, setProf] = useState(Object.entries(a.proficiency || {}).map(([g, v]) => `${g}:${v}`).join(", "));
  const form = useForm(async () => {
    const proficiency = {};
    for (const part of list(prof)) {
      const [g, v] = part.split(":");
      if (g && v) proficiency[g.trim()] = Number(v);
    }
    await api.put(`/admin/agents/${encodeURIComponent(a.agent_id)}`, {
      groups: list(groups),
      capacity: Object.fromEntries(TYPES.map((k) => [k, Number(caps[k] || 0)])),
      proficiency,
    });
    toast(t("adm.saved"), "ok");
  });
  const errors = Object.entries(form.errors);
  return html`<tr data-id=${a.agent_id}>
    <td>${a.display_name || a.agent_id} <small class="muted">${a.agent_id}</small></td>
    <td>${a.role ? label("role", a.role) : ""}</td>
    <td><input value=${groups} aria-label=${`${t("adm.groups")}: ${a.agent_id}`} size="18" onInput=${(e) => setGroups(e.target.value)} /></td>
    <td><div class="row">${TYPES.map((k) => html`<label class="row" key=${k}><small class="muted">${k}</small>
      <input type="number" min="0" max="50" class="num" size="3" aria-label=${`${t("adm.capacity")} ${k}: ${a.agent_id}`}
        value=${caps[k]} onInput=${(e) => setCaps({ ...caps, [k]: e.target.value })} /></label>`)}</div></td>
    <td><input value=${prof} aria-label=${`${t("adm.proficiency")}: ${a.agent_id}`} size="18" onInput=${(e) => setProf(e.target.value)} /></td>
    <td class="num muted">${TYPES.map((k) => (a.load || {})[k] || 0).join("/")}</td>
    <td><button class="btn small" disabled=${form.busy} onClick=${() => form.submit()}>${t("adm.save")}</button>
      ${errors.length ? html`<small class="field-error" role="alert">${errors.map(([k, v]) => `${k}: ${v}`).join("; ")}</small>` : null}</td>
  </tr>`;
}

function Agents() {
  const load = useLoad("/admin/agents");
  const heads = [t("adm.agent"), t("adm.role"), t("adm.groups"), t("adm.capacity"), t("adm.proficiency"), t("adm.load"), ""];
  return html`<${Loaded} load=${load}>${(data) => html`<div class="card" data-testid="admin-agents"><table class="data">
    <thead><tr>${heads.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
    <tbody>${(data.items || []).map((a) => html`<${AgentRow} key=${a.agent_id} a=${a} />`)}</tbody>
  </table></div>`}<//>`;
}

// ---- routing rules -----------------------------------------------------------------------------------
// A rule as the editor shows it (text fields) and back; conditions the editor does not show
// (tier, tags, business hours) are kept as they were.
function toDraft(rule) {
  const m = rule.match || {};
  const a = rule.actions || {};
  return {
    rule,
    rule_id: rule.rule_id || "", name: rule.name || "", enabled: rule.enabled !== false, stop: !!rule.stop_processing,
    keywords: (m.keywords || []).join(", "), regex: m.regex || "", channels: (m.channels || []).join(", "),
    group: a.group || "", priority: a.priority || "", bot: !!a.bot_first, tags: (a.tags || []).join(", "),
  };
}

function fromDraft(d) {
  const match = { ...(d.rule.match || {}) };
  for (const [k, v] of [["keywords", list(d.keywords)], ["channels", list(d.channels)]]) {
    if (v.length) match[k] = v; else delete match[k];
  }
  if (d.regex.trim()) match.regex = d.regex.trim(); else delete match.regex;
  const actions = { ...(d.rule.actions || {}), tags: list(d.tags) };
  for (const [k, v] of [["group", d.group], ["priority", d.priority]]) {
    if (v) actions[k] = v; else delete actions[k];
  }
  if (d.bot) actions.bot_first = true; else delete actions.bot_first;
  return { ...d.rule, rule_id: d.rule_id.trim(), name: d.name.trim(), enabled: d.enabled, stop_processing: d.stop, match, actions };
}

function RuleEditor({ d, index, count, set, move, remove, groupIds, errors }) {
  const m = d.rule.match || {};
  const others = Object.keys(m).filter((k) => !["keywords", "regex", "channels"].includes(k));
  const on = (k) => (e) => set({ ...d, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const ids = { kw: useId("r"), re: useId("r"), ch: useId("r"), g: useId("r"), p: useId("r"), tg: useId("r") };
  const err = (field) => errors[`rules.${index}.${field}`];
  return html`<li class="rule" data-id=${d.rule_id}>
    <div class="rule-head">
      <strong class="num">${index + 1}.</strong>
      <input value=${d.rule_id} required pattern="[a-z0-9_-]+" size="14" aria-label=${t("adm.id")} onInput=${on("rule_id")} />
      <input value=${d.name} required size="24" aria-label=${t("adm.name")} onInput=${on("name")} />
      <label class="row"><input type="checkbox" checked=${d.enabled} onChange=${on("enabled")} />${t("adm.rules.enabled")}</label>
      <label class="row"><input type="checkbox" checked=${d.stop} onChange=${on("stop")} />${t("adm.rules.stop")}</label>
      <span class="spacer"></span>
      <button type="button" class="btn small ghost" disabled=${index === 0} aria-label=${t("adm.rules.up")} title=${t("adm.rules.up")} onClick=${() => move(index, -1)}>↑</button>
      <button type="button" class="btn small ghost" disabled=${index === count - 1} aria-label=${t("adm.rules.down")} title=${t("adm.rules.down")} onClick=${() => move(index, 1)}>↓</button>
      <button type="button" class="btn small danger" onClick=${() => remove(index)}>${t("adm.remove")}</button>
    </div>
    <div class="rule-body">
      <${Field} label=${t("adm.rules.keywords")} id=${ids.kw} error=${err("match.keywords")}><input id=${ids.kw} value=${d.keywords} onInput=${on("keywords")} /><//>
      <${Field} label=${t("adm.rules.regex")} id=${ids.re} error=${err("match.regex")}><input id=${ids.re} value=${d.regex} onInput=${on("regex")} /><//>
      <${Field} label=${t("adm.rules.channels")} id=${ids.ch} error=${err("match.channels")}><input id=${ids.ch} value=${d.channels} onInput=${on("channels")} /><//>
      <${Field} label=${t("adm.rules.group")} id=${ids.g} error=${err("actions.group")}>
        <${Select} id=${ids.g} value=${d.group} options=${[["", "—"], ...groupIds.map((g) => [g, g])]} onChange=${(v) => set({ ...d, group: v })} /><//>
      <${Field} label=${t("adm.rules.priority")} id=${ids.p} error=${err("actions.priority")}>
        <${Select} id=${ids.p} value=${d.priority} options=${[["", "—"], ...["low", "normal", "high", "urgent"].map((p) => [p, t(`priority.${p}`)])]}
          onChange=${(v) => set({ ...d, priority: v })} /><//>
      <${Field} label=${t("adm.rules.tags")} id=${ids.tg} error=${err("actions.tags")}><input id=${ids.tg} value=${d.tags} onInput=${on("tags")} /><//>
      <label class="row"><input type="checkbox" checked=${d.bot} onChange=${on("bot")} />${t("adm.rules.bot")}</label>
    </div>
    ${others.length ? html`<small class="muted">${t("adm.rules.other", { keys: others.join(", ") })}</small>` : null}
  </li>`;
}

function RulesEditor({ saved, groupIds, reload }) {
  const [drafts, setDrafts] = useState((saved.rules || []).map(toDraft));
  const [json, setJson] = useState(null); // the JSON text while in JSON mode
  const [testText, setTestText] = useState("");
  const [testChannel, setTestChannel] = useState("web");
  const [result, setResult] = useState("");
  const ids = { text: useId("rt"), channel: useId("rt") };
  const current = () => (json !== null ? JSON.parse(json) : drafts.map(fromDraft));
  const form = useForm(async (rules) => {
    try {
      await api.put("/admin/routing-rules", { version: saved.version || 0, rules });
    } catch (err) {
      if (err.status === 409) reload();
      throw err;
    }
    toast(t("adm.saved"), "ok");
    reload();
  });
  const parse = () => {
    try { return current(); } catch (err) { toast(t("adm.rules.badJson", { message: err.message }), "error"); return null; }
  };
  const move = (i, dir) => { const next = [...drafts]; [next[i], next[i + dir]] = [next[i + dir], next[i]]; setDrafts(next); };
  const remove = (i) => setDrafts(drafts.filter((_, k) => k !== i));
  const add = () => setDrafts([...drafts, toDraft({ rule_id: `rule-${drafts.length + 1}`, name: "", enabled: true, match: {}, actions: { tags: [] } })]);
  const toggle = () => {
    if (json === null) {
      setJson(JSON.stringify(drafts.map(fromDraft), null, 2));
      return;
    }
    try {
      setDrafts(JSON.parse(json).map(toDraft));
      setJson(null);
    } catch (err) { toast(t("adm.rules.badJson", { message: err.message }), "error"); }
  };
  const dryRun = async (e) => {
    e.preventDefault();
    const rules = parse();
    if (!rules) return;
    try {
      const res = await api.post("/admin/routing-rules/test", { text: testText, channel: testChannel, rules });
      const d = res.decision || {};
      setResult(t("adm.rules.result", {
        group: d.group || "—", priority: d.priority || "—", bot: d.bot_first ? "✓" : "—",
        tags: (d.tags || []).join(", ") || "—", matched: (d.matched || []).join(", ") || "—",
      }));
    } catch (err) { setResult(errorText(err)); }
  };
  return html`<div class="stack" data-testid="admin-rules">
    <div class="row">
      <small class="muted">${t("adm.rules.version", { version: saved.version || 0, when: saved.updated_at ? when(saved.updated_at) : "—", who: saved.updated_by || "—" })}</small>
      <span class="spacer"></span>
      <button type="button" class="btn" data-testid="rules-json-toggle" onClick=${toggle}>${json !== null ? t("adm.rules.list") : t("adm.rules.json")}</button>
      ${json === null ? html`<button type="button" class="btn" onClick=${add}>${t("adm.rules.add")}</button>` : null}
      <button type="button" class="btn primary" data-testid="rules-save" disabled=${form.busy}
        onClick=${() => { const rules = parse(); if (rules) form.submit(rules); }}>${t("adm.save")}</button>
    </div>
    ${json === null
      ? html`<ol class="list">${drafts.length ? drafts.map((d, i) => html`<${RuleEditor} key=${i} d=${d} index=${i} count=${drafts.length}
          set=${(next) => setDrafts(drafts.map((x, k) => (k === i ? next : x)))} move=${move} remove=${remove} groupIds=${groupIds} errors=${form.errors} />`)
        : html`<li class="muted">${t("adm.rules.none")}</li>`}</ol>`
      : html`<textarea class="code" spellcheck="false" aria-label="JSON" data-testid="rules-json" value=${json} onInput=${(e) => setJson(e.target.value)}></textarea>`}
    ${Object.keys(form.errors).length ? html`<p class="field-error" role="alert">${Object.entries(form.errors).map(([k, v]) => `${k}: ${v}`).join("; ")}</p>` : null}
    <div class="card"><h2>${t("adm.rules.test")}</h2>
      <form class="row" onSubmit=${dryRun}>
        <${Field} label=${t("adm.rules.testText")} id=${ids.text}><input id=${ids.text} data-testid="rules-test-text" size="30" value=${testText} onInput=${(e) => setTestText(e.target.value)} /><//>
        <${Field} label=${t("adm.rules.testChannel")} id=${ids.channel}>
          <${Select} id=${ids.channel} value=${testChannel} options=${CHANNELS.map((c) => [c, channelName(c)])} onChange=${setTestChannel} /><//>
        <button class="btn" type="submit">${t("adm.rules.testRun")}</button>
      </form>
      <p class="muted" data-testid="rules-test-result" aria-live="polite">${result}</p>
    </div>
  </div>`;
}

function Rules() {
  const rules = useLoad("/admin/routing-rules");
  const groups = useLoad("/admin/groups");
  const both = { data: rules.data && groups.data ? [rules.data, groups.data] : null, error: rules.error || groups.error };
  const reload = () => { rules.reload(); };
  return html`<${Loaded} load=${both}>${([saved, g]) => html`<${RulesEditor} key=${`${saved.version || 0}`} saved=${saved}
    groupIds=${(g.items || []).map((x) => x.group_id)} reload=${reload} />`}<//>`;
}

// ---- canned replies (team) ---------------------------------------------------------------------------
function Canned() {
  const load = useLoad("/canned-replies");
  const empty = { title: "", body: "", shortcut: "", group_id: "all" };
  const [v, setV] = useState(empty);
  const ids = { title: useId("c"), body: useId("c"), shortcut: useId("c"), group: useId("c") };
  const form = useForm(async () => {
    await api.post("/canned-replies", {
      title: v.title.trim(), body: v.body, shortcut: v.shortcut.trim() || null, scope: "team", group_id: v.group_id.trim() || "all",
    });
    toast(t("adm.saved"), "ok");
    setV(empty);
    await load.reload();
  });
  const del = async (r) => {
    if (!(await confirmDialog(t("adm.canned.confirmDelete", { title: r.title || "" }), { ok: t("adm.remove"), danger: true }))) return;
    try {
      await api.del(`/canned-replies/${encodeURIComponent(r.reply_id)}`);
      await load.reload();
    } catch (err) { toast(errorText(err), "error"); }
  };
  const on = (k) => (e) => setV({ ...v, [k]: e.target.value });
  return html`<${Loaded} load=${load}>${(data) => {
    const team = (data.items || []).filter((r) => r.scope === "team");
    return html`<div class="grid2" data-testid="admin-canned">
      <div class="card">${team.length ? html`<ul class="list">${team.map((r) => html`<li class="stack" data-id=${r.reply_id} key=${r.reply_id}>
          <div class="row"><strong>${r.title || ""}</strong>${r.shortcut ? html`<kbd>${r.shortcut}</kbd>` : null}<small class="muted">${r.group_id || ""}</small>
            <span class="spacer"></span><button class="btn small danger" onClick=${() => del(r)}>${t("adm.remove")}</button></div>
          <div class="pre muted">${r.body || ""}</div></li>`)}</ul>`
        : html`<p class="muted">${t("adm.canned.none")}</p>`}</div>
      <form class="card stack" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
        <h2>${t("adm.canned.new")}</h2>
        <${Field} label=${t("adm.canned.title")} id=${ids.title} error=${form.errors.title}>
          <input id=${ids.title} required maxlength="120" data-testid="canned-title" value=${v.title} onInput=${on("title")} /><//>
        <${Field} label=${t("adm.canned.body")} id=${ids.body} error=${form.errors.body}>
          <textarea id=${ids.body} required rows="4" data-testid="canned-body" value=${v.body} onInput=${on("body")}></textarea><//>
        <${Field} label=${t("adm.canned.shortcut")} id=${ids.shortcut} error=${form.errors.shortcut}>
          <input id=${ids.shortcut} maxlength="32" placeholder="/refund" data-testid="canned-shortcut" value=${v.shortcut} onInput=${on("shortcut")} /><//>
        <${Field} label=${t("adm.canned.group")} id=${ids.group} error=${form.errors.group_id}>
          <input id=${ids.group} required maxlength="64" value=${v.group_id} onInput=${on("group_id")} /><//>
        <div><button class="btn primary" type="submit" data-testid="canned-save" disabled=${form.busy}>${t("adm.save")}</button></div>
      </form>
    </div>`;
  }}<//>`;
}

// ---- channel accounts (write-only credentials) -------------------------------------------------------
function ChannelCard({ ch, reload }) {
  const names = ch.known_fields.length ? ch.known_fields : ch.required_fields;
  const [account, setAccount] = useState("default");
  const [values, setValues] = useState({});
  const accountId = useId("ch");
  const form = useForm(async (body) => {
    const res = await api.put(`/admin/channels/${encodeURIComponent(ch.channel)}/${encodeURIComponent(account.trim())}`, body);
    setValues({}); // never keep a secret in the page
    toast(t("adm.ch.written", { channel: ch.channel, account: res.account, fields: res.fields.join(", "), seconds: res.max_age_seconds }), "ok");
    reload();
  });
  const submit = (e) => {
    e.preventDefault();
    const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v));
    if (!Object.keys(body).length) { toast(t("adm.ch.nothing"), "error"); return; }
    form.submit(body);
  };
  return html`<section class="card channel-card" data-channel=${ch.channel}>
    <h2>${channelName(ch.channel)} <small class="muted">${ch.webhook ? ch.secret_name : `${ch.secret_name} · ${t("adm.ch.noWebhook")}`}</small></h2>
    <h3>${t("adm.ch.accounts")}</h3>
    ${ch.accounts.length ? html`<ul class="list">${ch.accounts.map((a) => html`<li data-account=${a.account} key=${a.account}>
        <strong>${a.account}</strong> <small class="muted">${a.fields.join(", ")}</small>
        ${a.missing.length ? html`<div class="error">${t("adm.ch.missing", { fields: a.missing.join(", ") })}</div>` : null}</li>`)}</ul>`
      : html`<p class="muted">${t("adm.ch.none")}</p>`}
    <details><summary>${t("adm.ch.write")}</summary>
      <p class="muted">${t("adm.ch.hint")}</p>
      <form class="stack secret-fields" onSubmit=${submit}>
        <${Field} label=${t("adm.ch.account")} id=${accountId} error=${form.errors.account}>
          <input id=${accountId} required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}" data-testid="channel-account"
            value=${account} onInput=${(e) => setAccount(e.target.value)} /><//>
        ${names.map((f) => html`<${SecretField} key=${f} name=${f} required=${ch.required_fields.includes(f)} value=${values[f] || ""}
          error=${form.errors[f]} onInput=${(v) => setValues({ ...values, [f]: v })} />`)}
        <div><button class="btn primary" type="submit" data-testid="channel-save" disabled=${form.busy}>${t("adm.ch.write")}</button></div>
      </form>
    </details>
  </section>`;
}

function SecretField({ name, required, value, error, onInput }) {
  const id = useId("sec");
  return html`<${Field} label=${required ? `${name} (${t("adm.ch.required")})` : name} id=${id} error=${error}>
    <input id=${id} type="password" autocomplete="new-password" spellcheck="false" maxlength="8192" data-field=${name}
      value=${value} onInput=${(e) => onInput(e.target.value)} /><//>`;
}

function Channels() {
  const load = useLoad("/admin/channels");
  return html`<${Loaded} load=${load}>${(data) => html`<div class="grid-cards" data-testid="admin-channels">
    ${(data.items || []).map((ch) => html`<${ChannelCard} key=${ch.channel} ch=${ch} reload=${load.reload} />`)}</div>`}<//>`;
}

const SECTIONS = { groups: Groups, agents: Agents, rules: Rules, canned: Canned, channels: Channels };

export default function Admin({ route }) {
  useEffect(() => {
    if (TABS.includes(route.id)) {
      const el = document.getElementById(`admin-${route.id}`);
      if (el) el.scrollIntoView();
    }
  }, [route.id]);
  return html`<div class="page">
    <div class="page-head"><h1>${t("adm.title")}</h1>
      <nav class="tabs-admin" aria-label=${t("adm.title")}>
        ${TABS.map((k) => html`<a key=${k} href=${`#/admin/${k}`} class=${k === route.id ? "btn active" : "btn"}>${t(`adm.tab.${k}`)}</a>`)}
      </nav>
    </div>
    ${TABS.map((k) => {
      const Section = SECTIONS[k];
      return html`<section class="stack" id=${`admin-${k}`} key=${k}><h2>${t(`adm.tab.${k}`)}</h2><${Section} /></section>`;
    })}
  </div>`;
}
