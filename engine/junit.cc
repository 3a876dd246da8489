#include "engine/junit.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace ctflow {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_len(const std::string& s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// Text as XML 1.0 character data or an attribute value: markup escaped, bytes
// that are not UTF-8 and characters XML forbids (escape codes of coloured logs)
// become U+FFFD.
std::string xml_escape(const std::string& s, bool attribute) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const size_t n = utf8_len(s, i);
    if (n == 0 || (n == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')) {
      out += "\xEF\xBF\xBD";
      i += n == 0 ? 1 : n;
      continue;
    }
    if (n > 1) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += attribute ? "&quot;" : "\""; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\r': out += attribute ? "&#13;" : "\r"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      default: out += c;
    }
    ++i;
  }
  return out;
}

// Text without the colour and cursor codes of a terminal (ESC [ ... final byte).
std::string strip_ansi(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7E)) ++j;
      i = j;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::string seconds(int64_t from_ms, int64_t to_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", from_ms > 0 && to_ms >= from_ms ? (to_ms - from_ms) / 1000.0 : 0.0);
  return buf;
}

// The step rows CI sees: instances, not the row of a fan-out that has them.
std::vector<StepRecord> test_cases(const std::vector<StepRecord>& steps) {
  std::set<std::string> fanned;
  for (const auto& s : steps)
    if (s.name != s.step) fanned.insert(s.step);
  std::vector<StepRecord> out;
  for (const auto& s : steps)
    if (!(s.name == s.step && fanned.count(s.step))) out.push_back(s);
  std::stable_sort(out.begin(), out.end(), [](const StepRecord& a, const StepRecord& b) {
    return (a.started_at == 0 ? INT64_MAX : a.started_at) < (b.started_at == 0 ? INT64_MAX : b.started_at);
  });
  return out;
}

std::string outcome_message(const StepRecord& s) {
  std::string m = s.status;
  if (!s.message.empty()) m += ": " + s.message;
  else if (s.exit_code != 0) m += ": exit code " + std::to_string(s.exit_code);
  return m;
}

}  // namespace

std::string junit_xml(const RunRecord& run, const std::vector<StepRecord>& steps,
                      const std::function<std::string(const StepRecord&)>& log_tail) {
  const std::vector<StepRecord> cases = test_cases(steps);
  size_t failures = 0, errors = 0, skipped = 0;
  std::string body;
  const std::string cls = xml_escape(run.workflow, true);
  for (const auto& s : cases) {
    body += "    <testcase classname=\"" + cls + "\" name=\"" + xml_escape(s.name, true) + "\" time=\"" +
            seconds(s.started_at, s.finished_at) + "\"";
    if (s.status == "Succeeded") {
      body += "/>\n";
      continue;
    }
    body += ">\n";
    if (s.status == "Failed" || s.status == "Errored") {
      const bool failed = s.status == "Failed";
      ++(failed ? failures : errors);
      const char* tag = failed ? "failure" : "error";
      body += std::string("      <") + tag + " message=\"" + xml_escape(outcome_message(s), true) + "\" type=\"" +
              s.status + "\">" + xml_escape(strip_ansi(log_tail(s)), false) + "</" + tag + ">\n";
    } else {
      ++skipped;
      // The store's own words ("skipped: when ... is false", "not run: depends ..."), or the status.
      std::string why = s.status == "Pending" || s.status == "Running" ? "not run (" + s.status + ")"
                        : s.message.empty()                             ? s.status
                                                                        : s.message;
      body += "      <skipped message=\"" + xml_escape(why, true) + "\"/>\n";
    }
    body += "    </testcase>\n";
  }
  const std::string counts = "tests=\"" + std::to_string(cases.size()) + "\" failures=\"" + std::to_string(failures) +
                             "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) +
                             "\" time=\"" + seconds(run.started_at, run.finished_at) + "\"";
  std::string timestamp = iso8601(run.started_at);
  if (!timestamp.empty() && timestamp.back() == 'Z') timestamp.pop_back();  // JUnit's schema has no zone
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites name=\"ctflow\" " + counts + ">\n";
  xml += "  <testsuite name=\"" + cls + "\" " + counts + " timestamp=\"" + timestamp + "\" id=\"" +
         xml_escape(run.id, true) + "\">\n";
  xml += "    <properties>\n      <property name=\"ctflow.run\" value=\"" + xml_escape(run.id, true) +
         "\"/>\n      <property name=\"ctflow.status\" value=\"" + xml_escape(run.status, true) +
         "\"/>\n      <property name=\"ctflow.file\" value=\"" + xml_escape(run.file, true) + "\"/>\n    </properties>\n";
  xml += body;
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

std::string log_tail(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || path.empty()) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes) ? size - static_cast<std::streamoff>(max_bytes) : 0;
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (start > 0) {  // drop the partial first line
    size_t nl = text.find('\n');
    text = nl == std::string::npos ? text : text.substr(nl + 1);
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t lines = 0, pos = text.size();
  while (pos > 0 && lines < max_lines) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    ++lines;
    pos = nl;
  }
  return lines < max_lines ? text : text.substr(pos + 1);
}

namespace {

namespace fs = std::filesystem;

fs::path temp_beside(const fs::path& dest) {
  return dest.parent_path() / ("." + dest.filename().string() + ".tmp" + std::to_string(::getpid()));
}

// Writes TEXT to a temporary file beside OUT; its path, or an error.
Result<fs::path> write_temp(const std::string& out, const std::string& text) {
  const fs::path dest(out);
  if (dest.filename().empty()) return Status::Error("--junit " + out + ": name a file, not a folder");
  std::error_code ec;
  if (!dest.parent_path().empty()) fs::create_directories(dest.parent_path(), ec);
  if (ec)
    return Status::Error("--junit " + out + ": cannot create the folder " + dest.parent_path().string() + ": " +
                         ec.message());
  const fs::path tmp = temp_beside(dest);
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  f << text;
  f.flush();
  if (!f) {
    fs::remove(tmp, ec);
    return Status::Error("--junit " + out + ": cannot write in " +
                         (dest.parent_path().empty() ? std::string("the current folder") : dest.parent_path().string()));
  }
  return tmp;
}

}  // namespace

Status check_junit_path(const std::string& out) {
  auto tmp = write_temp(out, "");
  if (!tmp) return tmp.status();
  std::error_code ec;
  fs::remove(*tmp, ec);
  return Status::Ok();
}

Status write_junit(RunStore& store, const std::string& run_id, const std::string& out) {
  auto run = store.get_run(run_id);
  if (!run) return run.status();
  auto steps = store.get_steps(run_id);
  if (!steps) return steps.status();
  auto tmp = write_temp(out, junit_xml(*run, *steps, [](const StepRecord& s) { return log_tail(s.log_path); }));
  if (!tmp) return tmp.status();
  std::error_code ec;
  fs::rename(*tmp, out, ec);
  if (ec) {
    fs::remove(*tmp, ec);
    return Status::Error("--junit " + out + ": cannot rename the temporary file into place: " + ec.message());
  }
  return Status::Ok();
}

}  // namespace ctflow
