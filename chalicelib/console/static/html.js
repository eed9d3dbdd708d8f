// html.js — the console's component toolkit: Preact + htm (vendored from npm, see vendor/MANIFEST.json
// and `make vendor`). No build step: templates are tagged template literals, e.g.
//   html`<button class="btn" data-testid="x" onClick=${go}>${t("send")}</button>`
// Interpolated values are TEXT (Preact sets textContent), so customer content never becomes HTML.
// The one exception is markdown.js (marked → DOMPurify), documented there.
import htm from "./vendor/htm.mjs";
import { Fragment, createContext, h, render } from "./vendor/preact.mjs";

export { Fragment, createContext, h, render };
export {
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
} from "./vendor/hooks.mjs";

export const html = htm.bind(h);
