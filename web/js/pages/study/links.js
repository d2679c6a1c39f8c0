// From a plot to a trial: clicking a point whose customdata is a trial number opens that
// trial's page (#/trials/ID).

// `trialOf(number)` → the trial's id, or undefined when the page does not know it.
export function openTrialOnClick(plotEl, trialOf) {
  if (plotEl.dataset.linked) return;
  plotEl.dataset.linked = "1";
  plotEl.on("plotly_click", (event) => {
    const number = event.points?.[0]?.customdata;
    const id = number === undefined ? undefined : trialOf(number);
    if (id !== undefined) location.hash = `#/trials/${id}`;
  });
}
