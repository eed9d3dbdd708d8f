// view-customer.js — the customer 360: profile, tags and attributes (editable), channel identities,
// orders from the connector (a degraded answer shown calmly), past conversations and tickets, and
// merging another customer into this one (supervisors). `panel` fills the conversation view's side
// panel; `render` is the #/customers/<id> page. Everything the customer wrote is text (dom.js h()).
import { clear, fill, h, when } from "./dom.js";
import { channelIcon } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import { confirmAction, ensureCss, errorText, field } from "./views-kit.js";
import { customerLabel, ticketLabel, trackingLine } from "./labels.js";

addStrings({
  en: {
    "cust.title": "Customer",
    "cust.unnamed": "Unnamed customer",
    "cust.phones": "Phones",
    "cust.emails": "E-mails",
    "cust.tags": "Tags",
    "cust.addTag": "Add a tag…",
    "cust.removeTag": "Remove tag {tag}",
    "cust.attributes": "Attributes",
    "cust.attrKey": "Name",
    "cust.attrValue": "Value",
    "cust.attrSave": "Set",
    "cust.attrRemove": "Remove",
    "cust.identities": "Channels and identities",
    "cust.orders": "Orders",
    "cust.noOrders": "No orders found.",
    "cust.ordersDown": "Orders are unavailable right now ({reason}).",
    "cust.conversations": "Conversations",
    "cust.tickets": "Tickets",
    "cust.none": "None yet.",
    "cust.more": "More…",
    "cust.open360": "Open the full profile",
    "cust.merge": "Merge another customer into this one",
    "cust.mergeSource": "Customer id to fold in",
    "cust.mergeButton": "Merge",
    "cust.mergeConfirm": "Merge customer {source} into {target}? Their identities and conversations move here (audited, reversible).",
    "cust.merged": "Customers merged.",
    "cust.mergedInto": "This customer was merged into {target}.",
    "cust.saved": "Saved.",
    "cust.since": "Customer since {when}",
    "cust.tracking": "Tracking: {tracking}",
    "cust.unverified": "(typed in a form, unverified)",
    "cust.unverifiedHint": "Left by the customer in the chat form; not verified, never used to link customers.",
  },
  "zh-CN": {
    "cust.title": "客户",
    "cust.unnamed": "未命名客户",
    "cust.phones": "电话",
    "cust.emails": "邮箱",
    "cust.tags": "标签",
    "cust.addTag": "添加标签…",
    "cust.removeTag": "移除标签 {tag}",
    "cust.attributes": "属性",
    "cust.attrKey": "名称",
    "cust.attrValue": "值",
    "cust.attrSave": "设置",
    "cust.attrRemove": "移除",
    "cust.identities": "渠道与身份",
    "cust.orders": "订单",
    "cust.noOrders": "没有找到订单。",
    "cust.ordersDown": "订单服务暂时不可用（{reason}）。",
    "cust.conversations": "会话",
    "cust.tickets": "工单",
    "cust.none": "暂无。",
    "cust.more": "更多…",
    "cust.open360": "打开完整资料",
    "cust.merge": "将另一位客户合并到此客户",
    "cust.mergeSource": "要并入的客户 ID",
    "cust.mergeButton": "合并",
    "cust.mergeConfirm": "确定将客户 {source} 合并到 {target}？其身份与会话将移到这里（有审计记录，可撤销）。",
    "cust.merged": "客户已合并。",
    "cust.mergedInto": "此客户已被合并到 {target}。",
    "cust.saved": "已保存。",
    "cust.since": "客户创建于 {when}",
    "cust.tracking": "物流：{tracking}",
    "cust.unverified": "（表单填写，未验证）",
    "cust.unverifiedHint": "客户在聊天表单中填写，未经验证，不会用于关联客户。",
  },
});

const path = (id) => `/customers/${encodeURIComponent(id)}`;

function profileCard(data, ctx, reload, full) {
  const c = data.customer || {};
  const tagList = h("div", { class: "tags", "data-testid": "customer-tags" },
    (c.tags || []).map((tag) =>
      h("span", { class: "chip", "data-tag": tag }, tag,
        h("button", {
          type: "button", "aria-label": t("cust.removeTag", { tag }), title: t("cust.removeTag", { tag }),
          onclick: () => patch({ tags: { add: [], remove: [tag] } }),
        }, "×"))));
  const tagInput = h("input", {
    class: "tag-input", placeholder: t("cust.addTag"), "aria-label": t("cust.tags"), maxlength: "40",
    "data-testid": full ? "tag-input" : "customer-tag-input",
    onkeydown: (e) => {
      if (e.key === "Enter" && tagInput.value.trim()) {
        e.preventDefault();
        patch({ tags: { add: [tagInput.value.trim()], remove: [] } });
      }
    },
  });
  async function patch(body) {
    try {
      await ctx.api.patch(path(data.customer_id), body);
      ctx.toast(t("cust.saved"), "ok");
      reload();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  }
  const attrs = c.attributes || {};
  const key = h("input", { placeholder: t("cust.attrKey"), "aria-label": t("cust.attrKey"), maxlength: "64", size: "10" });
  const value = h("input", { placeholder: t("cust.attrValue"), "aria-label": t("cust.attrValue"), maxlength: "1000", size: "14" });
  const attrRows = Object.keys(attrs).sort().map((k) =>
    [h("dt", {}, k), h("dd", {}, String(attrs[k]), " ",
      h("button", { type: "button", class: "btn ghost small", onclick: () => patch({ attributes: { [k]: null } }) }, t("cust.attrRemove")))]);
  return h("div", { class: "stack" },
    h("h2", { "data-testid": "customer-name" }, customerLabel(c)),
    c.merged_into ? h("p", { class: "error" }, t("cust.mergedInto", { target: c.merged_into })) : null,
    h("dl", { class: "facts" },
      h("dt", {}, t("cust.phones")), h("dd", { "data-testid": "customer-phones" }, contacts(c, "phones", "phone")),
      h("dt", {}, t("cust.emails")), h("dd", { "data-testid": "customer-emails" }, contacts(c, "emails", "email")),
      c.created_at ? [h("dt", {}, "ID"), h("dd", { class: "muted" }, c.customer_id, " · ", t("cust.since", { when: when(c.created_at) }))] : null),
    h("h3", {}, t("cust.tags")), tagList, tagInput,
    h("h3", {}, t("cust.attributes")),
    attrRows.length ? h("dl", { class: "facts" }, attrRows) : h("p", { class: "muted" }, t("cust.none")),
    h("form", {
      class: "row",
      onsubmit: (e) => {
        e.preventDefault();
        if (key.value.trim()) patch({ attributes: { [key.value.trim()]: value.value } });
      },
    }, key, value, h("button", { class: "btn small", type: "submit" }, t("cust.attrSave"))));
}

// Verified addresses, then what the customer typed in a form (pre-chat, offline form): unverified,
// marked as such, never used to link customers.
function contacts(c, list, hint) {
  const verified = c[list] || [];
  const typed = (c.unverified_hints || {})[hint];
  const out = verified.map((v) => h("span", { class: "contact" }, v));
  if (typed && !verified.includes(typed)) {
    out.push(h("span", { class: "contact unverified", "data-testid": `customer-typed-${hint}`, title: t("cust.unverifiedHint") },
      typed, " ", h("small", { class: "muted" }, t("cust.unverified"))));
  }
  return out.length ? out : "—";
}

function identitiesCard(data) {
  const ids = data.identities || [];
  return h("div", {},
    h("h3", {}, t("cust.identities")),
    ids.length
      ? h("ul", { class: "list" }, ids.map((i) =>
          h("li", { class: "row" },
            i.kind === "channel" ? channelIcon(i.channel) : h("span", { class: "badge" }, i.kind),
            h("span", {}, i.kind === "channel" ? `${i.user_id || ""}` : i.identity_key.replace(/^[a-z]+#/, "")),
            i.kind === "channel" && i.account && i.account !== "default" ? h("small", { class: "muted" }, i.account) : null)))
      : h("p", { class: "muted" }, t("cust.none")));
}

function ordersBlock(answer) {
  const orders = (answer && answer.orders) || [];
  const body = h("div", { "data-testid": "customer-orders" }, h("h3", {}, t("cust.orders")));
  if (answer && answer.error && !orders.length) {
    body.appendChild(h("p", { class: "degraded" }, t("cust.ordersDown", { reason: answer.reason || answer.error })));
    return body;
  }
  if (!orders.length) {
    body.appendChild(h("p", { class: "muted" }, t("cust.noOrders")));
    return body;
  }
  body.appendChild(h("ul", { class: "list" }, orders.map((o) =>
    h("li", { class: "stack", "data-order": o.number || "" },
      h("div", { class: "row" }, h("strong", {}, `#${o.number ?? ""}`), h("span", { class: "status" }, String(o.status ?? "")),
        h("span", { class: "spacer" }), h("span", { class: "num" }, `${o.total ?? ""} ${o.currency ?? ""}`)),
      h("small", { class: "muted" }, when(o.placed_at),
        Array.isArray(o.items) && o.items.length ? ` · ${o.items.map((it) => (typeof it === "string" ? it : it.name || it.title || it.sku || "")).join(", ")}` : ""),
      o.tracking ? h("small", { "data-testid": "order-tracking" }, t("cust.tracking", { tracking: trackingLine(o.tracking) })) : null))));
  return body;
}

function historyBlock(data, ctx, currentConversation) {
  const convs = (data.conversations || []).filter((c) => c.conversation_id !== currentConversation);
  const tickets = data.tickets || [];
  return h("div", { class: "stack" },
    h("h3", {}, t("cust.conversations")),
    convs.length
      ? h("ul", { class: "list" }, convs.map((c) =>
          h("li", {},
            h("a", { href: `#/c/${encodeURIComponent(c.conversation_id)}`, class: "row" },
              (c.channels || [c.last_channel]).filter(Boolean).map((ch) => channelIcon(ch)),
              h("span", { class: "status" }, c.status || ""),
              h("span", {}, c.preview || c.conversation_id)),
            h("small", { class: "muted" }, when(c.last_message_at || c.created_at)))))
      : h("p", { class: "muted" }, t("cust.none")),
    h("h3", {}, t("cust.tickets")),
    tickets.length
      ? h("ul", { class: "list" }, tickets.map((tk) =>
          h("li", {}, h("a", { href: `#/tickets/${encodeURIComponent(tk.ticket_id)}` }, `${ticketLabel(tk)} `, tk.subject || ""),
            " ", h("span", { class: ["status", `status-${tk.status}`] }, tk.status || ""))))
      : h("p", { class: "muted" }, t("cust.none")));
}

function mergeBlock(data, ctx, reload) {
  if (!["supervisor", "admin"].includes(ctx.me && ctx.me.role)) return null;
  const source = h("input", { placeholder: "cus_…", maxlength: "64", "data-testid": "merge-source" });
  const button = h("button", { class: "btn", type: "submit", "data-testid": "merge-button" }, t("cust.mergeButton"));
  return h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      const src = source.value.trim();
      if (!src) { source.focus(); return; }
      if (!confirmAction(t("cust.mergeConfirm", { source: src, target: data.customer_id }))) return;
      button.disabled = true;
      try {
        await ctx.api.post(`${path(data.customer_id)}/merge`, { source_customer_id: src });
        ctx.toast(t("cust.merged"), "ok");
        source.value = "";
        reload();
      } catch (err) {
        ctx.toast(errorText(err), "error");
      } finally {
        button.disabled = false;
      }
    },
  }, h("h3", {}, t("cust.merge")), field(t("cust.mergeSource"), source), h("div", {}, button));
}

async function load(customerId, ctx) {
  const data = await ctx.api.get(path(customerId));
  let orders = null;
  if ("orders" in data || "orders_error" in data) {
    orders = { orders: data.orders || [], ...(data.orders_error || {}) };
  } else {
    try { orders = await ctx.api.get(`${path(customerId)}/orders`); } catch (err) { orders = { orders: [], error: err.message, reason: err.code }; }
  }
  return { data, orders };
}

// The side panel of the conversation view.
export async function panel(root, customerId, ctx) {
  ensureCss();
  const box = h("div", { class: "card customer-panel", "data-testid": "customer-panel", "data-id": customerId }, h("p", { class: "loading" }, t("loading")));
  fill(root, box);
  const currentConversation = (location.hash.match(/^#\/c\/([^/?]+)/) || [])[1];
  async function reload() {
    try {
      const { data, orders } = await load(customerId, ctx);
      if (ctx.active === false) return;
      fill(box,
        profileCard(data, ctx, reload, false),
        h("a", { href: `#/customers/${encodeURIComponent(customerId)}`, class: "small" }, t("cust.open360")),
        ordersBlock(orders),
        identitiesCard(data),
        historyBlock(data, ctx, currentConversation && decodeURIComponent(currentConversation)),
        mergeBlock(data, ctx, reload));
    } catch (err) {
      fill(box, h("p", { class: "error" }, errorText(err)));
    }
  }
  // A ticket created or changed for this customer shows at once (the conversation view also calls
  // reload after it creates one).
  let soon = null;
  const reloadSoon = () => {
    if (soon) return;
    soon = setTimeout(() => { soon = null; if (ctx.active !== false) reload(); }, 300);
  };
  ctx.on("ticket.updated", (ev) => { if (!ev.customer_id || ev.customer_id === customerId) reloadSoon(); });
  ctx.cleanup(() => clearTimeout(soon));
  await reload();
  return { reload };
}

// #/customers/<id>
export async function render(root, params, ctx) {
  ensureCss();
  const id = params.id;
  if (!id) { fill(root, h("p", { class: "empty" }, t("view.notfound"))); return; }
  const page = h("div", { class: "page", "data-testid": "customer-panel", "data-id": id });
  fill(root, page);
  async function reload() {
    try {
      const { data, orders } = await load(id, ctx);
      if (ctx.active === false) return;
      clear(page);
      const merge = mergeBlock(data, ctx, reload);
      page.append(
        h("div", { class: "page-head" }, h("h1", {}, t("cust.title"))),
        h("div", { class: "grid2" },
          h("div", { class: "stack" },
            h("div", { class: "card" }, ordersBlock(orders)),
            h("div", { class: "card" }, historyBlock(data, ctx, null))),
          h("div", { class: "stack" },
            h("div", { class: "card" }, profileCard(data, ctx, reload, true)),
            h("div", { class: "card" }, identitiesCard(data)),
            merge ? h("div", { class: "card" }, merge) : null)));
    } catch (err) {
      fill(page, h("p", { class: "error" }, errorText(err)));
    }
  }
  await reload();
}
