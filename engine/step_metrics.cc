#include "engine/step_metrics.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace ctflow {
namespace {

using Json = nlohmann::json;

constexpr const char* kLineShape = R"(expected a JSON object like {"name": "val_accuracy", "value": 0.91, "step": 3})";

std::string quote_start(std::string_view text) {
  constexpr size_t kShow = 60;
  std::string s(text.substr(0, kShow));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return "'" + s + (text.size() > kShow ? "...'" : "'");
}

std::string kind_of(const Json& j) {
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_array()) return "a list";
  if (j.is_object()) return "an object";
  return "null";
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

Json parse_json(std::string_view text) { return Json::parse(text.begin(), text.end(), nullptr, false); }

Result<StepMetricPoint> metric_from_object(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument(std::string(kLineShape) + "; got " + kind_of(j));
  StepMetricPoint p;
  auto name = j.find("name");
  if (name == j.end()) return Status::InvalidArgument("missing 'name' (" + std::string(kLineShape) + ")");
  if (!name->is_string() || name->get_ref<const std::string&>().empty())
    return Status::InvalidArgument("'name' must be a non-empty string; got " + kind_of(*name));
  p.name = name->get<std::string>();
  auto value = j.find("value");
  if (value == j.end()) return Status::InvalidArgument("missing 'value' for metric '" + p.name + "'");
  if (!value->is_number())
    return Status::InvalidArgument("'value' of metric '" + p.name + "' must be a number; got " + kind_of(*value));
  p.value = value->get<double>();
  if (auto step = j.find("step"); step != j.end() && !step->is_null()) {
    const bool integral = step->is_number_integer() ||
                          (step->is_number_float() && std::floor(step->get<double>()) == step->get<double>() &&
                           std::abs(step->get<double>()) < 9e15);
    if (!integral || step->get<double>() < 0)
      return Status::InvalidArgument("'step' of metric '" + p.name + "' must be a non-negative integer; got " +
                           (step->is_number() ? step->dump() : kind_of(*step)));
    p.step = step->is_number_integer() ? step->get<int64_t>() : static_cast<int64_t>(step->get<double>());
  }
  return p;
}

void add_kfp(const Result<MetricsBatch>& kfp, int64_t line, MetricsBatch& out) {
  for (auto p : kfp->points) {
    p.line = line;
    out.points.push_back(std::move(p));
  }
  for (auto w : kfp->warnings) {
    w.line = line;
    out.warnings.push_back(std::move(w));
  }
}

}  // namespace

void MetricsBatch::append(MetricsBatch&& other) {
  for (auto& p : other.points) points.push_back(std::move(p));
  for (auto& w : other.warnings) warnings.push_back(std::move(w));
  if (other.progress) progress = std::move(other.progress);
}

Result<StepProgress> parse_progress(const Json& j) {
  static const std::string kShape = R"(expected {"progress": {"done": 3, "total": 10, "message": "epoch 3/10"}})";
  if (!j.is_object()) return Status::InvalidArgument("'progress' must be an object; " + kShape);
  StepProgress p;
  auto number = [&](const char* key, double& out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) return Status::InvalidArgument(std::string("progress needs '") + key + "'; " + kShape);
      return Status::Ok();
    }
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0)
      return Status::InvalidArgument(std::string("progress '") + key + "' must be a number >= 0; got " + kind_of(*it));
    out = it->get<double>();
    return Status::Ok();
  };
  if (Status s = number("done", p.done, true); !s.ok()) return s;
  if (Status s = number("total", p.total, false); !s.ok()) return s;
  if (auto m = j.find("message"); m != j.end() && !m->is_null()) {
    if (!m->is_string()) return Status::InvalidArgument("progress 'message' must be a string; got " + kind_of(*m));
    p.message = m->get<std::string>().substr(0, 200);
  }
  return p;
}

std::string MetricsWarning::text() const {
  return (line > 0 ? "metrics line " + std::to_string(line) + ": " : std::string("metrics: ")) + message;
}

Result<StepMetricPoint> parse_metric_line(std::string_view line) {
  Json j = parse_json(line);
  if (j.is_discarded()) {
    if (line.find("NaN") != std::string_view::npos || line.find("Infinity") != std::string_view::npos)
      return Status::InvalidArgument("not JSON: NaN and Infinity are not JSON numbers (Python's json.dumps writes them): "
                           "leave such a point out; got " + quote_start(line));
    return Status::InvalidArgument("not JSON: " + std::string(kLineShape) + "; got " + quote_start(line));
  }
  return metric_from_object(j);
}

Result<MetricsBatch> parse_kfp_metrics(std::string_view text) {
  static const std::string kShape =
      R"(expected Kubeflow metrics like {"metrics": [{"name": "accuracy", "numberValue": 0.91, "format": "RAW"}]})";
  Json j = parse_json(text);
  if (j.is_discarded()) return Status::InvalidArgument("not JSON: " + kShape);
  if (!j.is_object() || !j.contains("metrics") || !j["metrics"].is_array())
    return Status::InvalidArgument(kShape + "; got " + (j.is_object() ? "an object without a 'metrics' list" : kind_of(j)));
  MetricsBatch out;
  const Json& list = j["metrics"];
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& m = list[i];
    const std::string where = "metrics[" + std::to_string(i) + "]";
    auto warn = [&](const std::string& why) { out.warnings.push_back({0, where + ": " + why}); };
    if (!m.is_object()) {
      warn("must be an object with 'name' and 'numberValue'; got " + kind_of(m));
      continue;
    }
    auto name = m.find("name");
    if (name == m.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      warn("needs a 'name' (a non-empty string)");
      continue;
    }
    StepMetricPoint p;
    p.name = name->get<std::string>();
    auto value = m.find("numberValue");
    double v = 0;
    bool ok = value != m.end() && value->is_number();
    if (ok) v = value->get<double>();
    else if (value != m.end() && value->is_string()) {  // Kubeflow's UI reads "0.91" too
      const std::string s = value->get<std::string>();
      char* end = nullptr;
      v = std::strtod(s.c_str(), &end);
      ok = !s.empty() && *end == '\0';
    }
    if (!ok) {
      warn("'numberValue' of '" + p.name + "' must be a number");
      continue;
    }
    p.value = v;
    if (auto f = m.find("format"); f != m.end() && !(*f == "RAW" || *f == "PERCENTAGE"))
      warn("'format' of '" + p.name + "' must be RAW or PERCENTAGE; the value is kept as written");
    out.points.push_back(std::move(p));
  }
  return out;
}

MetricsBatch MetricsParser::feed(std::string_view bytes) {
  MetricsBatch out;
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
    if (!skipping_) {
      partial_.append(piece);
      if (partial_.size() > kMaxLine) {
        out.warnings.push_back({line_ + 1, "longer than " + std::to_string(kMaxLine >> 20) + " MiB: skipped"});
        partial_.clear();
        skipping_ = true;
      }
    }
    if (nl == std::string_view::npos) break;
    ++line_;
    if (skipping_) skipping_ = false;
    else take_line(partial_, out);
    partial_.clear();
  }
  return out;
}

void MetricsParser::take_line(std::string_view line, MetricsBatch& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (document_) {
    document_text_.append(line).push_back('\n');
    if (document_text_.size() > kMaxDocument) {
      // Too big to be a metrics document: read what was kept line by line.
      document_ = false;
      replay_lines(std::exchange(document_text_, {}), out);
    }
    return;
  }
  if (blank(line)) return;
  const bool first = !seen_content_;
  seen_content_ = true;
  Json j = parse_json(line);
  if (j.is_object() && j.contains("metrics") && !j.contains("name")) {
    add_kfp(parse_kfp_metrics(line), line_, out);
    return;
  }
  if (j.is_object() && j.contains("progress") && !j.contains("name")) {
    auto p = parse_progress(j["progress"]);
    if (p.ok()) out.progress = std::move(*p);
    else out.warnings.push_back({line_, p.message()});
    return;
  }
  if (j.is_discarded() && first) {
    const size_t at = line.find_first_not_of(" \t");
    if (line[at] == '{' || line[at] == '[') {  // a JSON document over several lines
      document_ = true;
      document_line_ = line_;
      document_text_.assign(line).push_back('\n');
      return;
    }
  }
  auto p = j.is_discarded() ? parse_metric_line(line) : metric_from_object(j);
  if (!p.ok()) {
    out.warnings.push_back({line_, p.message()});
    return;
  }
  p->line = line_;
  out.points.push_back(std::move(*p));
}

MetricsBatch MetricsParser::finish() {
  MetricsBatch out;
  if (!partial_.empty() && !skipping_) {
    ++line_;
    take_line(partial_, out);
  }
  partial_.clear();
  skipping_ = false;
  if (!document_) return out;
  document_ = false;
  const std::string text = std::move(document_text_);
  document_text_.clear();
  Json j = parse_json(text);
  if (!j.is_discarded()) {
    if (j.is_object() && j.contains("metrics")) {
      auto kfp = parse_kfp_metrics(text);
      if (kfp.ok()) add_kfp(kfp, document_line_, out);
      else out.warnings.push_back({document_line_, kfp.message()});
    } else if (auto p = metric_from_object(j); p.ok()) {
      p->line = document_line_;
      out.points.push_back(std::move(*p));
    } else {
      out.warnings.push_back({document_line_, p.message()});
    }
    return out;
  }
  // Not one JSON document: each line on its own, each bad one a warning.
  replay_lines(text, out);
  return out;
}

void MetricsParser::replay_lines(const std::string& text, MetricsBatch& out) {
  const int64_t end = line_;
  line_ = document_line_ - 1;
  for (size_t start = 0; start < text.size();) {
    const size_t nl = text.find('\n', start);
    ++line_;
    take_line(std::string_view(text).substr(start, nl - start), out);
    start = nl == std::string::npos ? text.size() : nl + 1;
  }
  line_ = end;
}

MetricsBatch MetricsFileReader::poll() {
  MetricsBatch out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return out;  // not written yet
  in.seekg(0, std::ios::end);
  const auto end = static_cast<uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  if (end < offset_) {
    out.warnings.push_back({0, "the file shrank (rewritten?): read again from its start"});
    offset_ = 0;
    parser_ = MetricsParser();
  }
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string buf(64 * 1024, '\0');
  while (offset_ < end && in) {
    const auto want = static_cast<std::streamsize>(std::min<uint64_t>(buf.size(), end - offset_));
    in.read(buf.data(), want);
    const auto got = in.gcount();
    if (got <= 0) break;
    offset_ += static_cast<uint64_t>(got);
    out.append(parser_.feed(std::string_view(buf.data(), static_cast<size_t>(got))));
  }
  return out;
}

MetricsBatch MetricsFileReader::finish() {
  MetricsBatch out = poll();
  out.append(parser_.finish());
  return out;
}

}  // namespace ctflow
