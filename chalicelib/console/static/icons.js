// icons.js — channel badges (a coloured glyph with the channel's name as its accessible label).
//   channelIcon("wechat") → <span class="ch ch-wechat" title="WeChat" aria-label="WeChat">WX</span>
import { h } from "./dom.js";
import { t } from "./i18n.js";

const GLYPHS = {
  web: "W", wechat: "WX", wecom: "WC", douyin: "DY", weibo: "WB", app: "AP", sms: "SM",
  email: "@", whatsapp: "WA", messenger: "M", instagram: "IG", telegram: "TG", line: "LN", voice: "☎",
};

export const CHANNELS = Object.keys(GLYPHS);

export function channelName(channel) {
  const key = `channel.${channel}`;
  const name = t(key);
  return name === key ? String(channel || "?") : name;
}

export function channelIcon(channel, attrs = {}) {
  const name = channelName(channel);
  const safe = /^[a-z]+$/.test(channel || "") ? channel : "other";
  return h(
    "span",
    { class: ["ch", `ch-${safe}`], title: name, "aria-label": name, role: "img", ...attrs },
    GLYPHS[channel] || String(channel || "?").slice(0, 2).toUpperCase(),
  );
}
