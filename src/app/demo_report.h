// The HTML report of `verbatim demo --report FILE.html`: one self-contained page (inline CSS and SVG, no script, no
// external resource), written as well-formed XML so that tests can parse it. Three charts, each an <svg> with an id:
//   chart-unique      bars: distinct completions per mode (<rect class="bar" data-mode=... data-value=...>) and
//                     distinct logprob bit patterns (<rect class="bar-bitwise" ...>)
//   chart-divergence  histogram of the runs' first-divergence positions, per mode (<rect class="bin" data-mode=...
//                     data-from=... data-to=... data-count=...>)
//   chart-dlogprob    lines: the largest |delta logprob| per token position, per mode, log scale (<polyline
//                     class="series" data-mode=... data-values="v0 v1 ...">), with the reference completion's top-2
//                     margins (<polyline class="margin" data-values=...>)
// and a table of the most common completions per mode.
#pragma once

#include <string>

#include "app/demo_run.h"

namespace verbatim::app {

struct DemoReportInfo {
  std::string model;   // description line
  std::string prompt;  // the user message
  int prompt_tokens = 0;
};

std::string demo_report_html(const DemoResult& result, const DemoReportInfo& info);

// Text escaped for XML/HTML content and attribute values.
std::string html_escape(const std::string& s);

}  // namespace verbatim::app
