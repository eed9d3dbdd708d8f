// view-admin.js — #/admin: skill groups, agents (groups, capacity, proficiency), routing rules (an
// ordered list editor with a JSON fallback and a dry run), team canned replies, and channel accounts
// (credentials written to Secrets Manager; the form never shows a stored value back).
import { fill, h, when } from "./dom.js";
import { channelName } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import { confirmAction, ensureCss, errorText, field, select } from "./views-kit.js";

const TABS = ["groups", "agents", "rules", "canned", "channels"];
const TYPES = ["chat", "email", "voice"];
const list = (text) => text.split(/[,，\n]/).map((s) => s.trim()).filter(Boolean);

addStrings({
  en: {
    "adm.title": "Admin",
    "adm.tab.groups": "Skill groups", "adm.tab.agents": "Agents", "adm.tab.rules": "Routing rules",
    "adm.tab.canned": "Canned replies", "adm.tab.channels": "Channel accounts",
    "adm.save": "Save", "adm.saved": "Saved.", "adm.add": "Add", "adm.remove": "Remove", "adm.edit": "Edit",
    "adm.id": "ID", "adm.name": "Name", "adm.description": "Description", "adm.lead": "Team lead (agent id)",
    "adm.groupNew": "New or edited group",
    "adm.groups": "Groups", "adm.capacity": "Capacity", "adm.proficiency": "Proficiency (group:1-5, …)",
    "adm.role": "Role", "adm.agent": "Agent", "adm.load": "Load",
    "adm.rules.version": "Version {version}, saved {when} by {who}",
    "adm.rules.none": "No rules yet: the intent model decides.",
    "adm.rules.add": "Add rule", "adm.rules.up": "Move up", "adm.rules.down": "Move down",
    "adm.rules.enabled": "Enabled", "adm.rules.stop": "Stop after this rule",
    "adm.rules.keywords": "Keywords (any of, comma-separated)", "adm.rules.regex": "Regular expression",
    "adm.rules.channels": "Channels (any of)", "adm.rules.group": "→ Group", "adm.rules.priority": "→ Priority",
    "adm.rules.bot": "Bot first", "adm.rules.tags": "→ Tags",
    "adm.rules.json": "Edit as JSON", "adm.rules.list": "Edit as list", "adm.rules.badJson": "The JSON does not parse: {message}",
    "adm.rules.test": "Dry run", "adm.rules.testText": "Message text", "adm.rules.testChannel": "Channel",
    "adm.rules.testRun": "Test the draft", "adm.rules.result": "Group: {group} · priority: {priority} · bot first: {bot} · tags: {tags} · matched: {matched}",
    "adm.rules.other": "Other conditions kept: {keys}",
    "adm.canned.title": "Title", "adm.canned.body": "Text ({{customer.name}} variables allowed)",
    "adm.canned.shortcut": "Shortcut (e.g. /refund)", "adm.canned.group": "Team (group, or all)",
    "adm.canned.new": "New team reply", "adm.canned.none": "No team replies yet.",
    "adm.canned.confirmDelete": "Delete the reply “{title}”?",
    "adm.ch.accounts": "Accounts", "adm.ch.none": "Not configured.", "adm.ch.missing": "missing: {fields}",
    "adm.ch.account": "Account name", "adm.ch.write": "Write credentials",
    "adm.ch.hint": "Values are stored in Secrets Manager and never shown again. Leave a field empty to keep its stored value.",
    "adm.ch.required": "required", "adm.ch.written": "{channel}/{account}: credentials stored ({fields}). Webhooks pick them up within {seconds}s.",
    "adm.ch.nothing": "Fill in at least one field.",
    "adm.ch.noWebhook": "no webhook",
  },
  "zh-CN": {
    "adm.title": "管理",
    "adm.tab.groups": "技能小组", "adm.tab.agents": "坐席", "adm.tab.rules": "路由规则",
    "adm.tab.canned": "快捷回复", "adm.tab.channels": "渠道账号",
    "adm.save": "保存", "adm.saved": "已保存。", "adm.add": "添加", "adm.remove": "删除", "adm.edit": "编辑",
    "adm.id": "ID", "adm.name": "名称", "adm.description": "描述", "adm.lead": "组长（坐席 ID）",
    "adm.groupNew": "新建或编辑小组",
    "adm.groups": "小组", "adm.capacity": "容量", "adm.proficiency": "熟练度（小组:1-5，…）",
    "adm.role": "角色", "adm.agent": "坐席", "adm.load": "负载",
    "adm.rules.version": "版本 {version}，{who} 于 {when} 保存",
    "adm.rules.none": "还没有规则：由意图模型决定。",
    "adm.rules.add": "添加规则", "adm.rules.up": "上移", "adm.rules.down": "下移",
    "adm.rules.enabled": "启用", "adm.rules.stop": "命中后停止",
    "adm.rules.keywords": "关键词（任一，逗号分隔）", "adm.rules.regex": "正则表达式",
    "adm.rules.channels": "渠道（任一）", "adm.rules.group": "→ 小组", "adm.rules.priority": "→ 优先级",
    "adm.rules.bot": "机器人优先", "adm.rules.tags": "→ 标签",
    "adm.rules.json": "以 JSON 编辑", "adm.rules.list": "以列表编辑", "adm.rules.badJson": "JSON 无法解析：{message}",
    "adm.rules.test": "试运行", "adm.rules.testText": "消息内容", "adm.rules.testChannel": "渠道",
    "adm.rules.testRun": "测试草稿", "adm.rules.result": "小组：{group} · 优先级：{priority} · 机器人优先：{bot} · 标签：{tags} · 命中：{matched}",
    "adm.rules.other": "保留的其他条件：{keys}",
    "adm.canned.title": "标题", "adm.canned.body": "内容（可用 {{customer.name}} 等变量）",
    "adm.canned.shortcut": "快捷键（如 /refund）", "adm.canned.group": "团队（小组，或 all）",
    "adm.canned.new": "新建团队回复", "adm.canned.none": "还没有团队回复。",
    "adm.canned.confirmDelete": "删除回复“{title}”？",
    "adm.ch.accounts": "账号", "adm.ch.none": "未配置。", "adm.ch.missing": "缺少：{fields}",
    "adm.ch.account": "账号名", "adm.ch.write": "写入凭据",
    "adm.ch.hint": "凭据保存在 Secrets Manager 中，之后不会再显示。留空的字段保持原值。",
    "adm.ch.required": "必填", "adm.ch.written": "{channel}/{account}：凭据已保存（{fields}）。Webhook 将在 {seconds} 秒内生效。",
    "adm.ch.nothing": "请至少填写一个字段。",
    "adm.ch.noWebhook": "无 webhook",
  },
});

// ---- skill groups ------------------------------------------------------------------------------
async function groupsTab(box, ctx) {
  const { items } = await ctx.api.get("/admin/groups");
  const id = h("input", { required: true, pattern: "[a-z0-9_-]{2,40}", maxlength: "40", "data-testid": "group-id" });
  const name = h("input", { required: true, maxlength: "80", "data-testid": "group-name" });
  const desc = h("input", { maxlength: "500" });
  const lead = h("input", { maxlength: "128" });
  const edit = (g) => { id.value = g.group_id; name.value = g.name || ""; desc.value = g.description || ""; lead.value = g.lead_id || ""; name.focus(); };
  fill(box, h("div", { class: "grid2", "data-testid": "admin-groups" },
    h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("adm.id"), t("adm.name"), t("adm.description"), t("adm.lead"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, items.map((g) => h("tr", { "data-id": g.group_id },
        h("td", {}, g.group_id), h("td", {}, g.name || ""), h("td", {}, g.description || ""), h("td", {}, g.lead_id || ""),
        h("td", {}, h("button", { class: "btn small", onclick: () => edit(g) }, t("adm.edit"))))))),
    h("form", {
      class: "card stack",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await ctx.api.put(`/admin/groups/${encodeURIComponent(id.value.trim())}`, { name: name.value.trim(), description: desc.value.trim(), lead_id: lead.value.trim() || null });
          ctx.toast(t("adm.saved"), "ok");
          await groupsTab(box, ctx);
        } catch (err) { ctx.toast(errorText(err), "error"); }
      },
    }, h("h2", {}, t("adm.groupNew")), field(t("adm.id"), id), field(t("adm.name"), name), field(t("adm.description"), desc), field(t("adm.lead"), lead),
      h("div", {}, h("button", { class: "btn primary", type: "submit", "data-testid": "group-save" }, t("adm.save"))))));
}

// ---- agents ------------------------------------------------------------------------------------
async function agentsTab(box, ctx) {
  const { items } = await ctx.api.get("/admin/agents");
  const rows = items.map((a) => {
    const groups = h("input", { value: (a.groups || []).join(", "), "aria-label": `${t("adm.groups")}: ${a.agent_id}`, size: "18" });
    const caps = Object.fromEntries(TYPES.map((k) => [k, h("input", { type: "number", min: "0", max: "50", value: String((a.capacity || {})[k] ?? 0), "aria-label": `${t("adm.capacity")} ${k}: ${a.agent_id}`, class: "num", size: "3" })]));
    const prof = h("input", { value: Object.entries(a.proficiency || {}).map(([g, v]) => `${g}:${v}`).join(", "), "aria-label": `${t("adm.proficiency")}: ${a.agent_id}`, size: "18" });
    const save = h("button", {
      class: "btn small",
      onclick: async () => {
        const proficiency = {};
        for (const part of list(prof.value)) {
          const [g, v] = part.split(":");
          if (g && v) proficiency[g.trim()] = Number(v);
        }
        try {
          await ctx.api.put(`/admin/agents/${encodeURIComponent(a.agent_id)}`, {
            groups: list(groups.value),
            capacity: Object.fromEntries(TYPES.map((k) => [k, Number(caps[k].value || 0)])),
            proficiency,
          });
          ctx.toast(t("adm.saved"), "ok");
        } catch (err) { ctx.toast(errorText(err), "error"); }
      },
    }, t("adm.save"));
    return h("tr", { "data-id": a.agent_id },
      h("td", {}, a.display_name || a.agent_id, " ", h("small", { class: "muted" }, a.agent_id)),
      h("td", {}, a.role || ""), h("td", {}, groups),
      h("td", {}, h("div", { class: "row" }, TYPES.map((k) => h("label", { class: "row" }, h("small", { class: "muted" }, k), caps[k])))),
      h("td", {}, prof),
      h("td", { class: "num muted" }, TYPES.map((k) => (a.load || {})[k] || 0).join("/")),
      h("td", {}, save));
  });
  fill(box, h("div", { class: "card", "data-testid": "admin-agents" }, h("table", { class: "data" },
    h("thead", {}, h("tr", {}, [t("adm.agent"), t("adm.role"), t("adm.groups"), t("adm.capacity"), t("adm.proficiency"), t("adm.load"), ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows))));
}

// ---- routing rules -----------------------------------------------------------------------------
function ruleEditor(rule, index, count, move, remove, groupIds) {
  const m = rule.match || {};
  const a = rule.actions || {};
  const input = (value, attrs = {}) => h("input", { value: value ?? "", ...attrs });
  const ctl = {
    rule_id: input(rule.rule_id, { required: true, pattern: "[a-z0-9_-]+", size: "14", "aria-label": t("adm.id") }),
    name: input(rule.name, { required: true, size: "24", "aria-label": t("adm.name") }),
    enabled: h("input", { type: "checkbox", checked: rule.enabled !== false }),
    stop: h("input", { type: "checkbox", checked: !!rule.stop_processing }),
    keywords: input((m.keywords || []).join(", ")),
    regex: input(m.regex || ""),
    channels: input((m.channels || []).join(", ")),
    group: select([["", "—"], ...groupIds.map((g) => [g, g])], a.group || ""),
    priority: select([["", "—"], ...["low", "normal", "high", "urgent"].map((p) => [p, t(`priority.${p}`)])], a.priority || ""),
    bot: h("input", { type: "checkbox", checked: !!a.bot_first }),
    tags: input((a.tags || []).join(", ")),
  };
  const others = Object.keys(m).filter((k) => !["keywords", "regex", "channels"].includes(k));
  const el = h("li", { class: "rule", "data-id": rule.rule_id || "" },
    h("div", { class: "rule-head" },
      h("strong", { class: "num" }, `${index + 1}.`), ctl.rule_id, ctl.name,
      h("label", { class: "row" }, ctl.enabled, t("adm.rules.enabled")),
      h("label", { class: "row" }, ctl.stop, t("adm.rules.stop")),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "btn small ghost", disabled: index === 0, "aria-label": t("adm.rules.up"), title: t("adm.rules.up"), onclick: () => move(index, -1) }, "↑"),
      h("button", { type: "button", class: "btn small ghost", disabled: index === count - 1, "aria-label": t("adm.rules.down"), title: t("adm.rules.down"), onclick: () => move(index, 1) }, "↓"),
      h("button", { type: "button", class: "btn small danger", onclick: () => remove(index) }, t("adm.remove"))),
    h("div", { class: "rule-body" },
      field(t("adm.rules.keywords"), ctl.keywords), field(t("adm.rules.regex"), ctl.regex), field(t("adm.rules.channels"), ctl.channels),
      field(t("adm.rules.group"), ctl.group), field(t("adm.rules.priority"), ctl.priority), field(t("adm.rules.tags"), ctl.tags),
      h("label", { class: "row" }, ctl.bot, t("adm.rules.bot"))),
    others.length ? h("small", { class: "muted" }, t("adm.rules.other", { keys: others.join(", ") })) : null);
  // The rule as edited; conditions this editor does not show (tier, tags, business hours) are kept.
  const value = () => {
    const match = { ...m };
    for (const [k, v] of [["keywords", list(ctl.keywords.value)], ["channels", list(ctl.channels.value)]]) {
      if (v.length) match[k] = v; else delete match[k];
    }
    if (ctl.regex.value.trim()) match.regex = ctl.regex.value.trim(); else delete match.regex;
    const actions = { ...a, tags: list(ctl.tags.value) };
    for (const [k, v] of [["group", ctl.group.value], ["priority", ctl.priority.value]]) {
      if (v) actions[k] = v; else delete actions[k];
    }
    if (ctl.bot.checked) actions.bot_first = true; else delete actions.bot_first;
    return { ...rule, rule_id: ctl.rule_id.value.trim(), name: ctl.name.value.trim(), enabled: ctl.enabled.checked, stop_processing: ctl.stop.checked, match, actions };
  };
  return { el, value };
}

async function rulesTab(box, ctx) {
  const [saved, groups] = await Promise.all([ctx.api.get("/admin/routing-rules"), ctx.api.get("/admin/groups")]);
  const groupIds = (groups.items || []).map((g) => g.group_id);
  let rules = (saved.rules || []).map((r) => ({ ...r }));
  let editors = [];
  let jsonMode = false;
  const listEl = h("ol", { class: "list" });
  const json = h("textarea", { class: "code", spellcheck: "false", "aria-label": "JSON", "data-testid": "rules-json", hidden: true });
  const current = () => {
    if (jsonMode) return JSON.parse(json.value);
    return editors.map((e) => e.value());
  };
  const draw = () => {
    editors = rules.map((r, i) => ruleEditor(r, i, rules.length, move, remove, groupIds));
    fill(listEl, editors.length ? editors.map((e) => e.el) : h("li", { class: "muted" }, t("adm.rules.none")));
  };
  function move(i, d) { rules = current(); [rules[i], rules[i + d]] = [rules[i + d], rules[i]]; draw(); }
  function remove(i) { rules = current(); rules.splice(i, 1); draw(); }
  const toggle = h("button", { type: "button", class: "btn", "data-testid": "rules-json-toggle" }, t("adm.rules.json"));
  toggle.onclick = () => {
    try {
      if (jsonMode) { rules = JSON.parse(json.value); jsonMode = false; draw(); }
      else { json.value = JSON.stringify(current(), null, 2); jsonMode = true; }
      listEl.hidden = jsonMode; json.hidden = !jsonMode; add.hidden = jsonMode;
      toggle.textContent = jsonMode ? t("adm.rules.list") : t("adm.rules.json");
    } catch (err) { ctx.toast(t("adm.rules.badJson", { message: err.message }), "error"); }
  };
  const add = h("button", { type: "button", class: "btn", onclick: () => { rules = current(); rules.push({ rule_id: `rule-${rules.length + 1}`, name: "", enabled: true, match: {}, actions: { tags: [] } }); draw(); } }, t("adm.rules.add"));
  const save = h("button", { type: "button", class: "btn primary", "data-testid": "rules-save" }, t("adm.save"));
  save.onclick = async () => {
    let draft;
    try { draft = current(); } catch (err) { ctx.toast(t("adm.rules.badJson", { message: err.message }), "error"); return; }
    try {
      await ctx.api.put("/admin/routing-rules", { version: saved.version || 0, rules: draft });
      ctx.toast(t("adm.saved"), "ok");
      await rulesTab(box, ctx);
    } catch (err) {
      ctx.toast(errorText(err), "error");
      if (err.status === 409) await rulesTab(box, ctx);
    }
  };
  // dry run on the draft
  const testText = h("input", { "data-testid": "rules-test-text", size: "30" });
  const testChannel = select(["web", "wechat", "wecom", "sms", "email", "app", "whatsapp", "messenger", "instagram", "telegram", "line", "douyin", "weibo", "voice"].map((c) => [c, channelName(c)]), "web");
  const result = h("p", { class: "muted", "data-testid": "rules-test-result", "aria-live": "polite" });
  const test = h("form", {
    class: "row",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const res = await ctx.api.post("/admin/routing-rules/test", { text: testText.value, channel: testChannel.value, rules: current() });
        const d = res.decision || {};
        result.textContent = t("adm.rules.result", { group: d.group || "—", priority: d.priority || "—", bot: d.bot_first ? "✓" : "—", tags: (d.tags || []).join(", ") || "—", matched: (d.matched || []).join(", ") || "—" });
      } catch (err) { result.textContent = errorText(err); }
    },
  }, field(t("adm.rules.testText"), testText), field(t("adm.rules.testChannel"), testChannel), h("button", { class: "btn", type: "submit" }, t("adm.rules.testRun")));
  fill(box, h("div", { class: "stack", "data-testid": "admin-rules" },
    h("div", { class: "row" }, h("small", { class: "muted" }, t("adm.rules.version", { version: saved.version || 0, when: saved.updated_at ? when(saved.updated_at) : "—", who: saved.updated_by || "—" })),
      h("span", { class: "spacer" }), toggle, add, save),
    listEl, json,
    h("div", { class: "card" }, h("h2", {}, t("adm.rules.test")), test, result)));
  draw();
}

// ---- canned replies (team) ---------------------------------------------------------------------
async function cannedTab(box, ctx) {
  const { items } = await ctx.api.get("/canned-replies");
  const team = items.filter((r) => r.scope === "team");
  const title = h("input", { required: true, maxlength: "120", "data-testid": "canned-title" });
  const body = h("textarea", { required: true, rows: "4", "data-testid": "canned-body" });
  const shortcut = h("input", { maxlength: "32", placeholder: "/refund" });
  const group = h("input", { required: true, value: "all", maxlength: "64" });
  fill(box, h("div", { class: "grid2", "data-testid": "admin-canned" },
    h("div", { class: "card" }, team.length ? h("ul", { class: "list" }, team.map((r) =>
      h("li", { class: "stack", "data-id": r.reply_id },
        h("div", { class: "row" }, h("strong", {}, r.title || ""), r.shortcut ? h("kbd", {}, r.shortcut) : null, h("small", { class: "muted" }, r.group_id || ""),
          h("span", { class: "spacer" }),
          h("button", {
            class: "btn small danger",
            onclick: async () => {
              if (!confirmAction(t("adm.canned.confirmDelete", { title: r.title || "" }))) return;
              try { await ctx.api.del(`/canned-replies/${encodeURIComponent(r.reply_id)}`); await cannedTab(box, ctx); } catch (err) { ctx.toast(errorText(err), "error"); }
            },
          }, t("adm.remove"))),
        h("div", { class: "pre muted" }, r.body || ""))))
      : h("p", { class: "muted" }, t("adm.canned.none"))),
    h("form", {
      class: "card stack",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await ctx.api.post("/canned-replies", { title: title.value.trim(), body: body.value, shortcut: shortcut.value.trim() || null, scope: "team", group_id: group.value.trim() || "all" });
          ctx.toast(t("adm.saved"), "ok");
          await cannedTab(box, ctx);
        } catch (err) { ctx.toast(errorText(err), "error"); }
      },
    }, h("h2", {}, t("adm.canned.new")), field(t("adm.canned.title"), title), field(t("adm.canned.body"), body),
      field(t("adm.canned.shortcut"), shortcut), field(t("adm.canned.group"), group),
      h("div", {}, h("button", { class: "btn primary", type: "submit", "data-testid": "canned-save" }, t("adm.save"))))));
}

// ---- channel accounts (write-only credentials) --------------------------------------------------
function channelCard(ch, ctx, reload) {
  const account = h("input", { required: true, value: "default", maxlength: "64", pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}", "data-testid": "channel-account" });
  const names = ch.known_fields.length ? ch.known_fields : ch.required_fields;
  const inputs = Object.fromEntries(names.map((f) => [f, h("input", {
    type: "password", autocomplete: "new-password", spellcheck: "false", maxlength: "8192", "data-field": f,
  })]));
  const form = h("form", {
    class: "stack secret-fields",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      for (const [f, el] of Object.entries(inputs)) if (el.value) body[f] = el.value;
      if (!Object.keys(body).length) { ctx.toast(t("adm.ch.nothing"), "error"); return; }
      try {
        const res = await ctx.api.put(`/admin/channels/${encodeURIComponent(ch.channel)}/${encodeURIComponent(account.value.trim())}`, body);
        for (const el of Object.values(inputs)) el.value = ""; // never keep a secret in the page
        ctx.toast(t("adm.ch.written", { channel: ch.channel, account: res.account, fields: res.fields.join(", "), seconds: res.max_age_seconds }), "ok");
        reload();
      } catch (err) {
        ctx.toast(errorText(err), "error");
      }
    },
  }, field(t("adm.ch.account"), account),
    names.map((f) => field(ch.required_fields.includes(f) ? `${f} (${t("adm.ch.required")})` : f, inputs[f])),
    h("div", {}, h("button", { class: "btn primary", type: "submit", "data-testid": "channel-save" }, t("adm.ch.write"))));
  return h("section", { class: "card", "data-channel": ch.channel },
    h("h2", {}, channelName(ch.channel), h("small", { class: "muted" }, ch.webhook ? ch.secret_name : `${ch.secret_name} · ${t("adm.ch.noWebhook")}`)),
    h("h3", {}, t("adm.ch.accounts")),
    ch.accounts.length
      ? h("ul", { class: "list" }, ch.accounts.map((a) => h("li", { "data-account": a.account },
          h("strong", {}, a.account), " ", h("small", { class: "muted" }, a.fields.join(", ")),
          a.missing.length ? h("div", { class: "error" }, t("adm.ch.missing", { fields: a.missing.join(", ") })) : null)))
      : h("p", { class: "muted" }, t("adm.ch.none")),
    h("details", {}, h("summary", {}, t("adm.ch.write")), h("p", { class: "muted" }, t("adm.ch.hint")), form));
}

async function channelsTab(box, ctx) {
  const { items } = await ctx.api.get("/admin/channels");
  const reload = () => channelsTab(box, ctx).catch((err) => ctx.toast(errorText(err), "error"));
  fill(box, h("div", { class: "grid-cards", "data-testid": "admin-channels" }, items.map((ch) => channelCard(ch, ctx, reload))));
}

const RENDER = { groups: groupsTab, agents: agentsTab, rules: rulesTab, canned: cannedTab, channels: channelsTab };

// Every section on one page (an in-page index jumps to each); #/admin/<section> scrolls to it.
export async function render(root, params, ctx) {
  ensureCss();
  const boxes = Object.fromEntries(TABS.map((k) => [k, h("div", {}, h("p", { class: "loading" }, t("loading")))]));
  const sections = TABS.map((k) => h("section", { class: "stack", id: `admin-${k}` }, h("h2", {}, t(`adm.tab.${k}`)), boxes[k]));
  fill(root, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, t("adm.title")),
      h("nav", { class: "tabs-admin", "aria-label": t("adm.title") }, TABS.map((k) =>
        h("a", { href: `#/admin/${k}`, class: ["btn", k === params.id ? "active" : ""] }, t(`adm.tab.${k}`))))),
    sections));
  await Promise.all(TABS.map(async (k) => {
    try {
      await RENDER[k](boxes[k], ctx);
    } catch (err) {
      fill(boxes[k], h("p", { class: "error" }, errorText(err)));
    }
  }));
  if (TABS.includes(params.id)) document.getElementById(`admin-${params.id}`).scrollIntoView();
}
