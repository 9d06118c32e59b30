#include "app/demo_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace verbatim::app {

namespace {

const char* mode_color(Mode m) {
  return m == Mode::Fast ? "#d1495b" : "#2e86ab";
}

std::string num(double v, const char* fmt = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string sci(double v, const char* fmt = "%.3g") {
  if (v == 0.0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Chart frame: the plot area [left, left + w] x [top, top + h] inside an svg of width x height.
struct Frame {
  int width = 860, height = 300, left = 70, right = 20, top = 20, bottom = 50;
  int w() const { return width - left - right; }
  int h() const { return height - top - bottom; }
};

std::string svg_open(const std::string& id, const Frame& f, const std::string& title) {
  std::ostringstream s;
  s << "<svg id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.width << "\" height=\"" << f.height
    << "\" viewBox=\"0 0 " << f.width << ' ' << f.height << "\" role=\"img\" aria-label=\"" << html_escape(title)
    << "\">\n";
  return s.str();
}

std::string text(double x, double y, const std::string& t, const char* anchor = "middle", const char* cls = "") {
  std::ostringstream s;
  s << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" text-anchor=\"" << anchor << "\"";
  if (*cls) s << " class=\"" << cls << "\"";
  s << ">" << html_escape(t) << "</text>\n";
  return s.str();
}

std::string line(double x1, double y1, double x2, double y2, const char* cls) {
  std::ostringstream s;
  s << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2)
    << "\" class=\"" << cls << "\"/>\n";
  return s.str();
}

// A "nice" axis maximum and tick step for counts in [0, v].
void count_axis(double v, double* top, double* step) {
  v = std::max(v, 1.0);
  const double mag = std::pow(10.0, std::floor(std::log10(v)));
  double s = mag;
  for (double m : {0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0}) {
    if (v / (mag * m) <= 6.0) {
      s = mag * m;
      break;
    }
  }
  s = std::max(s, 1.0);
  *step = s;
  *top = std::ceil(v / s) * s;
}

std::string legend(const DemoResult& r, double x, double y) {
  std::ostringstream s;
  for (const DemoModeResult& m : r.modes) {
    s << "<rect x=\"" << num(x) << "\" y=\"" << num(y - 10) << "\" width=\"12\" height=\"12\" fill=\""
      << mode_color(m.mode) << "\"/>\n";
    s << text(x + 18, y, mode_name(m.mode), "start");
    x += 110;
  }
  return s.str();
}

std::string chart_unique(const DemoResult& r) {
  Frame f;
  f.height = 280;
  std::ostringstream s;
  s << svg_open("chart-unique", f, "distinct completions per mode");
  int vmax = 1;
  for (const DemoModeResult& m : r.modes) vmax = std::max({vmax, m.stats.unique, m.stats.unique_bitwise});
  double top, step;
  count_axis(vmax * 1.1, &top, &step);
  const auto y_of = [&](double v) { return f.top + f.h() - v / top * f.h(); };
  for (double v = 0; v <= top + 1e-9; v += step) {
    s << line(f.left, y_of(v), f.left + f.w(), y_of(v), "grid");
    s << text(f.left - 8, y_of(v) + 4, num(v, "%.0f"), "end");
  }
  const int n = static_cast<int>(r.modes.size());
  const double slot = static_cast<double>(f.w()) / std::max(1, n);
  const double bw = std::min(110.0, slot * 0.3);
  for (int i = 0; i < n; ++i) {
    const DemoModeResult& m = r.modes[static_cast<size_t>(i)];
    const double x0 = f.left + slot * i + (slot - 2 * bw - 10) / 2;
    // The completions (token sequences), then their distinct logprob bit patterns, lighter.
    for (int k = 0; k < 2; ++k) {
      const int v = k == 0 ? m.stats.unique : m.stats.unique_bitwise;
      const double x = x0 + k * (bw + 10);
      const double y = y_of(v);
      s << "<rect class=\"" << (k == 0 ? "bar" : "bar-bitwise") << "\" data-mode=\"" << mode_name(m.mode)
        << "\" data-value=\"" << v << "\" x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(bw)
        << "\" height=\"" << num(f.top + f.h() - y) << "\" fill=\"" << mode_color(m.mode) << "\""
        << (k == 1 ? " fill-opacity=\"0.45\"" : "") << "/>\n";
      s << text(x + bw / 2, y - 6, std::to_string(v), "middle", "value");
      s << text(x + bw / 2, f.top + f.h() + 16, k == 0 ? "completions" : "logprob bits");
    }
    s << text(x0 + bw + 5, f.top + f.h() + 34,
              mode_name(m.mode) + std::string(" mode (") + std::to_string(m.stats.runs) + " runs)", "middle", "value");
  }
  s << line(f.left, f.top + f.h(), f.left + f.w(), f.top + f.h(), "axis");
  s << text(18, f.top + f.h() / 2.0, "distinct", "middle", "ylabel");
  s << "</svg>\n";
  return s.str();
}

std::string chart_divergence(const DemoResult& r) {
  Frame f;
  const int positions = std::max(1, r.options.max_tokens);
  const int bins = std::min(positions, 32);
  const int width = (positions + bins - 1) / bins;  // tokens per bin
  const int nbins = (positions + width - 1) / width;
  std::vector<std::vector<int>> counts(r.modes.size(), std::vector<int>(static_cast<size_t>(nbins), 0));
  int cmax = 1;
  for (size_t m = 0; m < r.modes.size(); ++m) {
    for (int d : r.modes[m].stats.divergence_positions) {
      if (d < 0) continue;
      const int b = std::min(nbins - 1, d / width);
      cmax = std::max(cmax, ++counts[m][static_cast<size_t>(b)]);
    }
  }
  std::ostringstream s;
  s << svg_open("chart-divergence", f, "histogram of first-divergence positions");
  double top, step;
  count_axis(cmax, &top, &step);
  const auto y_of = [&](double v) { return f.top + f.h() - v / top * f.h(); };
  for (double v = 0; v <= top + 1e-9; v += step) {
    s << line(f.left, y_of(v), f.left + f.w(), y_of(v), "grid");
    s << text(f.left - 8, y_of(v) + 4, num(v, "%.0f"), "end");
  }
  const double bin_w = static_cast<double>(f.w()) / nbins;
  const double bar_w = bin_w * 0.8 / std::max<size_t>(1, r.modes.size());
  for (int b = 0; b < nbins; ++b) {
    for (size_t m = 0; m < r.modes.size(); ++m) {
      const int c = counts[m][static_cast<size_t>(b)];
      const double x = f.left + bin_w * b + bin_w * 0.1 + bar_w * static_cast<double>(m);
      const double y = y_of(c);
      s << "<rect class=\"bin\" data-mode=\"" << mode_name(r.modes[m].mode) << "\" data-from=\"" << b * width
        << "\" data-to=\"" << std::min(positions, (b + 1) * width) << "\" data-count=\"" << c << "\" x=\"" << num(x)
        << "\" y=\"" << num(y) << "\" width=\"" << num(bar_w) << "\" height=\"" << num(f.top + f.h() - y)
        << "\" fill=\"" << mode_color(r.modes[m].mode) << "\"/>\n";
    }
  }
  const int label_every = std::max(1, nbins / 8);
  for (int b = 0; b <= nbins; b += label_every)
    s << text(f.left + bin_w * b, f.top + f.h() + 16, std::to_string(std::min(positions, b * width)));
  s << line(f.left, f.top + f.h(), f.left + f.w(), f.top + f.h(), "axis");
  s << text(f.left + f.w() / 2.0, f.height - 8, "token index of the first divergence from the most common completion");
  s << text(18, f.top + f.h() / 2.0, "runs", "middle", "ylabel");
  bool any = false;
  for (const DemoModeResult& m : r.modes) any = any || m.stats.diverged_runs > 0;
  if (!any) s << text(f.left + f.w() / 2.0, f.top + f.h() / 2.0, "no run diverged in any mode", "middle", "note");
  s << legend(r, f.left + f.w() - 220, f.top + 4);
  s << "</svg>\n";
  return s.str();
}

std::string chart_dlogprob(const DemoResult& r) {
  Frame f;
  f.left = 80;
  double vmin = 0.0, vmax = 0.0;
  size_t positions = 1;
  // The reference completion's top-2 margins (of the last mode's run, the same model and prompt) for comparison: a
  // greedy token flips only where the rounding reaches the margin.
  const std::vector<double>* margin = r.modes.empty() ? nullptr : &r.modes.back().top2_margin;
  std::vector<double> all;
  if (margin) all = *margin;
  for (const DemoModeResult& m : r.modes) {
    positions = std::max(positions, m.stats.max_abs_dlogprob.size());
    all.insert(all.end(), m.stats.max_abs_dlogprob.begin(), m.stats.max_abs_dlogprob.end());
  }
  {
    for (double v : all) {
      if (!(v > 0.0) || !std::isfinite(v)) continue;
      vmin = vmin == 0.0 ? v : std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
  }
  // Decades from below the smallest non-zero value to above the largest; a band under them holds exact zeros.
  int lo = -8, hi = -4;
  if (vmax > 0.0) {
    lo = static_cast<int>(std::floor(std::log10(vmin)));
    hi = std::max(lo + 1, static_cast<int>(std::ceil(std::log10(vmax))));
  }
  const double zero_band = 28.0;
  const double plot_h = f.h() - zero_band;
  const auto y_of = [&](double v) {
    if (!(v > 0.0)) return static_cast<double>(f.top + f.h());
    if (!std::isfinite(v)) return static_cast<double>(f.top);
    const double t = (std::log10(v) - lo) / (hi - lo);
    return f.top + plot_h - t * plot_h;
  };
  const auto x_of = [&](size_t i) {
    return f.left + (positions <= 1 ? 0.0 : static_cast<double>(i) / (positions - 1) * f.w());
  };
  std::ostringstream s;
  s << svg_open("chart-dlogprob", f, "largest |delta logprob| per token position");
  for (int e = lo; e <= hi; ++e) {
    const double y = f.top + plot_h - static_cast<double>(e - lo) / (hi - lo) * plot_h;
    s << line(f.left, y, f.left + f.w(), y, "grid");
    s << text(f.left - 8, y + 4, "1e" + std::to_string(e), "end");
  }
  s << line(f.left, f.top + f.h(), f.left + f.w(), f.top + f.h(), "grid");
  s << text(f.left - 8, f.top + f.h() + 4, "0 (bitwise)", "end");
  if (margin && !margin->empty()) {
    std::ostringstream pts, vals;
    for (size_t i = 0; i < margin->size(); ++i) {
      pts << (i ? " " : "") << num(x_of(i)) << ',' << num(y_of((*margin)[i]));
      vals << (i ? " " : "") << sci((*margin)[i], "%.9g");
    }
    s << "<polyline class=\"margin\" data-values=\"" << vals.str() << "\" points=\"" << pts.str()
      << "\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"/>\n";
  }
  for (const DemoModeResult& m : r.modes) {
    std::ostringstream pts, vals;
    for (size_t i = 0; i < m.stats.max_abs_dlogprob.size(); ++i) {
      const double v = m.stats.max_abs_dlogprob[i];
      pts << (i ? " " : "") << num(x_of(i)) << ',' << num(y_of(v));
      vals << (i ? " " : "") << sci(v, "%.9g");
    }
    s << "<polyline class=\"series\" data-mode=\"" << mode_name(m.mode) << "\" data-values=\"" << vals.str()
      << "\" points=\"" << pts.str() << "\" fill=\"none\" stroke=\"" << mode_color(m.mode)
      << "\" stroke-width=\"2\"/>\n";
  }
  const size_t label_every = std::max<size_t>(1, positions / 8);
  for (size_t i = 0; i < positions; i += label_every) s << text(x_of(i), f.top + f.h() + 18, std::to_string(i));
  s << text(f.left + f.w() / 2.0, f.height - 8, "token index");
  s << text(16, f.top + f.h() / 2.0, "max |dlogprob|", "middle", "ylabel");
  s << legend(r, f.left + f.w() - 330, f.top + 4);
  s << line(f.left + f.w() - 110, f.top, f.left + f.w() - 92, f.top, "margin-key");
  s << text(f.left + f.w() - 86, f.top + 4, "top-2 margin", "start");
  s << "</svg>\n";
  return s.str();
}

std::string completions_table(const DemoModeResult& m) {
  std::map<std::vector<int32_t>, std::pair<int, int>> counts;  // tokens -> (count, first run)
  for (size_t i = 0; i < m.tokens.size(); ++i) {
    auto [it, inserted] = counts.try_emplace(m.tokens[i], 0, static_cast<int>(i));
    ++it->second.first;
  }
  std::vector<std::pair<int, int>> order;  // (count, first run)
  for (const auto& [seq, cf] : counts) order.push_back(cf);
  std::sort(order.begin(), order.end(),
            [](auto a, auto b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::ostringstream s;
  s << "<table class=\"completions\" data-mode=\"" << mode_name(m.mode) << "\">\n<tr><th>runs</th><th>diverges at</th>"
    << "<th>completion (first run with it: #)</th></tr>\n";
  const size_t shown = std::min<size_t>(order.size(), 6);
  for (size_t k = 0; k < shown; ++k) {
    const int run = order[k].second;
    const int d = m.stats.divergence_positions[static_cast<size_t>(run)];
    std::string t = m.texts[static_cast<size_t>(run)];
    if (t.size() > 400) t = t.substr(0, 400) + "...";
    s << "<tr><td>" << order[k].first << "</td><td>"
      << (d < 0 ? std::string("(reference)") : "token " + std::to_string(d)) << "</td><td><code>#" << run << ": "
      << html_escape(t) << "</code></td></tr>\n";
  }
  if (order.size() > shown)
    s << "<tr><td colspan=\"3\">... and " << order.size() - shown << " more distinct completions</td></tr>\n";
  s << "</table>\n";
  return s.str();
}

}  // namespace

std::string html_escape(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";  // U+FFFD: control characters are not allowed in XML, even escaped
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string demo_report_html(const DemoResult& r, const DemoReportInfo& info) {
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
    << "<title>verbatim demo report</title>\n<style>\n"
    << "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px "
       "auto;max-width:900px;"
       "color:#222;line-height:1.4}\n"
    << "h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px}\n"
    << "table{border-collapse:collapse;margin:8px 0;font-size:0.92em}td,th{border:1px solid #ccc;padding:4px 8px;"
       "text-align:left;vertical-align:top}th{background:#f3f3f3}\n"
    << "table.summary td{text-align:right}table.summary td:first-child{text-align:left}\n"
    << "code{font-size:0.9em;white-space:pre-wrap;word-break:break-word}\n"
    << "svg{display:block;margin:6px 0;font-size:12px}svg text{fill:#333}.grid{stroke:#e4e4e4}.axis{stroke:#555}\n"
    << "svg .value{font-weight:bold}svg .note{fill:#777;font-size:14px}\n"
    << ".ylabel{writing-mode:vertical-rl}\n.meta{color:#555;font-size:0.92em}\n"
    << ".margin-key{stroke:#888;stroke-width:1.5;stroke-dasharray:5,4}\n"
    << "</style>\n</head>\n<body>\n";
  const DemoOptions& o = r.options;
  s << "<h1>verbatim demo</h1>\n<p class=\"meta\">" << o.runs << " identical " << html_escape(probe_kind_text(o))
    << " requests of the prompt <q>" << html_escape(info.prompt) << "</q> (" << info.prompt_tokens << " prompt tokens, "
    << o.max_tokens << " output tokens each, EOS ignored), sent while " << r.background
    << " background requests of random lengths arrive at random engine steps (schedule seed " << o.seed
    << ", the same in every mode). Model: " << html_escape(info.model)
    << ". Backend: " << html_escape(r.modes.empty() ? std::string() : r.modes[0].backend) << ", " << o.engine.threads
    << " thread(s).</p>\n";

  s << "<h2>Summary</h2>\n<table class=\"summary\" id=\"summary\">\n<tr><th>mode</th><th>unique completions</th>"
    << "<th>most common</th><th>first divergence</th><th>bitwise-distinct</th><th>max |&#916; logprob|</th>"
    << "<th>time</th></tr>\n";
  for (const DemoModeResult& m : r.modes) {
    s << "<tr data-mode=\"" << mode_name(m.mode) << "\" data-unique=\"" << m.stats.unique << "\" data-most-common=\""
      << m.stats.most_common_count << "\" data-first-divergence=\"" << m.stats.first_divergence << "\"><td>"
      << mode_name(m.mode) << "</td><td>" << m.stats.unique << "</td><td>" << m.stats.most_common_count << " / "
      << m.stats.runs << "</td><td>"
      << (m.stats.first_divergence < 0 ? std::string("none") : "token " + std::to_string(m.stats.first_divergence))
      << "</td><td>" << m.stats.unique_bitwise << "</td><td>" << sci(m.stats.max_abs_dlogprob_overall) << "</td><td>"
      << num(m.seconds) << " s</td></tr>\n";
  }
  s << "</table>\n<p class=\"meta\">First divergence: the earliest token index at which any completion differs from "
       "the most common one. Bitwise-distinct: distinct (tokens, logprob bits) sequences. Max |&#916; logprob|: the "
       "largest difference of a token's logprob from the most common completion's, over the runs that agree with it "
       "on every token up to that one (the same conditional distribution, so any difference is rounding).</p>\n";

  s << "<h2>Distinct completions per mode</h2>\n" << chart_unique(r);
  s << "<h2>Where the completions diverge</h2>\n" << chart_divergence(r);
  s << "<h2>Largest |&#916; logprob| per token position (log scale)</h2>\n"
    << "<p class=\"meta\">Per token index, the largest |&#916; logprob| over the runs that agree with the most common "
       "completion up to that token; the dashed line is that completion's top-2 margin (its token's logprob minus "
       "the runner-up's). A greedy token can flip only where the rounding reaches the margin.</p>\n"
    << chart_dlogprob(r);
  s << "<h2>Most common completions</h2>\n";
  for (const DemoModeResult& m : r.modes) {
    s << "<h3>" << mode_name(m.mode) << " mode</h3>\n" << completions_table(m);
  }
  s << "</body>\n</html>\n";
  return s.str();
}

}  // namespace verbatim::app
