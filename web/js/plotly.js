// Plotly, loaded once from the api (gzip-compressed), after the page has asked for its data so
// that compiling it overlaps the api's answer. With a hardware GPU, the full bundle of the
// `plotly` PyPI package (WebGL traces: scattergl, parcoords); otherwise plotly.js's basic bundle
// of the same version (scatter, bar, pie), a quarter of the size: without a GPU the pages draw
// only SVG traces.

let loading = null;

export const bundle = () => (webgl() === "hardware" ? "/vendor/plotly.min.js" : "/vendor/plotly-basic.min.js");

export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    const src = bundle();
    loading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.id = "plotly-js";
      s.src = src;
      s.addEventListener("load", () => {
        performance.mark("caviar:plotly-loaded");
        resolve(window.Plotly);
      });
      s.addEventListener("error", () => reject(new Error(`could not load ${src}`)));
      document.head.append(s);
    });
  }
  return loading;
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
// context more slowly than SVG draws the at most few thousand points a plot gets).
export function scatterType(points) {
  return webgl() === "hardware" && points > 1000 ? "scattergl" : "scatter";
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
