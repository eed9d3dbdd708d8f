// labels.js — how people and things are named on screen, the same everywhere:
//   customerLabel(c)    a name, else the best contact (e-mail, phone, what they typed in a form),
//                       never a bare cus_… id
//   ticketLabel(t)      "#10001" for a ticket or a ticket id (never "tkt_10001")
//   trackingLine(tr)    "SF Express · SF1234… · In transit · ETA 9 Dec" from the order API's object
//   authorLabel(m)      who wrote a message: the customer, an agent, or an automatic notice
import { t } from "./i18n.js";

// Authors of messages no person wrote (ticket notices, the survey bot): chalicelib/channels/mailbox.py.
export const AUTOMATIC_AUTHORS = new Set(["system", "bot"]);

export function customerLabel(c) {
  if (!c) return t("label.unnamed");
  const hints = c.unverified_hints || {};
  return (
    c.display_name ||
    c.contact ||
    (c.emails || [])[0] ||
    (c.phones || [])[0] ||
    hints.email ||
    hints.phone ||
    t("label.unnamed")
  );
}

export function ticketNumber(idOrTicket) {
  if (idOrTicket && typeof idOrTicket === "object") {
    if (idOrTicket.number !== undefined && idOrTicket.number !== null) return String(idOrTicket.number);
    return ticketNumber(idOrTicket.ticket_id);
  }
  return String(idOrTicket || "").replace(/^tkt_/, "");
}

export function ticketLabel(idOrTicket) {
  return `#${ticketNumber(idOrTicket)}`;
}

function statusText(status) {
  const key = `tracking.${status}`;
  const text = t(key);
  return text === key ? String(status).replace(/_/g, " ") : text;
}
// (keys: tracking.in_transit, tracking.delivered, … in the catalogues)

function dateText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function trackingLine(tracking) {
  if (!tracking) return "";
  if (typeof tracking === "string") return statusText(tracking);
  const parts = [
    tracking.carrier,
    tracking.number || tracking.tracking_number,
    tracking.status ? statusText(tracking.status) : null,
    tracking.eta ? t("label.eta", { date: dateText(tracking.eta) }) : null,
  ];
  return parts.filter(Boolean).map(String).join(" · ");
}

export function authorLabel(m) {
  if (m.direction === "in") return t("label.customer");
  if (AUTOMATIC_AUTHORS.has(m.author_id)) return t("label.automatic");
  return t("label.agent", { id: m.author_id || "" });
}
