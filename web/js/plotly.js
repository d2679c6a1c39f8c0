// Plotly, loaded once from the api (the bundle of the `plotly` PyPI package, gzip-compressed),
// in parallel with the page's data. WebGL traces when the browser has WebGL.

const SRC = "/vendor/plotly.min.js";
let loading = null;

// index.html starts loading Plotly (script#plotly-js) before the modules when it opens a study.
export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      let s = document.getElementById("plotly-js");
      if (!s) {
        s = document.createElement("script");
        s.id = "plotly-js";
        s.src = SRC;
        document.head.append(s);
      }
      s.addEventListener("load", () => {
        performance.mark("caviar:plotly-loaded");
        resolve(window.Plotly);
      });
      s.addEventListener("error", () => reject(new Error(`could not load ${SRC}`)));
    });
  }
  return window.Plotly ? Promise.resolve(window.Plotly) : loading;
}

// "hardware", "software" (a CPU rasteriser such as SwiftShader or llvmpipe) or "none".
let gl = null;
export function webgl() {
  if (gl === null) {
    try {
      const ctx = document.createElement("canvas").getContext("webgl");
      if (!ctx) gl = "none";
      else {
        const info = ctx.getExtension("WEBGL_debug_renderer_info");
        const renderer = String(info ? ctx.getParameter(info.UNMASKED_RENDERER_WEBGL) : ctx.getParameter(ctx.RENDERER));
        gl = /swiftshader|llvmpipe|software/i.test(renderer) ? "software" : "hardware";
        ctx.getExtension("WEBGL_lose_context")?.loseContext();
      }
    } catch {
      gl = "none";
    }
  }
  return gl;
}

export const hasWebGL = () => webgl() !== "none";

// WebGL traces for many points on a real GPU; SVG otherwise (a CPU rasteriser starts a WebGL
// context more slowly than SVG draws a few thousand points).
export function scatterType(points) {
  if (webgl() === "hardware") return points > 1000 ? "scattergl" : "scatter";
  return points > 20000 && webgl() === "software" ? "scattergl" : "scatter";
}

export const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

export const STAGE_COLOURS = ["#4c6ef5", "#f08c00", "#2f9e44", "#e03131", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];
export const stageColour = (s) => STAGE_COLOURS[s % STAGE_COLOURS.length];

export function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export function baseLayout(extra = {}) {
  return {
    margin: { l: 60, r: 20, t: 10, b: 50 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fff",
    font: { family: "system-ui, sans-serif", size: 12, color: "#333" },
    hovermode: "closest",
    showlegend: false,
    ...extra,
  };
}

// Draw (or redraw) a figure; resolves when Plotly has drawn it.
export async function draw(el, data, layout) {
  const P = await plotly();
  await P.react(el, data, layout, CONFIG);
  el.dataset.drawn = String(Number(el.dataset.drawn || 0) + 1);
}
