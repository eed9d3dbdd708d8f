// i18n.js — English and Simplified Chinese. Each view module adds its own strings at import:
//   addStrings({en: {"inbox.title": "Inbox"}, "zh-CN": {"inbox.title": "收件箱"}})
//   t("inbox.waiting", {time: "3m"})  // "{time}" placeholders; a missing key falls back to English,
//                                     // then to the key itself.
// The choice is kept in localStorage "omniflow.lang"; the default follows the browser. setLang fires
// a "omniflow:lang" event on window (app.js re-renders the shell and the current view).

export const LANGS = ["en", "zh-CN"];
const KEY = "omniflow.lang";
const strings = { en: {}, "zh-CN": {} };

function initial() {
  const saved = localStorage.getItem(KEY);
  if (LANGS.includes(saved)) return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return nav.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current = initial();
document.documentElement.lang = current;

export function lang() {
  return current;
}

export function setLang(value) {
  if (!LANGS.includes(value) || value === current) return;
  current = value;
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value;
  window.dispatchEvent(new CustomEvent("omniflow:lang", { detail: value }));
}

export function addStrings(dict) {
  for (const [l, entries] of Object.entries(dict || {})) {
    strings[l] = Object.assign(strings[l] || {}, entries);
  }
}

export function t(key, vars) {
  const raw = (strings[current] && strings[current][key]) ?? strings.en[key] ?? key;
  if (!vars) return raw;
  return raw.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

addStrings({
  en: {
    "app.name": "Omniflow",
    "login.title": "Sign in to Omniflow",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Wrong username or password.",
    "login.error": "Could not sign in: {message}",
    "nav.inbox": "Inbox",
    "nav.tickets": "Tickets",
    "nav.supervisor": "Supervisor",
    "nav.admin": "Admin",
    "nav.logout": "Sign out",
    "nav.main": "Main navigation",
    "presence.label": "Status",
    "presence.online": "Online",
    "presence.away": "Away",
    "presence.offline": "Offline",
    "presence.saved": "Status: {presence}",
    "lang.label": "Language",
    "view.unavailable": "This screen is not available.",
    "view.failed": "Could not load this screen: {message}",
    "view.notfound": "Nothing here.",
    "error.generic": "Something went wrong: {message}",
    "loading": "Loading…",
    "channel.web": "Web",
    "channel.wechat": "WeChat",
    "channel.wecom": "WeCom",
    "channel.douyin": "Douyin",
    "channel.weibo": "Weibo",
    "channel.app": "App",
    "channel.sms": "SMS",
    "channel.email": "E-mail",
    "channel.whatsapp": "WhatsApp",
    "channel.messenger": "Messenger",
    "channel.instagram": "Instagram",
    "channel.telegram": "Telegram",
    "channel.line": "LINE",
    "channel.voice": "Phone",
    "priority.low": "Low",
    "priority.normal": "Normal",
    "priority.high": "High",
    "priority.urgent": "Urgent",
    "feed.offline": "Connection lost — retrying…",
    "shortcuts.title": "Keyboard shortcuts",
  },
  "zh-CN": {
    "app.name": "Omniflow",
    "login.title": "登录 Omniflow",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "用户名或密码错误。",
    "login.error": "无法登录：{message}",
    "nav.inbox": "收件箱",
    "nav.tickets": "工单",
    "nav.supervisor": "主管",
    "nav.admin": "管理",
    "nav.logout": "退出登录",
    "nav.main": "主导航",
    "presence.label": "状态",
    "presence.online": "在线",
    "presence.away": "离开",
    "presence.offline": "离线",
    "presence.saved": "状态：{presence}",
    "lang.label": "语言",
    "view.unavailable": "此页面暂不可用。",
    "view.failed": "无法加载此页面：{message}",
    "view.notfound": "这里什么也没有。",
    "error.generic": "出错了：{message}",
    "loading": "加载中…",
    "channel.web": "网站",
    "channel.wechat": "微信",
    "channel.wecom": "企业微信",
    "channel.douyin": "抖音",
    "channel.weibo": "微博",
    "channel.app": "App",
    "channel.sms": "短信",
    "channel.email": "邮件",
    "channel.whatsapp": "WhatsApp",
    "channel.messenger": "Messenger",
    "channel.instagram": "Instagram",
    "channel.telegram": "Telegram",
    "channel.line": "LINE",
    "channel.voice": "电话",
    "priority.low": "低",
    "priority.normal": "普通",
    "priority.high": "高",
    "priority.urgent": "紧急",
    "feed.offline": "连接中断，正在重试…",
    "shortcuts.title": "快捷键",
  },
});
