// The dashboard's router: #/ studies, #/new the form, #/studies/ID a study, #/trials/ID a trial, #/fleet the workers.
import * as studies from "./pages/studies.js";
import * as study from "./pages/study.js";
import * as form from "./pages/form.js";
import * as fleet from "./pages/fleet.js";
import * as trial from "./pages/trial.js";

const routes = [
  [/^#?\/?$/, studies],
  [/^#\/new$/, form],
  [/^#\/fleet$/, fleet],
  [/^#\/studies\/(\d+)$/, study],
  [/^#\/trials\/(\d+)$/, trial],
];

let unmount = null;

function route() {
  const root = document.getElementById("app");
  if (unmount) unmount();
  unmount = null;
  root.replaceChildren();
  delete root.dataset.ready;
  const hash = location.hash || "#/";
  for (const [pattern, page] of routes) {
    const m = hash.match(pattern);
    if (m) {
      unmount = page.mount(root, ...m.slice(1)) || null;
      return;
    }
  }
  root.textContent = `No page at ${hash}.`;
}

window.addEventListener("hashchange", route);
route();
