/**
 * A run's report: one self-contained HTML page (styles inline, plots as inline SVG, no script, no request
 * to any host) with the configuration, the results, the learning curves, the weight histograms and a
 * sample of the model's text.
 */

export interface ReportContent {
  title: string;
  facts: [string, string][]; //            results and provenance, in order
  config: Record<string, unknown>; //      every hyperparameter
  curvesSvg: string;
  weightsSvg: string;
  sample: { text: string; how: string };
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Drops the XML prolog a standalone SVG may carry, so that it can sit inside HTML. */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; color: #222; max-width: 980px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #555; } pre { background: #f6f6f6; padding: 1em; white-space: pre-wrap; }
.plot { overflow-x: auto; } .plot svg { max-width: none; } .note { color: #666; font-size: 0.9em; }
`;

export function reportHtml(c: ReportContent): string {
  const rows = (pairs: [string, string][]): string =>
    pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const configRows = Object.entries(c.config).map(([k, v]) => [k, JSON.stringify(v)] as [string, string]);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(c.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(c.title)}</h1>
<table>
${rows(c.facts)}
</table>
<h2>Learning curves</h2>
<div class="plot">${inlineSvg(c.curvesSvg)}</div>
<h2>Weights</h2>
<div class="plot">${inlineSvg(c.weightsSvg)}</div>
<h2>Sample text</h2>
<p class="note">${escapeHtml(c.sample.how)}</p>
<pre>${escapeHtml(c.sample.text)}</pre>
<h2>Configuration</h2>
<table>
${rows(configRows)}
</table>
<p class="note">Written by rlstm report; the page makes no request to any other host.</p>
</body>
</html>
`;
}
