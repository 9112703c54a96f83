// simyard view: one page, routed by the URL's hash, fed by the JSON API of simyard/viewer/app.py.
// Every piece of text from a run goes in through text nodes (el() below), never as HTML: it is data, not markup.
"use strict";

const POLL_MS = 2000;
const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const live = document.getElementById("live");
window.viewerTimings = {};
let pollTimer = null;
let keyHandler = null;
let routeToken = 0;

// ------------------------------------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, {cache: "no-store"});
  const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function fmt(value, digits = 2) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}

function outcome(row) {
  if (row.status === "unfinished") return el("span", {class: "warn"}, "unfinished");
  if (row.status && row.status !== "completed") return el("span", {class: "bad"}, row.status);
  return row.success ? el("span", {class: "ok"}, "success") : el("span", {class: "bad"}, "failure");
}

function notesBox(notes) {
  if (!notes || !notes.length) return null;
  return el("div", {class: "notes", id: "notes"}, el("strong", {}, "Skipped or damaged:"),
            el("ul", {}, notes.map((note) => el("li", {}, note))));
}

function cellsTable(cells, id) {
  if (!cells || !cells.length) return el("p", {class: "muted"}, "No recorded episodes yet.");
  const [header, ...body] = cells;
  return el("table", {id},
    el("thead", {}, el("tr", {}, header.map((name) => el("th", {}, name)))),
    el("tbody", {}, body.map((row) => el("tr", {}, row.map((cell, i) => el("td", {class: i ? "num" : null}, cell))))));
}

function setCrumbs(...items) {
  crumbs.replaceChildren(...items.map(([label, href]) => href ? el("a", {href}, label) : el("span", {}, label)));
}

function parseHash() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "")};
}

function go(parts, params) {
  const query = params && params.toString();
  location.hash = "#/" + parts.map(encodeURIComponent).join("/") + (query ? "?" + query : "");
}

function poll(fn, on) {
  clearTimeout(pollTimer);
  live.hidden = !on;
  if (on) pollTimer = setTimeout(fn, POLL_MS);
}

function show(...nodes) {
  main.replaceChildren(...nodes.flat().filter((node) => node !== null && node !== undefined && node !== false));
  main.dataset.shown = location.hash;  // which view is on screen: tests and benchmarks wait on it
}

function fail(error) {
  main.replaceChildren(el("p", {class: "error-page"}, `Error: ${error.message}`));
}

// ------------------------------------------------------------------------------------------------ pages

async function showRuns(token) {
  setCrumbs(["runs"]);
  const data = await api("/api/runs");
  if (token !== routeToken) return;
  const chosen = new Set(data.runs.slice(0, 2).map((run) => run.id));
  const pairButton = el("button", {id: "pair-button", onclick: () => {
    const params = new URLSearchParams({runs: [...chosen].sort((a, b) => a - b).join(",")});
    go(["pair"], params);
  }}, "Side by side");
  const list = el("table", {id: "runs"},
    el("thead", {}, el("tr", {}, ["", "run", "suite", "status", "episodes", "path"].map((h) => el("th", {}, h)))),
    el("tbody", {}, data.runs.map((run) => el("tr", {class: "clickable", dataset: {run: run.id}},
      el("td", {}, el("input", {type: "checkbox", checked: chosen.has(run.id), onclick: (event) => {
        event.stopPropagation();
        event.target.checked ? chosen.add(run.id) : chosen.delete(run.id);
        pairButton.disabled = chosen.size < 2;
      }})),
      el("td", {}, el("a", {href: `#/run/${run.id}`}, run.label)),
      el("td", {}, run.suite), el("td", {}, run.status),
      el("td", {class: "num"}, `${run.recorded}/${run.tasks_total}`), el("td", {}, run.path)))));
  pairButton.disabled = chosen.size < 2;
  show(el("h1", {}, "Runs"), list,
                       data.runs.length > 1 ? el("p", {}, pairButton, " the checked runs, paired per task") : null,
                       ...data.runs.map((run) => notesBox(run.notes)));
  if (data.runs.length === 1) go(["run", "0"]);
}

async function showRun(token, runId, params) {
  const [run, page] = await Promise.all([
    api(`/api/runs/${runId}`),
    api(`/api/runs/${runId}/episodes?${params.toString()}`),
  ]);
  if (token !== routeToken) return;
  setCrumbs(["runs", "#/"], [run.label]);
  const filterNames = ["success", "world", "subset", "status", "reason", "error_kind"];
  const controls = filterNames.map((name) => {
    const options = name === "success" ? {yes: null, no: null} : page.facets[name] || {};
    const select = el("select", {name, onchange: () => applyFilter(name, select.value)},
      el("option", {value: ""}, "any"),
      Object.entries(options).map(([value, count]) =>
        el("option", {value, selected: params.get(name) === value}, value === "" ? "(none)" : value,
           count === null ? "" : ` (${count})`)));
    return el("label", {}, name.replace("_", " "), select);
  });
  const search = el("input", {type: "search", name: "q", placeholder: "instructions, replies, errors",
                              value: params.get("q") || "", size: 28});
  search.addEventListener("keydown", (event) => { if (event.key === "Enter") applyFilter("q", search.value); });
  function applyFilter(name, value) {
    const next = new URLSearchParams(params);
    value ? next.set(name, value) : next.delete(name);
    next.delete("offset");
    go(["run", String(runId)], next);
  }
  const offset = page.offset, shown = page.rows.length;
  const pager = el("div", {class: "pager"},
    el("button", {id: "prev-page", disabled: offset === 0,
                  onclick: () => applyFilter("offset", String(Math.max(0, offset - page.limit)))}, "‹ previous"),
    el("span", {id: "page-info"}, page.total ? `${offset + 1}-${offset + shown} of ${page.total}` : "0 episodes"),
    el("button", {id: "next-page", disabled: offset + shown >= page.total,
                  onclick: () => applyFilter("offset", String(offset + page.limit))}, "next ›"));
  const columns = ["task", "seed", "world", "subset", "outcome", "reason", "progress", "steps", "invalid",
                   "tokens in/out", "error"];
  const rows = page.rows.map((row) => {
    const href = `#/episode?refs=${runId}:${encodeURIComponent(row.name)}`;
    return el("tr", {class: "clickable", dataset: {name: row.name}, onclick: () => { location.hash = href; }},
      el("td", {}, el("a", {href}, row.task_id)), el("td", {class: "num"}, fmt(row.seed)),
      el("td", {}, row.world || ""), el("td", {}, row.subset || ""), el("td", {}, outcome(row)),
      el("td", {}, row.reason), el("td", {class: "num"}, fmt(row.progress)), el("td", {class: "num"}, fmt(row.steps)),
      el("td", {class: "num"}, fmt(row.invalid_actions)),
      el("td", {class: "num"}, row.model_calls ? `${row.prompt_tokens}/${row.completion_tokens}` : "-"),
      el("td", {title: row.error || ""}, (row.error || "").slice(0, 120)));
  });
  show(
    el("h1", {}, run.label),
    el("p", {class: "muted", id: "run-status"},
       `${run.suite} · agent ${run.agent} · ${run.status} · ${run.recorded} of ${run.tasks_total} episodes recorded`,
       run.unfinished ? ` · ${run.unfinished} being written` : "", ` · ${run.path}`),
    notesBox(run.notes),
    el("h2", {}, "Results per world and subset (95% intervals)"), cellsTable(run.table, "summary"),
    el("h2", {}, "Episodes"),
    el("div", {class: "filters"}, controls, el("label", {}, "search", search),
       el("button", {onclick: () => applyFilter("q", search.value)}, "Search")),
    pager,
    el("table", {id: "episodes"}, el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
       el("tbody", {}, rows)));
  window.viewerTimings.listShown = performance.now();
  poll(() => route(), run.status === "running");
}

// ------------------------------------------------------------------------------------------------ episodes

function framesOf(step, runId, name) {
  if (!step.frames.length) return null;
  return el("div", {class: "frames"}, step.frames.map((frame) => {
    const caption = el("figcaption", {}, `${frame.view} · ${frame.file}`);
    if (frame.problem) {
      return el("figure", {class: "frame"}, el("div", {class: "frame-problem", dataset: {file: frame.file}},
        `Frame ${frame.file} is ${frame.problem}.`), caption);
    }
    const src = `/api/runs/${runId}/frames/${encodeURIComponent(name)}/${frame.file.split("/").map(encodeURIComponent).join("/")}`;
    const figure = el("figure", {class: "frame"}, caption);
    const img = el("img", {src, alt: `${frame.view} after step ${step.index}`, dataset: {file: frame.file}});
    img.addEventListener("load", () => {
      img.dataset.loaded = "1";
      if (!window.viewerTimings.firstFrame) window.viewerTimings.firstFrame = performance.now();
    });
    img.addEventListener("error", () => {
      figure.replaceChild(el("div", {class: "frame-problem", dataset: {file: frame.file}},
        `Frame ${frame.file} could not be shown (the browser cannot decode it).`), img);
    });
    figure.prepend(img);
    return figure;
  }));
}

function callsOf(step) {
  return step.calls.map((call, i) => el("div", {class: "call"},
    el("div", {class: "muted"}, `model call ${i + 1}: tokens ${fmt(call.prompt_tokens)} in / `,
       `${fmt(call.completion_tokens)} out · latency ${fmt(call.latency_s, 3)} s`,
       call.finish_reason ? ` · finish ${call.finish_reason}` : "",
       call.reply_chars ? ` · reply cut from ${call.reply_chars} chars` : "",
       call.retries ? ` · ${call.retries} retries` : ""),
    call.reasoning ? el("details", {open: true}, el("summary", {}, "reasoning"),
                        el("pre", {class: "reasoning"}, call.reasoning)) : null,
    el("div", {}, "reply"), el("pre", {class: "reply"}, call.reply)));
}

function stepView(episode, step, runId) {
  const facts = [
    ["action", step.action === null ? "(reset)" : el("code", {class: "action"}, step.action)],
    ["valid", step.valid === undefined || step.valid === null ? "-" :
      (step.valid ? el("span", {class: "ok"}, "yes") : el("span", {class: "bad"}, "no"))],
    ["feedback", el("span", {class: "feedback"}, step.feedback || "-")],
    ["reward", `${fmt(step.reward)} (return ${fmt(step["return"])})`],
    ["progress", fmt(step.progress)],
    ["act latency", step.act_latency_s === null ? "-" : `${fmt(step.act_latency_s, 3)} s`],
  ];
  if (step.terminated || step.truncated) facts.push(["ended", step.terminated ? "terminated" : "truncated"]);
  if (step.by === "human") {
    facts.push(["chosen by", el("span", {class: "human", id: "step-by"}, "a person (took over)",
                                 step.proposed ? `; the model proposed ${step.proposed}` : "")]);
  } else if (step.by === "replay") {
    facts.push(["chosen by", el("span", {class: "muted", id: "step-by"},
                                 `replayed from the parent's step ${fmt(step.parent_step)}`)]);
  } else if (step.by) {
    facts.push(["chosen by", el("span", {id: "step-by"}, step.by)]);
  }
  return el("div", {class: "step"},
    framesOf(step, runId, episode.name),
    el("div", {class: "step-text"},
      el("dl", {class: "facts"}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      callsOf(step),
      el("div", {}, "observation"), el("pre", {class: "observation"}, step.observation),
      step.info ? el("details", {}, el("summary", {}, "info"), el("pre", {}, step.info)) : null));
}

function forkControl(episode, getStep, runId) {
  // A non-human agent forks right here (the viewer plays it in the background and opens the new episode);
  // `human` plays at a terminal, so for it the command to paste is what the box offers.
  const agent = el("input", {type: "text", value: "random", size: 12, name: "fork-agent", list: "fork-agents"});
  const options = el("textarea", {name: "fork-options", rows: 2, cols: 28, placeholder: "options: key=value, one a line"});
  const cap = el("input", {type: "number", min: 1, name: "fork-max-steps", placeholder: "step cap", size: 6,
                          title: "--max-steps: the new episode's step cap (empty: the episode's own)"});
  const code = el("code", {id: "fork-command"});
  const status = el("div", {id: "fork-status", class: "muted"});
  const button = el("button", {id: "fork-run"}, "Fork here");
  const human = () => (agent.value.trim() || "human") === "human";
  const update = () => {
    const name = agent.value.trim() || "human";
    const quoted = (text) => /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
    const opts = options.value.split("\n").map((line) => line.trim()).filter(Boolean)
      .map((line) => ` --agent-opt ${quoted(line)}`).join("");
    const capped = /^[1-9]\d*$/.test(cap.value.trim()) ? ` --max-steps ${cap.value.trim()}` : "";
    code.textContent = `${episode.fork.prefix} --step ${getStep()} --agent ${quoted(name)}${opts}${capped}`;
    button.disabled = human() || button.dataset.busy === "1";
    button.title = human() ? "a person plays at a terminal: paste the command below" : "";
  };
  agent.addEventListener("input", update);
  options.addEventListener("input", update);
  cap.addEventListener("input", update);
  async function watch(job) {
    const step = job.step;
    while (true) {
      status.replaceChildren(`fork ${job.id}: replayed ${job.replayed} of ${step} recorded steps`,
                             job.played ? `; ${job.agent} played ${job.played} steps` : "", " …");
      if (job.state !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 300));
      job = await api(`/api/forks/${job.id}`);
    }
    button.dataset.busy = "0";
    update();
    if (job.state === "failed") {
      status.replaceChildren(el("span", {class: "bad", id: "fork-error"}, `The fork did not run: ${job.error}`));
      return;
    }
    const href = `#/episode?refs=${job.run}:${encodeURIComponent(job.name)}&step=${step}`;
    if (job.diverged) {
      status.replaceChildren(el("div", {class: "bad", id: "fork-diverged"},
        `The world did not retrace the record, so the fork stopped: ${job.diverged}`), " ",
        el("a", {href, id: "fork-open"}, "open the recorded fork"));
      return;
    }
    status.replaceChildren(el("a", {href, id: "fork-open"}, "open the new episode"));
    location.hash = href;
  }
  button.addEventListener("click", async () => {
    if (human()) return;
    button.dataset.busy = "1";
    update();
    status.replaceChildren("starting the fork …");
    try {
      const response = await fetch(`/api/runs/${runId}/episodes/${encodeURIComponent(episode.name)}/fork`, {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({step: getStep(), agent: agent.value.trim(), options: options.value,
                              max_steps: cap.value.trim() ? Number(cap.value) : null})});
      const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      await watch(body);
    } catch (error) {
      button.dataset.busy = "0";
      update();
      status.replaceChildren(el("span", {class: "bad", id: "fork-error"}, error.message));
    }
  });
  const copy = el("button", {onclick: () => navigator.clipboard && navigator.clipboard.writeText(code.textContent)},
                  "copy");
  return {node: el("div", {class: "fork card"}, el("strong", {}, "Fork from this step"),
                   el("div", {class: "muted"}, "replays the recorded actions up to this step, then hands the episode to ",
                      agent, " ", options, " ", cap, " ", button),
                   el("div", {class: "muted"}, "or in a terminal (where ", el("em", {}, "human"), " plays): ",
                      copy), code, status), update};
}

function relatives(episode) {
  // Where a fork came from, the forks made from this episode, and the steps a person chose.
  const parts = [];
  if (episode.parent) {
    const parent = episode.parent;
    const label = `${parent.name} at step ${parent.step}`;
    parts.push(el("div", {id: "fork-parent"}, "forked from ",
      parent.run === null ? el("code", {}, `${parent.episode} (step ${parent.step})`)
        : el("a", {href: `#/episode?refs=${parent.run}:${encodeURIComponent(parent.name)}&step=${parent.step}`}, label)));
  }
  if (episode.forks && episode.forks.length) {
    parts.push(el("div", {id: "fork-children"}, "forks of this episode: ", episode.forks.map((fork, i) => [i ? ", " : "",
      el("a", {href: `#/episode?refs=${fork.run}:${encodeURIComponent(fork.name)}&step=${fork.step}`},
         `at step ${fork.step} by ${fork.agent}`)])));
  }
  if (episode.human_steps && episode.human_steps.length) {
    parts.push(el("div", {id: "human-steps"}, `steps chosen by a person (took over): ${episode.human_steps.join(", ")}`));
  }
  return parts.length ? el("div", {class: "relatives"}, parts) : null;
}

async function showEpisodes(token, params) {
  const refs = (params.get("refs") || "").split(",").filter(Boolean).map((ref) => {
    const at = ref.indexOf(":");
    return {run: ref.slice(0, at), name: decodeURIComponent(ref.slice(at + 1))};
  });
  const episodes = await Promise.all(refs.map((ref) =>
    api(`/api/runs/${ref.run}/episodes/${encodeURIComponent(ref.name)}`)));
  if (token !== routeToken) return;
  setCrumbs(["runs", "#/"], ...(refs.length === 1 ? [[episodes[0].run, `#/run/${refs[0].run}`]] : []),
            [episodes.map((e) => e.task.id).filter((v, i, a) => a.indexOf(v) === i).join(" · ")]);
  const last = Math.max(...episodes.map((e) => e.steps.length - 1), 0);
  let current = Math.min(Math.max(parseInt(params.get("step") || "0", 10) || 0, 0), last);
  const slider = el("input", {type: "range", min: 0, max: last, value: current, id: "step-slider"});
  const agentNames = el("datalist", {id: "fork-agents"});
  api("/api/agents").then((data) => agentNames.replaceChildren(
    ...data.agents.map((name) => el("option", {value: name})))).catch(() => {});
  const counter = el("span", {id: "step-counter"});
  const columns = episodes.map((episode, i) => {
    const body = el("div", {class: "step-body"});
    const fork = forkControl(episode, () => Math.min(current, episode.steps.length - 1), refs[i].run);
    const result = episode.result;
    return {episode, run: refs[i].run, body, fork, node: el("section", {class: "card episode", dataset: {run: refs[i].run}},
      el("h2", {}, episode.run),
      el("div", {}, el("strong", {}, episode.task.id), ` · ${episode.task.world} / ${episode.task.subset} · seed ${fmt(episode.seed)} · `,
         result ? outcome(result) : el("span", {class: "warn"}, "unfinished"),
         result ? ` (${result.reason}, progress ${fmt(result.progress)}, ${result.steps} steps)` : ""),
      result && result.error ? el("pre", {class: "error"}, result.error) : null,
      relatives(episode),
      el("details", {}, el("summary", {}, "instruction"), el("pre", {class: "instruction"}, episode.task.instruction)),
      notesBox(episode.notes), body, fork.node)};
  });
  function render() {
    counter.textContent = `step ${current} / ${last}`;
    slider.value = current;
    for (const column of columns) {
      const steps = column.episode.steps;
      const step = steps[Math.min(current, steps.length - 1)];
      const ended = current > steps.length - 1 && steps.length ?
        el("p", {class: "muted ended"}, `This episode ended at step ${steps.length - 1}; its last step is shown.`) : null;
      column.body.replaceChildren(...[ended, step ? stepView(column.episode, step, column.run)
                                       : el("p", {class: "muted"}, "No steps recorded yet.")].filter(Boolean));
      column.fork.update();
      const next = steps[current + 1];  // fetch the next frame ahead, so stepping forward shows it at once
      if (next) for (const frame of next.frames) if (!frame.problem) {
        new Image().src = `/api/runs/${column.run}/frames/${encodeURIComponent(column.episode.name)}/${frame.file.split("/").map(encodeURIComponent).join("/")}`;
      }
    }
    const next = new URLSearchParams(params);
    next.set("step", String(current));
    history.replaceState(null, "", "#/episode?" + next.toString());
  }
  function move(to) {
    const clamped = Math.min(Math.max(to, 0), last);
    if (clamped !== current) { current = clamped; render(); }
  }
  slider.addEventListener("input", () => move(parseInt(slider.value, 10)));
  keyHandler = (event) => {
    if (event.target.matches && event.target.matches("input[type=text], input[type=search], input[type=number], textarea")) return;
    const moves = {ArrowRight: 1, j: 1, ArrowLeft: -1, k: -1};
    if (event.key in moves) { event.preventDefault(); move(current + moves[event.key]); }
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(last);
  };
  show(
    el("div", {class: "stepbar"}, el("button", {id: "prev-step", onclick: () => move(current - 1)}, "‹"), slider,
       el("button", {id: "next-step", onclick: () => move(current + 1)}, "›"), counter,
       el("span", {class: "keys"}, el("kbd", {}, "←"), "/", el("kbd", {}, "→"), " or ", el("kbd", {}, "k"), "/",
          el("kbd", {}, "j"), " step")),
    el("div", {class: "columns"}, columns.map((column) => column.node)), agentNames);
  render();
  poll(() => route(), episodes.some((episode) => episode.result === null));
}

async function showPair(token, params) {
  const page = await api(`/api/pair?${params.toString()}`);
  if (token !== routeToken) return;
  setCrumbs(["runs", "#/"], ["side by side"]);
  const runs = page.runs;
  const set = (name, value) => {
    const next = new URLSearchParams(params);
    value === null ? next.delete(name) : next.set(name, value);
    if (name !== "offset") next.delete("offset");
    go(["pair"], next);
  };
  const differing = params.get("differing") === "1";
  const rows = page.rows.map((line) => {
    const href = "#/episode?refs=" + line.cells.map((cell, i) => `${runs[i]}:${encodeURIComponent(cell.name)}`).join(",");
    return el("tr", {class: "clickable" + (line.differs ? " differs" : ""), dataset: {task: line.task_id},
                     onclick: () => { location.hash = href; }},
      el("td", {}, el("a", {href}, line.task_id)), el("td", {}, line.subset),
      line.cells.map((cell) => el("td", {}, outcome(cell), ` ${fmt(cell.progress)} · ${cell.steps} steps`)));
  });
  show(
    el("h1", {}, "Side by side"),
    el("p", {class: "muted"}, `${page.shared} tasks shared`, page.by_task ? " (paired by task id: the seeds differ)" : "",
       `, ${page.differing} with different outcomes.`),
    el("h2", {}, `${page.labels[0]} (A) vs ${page.labels[1]} (B)`), cellsTable(page.table, "compare"),
    el("div", {class: "filters"}, el("label", {}, "show",
      el("select", {id: "differing", onchange: (e) => set("differing", e.target.value === "1" ? "1" : null)},
         el("option", {value: "0", selected: !differing}, "every shared task"),
         el("option", {value: "1", selected: differing}, "only tasks where they differ")))),
    el("div", {class: "pager"},
      el("button", {disabled: page.offset === 0, onclick: () => set("offset", String(Math.max(0, page.offset - page.limit)))}, "‹ previous"),
      el("span", {}, page.total ? `${page.offset + 1}-${page.offset + page.rows.length} of ${page.total}` : "none"),
      el("button", {disabled: page.offset + page.rows.length >= page.total, onclick: () => set("offset", String(page.offset + page.limit))}, "next ›")),
    el("table", {id: "pairs"}, el("thead", {}, el("tr", {}, el("th", {}, "task"), el("th", {}, "subset"),
                                                 page.labels.map((label) => el("th", {}, label)))),
       el("tbody", {}, rows)));
}

// ------------------------------------------------------------------------------------------------ routing

async function route() {
  const token = ++routeToken;
  clearTimeout(pollTimer);
  keyHandler = null;
  const {parts, params} = parseHash();
  try {
    if (parts[0] === "run" && parts[1] !== undefined) await showRun(token, parts[1], params);
    else if (parts[0] === "episode") await showEpisodes(token, params);
    else if (parts[0] === "pair") await showPair(token, params);
    else await showRuns(token);
  } catch (error) {
    if (token === routeToken) fail(error);
  }
}

document.addEventListener("keydown", (event) => { if (keyHandler) keyHandler(event); });
window.addEventListener("hashchange", route);
route();
